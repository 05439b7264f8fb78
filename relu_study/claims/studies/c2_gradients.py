"""C2: Leaky ReLU avoids zero gradients.

Decided by construction for any non-zero slope: f'(z) = α ≠ 0 for z ≤ 0, so no
unit can have a zero derivative on every sample.  The primary outcome says so
and the summary marks it.  The measures that can fail ask whether a useful
gradient actually reaches the bottom of a deep network: how far the first
layer's weights moved during training (``w_change_l1 = ||W_1(T) - W_1(0)|| /
||W_1(0)||``), and the ratio of the gradient reaching the first layer to the
gradient of the output layer at the end, both read with the loss (a network
that has converged also has small gradients; one whose first layer never moved
has learnt nothing there).
"""

from __future__ import annotations

import numpy as np

from ..analysis import Analysis, Effect, Gate, Metric, Study
from ..document import verdict_sentence
from ..tables import networks

#: log10 of a relative weight change or gradient ratio is floored here (an exact zero counts as this)
FLOOR = 1e-8

ZERO_GRAD = Metric("zero_grad_frac", "zero-gradient fraction at the end (f'(z) = 0 on every probe sample)", -1,
                   Effect(0.25, 0.02), if_diverged=1.0, short="zero-gradient fraction",
                   by_construction="f'(z) = α ≠ 0 for z ≤ 0, so no unit can have a zero derivative")
MOVED = Metric("log_w_change_l1", "log10 relative change of the first layer's weights over training, "
                                  "||W₁(T) − W₁(0)|| / ||W₁(0)|| (zero counts as 1e-8)", +1, Effect(0.0, 0.5),
               if_diverged=np.log10(FLOOR), bounds=(np.log10(FLOOR), np.inf), short="log10 layer-1 change",
               unit=" decade", note="A diverged network counts as a first layer that did not move (1e-8).")
RATIO = Metric("log_grad_ratio", "log10 ratio of the first layer's gradient norm to the output layer's at the end "
                                 "(zero counts as 1e-8)", +1, Effect(0.0, 0.5), bounds=(np.log10(FLOOR), np.inf),
               short="log10 |grad₁| / |grad_out|", unit=" decade")
VAL_LOSS = Metric("val_loss", "final validation loss", -1, Effect(0.1, 0.0), bounds=(0.0, np.inf),
                  short="val loss", note="Read with the gradient: a converged network also has small gradients.")


def _prepare(data, study):
    net, arms = networks(data, study.settings)
    w = net["w_change_l1"].to_numpy(dtype=float) if "w_change_l1" in net else np.full(len(net), np.nan)
    g1 = net["grad_norm_l1"].to_numpy(dtype=float) if "grad_norm_l1" in net else np.full(len(net), np.nan)
    go = net["grad_norm_out"].to_numpy(dtype=float) if "grad_norm_out" in net else np.full(len(net), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        net["log_w_change_l1"] = np.log10(np.maximum(w, FLOOR))
        ratio = np.where(go > 0, g1 / go, np.nan)
        net["log_grad_ratio"] = np.log10(np.maximum(ratio, FLOOR))
    return net, arms


def _answer(result) -> str:
    from ..document import num

    ar = result.main
    g = ar.gates[ar.gates["eligible"]] if len(ar.gates) else ar.gates
    relu = (f", while ReLU left {num(g['value'].min(), 2)} to {num(g['value'].max(), 2)} of its units without one "
            f"in the {len(g)} deep settings") if len(g) else ""
    return (f"By definition yes: f'(z) = α ≠ 0, so no Leaky unit has a zero derivative{relu}. Does gradient reach "
            f"the first layer in practice? "
            + verdict_sentence(result, ar, MOVED, "moved the first layer's weights further than ReLU did",
                               "moved them less") + " "
            + verdict_sentence(result, ar, VAL_LOSS, "also ended at a lower validation loss",
                               "ended at a higher validation loss"))


STUDY = Study(
    name="c2_gradients", id="C2", title="C2. Leaky ReLU avoids zero gradients",
    claim="Leaky ReLU avoids zero gradients",
    question=("In deep networks, after training, are fewer units left with a zero derivative on every probe sample, "
              "and does gradient reach the first layer: do its weights move, and how large is its gradient next to "
              "the output layer's?"),
    settings=("model.depth", "init.bias_value"),
    analyses=(Analysis(
        "deep", "Zero gradients in deep networks",
        "Where ReLU leaves units without gradient, does Leaky ReLU leave fewer, move the first layer further, and "
        "pass more gradient to it?",
        (ZERO_GRAD, MOVED, RATIO, VAL_LOSS),
        Gate("ReLU left units without gradient", "zero_grad_frac", 0.05, (0.025, 0.1),
             "the ReLU arm's mean zero-gradient fraction at the end")),),
    order=20, cost=32,
    quick=("seeds=10", "epochs=3", "model.depth=8"),
    headline=("log_w_change_l1", "log_grad_ratio"),
    prepare=_prepare, answer=_answer,
    limitations=("C2 trains at one learning rate (SGD 0.1) on moons; the gradient ratio is a snapshot at the last "
                 "epoch, the weight change the whole run's net movement.",),
)
