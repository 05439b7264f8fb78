"""Each arm at its best: learning rates chosen on validation data, scored on
held-out test data with other seeds.

A study that compares training outcomes (convergence, stability, the slope
sweep) would favour whichever arm the shared learning rate happens to suit.
So its preset trains every arm over a grid of learning rates with a held-out
test part (``dataset.test_fraction``), and the analysis keeps two things apart:

* **seeds**: the first ``n_tune`` seeds of every arm and setting are *tuning*
  seeds, the others *scoring* seeds (:func:`split_seeds`);
* **data**: the learning rate of an arm is chosen from the tuning seeds'
  *validation* loss (:func:`choose`); the comparison then reads the scoring
  seeds' *test* metrics at that rate (:func:`mark_scored`).

No number that decides the choice enters the comparison, and the test part
never decides anything.  Losses are compared on the chance scale: a diverged
network, or one worse than a constant prediction, scores the chance loss
(:func:`clipped`), so one exploding network cannot dominate a mean.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["THRESHOLD_FACTOR", "TUNING_SEEDS", "choose", "clipped", "epochs_to_threshold", "mark_scored",
           "split_seeds", "tune", "tuned_table"]

#: the first seeds of every cell choose each arm's learning rate; the others are scored
TUNING_SEEDS = 10
#: the epochs-to-threshold threshold: this many times the median final validation loss of the scored networks
THRESHOLD_FACTOR = 1.25


def split_seeds(seeds, n_tune: int) -> tuple[set, set]:
    """``(tuning, scoring)``: the ``n_tune`` smallest of ``seeds`` and the rest."""
    ordered = sorted(set(int(s) for s in seeds))
    if not 0 < n_tune < len(ordered):
        raise ValueError(f"need more seeds than the {n_tune} tuning seeds (got {len(ordered)})")
    return set(ordered[:n_tune]), set(ordered[n_tune:])


def clipped(net: pd.DataFrame, column: str, chance: str = "chance") -> np.ndarray:
    """``column`` (a loss) per network on the chance scale: a diverged network,
    a missing value and anything above the network's ``chance`` column count as
    the chance loss."""
    loss = net[column].to_numpy(dtype=float) if column in net else np.full(len(net), np.nan)
    ch = net[chance].to_numpy(dtype=float)
    diverged = net["diverged"].to_numpy(dtype=float) == 1
    bad = diverged | ~np.isfinite(loss)
    return np.where(bad, ch, np.minimum(loss, ch))


def choose(net: pd.DataFrame, by, grid: str, score: str, tuning: set) -> pd.DataFrame:
    """Per group ``by`` (an arm in a setting): the value of ``grid`` (the learning
    rate) whose tuning seeds have the lowest mean ``score`` (a validation loss on
    the chance scale); ties go to the smaller value.  Columns: ``by``, ``grid``,
    ``score`` (that mean), ``n_tune``, and ``scores`` (every value's mean, for
    the report)."""
    by = list(by)
    t = net[net["seed"].isin(tuning)]
    means = t.groupby([*by, grid], dropna=False)[score].agg(["mean", "size"]).reset_index()
    rows = []
    for key, g in means.groupby(by, dropna=False, sort=True):
        g = g.sort_values(grid)
        best = g.loc[g["mean"].idxmin()] if g["mean"].notna().any() else g.iloc[0]
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), grid: best[grid], score: float(best["mean"]), "n_tune": int(best["size"]),
                     "scores": {float(v): float(m) for v, m in zip(g[grid], g["mean"])}})
    return pd.DataFrame(rows, columns=[*by, grid, score, "n_tune", "scores"])


def mark_scored(net: pd.DataFrame, chosen: pd.DataFrame, by, grid: str, scoring: set) -> np.ndarray:
    """True for the networks a comparison scores: scoring seeds trained at their
    group's chosen ``grid`` value."""
    by = list(by)
    pick = {tuple(r[k] for k in by): r[grid] for _, r in chosen.iterrows()}
    keys = net[by].itertuples(index=False, name=None)
    at = np.array([_same(v, pick.get(k)) for k, v in zip(keys, net[grid])], dtype=bool)
    return at & net["seed"].isin(scoring).to_numpy()


