"""Per-run plots: loss curves and dead fraction per hidden layer.

With several networks (seeds) in a run, curves show the mean over the networks
that never diverged and a band: the 95% t-interval of the mean
(:func:`mean_band`).  A diverged network is drawn on its own, a thin line that
ends in an ``x`` at its last finite value, and legends count what is drawn
("mean of 2 of 4 seeds; 2 diverged").  A figure never shows blank axes: with
``epochs=0``, or when every network diverged, it says so in words.

Probes may run on a schedule, so probe columns (``dead_frac``, ...) can be NaN on
epochs that were not probed: curves join the measured epochs and never read a
gap as 0.  A loss axis spanning more than three decades is logarithmic
(:func:`loss_scale`).

Figures are built with matplotlib's object-oriented API (:class:`matplotlib.figure.Figure`),
so drawing one changes no process-wide state (no backend switch, no pyplot).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "EPOCH_STAT_OF", "LOG_SPAN", "dead_figure", "default_health_metrics", "health_chart", "loss_chart",
    "diverged_seeds", "layer_columns", "loss_figure", "loss_scale", "mean_band",
    "broken_at_gaps", "fill_measured", "measured_epochs_note", "plot_dead", "plot_loss", "plot_measured",
    "plot_run", "run_figures", "wrap",
]

#: a loss axis whose positive values span more than this factor is drawn on a log scale
LOG_SPAN = 1e3
#: series with at most this many points get markers, so a sparse probe schedule stays visible
_MARKERS_BELOW = 25
_DIVERGED_COLOR = "0.45"


def layer_columns(table: pd.DataFrame, metric: str) -> list[str]:
    """``<metric>_l1, <metric>_l2, ...`` present in ``table``, in layer order."""
    cols = [c for c in table.columns if c.startswith(metric + "_l") and c[len(metric) + 2:].isdigit()]
    return sorted(cols, key=lambda c: int(c[len(metric) + 2:]))


def mean_band(table: pd.DataFrame, column: str, by: str = "epoch", level: float = 0.95) -> pd.DataFrame:
    """Mean of ``column`` per ``by`` value over seeds, with a ``level`` t-interval
    (``lo``, ``hi``; equal to the mean when only one seed) and ``n``, the number
    of finite values behind each mean.  Values that are NaN or infinite (an
    epoch that was not probed, a diverged network's last row) are left out, and
    ``by`` values without any finite value are dropped: a gap, never a zero."""
    from scipy import stats

    values = table[column].astype(float).where(np.isfinite(table[column].astype(float)))
    g = values.groupby(table[by])
    out = pd.DataFrame({"mean": g.mean(), "n": g.count(), "sd": g.std(ddof=1)})
    lo_obs, hi_obs = g.min(), g.max()
    keep = out["n"] > 0
    out, lo_obs, hi_obs = out[keep], lo_obs[keep], hi_obs[keep]
    half = stats.t.ppf(0.5 + level / 2, np.maximum(out["n"] - 1, 1)) * out["sd"] / np.sqrt(out["n"])
    half = half.where(out["n"] > 1, 0.0).fillna(0.0)
    # the mean lies within the observed range, so the band is clipped to it
    # (keeps loss bands positive and fractions inside [0, 1])
    out["lo"] = np.maximum(out["mean"] - half, lo_obs)
    out["hi"] = np.minimum(out["mean"] + half, hi_obs)
    return out


def loss_scale(values) -> str:
    """``"log"`` when the positive finite ``values`` span more than :data:`LOG_SPAN`
    (three decades) and none is below zero, else ``"linear"``."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v) or (v <= 0).any():
        return "linear"
    return "log" if v.max() / v.min() > LOG_SPAN else "linear"


def wrap(text: str, width: int) -> str:
    """Wrap each line of ``text`` at ``width`` characters, breaking after commas."""
    out = []
    for line in text.split("\n"):
        out += textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False) or [""]
    return "\n".join(out)


