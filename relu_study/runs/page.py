"""``run.html``: one run as a page beside its ``loss.png`` and ``dead.png``.

Why a page for a single run: the PNGs cannot show a value on hover, hide a
series, switch to the dark theme, or carry the run's config and summary next
to its curves.  The page draws the same :class:`relu_study.charts.Chart`
objects the PNGs are drawn from (:func:`relu_study.runs.plots.loss_chart`,
:func:`relu_study.runs.plots.health_chart`), so the two never disagree; it is
one self-contained file (no network access), like the sweep page.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..web import esc, render_page

__all__ = ["RUN_PAGE_FILE", "run_page_html", "write_run_page"]

RUN_PAGE_FILE = "run.html"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _summary_rows(summary: dict) -> str:
    from ..engine.metrics import METRICS

    rows = []
    for key, value in (summary.get("final_mean") or {}).items():
        meaning = METRICS[key].meaning if key in METRICS else ""
        rows.append(f"<tr><th scope=\"row\"><code>{esc(key)}</code></th><td>{esc(_fmt(value))}</td>"
                    f"<td class=\"rs-muted\">{esc(meaning)}</td></tr>")
    if not rows:
        return '<p class="rs-note">No network finished: there is no final value.</p>'
    return ("<table><thead><tr><th scope=\"col\">metric</th><th scope=\"col\">final (mean over the networks that "
            "finished)</th><th scope=\"col\">meaning</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _config_rows(config: dict) -> str:
    from .config import flatten

    rows = "".join(f"<tr><th scope=\"row\"><code>{esc(k)}</code></th><td><code>{esc(_fmt(v))}</code></td></tr>"
                   for k, v in flatten(config or {}).items())
    return ("<table><thead><tr><th scope=\"col\">key</th><th scope=\"col\">value</th></tr></thead><tbody>" + rows +
            "</tbody></table>")


def run_page_html(table: pd.DataFrame, summary: dict, metrics: list[str] | None = None,
                  title: str = "run") -> str:
    """The page as a string: the run's curves (loss; unit health of ``metrics``), its
    summary (status, final values with their meanings from the registry) and config."""
    from .plots import _title, health_chart, loss_chart

    charts = [loss_chart(table)]
    if "dead_frac" in table or "epoch_never_positive_frac" in table:
        charts.append(health_chart(table, metrics))
    n, nd = summary.get("n_networks", 0), summary.get("n_diverged", 0)
    status = f"{n} network{'s' if n != 1 else ''}" + (f", {nd} diverged" if nd else "")
    heading = f"Run: {_title(table)}" if len(table) else "Run"
    body = [f"<h1>{esc(heading)}</h1>",
            f'<p class="rs-muted">{esc(status)}; folder {esc(title)}; {esc(summary.get("network", ""))}. '
            "Hover a curve for its value, interval and n; click a legend entry to hide it.</p>"]
    for chart in charts:
        body.append(f"<h2>{esc(chart.title.splitlines()[0].split(':')[0])}</h2>")
        body.append(f'<div data-chart="{esc(chart.name)}"></div>')  # its caption is drawn under it
    body.append("<h2>Summary</h2>" + _summary_rows(summary))
    body.append("<details><summary>Config (every setting of the run)</summary>" +
                _config_rows(summary.get("config", {})) + "</details>")
    body.append('<p class="rs-muted">Files beside this page: metrics.parquet (every row), summary.json, '
                "loss.png, dead.png.</p>")
    return render_page(heading, "\n".join(body), charts=True, init="RS.renderAll();",
                       data={"charts": {c.name: c.to_dict() for c in charts}}, heading=heading)


def write_run_page(path, table: pd.DataFrame, summary: dict, metrics: list[str] | None = None) -> Path:
    """Write :func:`run_page_html` to ``path`` (the caller makes the write atomic)."""
    path = Path(path)
    path.write_text(run_page_html(table, summary, metrics, title=path.resolve().parent.name), encoding="utf-8")
    return path
