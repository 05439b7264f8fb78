"""Comparison plots across the arms of a sweep (see :mod:`relu_study.sweeps.aggregate`).

``plot_sweep(metrics, runs, keys, folder)`` writes, when they apply:

``sweep_loss.png``
    training and validation loss per epoch, one line per arm: mean over the
    arm's networks (seeds) and a 95% t-band (:func:`relu_study.runs.plots.mean_band`);
``sweep_dead.png``
    the same for the dead fraction and the zero-gradient (truly dead) fraction;
``sweep_final_vs_alpha.png``
    final validation loss and final dead fraction against alpha, one line (the
    mean) per activation and every network as a point; a panel row per value
    of the other arm keys;
``sweep_heatmap.png``
    when two numeric keys are swept: mean final validation loss and dead
    fraction over the grid of the first two, a panel per value of the others.

Titles say what was held fixed.  Diverged networks leave the means and the
points (their final values are NaN); they are marked (an ``x`` on the epoch axis
at the epoch each diverged, or at the top of a final-value panel at its alpha)
and counted in the legends ("2 of 4 networks; 2 diverged").  A panel with
nothing to draw (``epochs=0``, every network diverged) says so in words; a loss
axis spanning more than three decades is logarithmic.  Probe columns that are
NaN on epochs that were not probed are left out per column, never read as 0.

Figures are built with matplotlib's object-oriented API
(:class:`matplotlib.figure.Figure`): no pyplot, no backend switch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .arms import arm_label, final_vs_alpha_data, fixed_description, groups
from ..runs.plots import fill_measured, loss_scale, mean_band, measured_epochs_note, plot_measured, wrap

__all__ = ["PLOT_FILES", "curves_figure", "final_vs_alpha_figure", "heatmap_figure", "plot_curves",
           "plot_final_vs_alpha", "plot_heatmap", "plot_sweep"]

PLOT_FILES = ("sweep_loss.png", "sweep_dead.png", "sweep_final_vs_alpha.png", "sweep_heatmap.png")

_MAX_FACETS = 12
_LINESTYLES = ("-", "--", ":", "-.")

_KEY_LABELS = {
    "alpha": "alpha (negative slope of leaky units)",
    "activation.alpha": "activation.alpha (negative slope)",
    "optimizer.lr": "learning rate (optimizer.lr)",
    "model.depth": "hidden layers (model.depth)",
    "model.width": "units per hidden layer (model.width)",
    "init.bias_value": "initial bias (init.bias_value)",
    "batch_size": "batch size (samples)",
    "max_epochs": "epochs",
    "dataset.n_samples": "samples (dataset.n_samples)",
    "dataset.noise": "dataset.noise (std)",
}


def _key_label(key: str) -> str:
    return _KEY_LABELS.get(key, key)


def _loss_unit(table: pd.DataFrame) -> str:
    tasks = set(table["task"].dropna().unique()) if "task" in table else set()
    if tasks == {"classification"}:
        return "cross-entropy, nats"
    if tasks == {"regression"}:
        return "mean squared error"
    return "cross-entropy or MSE, by task"


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _title(what: str, runs: pd.DataFrame, keys, extra: str = "", width: float = 10.0) -> str:
    """The figure title, wrapped to a figure ``width`` inches wide so it is never cut."""
    fixed = fixed_description(runs, keys)
    lines = [what]
    if keys:
        lines.append("arms: " + " x ".join(k[:-5] if k.endswith(".name") else k for k in keys) + extra)
    if fixed:
        lines.append(f"held fixed: {fixed}")
    return wrap("\n".join(lines), max(40, int(width * 13)))


def _n_networks(table: pd.DataFrame) -> int:
    return table.groupby(["run_dir", "seed"]).ngroups if len(table) else 0


def _diverged(table: pd.DataFrame) -> pd.DataFrame:
    """``run_dir, seed, epoch`` of each network of ``table`` that diverged."""
    if "diverged" not in table or not len(table):
        return pd.DataFrame(columns=["run_dir", "seed", "epoch"])
    return table.loc[table["diverged"].astype(bool), ["run_dir", "seed", "epoch"]]


def _count_label(n: int, n_div: int, what: str = "networks") -> str:
    """``"2 of 4 networks; 2 diverged"`` (``"4 networks"`` when none diverged)."""
    return f"{n - n_div} of {n} {what}; {n_div} diverged" if n_div else f"{n} {what}"


def _save(fig, path) -> Path | None:
    """Write ``fig`` (None: the figure does not apply) to ``path``."""
    if fig is None:
        return None
    fig.savefig(path, dpi=110)
    return Path(path)


def _note(ax, text: str) -> None:
    """A sentence in the middle of a panel that has nothing else to show."""
    ax.text(0.5, 0.5, wrap(text, 44), transform=ax.transAxes, ha="center", va="center", fontsize=8, color="0.2",
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.7", "alpha": 0.9})


_MAX_LINES = 8  # lines per panel before the curves are split into panel rows
_MAX_ROWS = 8


def _facet_keys(keys, arms) -> list[str]:
    """The shortest prefix of ``keys`` whose values, one panel row each, leave at
    most ``_MAX_LINES`` arms per panel (``[]``: one row holds every arm)."""
    if len(arms) <= _MAX_LINES:
        return []
    for p in range(1, len(keys)):
        counts = pd.Series([v[:p] for v, _ in arms]).value_counts()
        if counts.max() <= _MAX_LINES:
            return list(keys[:p])
    return []


def plot_curves(metrics: pd.DataFrame, runs: pd.DataFrame, keys, path, kind: str = "loss") -> Path | None:
    """Per-epoch curves per arm (mean and 95% band over the arm's networks that
    did not diverge): ``kind`` "loss" (train, validation) or "dead" (dead
    fraction, zero-gradient fraction).  With many arms, a row of panels per value
    of the leading arm keys."""
    return _save(curves_figure(metrics, runs, keys, kind), path)


def curves_figure(metrics: pd.DataFrame, runs: pd.DataFrame, keys, kind: str = "loss"):
    """The figure of :func:`plot_curves` (None when the metric was not measured).
    ``kind="dead"`` is the sweep page's unit-health chart itself
    (:func:`relu_study.sweeps.html.unit_health_chart`), drawn by :mod:`relu_study.charts`:
    the PNG and the page show the same series in the same colours."""
    if kind == "dead":
        from ..charts import render_figure
        from .html import unit_health_chart

        chart = unit_health_chart(metrics, keys)
        return render_figure(chart, caption=True) if chart is not None else None
    if kind == "loss":
        panels = [("train_loss", "training loss (mean over minibatches)"), ("val_loss", "validation loss")]
        ylabel = f"loss ({_loss_unit(metrics)})"
        what = "Loss per epoch"
    else:
        panels = [("dead_frac", "dead fraction: units never positive on the probe set"),
                  ("zero_grad_frac", "zero-gradient fraction: units with f'(z)=0 everywhere")]
        ylabel = "fraction of hidden units"
        what = "Dead units per epoch"
    panels = [(c, t) for c, t in panels if c in metrics.columns and metrics[c].notna().any()]
    if not panels:
        return None
    from matplotlib.ticker import MaxNLocator
    from matplotlib.transforms import blended_transform_factory

    keys = list(keys)
    arms = list(groups(metrics, keys))
    fkeys = _facet_keys(keys, arms)
    nf = len(fkeys)
    line_keys = keys[nf:]
    rows: dict = {}
    for values, g in arms:
        rows.setdefault(values[:nf], []).append((values, g))
    n_rows_all = len(rows)
    rows = list(rows.items())[:_MAX_ROWS]
    # one colour per line position (the same arm keys get the same colour in every row),
    # line style by the value of the last line key, so coinciding curves stay visible
    line_values = list(dict.fromkeys(v[nf:] for v, _ in arms))
    # the colours of the sweep page (relu_study.sweeps.html.arm_styles): one colour per arm in both
    from .html import arm_styles

    rows_of: dict = {}
    for values, g in arms:
        rows_of.setdefault(values[nf:], []).append(g)
    named = [(arm_label(line_keys, lv), pd.concat(rows_of[lv])) for lv in line_values]
    by_name = arm_styles(named)
    colors = {lv: by_name[name][0] for lv, (name, _) in zip(line_values, named)}
    reference = {lv for lv, (name, _) in zip(line_values, named) if by_name[name][1] == "dashed"}
    styles = {}
    if line_keys:
        last_values = list(pd.unique(metrics[line_keys[-1]]))
        styles = {v: _LINESTYLES[i % len(_LINESTYLES)] for i, v in enumerate(last_values)}
    # per arm: the networks that diverged, and the mean over the others
    bands, diverged, counts = {}, {}, {}
    for values, g in arms:
        div = _diverged(g)
        diverged[values] = div
        counts[values] = (_n_networks(g), _n_networks(div))
        gone = set(zip(div["run_dir"], div["seed"]))
        ok = g[[(d, s) not in gone for d, s in zip(g["run_dir"], g["seed"])]] if gone else g
        for col, _ in panels:
            bands[(values, col)] = mean_band(ok, col, "epoch")
    untrained = int(metrics["epoch"].max()) == 0
    ncol = len(panels)
    per_row = max(len(r) for _, r in rows)
    legend_cols = 2 if per_row > 12 else 1
    width = 5.2 * ncol + 3.4 * legend_cols
    fig = _figure(width, 3.4 * len(rows) + 1.4)
    axes = fig.subplots(len(rows), ncol, squeeze=False)
    for r, (fvalues, row_arms) in enumerate(rows):
        for c, (col, ptitle) in enumerate(panels):
            ax = axes[r, c]
            on_axis = blended_transform_factory(ax.transData, ax.transAxes)
            drawn = []
            for values, _ in row_arms:
                lv = values[nf:]
                n, n_div = counts[values]
                label = f"{arm_label(line_keys, lv)} ({_count_label(n, n_div)})"
                band = bands[(values, col)]
                style = "--" if lv in reference else (styles.get(lv[-1], "-") if lv else "-")
                marker = "o" if len(band) <= 25 else None
                line = plot_measured(ax, band.index, band["mean"], label=label, color=colors[lv], lw=1.6, ls=style,
                                     marker=marker, ms=3)
                drawn.append(band["mean"].to_numpy(float))
                if (band["n"] > 1).any():
                    fill_measured(ax, band.index, band["lo"], band["hi"], color=line.get_color(),
                                  alpha=0.18, linewidth=0)
                    drawn += [band["lo"].to_numpy(float), band["hi"].to_numpy(float)]
                div = diverged[values]
                if len(div):  # an x on the epoch axis where each network diverged
                    ax.plot(div["epoch"], np.full(len(div), 0.03), "x", color=line.get_color(), ms=6, mew=1.6,
                            transform=on_axis, clip_on=False)
            note = measured_epochs_note(metrics, col) if kind == "dead" else None
            ax.set_xlabel("epoch" + (f"\n{wrap(note, 70)}" if note else ""), fontsize=8 if note else None)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(ylabel)
            values = np.concatenate(drawn) if drawn else np.array([])
            if kind == "dead":
                _fraction_ylim(ax, pd.Series(values))
            else:
                ax.set_yscale(loss_scale(values))
            ax.grid(alpha=0.3)
            ax.set_title(ptitle + (f"\n{arm_label(fkeys, fvalues)}" if fkeys else ""), fontsize=9)
            if untrained:
                _note(ax, "epochs=0: nothing was trained; the points are the values at initialisation")
            elif not np.isfinite(values).any():
                _note(ax, "every network diverged: x on the epoch axis marks when each did")
        title = "arm (networks drawn; diverged ones marked x)"
        axes[r, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), ncol=legend_cols,
                           title=title, title_fontsize=7)
    extra = f" (first {_MAX_ROWS} of {n_rows_all} panel rows)" if n_rows_all > _MAX_ROWS else ""
    fig.suptitle(_title(f"{what} per arm: mean and 95% CI over the networks that did not diverge",
                        runs if len(runs) else metrics, keys, extra, width), fontsize=9)
    return fig


def _fraction_ylim(ax, values) -> None:
    """From 0 to a little above the largest value (at most 1): small fractions stay readable."""
    values = pd.Series(np.asarray(values, dtype=float))
    top = float(np.nanmax(values.to_numpy(float))) if values.notna().any() else 1.0
    ax.set_ylim(-0.01 * max(top, 0.05), min(1.02, max(0.05, top * 1.15)))


def _final_label(metric: str, runs: pd.DataFrame) -> str:
    if metric == "val_loss":
        return f"final validation loss ({_loss_unit(runs)})"
    if metric == "dead_frac":
        return "final dead fraction (of hidden units)"
    return f"final {metric}"


def _wrap(label: str, width: int = 44) -> str:
    """Break a ``k=v, k=v`` label at commas into lines of about ``width`` characters."""
    lines, cur = [], ""
    for part in label.split(", "):
        if cur and len(cur) + 2 + len(part) > width:
            lines.append(cur + ",")
            cur = part
        else:
            cur = f"{cur}, {part}" if cur else part
    return "\n".join(lines + [cur])


def _facet_axes(n_facets: int, n_metrics: int, panel_w: float, panel_h: float):
    """A grid with ``n_metrics`` panels side by side per facet, two facets per row.
    Returns ``(fig, ax_for, width)`` with ``ax_for(facet, metric)``."""
    per_row = 1 if n_facets == 1 else 2
    nrows = -(-n_facets // per_row)
    width = panel_w * per_row * n_metrics + 0.6
    fig = _figure(width, panel_h * nrows + 1.5)
    axes = fig.subplots(nrows, per_row * n_metrics, squeeze=False)

    def ax_for(f, m):
        return axes[f // per_row, (f % per_row) * n_metrics + m]

    for f in range(n_facets, nrows * per_row):
        for m in range(n_metrics):
            ax_for(f, m).set_visible(False)
    return fig, ax_for, width


def plot_final_vs_alpha(runs: pd.DataFrame, keys, path) -> Path | None:
    """Final validation loss and dead fraction against alpha, one line per
    activation (mean over networks), every network a point; a pair of panels per
    value of the other arm keys.  An activation with one slope only (relu: 0) or
    none (NaN) is its mean as a dashed level."""
    return _save(final_vs_alpha_figure(runs, keys), path)


def final_vs_alpha_figure(runs: pd.DataFrame, keys):
    """The figure of :func:`plot_final_vs_alpha` (None when alpha is not swept)."""
    selected = final_vs_alpha_data(runs, keys)
    if selected is None:
        return None
    from matplotlib.ticker import NullLocator
    from matplotlib.transforms import blended_transform_factory

    data, xkey, line_key, facet_keys = selected
    all_facets = list(groups(data, facet_keys))
    facets = all_facets[:_MAX_FACETS]
    metrics = [m for m in ("val_loss", "dead_frac") if f"final_{m}" in data]
    acts = list(pd.unique(data[line_key])) if line_key else [None]
    rows_of = {act: (data if act is None else data[data[line_key] == act]) for act in acts}
    # activations whose slope varies are lines over x; the others are levels
    sloped = {act for act, rows in rows_of.items() if rows[xkey].astype(float).dropna().nunique() >= 2}
    x_all = pd.concat([rows_of[a][xkey] for a in sloped]).astype(float).dropna() if sloped else pd.Series([0.0, 1.0])
    logx = bool((x_all > 0).all() and x_all.max() / x_all.min() >= 10)
    xs = np.sort(x_all.unique())
    from .html import arm_styles

    names = {act: arm_label([line_key], (act,)) if line_key else "all networks" for act in acts}
    by_name = arm_styles([(names[act], rows_of[act]) for act in acts])
    palette = {act: by_name[names[act]][0] for act in acts}
    rng = np.random.default_rng(0)
    fig, ax_for, width = _facet_axes(len(facets), len(metrics), 4.6, 3.5)
    for f, (fvalues, g) in enumerate(facets):
        for c, m in enumerate(metrics):
            ax = ax_for(f, c)
            at_top = blended_transform_factory(ax.transData, ax.transAxes)
            for a_i, act in enumerate(acts):
                sub = g if act is None else g[g[line_key] == act]
                if sub.empty:
                    continue
                y = sub[f"final_{m}"].to_numpy(float)
                n_div = int((sub["status"] == "diverged").sum())
                label = (f"{act}" if act is not None else "mean") + f" ({_count_label(len(sub), n_div)})"
                if act not in sloped:  # relu (slope 0), or no slope at all: the mean as a level
                    if np.isfinite(y).any():
                        slope = sub[xkey].astype(float).dropna()
                        level = f"{xkey}={slope.iloc[0]:g}" if len(slope) else f"no {xkey}"
                        ax.axhline(float(np.nanmean(y)), ls="--", lw=1.2, color=palette[act],
                                   label=label + f"; {level}: dashed = mean")
                    continue
                x = sub[xkey].astype(float).to_numpy()
                # small horizontal offsets keep activations and seeds apart
                off = (a_i - (len(acts) - 1) / 2) * 0.04 + rng.uniform(-0.015, 0.015, len(x))
                xj = x * np.exp(off) if logx else x + off * (x_all.max() - x_all.min())
                ax.scatter(xj, y, s=14, alpha=0.55, color=palette[act], linewidths=0)
                gone = ~np.isfinite(y)
                if gone.any():  # diverged networks: an x at the top, at their alpha
                    ax.plot(xj[gone], np.full(gone.sum(), 0.97), "x", color=palette[act], ms=6, mew=1.6,
                            transform=at_top, clip_on=False)
                mean = sub.groupby(xkey)[f"final_{m}"].mean().sort_index()
                ax.plot(mean.index.astype(float), mean.to_numpy(float), "-o", ms=4, color=palette[act], label=label)
            if logx:
                ax.set_xscale("log")
            if len(xs) <= 8:  # ticks at the swept values
                ax.set_xticks(xs, [f"{v:g}" for v in xs])
                ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xlabel(_key_label(xkey))
            ax.set_ylabel(_final_label(m, runs), fontsize=8)
            finite = g[f"final_{m}"].astype(float)
            if m == "dead_frac":
                _fraction_ylim(ax, data["final_dead_frac"])
            elif finite.notna().any():
                ax.set_yscale(loss_scale(finite))
            ax.grid(alpha=0.3)
            sub_title = "final validation loss" if m == "val_loss" else "final dead fraction"
            if facet_keys:
                sub_title += "\n" + _wrap(arm_label(facet_keys, fvalues))
            ax.set_title(sub_title, fontsize=8)
            if not finite.notna().any():
                _note(ax, "every network diverged: there is no final value (x marks each at its alpha)")
        if ax_for(f, 0).get_legend_handles_labels()[0]:
            ax_for(f, 0).legend(fontsize=7, title="activation: mean, networks as points; x: diverged",
                                title_fontsize=7)
    extra = f" (first {_MAX_FACETS} of {len(all_facets)} panel pairs)" if len(all_facets) > _MAX_FACETS else ""
    fig.suptitle(_title(f"Final values against {xkey}", runs, keys, extra, width), fontsize=9)
    return fig


def _numeric_keys(runs: pd.DataFrame, keys) -> list[str]:
    out = []
    for k in keys:
        col = runs[k]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) and col.nunique() >= 2:
            out.append(k)
    return out


def plot_heatmap(runs: pd.DataFrame, keys, path) -> Path | None:
    """Mean final validation loss and dead fraction over the grid of the first two
    numeric arm keys; a pair of panels per value of the other arm keys (rows and
    columns a panel has no run for are left out of it), each panel with its own
    colour bar beside it."""
    return _save(heatmap_figure(runs, keys), path)


def heatmap_figure(runs: pd.DataFrame, keys):
    """The figure of :func:`plot_heatmap` (None without two numeric swept keys)."""
    num = _numeric_keys(runs, keys)
    if len(num) < 2:
        return None
    xkey, ykey = num[0], num[1]
    metrics = [m for m in ("val_loss", "dead_frac") if f"final_{m}" in runs]
    from matplotlib.colors import LogNorm, Normalize

    facet_keys = [k for k in keys if k not in (xkey, ykey)]
    all_facets = list(groups(runs, facet_keys))
    facets = all_facets[:_MAX_FACETS]
    # per facet: its x and y values, and per metric (mean, count of finished networks, state)
    cells = []
    for _, g in facets:
        xs = np.sort(g[xkey].dropna().unique())
        ys = np.sort(g[ykey].dropna().unique())
        per_metric = {}
        for m in metrics:
            grid = np.full((len(ys), len(xs)), np.nan)
            count = np.zeros((len(ys), len(xs)), int)
            state = np.full((len(ys), len(xs)), "no run", dtype=object)
            for (xv, yv), cell in g.groupby([xkey, ykey]):
                i, j = np.searchsorted(ys, yv), np.searchsorted(xs, xv)
                ok = cell[cell["status"] == "ok"]
                count[i, j] = len(ok)
                if len(ok):
                    grid[i, j] = ok[f"final_{m}"].mean()
                    state[i, j] = ""
                else:
                    n = len(cell)
                    state[i, j] = "failed" if (cell["status"] == "failed").all() else f"all {n}\ndiverged"
            per_metric[m] = (grid, count, state)
        cells.append((xs, ys, per_metric))
    norms = {}
    for m in metrics:
        finite = np.concatenate([c[2][m][0][np.isfinite(c[2][m][0])] for c in cells])
        if m == "dead_frac":
            norms[m] = (Normalize(0, max(float(finite.max()) if len(finite) else 1.0, 1e-9)), "magma")
        elif len(finite) and (finite > 0).all() and finite.max() / finite.min() > 20:
            norms[m] = (LogNorm(finite.min(), finite.max()), "viridis")
        else:
            lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
            norms[m] = (Normalize(lo, hi if hi > lo else lo + 1e-9), "viridis")
    fig, ax_for, width = _facet_axes(len(facets), len(metrics), 4.2, 3.3)
    for f, ((fvalues, _), (xs, ys, per_metric)) in enumerate(zip(facets, cells)):
        for c, m in enumerate(metrics):
            ax = ax_for(f, c)
            grid, count, state = per_metric[m]
            norm, cmap = norms[m]
            image = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto", cmap=cmap, norm=norm)
            ax.set_facecolor("0.85")
            for i in range(len(ys)):
                for j in range(len(xs)):
                    if np.isfinite(grid[i, j]):
                        v = grid[i, j]
                        ax.text(j, i, f"{v:.3g}\n(n={count[i, j]})", ha="center", va="center", fontsize=7,
                                color="black" if norm(v) > 0.55 else "white")
                    else:
                        ax.text(j, i, state[i, j], ha="center", va="center", fontsize=7, color="0.2")
            ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
            ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
            ax.set_xlabel(_key_label(xkey), fontsize=8)
            ax.set_ylabel(_key_label(ykey), fontsize=8)
            t = "mean final validation loss" if m == "val_loss" else "mean final dead fraction"
            if facet_keys:
                t += "\n" + _wrap(arm_label(facet_keys, fvalues), 40)
            ax.set_title(t, fontsize=8)
            bar = fig.colorbar(image, ax=ax, fraction=0.08, pad=0.03)  # beside its own panel
            bar.set_label(_final_label(m, runs), fontsize=7)
            bar.ax.tick_params(labelsize=7)
    extra = f" (first {_MAX_FACETS} of {len(all_facets)} panel pairs)" if len(all_facets) > _MAX_FACETS else ""
    fig.suptitle(_title(f"Final values over the {xkey} x {ykey} grid: mean over the non-diverged networks "
                        "of each cell (n); grey: no network finished", runs, keys, extra, width), fontsize=9)
    return fig


def plot_sweep(metrics: pd.DataFrame, runs: pd.DataFrame, keys, folder) -> list[Path]:
    """Every plot that applies, written atomically into ``folder``."""
    from ..runs.folders import atomic_path

    folder = Path(folder)
    jobs = [
        ("sweep_loss.png", lambda p: plot_curves(metrics, runs, keys, p, "loss")),
        ("sweep_dead.png", lambda p: plot_curves(metrics, runs, keys, p, "dead")),
        ("sweep_final_vs_alpha.png", lambda p: plot_final_vs_alpha(runs, keys, p)),
        ("sweep_heatmap.png", lambda p: plot_heatmap(runs, keys, p)),
    ]
    written = []
    for name, fn in jobs:
        try:
            with atomic_path(folder / name) as tmp:
                if fn(tmp) is None:
                    raise _NotApplicable
        except _NotApplicable:
            continue
        written.append(folder / name)
    return written


class _NotApplicable(Exception):
    pass