def _same(a, b) -> bool:
    if b is None:
        return False
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-12)
    except (TypeError, ValueError):
        return a == b


def tune(net: pd.DataFrame, grid: str = "optimizer.lr", n_tune: int = TUNING_SEEDS,
         by=("arm", "dataset.name")) -> tuple[pd.DataFrame, pd.DataFrame, set, set]:
    """Add ``val_chance_loss``, ``test_loss_chance`` and ``scored`` to ``net`` and
    return ``(net, chosen rates, tuning seeds, scoring seeds)``: each arm's rate
    per dataset is the one whose tuning seeds have the lowest mean validation loss
    (chance scale); the scored networks are the scoring seeds at that rate."""
    net = net.copy()
    net["val_chance_loss"] = clipped(net, "val_loss", "chance")
    test_chance = "test_chance" if "test_chance" in net else "chance"
    net["test_loss_chance"] = clipped(net, "test_loss" if "test_loss" in net else "val_loss", test_chance)
    tuning, scoring = split_seeds(net["seed"].unique(), min(n_tune, net["seed"].nunique() // 2))
    chosen = choose(net, by, grid, "val_chance_loss", tuning)
    net["scored"] = mark_scored(net, chosen, by, grid, scoring).astype(float)
    return net, chosen, tuning, scoring


def epochs_to_threshold(net: pd.DataFrame, metrics: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """For the networks ``rows`` (a boolean mask of ``net``), per dataset: the
    threshold (``THRESHOLD_FACTOR`` x the median final validation loss of those
    networks, arm-neutral), the first epoch (>= 1) at which each network's
    validation loss is at or below it, and whether it got there; never (or
    diverged first) counts as the last epoch, not reached."""
    out = pd.DataFrame(index=net.index, columns=["threshold", "epochs_to", "reached"], dtype=float)
    for _, g in net[rows].groupby("dataset.name"):
        finals = g.loc[g["diverged"] == 0, "val_loss"]
        thr = THRESHOLD_FACTOR * float(np.nanmedian(finals)) if finals.notna().any() else math.nan
        m = metrics[(metrics["run_dir"].isin(set(g["run_dir"]))) & (metrics["epoch"] >= 1)
                    & (metrics["val_loss"] <= thr)]
        first = m.groupby(["run_dir", "seed"])["epoch"].min()
        reached = first.reindex(list(zip(g["run_dir"], g["seed"]))).to_numpy(dtype=float)
        last = g["max_epochs"].to_numpy(dtype=float)
        out.loc[g.index, "threshold"] = thr
        out.loc[g.index, "reached"] = np.isfinite(reached).astype(float)
        out.loc[g.index, "epochs_to"] = np.where(np.isfinite(reached), reached, last)
    return out


def tuned_table(net: pd.DataFrame, metrics: pd.DataFrame, grid: str = "optimizer.lr",
                n_tune: int = TUNING_SEEDS) -> pd.DataFrame:
    """:func:`tune` plus what a tuned comparison reads: ``test_score`` (test
    accuracy or R²) and :func:`epochs_to_threshold` of the scored networks; the
    chosen rates in ``attrs["chosen"]``."""
    net, chosen, _, _ = tune(net, grid, n_tune)
    score = np.full(len(net), np.nan)
    for col in ("test_acc", "test_r2"):
        if col in net:
            v = net[col].to_numpy(dtype=float)
            score = np.where(np.isfinite(v), v, score)
    net["test_score"] = score
    net = pd.concat([net, epochs_to_threshold(net, metrics, net["scored"].to_numpy() == 1)], axis=1)
    net.attrs["chosen"] = chosen
    return net