def diverged_seeds(table: pd.DataFrame) -> dict:
    """``{seed: epoch}`` of the networks that diverged (their row with ``diverged``)."""
    if "diverged" not in table or not len(table):
        return {}
    rows = table.loc[table["diverged"].astype(bool), ["seed", "epoch"]]
    return {int(s): int(e) for s, e in zip(rows["seed"], rows["epoch"])}


#: config columns named in a run plot's title, with their labels
_TITLE_KEYS = (("activation.name", "activation"), ("dataset.name", "dataset"), ("model.name", "model"),
               ("init.name", "init"), ("optimizer.name", "optimizer"), ("optimizer.lr", "lr"))


def _one(table: pd.DataFrame, key: str):
    if key not in table or table[key].nunique(dropna=False) != 1:
        return None
    v = table[key].iloc[0]
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else v


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)


def _hidden(table: pd.DataFrame) -> str | None:
    widths = _one(table, "model.widths")
    if widths not in (None, "null"):
        return "hidden " + "x".join(str(w) for w in _widths(widths))
    depth, width = _one(table, "model.depth"), _one(table, "model.width")
    return f"{depth}x{width} hidden" if depth is not None and width is not None else None


def _widths(text) -> list:
    """A widths list stored as JSON text in the table (``"[64, 32]"``)."""
    import json

    return json.loads(text) if isinstance(text, str) else list(text)


def _title(table: pd.DataFrame) -> str:
    parts = []
    for key, label in _TITLE_KEYS:
        value = _one(table, key)
        if value is None:
            continue
        text = f"{label}={_fmt(value)}"
        if key == "activation.name" and _one(table, "alpha") is not None and value != "relu":
            text += f" (alpha={_fmt(_one(table, 'alpha'))})"
        if key == "model.name" and _hidden(table):
            text += f" ({_hidden(table)})"
        parts.append(text)
    seeds = table["seed"].nunique()
    parts.append(f"{seeds} seed{'s' if seeds != 1 else ''}")
    return ", ".join(parts)


def _counts(table: pd.DataFrame) -> tuple[int, int]:
    return table["seed"].nunique(), len(diverged_seeds(table))


def plot_measured(ax, x, y, **style):
    """``y`` against the epochs ``x`` it was measured at: a line of ``style``
    between consecutive epochs, a thin dotted one across epochs that were not
    measured (a sparse probe schedule), so the figure never draws a trend no
    one measured as if it had been.  Returns the labelled line."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    line, = ax.plot(*broken_at_gaps(x, y), **style)
    for i in np.flatnonzero(np.diff(x) > 1):
        ax.plot(x[i:i + 2], y[i:i + 2], color=line.get_color(), ls=":", lw=0.9)
    return line


def fill_measured(ax, x, lo, hi, **style) -> None:
    """A band between ``lo`` and ``hi`` over the epochs ``x`` it was measured at,
    left open across epochs that were not (as :func:`plot_measured` does)."""
    ax.fill_between(*broken_at_gaps(np.asarray(x, dtype=float), np.asarray(lo, dtype=float),
                                     np.asarray(hi, dtype=float)), **style)


def broken_at_gaps(x, *ys):
    """``x`` and ``ys`` with a NaN inserted wherever ``x`` skips an epoch: matplotlib
    neither joins nor fills across a NaN."""
    gaps = np.flatnonzero(np.diff(x) > 1) + 1
    return (np.insert(x, gaps, np.nan), *(np.insert(y, gaps, np.nan) for y in ys))


def measured_epochs_note(table: pd.DataFrame, column: str) -> str | None:
    """``measured at epochs 0, 10, 30 ...`` when ``column`` (a probe column) was
    not measured at every epoch of the run, else None."""
    epochs = np.sort(table.loc[np.isfinite(table[column].astype(float)), "epoch"].unique())
    every = np.arange(0, int(table["epoch"].max()) + 1)
    if len(epochs) == 0 or np.array_equal(epochs, every):
        return None
    shown = ", ".join(str(int(e)) for e in epochs) if len(epochs) <= 8 else f"{len(epochs)} of {len(every)} epochs"
    return (f"measured at epochs {shown} (the probe schedule; dotted: not measured in between; "
            f"probe.every=1 measures every epoch)")


def _draw_mean(ax, table, column, label, color=None, band_on=True, **style):
    """Mean and band of ``column`` over ``table``'s networks; returns the line or None."""
    band = mean_band(table, column)
    if band.empty:
        return None
    marker = "o" if len(band) <= _MARKERS_BELOW else None
    line = plot_measured(ax, band.index, band["mean"], label=label, color=color, marker=marker, ms=3, **style)
    if band_on and (band["n"] > 1).any():
        fill_measured(ax, band.index, band["lo"], band["hi"], color=line.get_color(), alpha=0.2, linewidth=0)
    return line


