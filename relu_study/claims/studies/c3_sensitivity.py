"""C3: Leaky ReLU is less sensitive to hyperparameters.

The unit compared is one network seed over the whole learning-rate x
initialisation grid: seed s is the same seed in every cell, so each seed gives
one spread of final validation losses per arm, paired with ReLU's spread for
the same seed.  Every network counts: a diverged network scores the chance
level, and losses are clipped there so one exploding cell cannot dominate.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ... import charts
from ..analysis import Analysis, Effect, Metric, Study
from ..document import arm_colour, md_table, num, save_chart, write_csv
from ..tables import chance_loss, fmt_value, networks

COUNTS = "every network counts (a diverged one scores the chance level)"

SPREAD = Metric("spread", "spread of the final validation loss over the grid (std over cells, per seed)", -1,
                Effect(0.1, 0.01), bounds=(0.0, math.inf), short="loss spread", counts=COUNTS)
TRAINED = Metric("trained_frac", "fraction of grid cells where the network trains", +1, Effect(0.1, 0.05),
                 short="cells trained", counts=COUNTS)


def _cells(data) -> pd.DataFrame:
    """One row per network with its grid cell, its clipped loss and whether it trained."""
    net, arms = networks(data, ("optimizer.lr", "init.name"))
    k = data.info.set_index("run_dir")["n_outputs"] if not data.info.empty else pd.Series(dtype=float)
    chance = np.array([chance_loss(t, float(k.get(r, math.nan)), d) for t, r, d in
                       zip(net.get("task", pd.Series("classification", index=net.index)), net["run_dir"],
                           net.get("dataset.name", pd.Series(None, index=net.index)))], dtype=float)
    if not np.isfinite(chance).any():  # unknown class count: the worst finite loss stands in
        chance[:] = np.nanmax(net["val_loss"]) if net["val_loss"].notna().any() else 1.0
    loss = net["val_loss"].to_numpy(dtype=float)
    diverged = net["diverged"].to_numpy() == 1
    net["clipped"] = np.where(diverged | ~np.isfinite(loss), chance, np.minimum(loss, chance))
    net["chance"] = chance
    return net, arms


def _prepare(data, study):
    net, arms = _cells(data)
    per_seed = net.groupby(["arm", "seed"]).agg(spread=("clipped", lambda x: float(np.std(x))),
                                                trained_frac=("trained", "mean"),
                                                n_cells=("clipped", "size")).reset_index()
    per_seed["diverged"] = 0.0
    return per_seed, arms


def _section(result, data, out) -> str:
    net, _ = _cells(data)
    grid = net.groupby(["init.name", "optimizer.lr", "arm"]).agg(
        mean_clipped_val_loss=("clipped", "mean"), sd=("clipped", "std"), n=("clipped", "size"),
        trained=("trained", "mean"), diverged=("diverged", "mean")).reset_index()
    result.tables.append(write_csv(grid, out, "c3_sensitivity_grid.csv"))
    chance = float(np.nanmedian(net["chance"]))
    panels = []
    for init in dict.fromkeys(grid["init.name"]):
        g = grid[grid["init.name"] == init]
        series = []
        for arm in result.arms:
            a = g[g["arm"] == arm.label].sort_values("optimizer.lr")
            half = 1.96 * a["sd"].to_numpy() / np.sqrt(a["n"].to_numpy())
            y = a["mean_clipped_val_loss"].to_numpy()
            series.append(charts.Series(arm.label, list(a["optimizer.lr"]), list(y), list(y - half), list(y + half),
                                        [int(v) for v in a["n"]], color=arm_colour(arm.label, result.arms)))
        panels.append(charts.Panel(f"init={init}", series, xlabel="learning rate (SGD)",
                                   ylabel="final val loss (clipped at chance)", logx=True, hline=chance))
    chart = charts.Chart("c3_sensitivity_grid", "C3: final validation loss over the learning-rate x init grid",
                         "lines", panels, columns=3, show_n=True,
                         caption="C3: mean final validation loss per grid cell (clipped at the chance level ln K, "
                                 "dashed; a diverged network counts as chance), ±1.96 standard errors over the "
                                 "networks of the cell (n beside the last point), one panel per initialisation.")
    result.figures.append((save_chart(chart, out), chart.caption))
    piv = grid.pivot_table(index=["init.name", "optimizer.lr"], columns="arm", values="mean_clipped_val_loss")
    arms = [a.label for a in result.arms if a.label in piv.columns]
    piv = piv[arms]
    leaky = [a.label for a in result.arms if a.activation == "leaky" and a.label in piv.columns]
    rng = (piv[leaky].max(axis=1) - piv[leaky].min(axis=1)) if len(leaky) > 1 else pd.Series(np.nan, index=piv.index)
    rows = [[i, fmt_value(lr)] + [num(v) for v in r] + [num(x)] for (i, lr), r, x in
            zip(piv.index, piv.to_numpy(), rng)]
    result.tables.append(write_csv(piv.assign(range_over_slopes=rng).reset_index(), out, "c3_alpha_sensitivity.csv"))
    n_cells = int(net.groupby(["optimizer.lr", "init.name"]).ngroups)
    return (f"Grid: {n_cells} cells (learning rate x initialisation); chance level {num(chance)}. A network *trains* "
            f"in a cell when it did not diverge or collapse and ended below half the chance level.\n\n"
            "**Sensitivity to the slope itself** (descriptive, no verdict): mean final validation loss per grid cell "
            "for each arm, and its range over the Leaky slopes.\n\n"
            + md_table(["init", "lr", *[result.arm(a).short for a in arms], "range over slopes"], rows))


def _literature(result) -> dict:
    v = result.main.arm_verdicts
    return {"xu2015": "C3 (spread over a learning-rate x init grid): " + "; ".join(
        f"{result.arm(a).short} {w}" for a, w in v.items()) + "."}


STUDY = Study(
    name="c3_sensitivity", id="C3", title="C3. Leaky ReLU is less sensitive to hyperparameters",
    claim="Leaky ReLU is less sensitive to hyperparameters",
    question=("Over a learning-rate x initialisation grid, is one network's (one seed's) final validation loss less "
              "spread out with Leaky ReLU, and does it train in more cells?"),
    analyses=(Analysis("spread", "Spread over the grid",
                       "Per seed, is the final validation loss less spread over the grid, and does it train in more "
                       "cells?", (SPREAD, TRAINED)),),
    notes=("Final validation losses are clipped at the chance level ln K (K classes) and a diverged network counts "
           "as chance. Pairs are seeds: seed s of an arm and of ReLU over the same grid."),
    order=30, cost=150,
    quick=("seeds=10", "epochs=2", "optimizer.lr=0.1,1.0"),
    headline=("trained_frac",),
    prepare=_prepare, section=_section, literature=_literature,
    limitations=("C3's grid is one dataset (moons), SGD only, four learning rates and three initialisations; the "
                 "spread is a standard deviation over 12 cells per seed.",),
)
