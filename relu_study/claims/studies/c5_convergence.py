"""C5: Leaky ReLU converges better.

Per dataset: epochs until the validation loss first reaches a threshold (set
arm-neutrally from all networks), and the final loss.  Every network counts in
the primary outcome: a network that never reaches the threshold, diverged or
not, counts as ``epochs + 1`` (censored); the signed-rank test handles that
honestly, the mean understates it.
"""

from __future__ import annotations

import math

import numpy as np

from ..analysis import Analysis, Effect, Metric, Study
from ..document import num
from ..tables import networks

EPOCHS_TO = Metric("epochs_to", "epochs until the validation loss first reaches the threshold", -1, Effect(0.1, 1.0),
                   bounds=(0.0, math.inf), short="epochs to threshold", unit=" epoch",
                   counts="every network counts (one that never reaches the threshold counts as epochs + 1)")
VAL_LOSS = Metric("val_loss", "final validation loss", -1, Effect(0.1, 0.0), bounds=(0.0, math.inf),
                  short="final val loss")


def _prepare(data, study):
    net, arms = networks(data, study.settings)
    net["threshold"] = np.nan
    net["epochs_to"] = np.nan
    m = data.metrics
    for d, g in net.groupby("dataset.name"):
        thr = 1.25 * float(np.nanmedian(g["val_loss"])) if g["val_loss"].notna().any() else math.nan
        md = m[(m["dataset.name"] == d) & (m["epoch"] >= 1) & (m["val_loss"] <= thr)]
        first = md.groupby(["run_dir", "seed"])["epoch"].min()
        reached = first.reindex(list(zip(g["run_dir"], g["seed"]))).to_numpy(dtype=float)
        never = g["max_epochs"].to_numpy(dtype=float) + 1
        net.loc[g.index, "epochs_to"] = np.where(np.isfinite(reached), reached, never)
        net.loc[g.index, "threshold"] = thr
    return net, arms


def _section(result, data, out) -> str:
    thr = result.net.groupby("dataset.name")["threshold"].first()
    return ("Thresholds (1.25 x the median final validation loss over all networks of all arms, per dataset): "
            + ", ".join(f"{d}: {num(v)}" for d, v in thr.items()) + ".")


def _literature(result) -> dict:
    v = result.main.arm_verdicts
    text = "C5 (epochs to a loss threshold): " + "; ".join(f"{result.arm(a).short} {w}" for a, w in v.items()) + "."
    return {"maas2013": text, "xu2015": text}


STUDY = Study(
    name="c5_convergence", id="C5", title="C5. Leaky ReLU converges better", claim="Leaky ReLU converges better",
    question=("Per dataset, does Leaky ReLU reach a validation-loss threshold in fewer epochs, and end at a lower "
              "validation loss?"),
    settings=("dataset.name",),
    analyses=(Analysis("speed", "Speed and final loss",
                       "Does the arm reach the threshold sooner, and end lower?", (EPOCHS_TO, VAL_LOSS)),),
    notes="Thresholds are arm-neutral (from all networks of all arms); epochs to threshold is censored at epochs + 1.",
    order=50, cost=110,
    quick=("seeds=10", "epochs=2", "dataset=moons,sine"),
    headline=("val_loss",),
    curves=("val_loss",),
    prepare=_prepare, section=_section, literature=_literature,
    limitations=("C5 trains every arm at the same learning rate (Adam 0.003) for 30 epochs, with no held-out test "
                 "split: a slope that needs another learning rate is not given it.",),
)