def _draw_diverged(ax, table, column, diverged: dict, label: str, top: float | None = None):
    """Each diverged network's ``column`` until it diverged, ending in an ``x``
    (at the top edge, ``top``, when its last value is off the scale)."""
    first = True
    for seed in diverged:
        rows = table[table["seed"] == seed]
        rows = rows[np.isfinite(rows[column].astype(float))]
        if rows.empty:
            continue
        ax.plot(rows["epoch"], rows[column], color=_DIVERGED_COLOR, lw=0.8, ls="--",
                label=label if first else None)
        last = float(rows[column].iloc[-1])
        edge = top is not None and last > top
        ax.plot(rows["epoch"].iloc[-1], top if edge else last, "x", color="#d62728", ms=7, mew=1.8, clip_on=False,
                label=("last finite value before divergence" + (" (top edge: off the scale)" if top else ""))
                if first else None)
        first = False


def _note(ax, text: str) -> None:
    """A sentence inside the axes (what a reader must know to read them)."""
    ax.text(0.5, 0.5, wrap(text, 60), transform=ax.transAxes, ha="center", va="center", fontsize=9,
            color="0.2", bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.7", "alpha": 0.9})


def _legend_title(n: int, n_div: int, diverged: dict) -> str | None:
    if n == 1:
        return f"diverged at epoch {next(iter(diverged.values()))}" if n_div else None
    if not n_div:
        return f"mean and 95% CI over {n} seeds"
    return f"mean and 95% CI of {n - n_div} of {n} seeds; {n_div} diverged"


def _figure(width=6.6, height=4.4):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _epoch_axis(ax, table: pd.DataFrame) -> None:
    """Whole epochs on the x axis; a little room around epoch 0 when it is the only one."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if _untrained(table):
        ax.set_xlim(-1, 1)


def _untrained(table: pd.DataFrame) -> bool:
    return not len(table) or int(table["epoch"].max()) == 0


def _untrained_note(what: str) -> str:
    return f"epochs=0: nothing was trained; the points are the {what} at initialisation"


def _all_diverged_note(n: int, diverged: dict) -> str:
    epochs = sorted(diverged.values())
    shown = ", ".join(map(str, epochs[:8])) + (", ..." if len(epochs) > 8 else "")
    return f"all {n} networks diverged (at epoch{'s' if n > 1 else ''} {shown}): dashed lines show them until then"


def loss_figure(table: pd.DataFrame):
    """The ``loss.png`` figure (a :class:`matplotlib.figure.Figure`)."""
    fig = _figure()
    ax = fig.subplots()
    diverged = diverged_seeds(table)
    n, n_div = _counts(table)
    ok = table[~table["seed"].isin(list(diverged))]
    drawn = [_draw_mean(ax, ok, "train_loss", "train (mean over minibatches)"),
             _draw_mean(ax, ok, "val_loss", "validation")]
    # the scale follows the networks that trained; a diverged one may leave it at the top
    shown = (ok if len(ok) else table)[["train_loss", "val_loss"]].to_numpy(float).ravel()
    shown = shown[np.isfinite(shown)]
    scale = loss_scale(shown)
    top = None
    if len(ok) and diverged and len(shown):
        top = float(shown.max()) * (10.0 if scale == "log" else 1.25)
    _draw_diverged(ax, table, "val_loss", diverged, "diverged networks: validation loss", top)
    task = table["task"].iloc[0] if "task" in table and len(table) else "classification"
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"loss ({'cross-entropy' if task == 'classification' else 'mean squared error'})")
    ax.set_yscale(scale)
    if top is not None:
        low = float(shown.min())
        ax.set_ylim(low / 2 if scale == "log" else low - 0.05 * (top - low), top)
    _epoch_axis(ax, table)
    ax.grid(alpha=0.3)
    if _untrained(table):
        _note(ax, _untrained_note("losses"))
    elif n_div == n:
        _note(ax, _all_diverged_note(n, diverged))
    if any(d is not None for d in drawn) or diverged:
        ax.legend(fontsize=8, title=_legend_title(n, n_div, diverged), title_fontsize=8)
    fig.suptitle(wrap(f"Loss: {_title(table)}", 90), fontsize=9)
    return fig


#: the exact probe's measure and the epoch statistic that follows it through every epoch
EPOCH_STAT_OF = {"dead_frac": "epoch_never_positive_frac", "dormant_frac": "epoch_dormant_frac",
                 "exact_zero_frac": "epoch_exact_zero_frac", "active_rate": "epoch_active_rate"}
#: activations whose units are dead (zero gradient) where they are never positive
ZERO_GRADIENT_BELOW = ("relu",)
#: activations whose never-positive units still pass a gradient (a slope below zero)
SLOPE_BELOW = ("leaky", "prelu", "rrelu")


def default_health_metrics(activation: str | None) -> list[str]:
    """The metrics the unit-health figure draws when ``plots.metrics`` is not set: what
    "dead" means for the activation trained.  ReLU: never positive, and zero gradient;
    any other activation: never positive (stuck negative for a slope activation, which
    still learns there), dormant and low-contribution fractions."""
    if activation in ZERO_GRADIENT_BELOW:
        return ["dead_frac", "zero_grad_frac"]
    return ["dead_frac", "dormant_frac", "low_contribution_frac"]


def _label(name: str, activation: str | None) -> str:
    """A metric's figure label from the registry; never positive is *stuck negative* for a slope activation."""
    from ..engine.metrics import metric

    base = name.rsplit("_l", 1)[0] if name not in EPOCH_STAT_OF and metric(name).name != name else name
    label = metric(name).label
    if activation in SLOPE_BELOW and metric(name).name in ("dead_frac", "epoch_never_positive_frac"):
        label = "stuck negative" + (" during the epoch" if metric(name).source == "epoch_stat" else "")
    if base != name:
        label += f", layer {name.rsplit('_l', 1)[1]}"
    return label


def _pair(name: str) -> tuple[str | None, str | None]:
    """``(epoch statistic column, exact probe column)`` behind the metric ``name`` (either may be None)."""
    from ..engine.metrics import metric

    m = metric(name)
    suffix = name[len(m.name):]  # "" or "_l2"
    if m.source == "epoch_stat":
        probe = next((p for p, e in EPOCH_STAT_OF.items() if e == m.name), None)
        return name, (probe + suffix if probe else None)
    stat = EPOCH_STAT_OF.get(m.name)
    return (stat + suffix if stat else None), (name if m.source == "probe" else None)


def _fitted_ylim(values) -> tuple[tuple, bool]:
    """``((lo, hi), fitted)``: 0-1 when the values reach above a quarter of it, else an axis
    fitted to the data (from 0 to a little above the largest value)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    top = float(v.max()) if len(v) else 1.0
    if top > 0.25 or (len(v) and float(v.min()) < 0):
        return (-0.02, 1.02), False
    return (-0.02 * max(top, 0.01) * 1.15, max(top, 0.01) * 1.15), True


def _band_series(name, table, column, color, marks=False):
    from ..charts import Series

    band = mean_band(table, column)
    if band.empty:
        return None
    return Series(name, list(band.index), list(band["mean"]), list(band["lo"]), list(band["hi"]),
                  list(band["n"]), color=color, marks=marks)


def _probe_epochs(table: pd.DataFrame, column: str) -> str | None:
    """``measured at epochs 0, 30 ...`` when the exact probe ``column`` skipped epochs."""
    note = measured_epochs_note(table, column)
    return note.split(" (", 1)[0] + " (the probe schedule; probe.every=1 probes every epoch)" if note else None


def health_chart(table: pd.DataFrame, metrics: list[str] | None = None):
    """The ``dead.png`` figure as a :class:`relu_study.charts.Chart`: one panel per metric
    (``metrics``, registry names; default :func:`default_health_metrics`), each the epoch
    statistic at every epoch (a line with the 95% band over seeds) and the exact probe as
    marked points with error bars; with several hidden layers, a last panel shows each
    metric per layer at the last epoch, so a deep network stays readable."""
    from ..charts import PALETTE, Chart, Panel, Series

    activation = _one(table, "activation.name")
    names = list(metrics) if metrics else default_health_metrics(activation)
    diverged = diverged_seeds(table)
    n, n_div = _counts(table)
    all_diverged = n_div == n
    shown = table if all_diverged else table[~table["seed"].isin(list(diverged))]
    note = ""
    if _untrained(table):
        note = _untrained_note("measures")
    elif all_diverged:
        note = _all_diverged_note(n, diverged)
    panels, drawn = [], []
    for k, name in enumerate(names):
        stat, probe = _pair(name)
        color = PALETTE[k % len(PALETTE)]
        series, values = [], []
        if stat in table:
            s = _band_series(f"{_label(stat, activation)} (every epoch)", shown, stat, color)
            if s:
                series.append(s)
        probe_col = probe if probe in table else (name if name in table and stat is None else None)
        if probe_col:
            # points where a line beside it, or a sparse schedule, would make a line read as measured
            marks = bool(series) or measured_epochs_note(table, probe_col) is not None
            s = _band_series(f"{_label(probe_col, activation)} (exact probe)", shown, probe_col, color, marks=marks)
            if s:
                series.append(s)
        if not series:
            continue
        for s in series:
            values += [v for v in (s.lo or []) + (s.hi or []) + s.y if v is not None]
        from ..engine.metrics import metric

        m = metric(name)
        ylim, fitted = _fitted_ylim(values) if m.unit.startswith("fraction") else (None, False)
        probe_note = _probe_epochs(table, probe_col) if probe_col else None
        panels.append(Panel(_label(name, activation), series, xlabel="epoch", ylabel=m.unit, ylim=ylim,
                            fitted=fitted, integer_x=True, note=note if not panels else "",
                            empty=f"{name} was not recorded"))
        drawn.append((name, stat, probe_col, probe_note))
    layers = len(layer_columns(table, "dead_frac")) or len(layer_columns(table, "epoch_never_positive_frac"))
    if layers > 1 and panels and not _untrained(table) and not all_diverged:
        last = shown[shown["epoch"] == shown["epoch"].max()]
        series = []
        for k, (_name, stat, probe_col, _) in enumerate(drawn):
            col = stat if stat in table else probe_col
            cols = layer_columns(table, col)
            if not cols:
                continue
            bands = [mean_band(last, c) for c in cols]
            ok = [b for b in bands if not b.empty]
            if not ok:
                continue
            mean, lo, hi, count = ([float(b[key].iloc[0]) if not b.empty else None for b in bands]
                                   for key in ("mean", "lo", "hi", "n"))
            series.append(Series(f"{_label(col, activation)}, last epoch", list(range(1, len(cols) + 1)),
                                 mean, lo, hi, count,
                                 color=PALETTE[k % len(PALETTE)]))
        values = [v for s in series for v in (s.lo or []) + (s.hi or []) + s.y if v is not None]
        ylim, fitted = _fitted_ylim(values)
        panels.append(Panel(f"by hidden layer, at epoch {int(shown['epoch'].max())}", series,
                            xlabel="hidden layer (1 = next to the input)", ylabel="fraction", ylim=ylim,
                            fitted=fitted, integer_x=True))
    if not panels:
        panels.append(Panel("unit health", [], empty="none of " + ", ".join(names) + " was recorded"))
    legend = _legend_title(n, n_div, diverged) or "one network"
    notes = [d[3] for d in drawn if d[3]]
    dead_word = "Dead units" if activation in ZERO_GRADIENT_BELOW else "Unit health"
    caption = (f"{legend}. Lines: epoch statistics, accumulated over the training passes of every epoch (the "
               "network as it moved through the epoch); points with error bars: the exact probe of the network "
               "at the end of the epoch, over the probe set." + (f" Exact probe {notes[0]}." if notes else ""))
    return Chart("dead", wrap(f"{dead_word}: {_title(table)}", 100), "lines", panels, caption=caption,
                 columns=2 if len(panels) > 1 else 1, panel_size=(4.6, 3.1),
                 meta={"metrics": names, "activation": activation, "seeds": n, "diverged": n_div})


def loss_chart(table: pd.DataFrame):
    """Training and validation loss per epoch as a :class:`relu_study.charts.Chart`
    (the run page's loss figure): the mean over the networks that did not diverge,
    with its 95% band; logarithmic past three decades, as ``loss.png``."""
    from ..charts import PALETTE, Chart, Panel

    diverged = diverged_seeds(table)
    n, n_div = _counts(table)
    ok = table[~table["seed"].isin(list(diverged))]
    series = [s for s in (_band_series("training loss (mean over the minibatches)", ok, "train_loss", PALETTE[0]),
                          _band_series("validation loss", ok, "val_loss", PALETTE[1])) if s]
    shown = [v for s in series for v in s.y if v is not None]
    task = table["task"].iloc[0] if "task" in table and len(table) else "classification"
    unit = "cross-entropy" if task == "classification" else "mean squared error"
    note = ""
    if _untrained(table):
        note = _untrained_note("losses")
    elif n_div == n and n:
        note = _all_diverged_note(n, diverged)
    panel = Panel("loss per epoch", series, xlabel="epoch", ylabel=f"loss ({unit})",
                  logy=loss_scale(shown) == "log", integer_x=True, note=note,
                  empty="no finite loss: every network diverged")
    caption = (_legend_title(n, n_div, diverged) or "one network") + (
        "; diverged networks are left out of the mean (loss.png draws each until it diverged)" if n_div else "")
    return Chart("loss", wrap(f"Loss: {_title(table)}", 100), "lines", [panel], caption=caption, columns=1)


def dead_figure(table: pd.DataFrame, metrics: list[str] | None = None):
    """The ``dead.png`` figure (a :class:`matplotlib.figure.Figure`) of :func:`health_chart`,
    with its caption (what the lines and points are) above the legend's entries."""
    from ..charts import render_figure

    return render_figure(health_chart(table, metrics), caption=True)


def plot_loss(table: pd.DataFrame, path) -> Path:
    loss_figure(table).savefig(path, dpi=110)
    return Path(path)


def plot_dead(table: pd.DataFrame, path, metrics: list[str] | None = None) -> Path:
    dead_figure(table, metrics).savefig(path, dpi=110)
    return Path(path)


def run_figures(table: pd.DataFrame, metrics: list[str] | None = None) -> dict:
    """``{file name: draw(path)}`` of a run's figures, for :func:`relu_study.runs.folders.write_run`:
    ``loss.png``, and ``dead.png`` (the unit-health figure of ``metrics``, registry names)
    when the run recorded any unit measure.  The run's page (``run.html``) is added by
    the command line (:mod:`relu_study.runs.page`), from the same charts."""
    figures = {"loss.png": lambda path: plot_loss(table, path)}
    if "dead_frac" in table or "epoch_never_positive_frac" in table:
        figures["dead.png"] = lambda path: plot_dead(table, path, metrics)
    return figures


def plot_run(table: pd.DataFrame, folder) -> list[Path]:
    """``loss.png`` and (with probes) ``dead.png`` in ``folder``, written atomically."""
    from .folders import atomic_path

    folder = Path(folder)
    written = []
    for name, draw in run_figures(table).items():
        with atomic_path(folder / name) as tmp:
            draw(tmp)
        written.append(folder / name)
    return written
