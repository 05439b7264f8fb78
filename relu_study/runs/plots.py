"""Per-run plots: loss curves and dead fraction per hidden layer.

With several networks (seeds) in a run, curves show the mean over seeds and a
band: the 95% t-interval of the mean (``mean_band``).  Diverged networks simply
stop contributing after their last row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["layer_columns", "mean_band", "plot_dead", "plot_loss", "plot_run", "pyplot"]


def pyplot():
    """``matplotlib.pyplot``, on the Agg backend when there is no display (figures are
    written to files; nothing here opens a window)."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo") and not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _has_display() -> bool:
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def layer_columns(table: pd.DataFrame, metric: str) -> list[str]:
    """``<metric>_l1, <metric>_l2, ...`` present in ``table``, in layer order."""
    cols = [c for c in table.columns if c.startswith(metric + "_l") and c[len(metric) + 2:].isdigit()]
    return sorted(cols, key=lambda c: int(c[len(metric) + 2:]))


def mean_band(table: pd.DataFrame, column: str, by: str = "epoch", level: float = 0.95) -> pd.DataFrame:
    """Mean of ``column`` per ``by`` value over seeds, with a ``level`` t-interval
    (``lo``, ``hi``; equal to the mean when only one seed).  Values not measured
    (NaN: probe columns on epochs the probe schedule skips) are left out, so a
    curve joins the epochs that were measured."""
    from scipy import stats

    g = table.dropna(subset=[column]).groupby(by)[column]
    out = pd.DataFrame({"mean": g.mean(), "n": g.count(), "sd": g.std(ddof=1)})
    half = stats.t.ppf(0.5 + level / 2, np.maximum(out["n"] - 1, 1)) * out["sd"] / np.sqrt(out["n"])
    half = half.where(out["n"] > 1, 0.0).fillna(0.0)
    # the mean lies within the observed range, so the band is clipped to it
    # (keeps loss bands positive and fractions inside [0, 1])
    out["lo"] = np.maximum(out["mean"] - half, g.min())
    out["hi"] = np.minimum(out["mean"] + half, g.max())
    return out


def _curve(ax, table, column, label, color=None, by="epoch", band_on=True):
    band = mean_band(table, column, by)
    line, = ax.plot(band.index, band["mean"], label=label, color=color)
    if band_on and (band["n"] > 1).any():
        ax.fill_between(band.index, band["lo"], band["hi"], color=line.get_color(), alpha=0.2, linewidth=0)
    return line


#: config columns named in a run plot's title when they hold one value, with their labels
_TITLE_KEYS = {"activation.name": "activation", "activation.alpha": "alpha", "dataset.name": "dataset",
               "optimizer.name": "optimizer", "optimizer.lr": "lr"}


def _title(table: pd.DataFrame) -> str:
    activation = table["activation.name"].iloc[0] if "activation.name" in table else ""
    parts = []
    for key, label in _TITLE_KEYS.items():
        if key not in table or table[key].nunique() != 1:
            continue
        if key == "activation.alpha" and activation not in ("leaky", "prelu", "elu"):
            continue  # alpha means nothing to the other activations
        value = table[key].iloc[0]
        parts.append(f"{label}={value:g}" if isinstance(value, float) else f"{label}={value}")
    seeds = table["seed"].nunique()
    parts.append(f"{seeds} seed{'s' if seeds != 1 else ''}")
    return ", ".join(parts)


def plot_loss(table: pd.DataFrame, path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    _curve(ax, table, "train_loss", "train (mean over minibatches)")
    _curve(ax, table, "val_loss", "validation")
    loss_name = "cross-entropy" if table.get("task", pd.Series(["classification"])).iloc[0] == "classification" \
        else "mean squared error"
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"loss ({loss_name})")
    if (table[["train_loss", "val_loss"]].to_numpy(float) > 0).all() and \
            np.nanmax(table["val_loss"]) / max(np.nanmin(table["val_loss"]), 1e-300) > 50:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    n = table["seed"].nunique()
    ax.legend(title=f"mean, 95% CI over {n} seeds" if n > 1 else None)
    ax.set_title(f"Loss: {_title(table)}", fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_dead(table: pd.DataFrame, path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    cols = layer_columns(table, "dead_frac")
    few = len(cols) <= 4  # with many layers only the overall curve gets a band
    for col in cols:
        _curve(ax, table, col, f"hidden layer {col.rsplit('_l', 1)[1]}", band_on=few)
    if len(cols) > 1:
        _curve(ax, table, "dead_frac", "all hidden units", color="black")
    ax.set_xlabel("epoch")
    ax.set_ylabel("dead fraction (units with z <= 0 on every probe sample)")
    ax.yaxis.label.set_size(8)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    n = table["seed"].nunique()
    ax.legend(fontsize=8, ncol=2 if len(cols) > 6 else 1,
              title=(f"mean, 95% CI over {n} seeds" + ("" if few else " (band: all units)")) if n > 1 else None,
              title_fontsize=8)
    ax.set_title(f"Dead units: {_title(table)}", fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_run(table: pd.DataFrame, folder) -> list[Path]:
    """``loss.png`` and (with probes) ``dead.png`` in ``folder``, written atomically."""
    from .folders import atomic_path

    folder = Path(folder)
    written = []
    jobs = [("loss.png", plot_loss)]
    if "dead_frac" in table:
        jobs.append(("dead.png", plot_dead))
    for name, fn in jobs:
        with atomic_path(folder / name) as tmp:
            fn(table, tmp)
        written.append(folder / name)
    return written
