"""Checks shared by the browser tests."""

from __future__ import annotations

import time
from pathlib import Path

_STYLE_PROBE = """(sel) => {
  const cs = (q, p) => { const e = document.querySelector(q); return e ? getComputedStyle(e)[p] : null; };
  return {
    theme: document.documentElement.dataset.theme,
    background: cs('body', 'backgroundColor'), text: cs('body', 'color'),
    button: cs('#rs-theme', 'backgroundColor'), buttonText: cs('#rs-theme', 'color'),
    plotText: cs(sel + ' svg text', 'fill'), plotFrame: cs(sel + ' svg .rs-axis', 'stroke'),
    control: cs('select, input[type=text], [data-arm]', 'backgroundColor'),
  };
}"""


def styles(visit, chart_selector: str) -> dict:
    return visit.page.evaluate(_STYLE_PROBE, chart_selector)


def styles_once_settled(visit, chart_selector: str, want: dict, timeout_s: float = 5.0) -> dict:
    """The page's styles once they equal ``want``, or as they are after
    ``timeout_s``: after a reload the charts are drawn by the page's script, and
    on a busy machine a first look can come before the drawing (no chart text
    yet).  A page that never reaches ``want`` still fails, with what it shows."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = styles(visit, chart_selector)
        if got == want or time.monotonic() > deadline:
            return got
        visit.page.wait_for_timeout(50)


def check_theme_switch(visit, chart_selector: str, shots: Path, name: str) -> None:
    """The page starts in the system's theme; the switch restyles background,
    text, the chart and the controls, both ways, and the choice survives a reload."""
    page = visit.page
    first = styles(visit, chart_selector)
    assert first["theme"] == visit.color_scheme, "the first load did not follow the system preference"
    assert first["plotText"] is not None, f"no chart found by {chart_selector!r}"
    page.screenshot(path=str(shots / f"{name}-{first['theme']}.png"), full_page=True)
    page.click("#rs-theme")
    second = styles(visit, chart_selector)
    assert second["theme"] != first["theme"]
    changed = [k for k in first if k != "theme" and first[k] is not None and first[k] != second[k]]
    unchanged = sorted(set(k for k in first if k != "theme" and first[k] is not None) - set(changed))
    assert not unchanged, f"the theme switch left {unchanged} unchanged: {first} -> {second}"
    page.screenshot(path=str(shots / f"{name}-{second['theme']}.png"), full_page=True)
    visit.reload()
    got = styles_once_settled(visit, chart_selector, second)
    assert got == second, f"the chosen theme did not survive a reload: {got} instead of {second}"
    page.click("#rs-theme")
    got = styles_once_settled(visit, chart_selector, first)
    assert got == first, f"switching back gave {got} instead of {first}"
    visit.reload()
    got = styles_once_settled(visit, chart_selector, first)
    assert got == first, f"switching back did not survive a reload: {got} instead of {first}"
