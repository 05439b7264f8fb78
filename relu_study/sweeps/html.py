"""``sweep_report.html``: a sweep's curves as one interactive, self-contained page.

Written beside the sweep tables by :func:`relu_study.sweeps.aggregate.write_sweep`
(so by the multirun callback and by ``python -m relu_study.compare``).  It shows,
per arm (one combination of the swept keys, seeds aside):

* training and validation loss per epoch, and the dead and zero-gradient
  fractions per epoch: the mean over the arm's networks with a 95% t-band
  (:func:`relu_study.runs.plots.mean_band`), and on hover the epoch, the mean,
  the band and n, the number of networks with a finite value there;
* the final validation loss and dead fraction against alpha, one line per
  activation (when alpha is swept).

Arms can be hidden and shown with the buttons above the charts (which are the
curves' legend, in their colours); the axes rescale to what is left.  Non-finite values (a
diverged network's last loss) and epochs without a probe leave a network out
of that point's mean, never count as 0; n says how many remain.

The figures are :class:`relu_study.charts.Chart` objects drawn in the browser
by ``relu_study/web/assets/chart.js``; the page needs no other file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._version import __version__
from ..charts import REFERENCE_COLOUR, Chart, Panel, Series
from ..runs.plots import mean_band
from ..web import esc, render_page
from .arms import arm_label, final_vs_alpha_data, fixed_description, groups  # the PNG and the page: same networks

__all__ = ["SWEEP_REPORT_FILE", "arm_styles", "sweep_charts", "sweep_report_html", "sweep_title", "unit_health_chart",
           "write_sweep_report"]

SWEEP_REPORT_FILE = "sweep_report.html"
_MAX_FACETS = 12

_CURVES = {
    "loss": ("Loss per epoch: mean over each arm's networks, 95% t-band",
             [("train_loss", "training loss (mean over the epoch's minibatches)"), ("val_loss", "validation loss")]),
    # unit health: the epoch statistic at every epoch (a band), the exact probe (points with error bars)
    "dead": ("Unit health per epoch: mean over each arm's networks, 95% t-band (lines: epoch statistics over the "
             "training passes; points: the exact probe)",
             [("dead_frac", "never positive (stuck negative for a slope activation)"),
              ("zero_grad_frac", "zero-gradient units (truly dead; 0 for a non-zero slope)")]),
}


def _finite(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """``table`` with non-finite values of ``column`` as NaN (left out of means and n)."""
    values = pd.to_numeric(table[column], errors="coerce").astype(float)
    return table.assign(**{column: values.replace([np.inf, -np.inf], np.nan)})


def _band_series(name: str, table: pd.DataFrame, column: str, by: str, color: str | None = None,
                 style: str = "solid", marks: bool = False) -> Series:
    """Mean, 95% band and n of ``column`` per ``by`` value.  Per epoch, an epoch
    with nothing measured (not probed, or every network had diverged) is a gap
    (null), so the page never joins values across epochs no one measured."""
    band = mean_band(_finite(table, column), column, by)
    band = band[band["n"] > 0]
    if by == "epoch" and len(band) and not marks:
        band = band.reindex(range(int(band.index.min()), int(band.index.max()) + 1))
    return Series(name, [float(v) for v in band.index], band["mean"].tolist(), lo=band["lo"].tolist(),
                  hi=band["hi"].tolist(), n=[None if pd.isna(v) else int(v) for v in band["n"]],
                  color=color, style=style, marks=marks)


def _loss_unit(table: pd.DataFrame) -> str:
    tasks = set(table["task"].dropna().unique()) if "task" in table else set()
    return {frozenset({"classification"}): "cross-entropy, nats",
            frozenset({"regression"}): "mean squared error"}.get(frozenset(tasks), "cross-entropy or MSE, by task")


def _is_reference(g: pd.DataFrame) -> bool:
    """An arm of ReLU networks: the reference, drawn grey, dashed and on top."""
    return "activation.name" in g and len(g) and (g["activation.name"] == "relu").all()


def arm_styles(arms) -> dict:
    """``{arm label: (colour, style)}`` of ``arms`` (``[(label, rows)]``): ReLU arms in
    :data:`relu_study.charts.REFERENCE_COLOUR`, dashed, the others through the palette.
    The sweep PNGs take the same (:mod:`relu_study.sweeps.plots`), so an arm has one colour."""
    from ..charts import REFERENCE_COLOUR, arm_colours

    ref = [label for label, g in arms if _is_reference(g)]
    out = arm_colours(label for label, _ in arms if label not in ref)
    out.update({label: (REFERENCE_COLOUR, "dashed") for label in ref})
    return out


def _sparse(table: pd.DataFrame, column: str) -> bool:
    """True when ``column`` (a probe) was not measured at every epoch."""
    epochs = table.loc[pd.to_numeric(table[column], errors="coerce").notna(), "epoch"].nunique()
    return epochs < table["epoch"].nunique()


def _curve_chart(kind: str, metrics: pd.DataFrame, keys) -> Chart | None:
    from ..runs.plots import EPOCH_STAT_OF, _fitted_ylim

    title, columns = _CURVES[kind]
    def measured(c):
        return c in metrics.columns and pd.to_numeric(metrics[c], errors="coerce").notna().any()
    columns = [(c, t) for c, t in columns if measured(c) or measured(EPOCH_STAT_OF.get(c, ""))]
    if not columns:
        return None
    arms = [(arm_label(keys, values), g) for values, g in groups(metrics, keys)]
    styles = arm_styles(arms)
    # the reference last, so it is drawn on top of an arm it coincides with
    arms = sorted(arms, key=lambda a: styles[a[0]][0] == REFERENCE_COLOUR)
    panels = []
    for col, ptitle in columns:
        series = []
        stat = EPOCH_STAT_OF.get(col) if kind == "dead" else None
        for label, g in arms:
            colour, style = styles[label]
            if stat and measured(stat):
                series.append(_band_series(label, g, stat, "epoch", colour, style))
            if measured(col):
                # the exact probe: points with error bars where a band beside it, or a sparse schedule, is
                marks = kind == "dead" and (bool(stat and measured(stat)) or _sparse(g, col))
                series.append(_band_series(label, g, col, "epoch", colour, style, marks=marks))
        ys = [v for s in series for v in (s.lo or []) + (s.hi or []) + s.y if v is not None]
        logy = kind == "loss" and bool(ys) and min(ys) > 0 and max(ys) / min(ys) > 1000  # more than 3 decades
        ylabel = f"loss ({_loss_unit(metrics)})" if kind == "loss" else "fraction of hidden units"
        ylim, fitted = _fitted_ylim(ys) if kind == "dead" else (None, False)
        panels.append(Panel(ptitle, series, xlabel="epoch", ylabel=ylabel, logy=logy, ylim=ylim, fitted=fitted,
                            integer_x=True, empty="no finite value: every network diverged, or nothing was measured"))
    # no legend of its own: the arm buttons above the charts are the legend (with the curves' colours)
    caption = ("Lines and bands: the epoch statistics (every epoch, over the training passes); points with error "
               "bars: the exact probe on its schedule. ReLU is the grey dashed reference, drawn on top."
               if kind == "dead" else "")
    return Chart(f"sweep_{kind}", title, "lines", panels, caption=caption, columns=2, meta={"legend": False})



def unit_health_chart(metrics: pd.DataFrame, keys) -> Chart | None:
    """Never-positive and zero-gradient units per epoch per arm: the epoch statistic at
    every epoch as a band, the exact probe as points with error bars (also ``sweep_dead.png``)."""
    return _curve_chart("dead", metrics, list(keys))


def _final_chart(runs: pd.DataFrame, keys) -> Chart | None:
    selected = final_vs_alpha_data(runs, keys)
    if selected is None:
        return None
    data, xkey, line_key, facet_keys = selected
    metrics = [m for m in ("val_loss", "dead_frac") if data[f"final_{m}"].notna().any()]
    if not metrics:
        return None
    # as the PNG: the x axis follows the activations whose slope varies; the others (relu at 0)
    # are a level, a flat band across that range at their mean and interval
    by_act = list(data.groupby(line_key, sort=False)) if line_key else [(None, data)]
    sloped = {act for act, rows in by_act if rows[xkey].astype(float).dropna().nunique() >= 2}
    x_all = (pd.concat([rows[xkey] for act, rows in by_act if act in sloped]) if sloped else data[xkey]).astype(float)
    logx = bool((x_all > 0).all() and x_all.max() / x_all.min() >= 10)
    span = [float(x_all.min()), float(x_all.max())]
    names = [(arm_label([line_key], (act,)) if line_key else "all networks", rows) for act, rows in by_act]
    styles = arm_styles(names)
    facets = list(groups(data, facet_keys))
    panels = []
    for fvalues, g in facets[:_MAX_FACETS]:
        for m in metrics:
            series = []
            for act, sub in (g.groupby(line_key, sort=False) if line_key else [(None, g)]):
                name = arm_label([line_key], (act,)) if line_key else "all networks"
                colour, style = styles[name]
                sub = sub.assign(**{xkey: sub[xkey].astype(float)})
                if line_key and act not in sloped and sloped:
                    level = mean_band(_finite(sub.assign(_all=0), f"final_{m}"), f"final_{m}", "_all")
                    if len(level):
                        row = level.iloc[0]
                        series.append(Series(name, span, [row["mean"]] * 2,
                                             [row["lo"]] * 2, [row["hi"]] * 2, [int(row["n"])] * 2,
                                             color=colour, style="dashed"))
                    continue
                series.append(_band_series(name, sub, f"final_{m}", xkey, colour, style))
            what = "final validation loss" if m == "val_loss" else "final dead fraction"
            title = what + (f" ({arm_label(facet_keys, fvalues)})" if facet_keys else "")
            panels.append(Panel(title, series, xlabel=xkey, ylabel=what, logx=logx,
                                empty="no network finished (all diverged or failed)"))
    more = f" (first {_MAX_FACETS} of {len(facets)} settings)" if len(facets) > _MAX_FACETS else ""
    return Chart("sweep_final_vs_alpha", f"Final values against {xkey}: mean over the networks that finished, "
                 f"95% t-interval{more}", "lines", panels, columns=2)


def sweep_charts(metrics: pd.DataFrame, runs: pd.DataFrame, keys) -> list[Chart]:
    """The page's figures as data: loss curves, dead-unit curves, final values
    against alpha (each only when it applies)."""
    keys = list(keys)
    out = []
    if len(metrics) and "epoch" in metrics.columns:
        out += [c for c in (_curve_chart("loss", metrics, keys), unit_health_chart(metrics, keys)) if c]
    if len(runs):
        chart = _final_chart(runs, keys)
        if chart is not None:
            out.append(chart)
    return out


def _arm_buttons(runs: pd.DataFrame, keys) -> str:
    if runs.empty:
        return ""
    buttons = []
    for values, g in groups(runs, keys):
        label = arm_label(keys, values)
        nets = int((g["status"] != "failed").sum())
        div = int((g["status"] == "diverged").sum())
        failed = int((g["status"] == "failed").sum())
        count = f"n={nets}" + (f", {div} diverged" if div else "") + (f", {failed} failed jobs" if failed else "")
        buttons.append(f'<button type="button" data-arm="{esc(label)}" aria-pressed="true">{esc(label)} '
                       f'<span class="rs-muted">({count})</span></button>')
    return ('<div class="rs-arms" role="group" aria-label="arms">' + "".join(buttons) +
            '<button type="button" id="rs-arms-all">show all</button>'
            '<button type="button" id="rs-arms-none">hide all</button></div>')


def sweep_report_html(metrics: pd.DataFrame, runs: pd.DataFrame, keys, *, title: str = "sweep",
                      summary: str = "") -> str:
    """The page as a string; ``summary`` is the text of ``sweep_summary.txt``."""
    keys = list(keys)
    charts = sweep_charts(metrics, runs, keys)
    n_nets = int((runs["status"] != "failed").sum()) if len(runs) else 0
    n_jobs = runs["run_dir"].nunique() if len(runs) else 0
    fixed = fixed_description(runs, keys) if len(runs) else ""
    what = sweep_title(runs, keys)
    head = [f"<h1>{esc(what)}</h1>",
            f'<p class="rs-muted">{n_jobs} run folders, {n_nets} networks; arms by: '
            f"{esc(', '.join(keys) or 'none (one arm)')}" + (f"; held fixed: {esc(fixed)}" if fixed else "") +
            f"; folder: {esc(title)}.</p>"]
    body = list(head)
    if charts:
        body.append("<p>Hide or show an arm with its button (the buttons are the curves' legend); hover a curve for "
                    "the value, "
                    "the 95% interval and n, the number of networks behind the point.</p>")
        body.append(_arm_buttons(runs, keys))
        n_div = sum(int((g["status"] == "diverged").any()) for _, g in groups(runs, keys)) if len(runs) else 0
        if n_div:
            body.append(f'<p class="rs-muted">{n_div} arm{"s have" if n_div > 1 else " has"} diverged networks '
                        "(counted on the buttons): their last finite losses can dwarf the other curves; hide such an "
                        "arm to see the rest at scale.</p>")
        for chart in charts:
            body.append(f'<div data-chart="{esc(chart.name)}"></div>')
    else:
        body.append('<p class="rs-note">No finished run to draw.</p>')
    if summary:
        body.append(f'<h2>Summary</h2><pre class="rs-wrap">{esc(summary)}</pre>')
    body.append(f'<p class="rs-muted">Written by relu_study {esc(__version__)} with the sweep tables '
                "(sweep_metrics.parquet, sweep_runs.parquet) in this folder.</p>")
    return render_page(what, "\n".join(body), charts=True, scripts=("sweep.js",),
                       data={"charts": {c.name: c.to_dict() for c in charts}}, heading=what)


def sweep_title(runs: pd.DataFrame, keys) -> str:
    """What the sweep compares, for the page's title (never the folder's timestamp):
    ``Sweep of activation, alpha: 3 arms, 9 networks``."""
    n_arms = len(list(groups(runs, keys))) if len(runs) else 0
    n_nets = int((runs["status"] != "failed").sum()) if len(runs) else 0
    swept = ", ".join(keys) if keys else "one setting"
    return f"Sweep of {swept}: {n_arms} arm{'s' if n_arms != 1 else ''}, {n_nets} network{'s' if n_nets != 1 else ''}"


def write_sweep_report(folder, metrics: pd.DataFrame, runs: pd.DataFrame, keys, summary: str = "") -> Path:
    """Write ``sweep_report.html`` into ``folder`` (atomically) and return its path."""
    from ..runs.folders import atomic_path

    folder = Path(folder)
    path = folder / SWEEP_REPORT_FILE
    text = sweep_report_html(metrics, runs, keys, title=folder.resolve().name, summary=summary)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
