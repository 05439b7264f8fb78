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


_SERIES_CONTRAST = """(sel) => {
  const rgb = (c) => { const m = c.match(/[\\d.]+/g); return m ? m.slice(0, 3).map(Number) : null; };
  const lum = (c) => {
    const v = c.map((x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  };
  const ratio = (a, b) => {
    const [lo, hi] = [lum(a), lum(b)].sort((x, y) => x - y);
    return (hi + 0.05) / (lo + 0.05);
  };
  const bg = rgb(getComputedStyle(document.body).backgroundColor);
  const out = {};
  document.querySelectorAll(sel + ' [data-series].rs-line, ' + sel + ' [data-series].rs-mark, ' + sel +
                            ' [data-series].rs-bar, ' + sel + ' .rs-legend button[data-series] line').forEach((e) => {
    const name = e.dataset.series || e.closest('[data-series]').dataset.series;
    const cs = getComputedStyle(e);
    const paint = e.tagName === 'line' || e.classList.contains('rs-line') ? cs.stroke : cs.fill;
    const c = rgb(paint);
    if (!c) return;
    const r = ratio(c, bg);
    out[name] = Math.min(out[name] === undefined ? Infinity : out[name], r);
  });
  return out;
}"""


def series_contrast(visit, selector: str = "") -> dict:
    """``{series name: lowest contrast ratio}`` of what is drawn for each series
    (lines, markers, bars and its legend swatch) against the page's background,
    in the theme the page shows now (the computed paint of every drawn element)."""
    return visit.page.evaluate(_SERIES_CONTRAST, selector)


def check_series_visible(visit, selector: str = "", floor: float = 3.0) -> None:
    """Every series of the charts under ``selector`` at least ``floor``:1 against the background."""
    got = series_contrast(visit, selector)
    assert got, f"no series drawn under {selector!r}"
    faint = {k: round(v, 2) for k, v in got.items() if v < floor}
    theme = visit.page.evaluate("document.documentElement.dataset.theme")
    assert not faint, f"series drawn below {floor}:1 contrast in the {theme} theme: {faint}"
