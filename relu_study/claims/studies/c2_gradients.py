"""C2: Leaky ReLU avoids zero gradients.

Decided by construction for any non-zero slope: f'(z) = α ≠ 0 for z ≤ 0, so no
unit can have a zero derivative on every sample.  The primary outcome says so
and the summary marks it; the measure that can fail is the gradient that
reaches the first hidden layer, read with the loss (a converged network also
has small gradients).
"""

from __future__ import annotations

import numpy as np

from ..analysis import Analysis, Effect, Gate, Metric, Study
from ..tables import networks

#: log10 of gradient norms is floored here (an exact zero gradient counts as 1e-12)
GRAD_FLOOR = 1e-12

ZERO_GRAD = Metric("zero_grad_frac", "zero-gradient fraction at the end (f'(z) = 0 on every probe sample)", -1,
                   Effect(0.25, 0.02), if_diverged=1.0, short="zero-gradient fraction",
                   by_construction="f'(z) = α ≠ 0 for z ≤ 0, so no unit can have a zero derivative")
GRAD_L1 = Metric("log_grad_l1", "log10 gradient norm reaching the first hidden layer at the end (zero counts as 1e-12)",
                 +1, Effect(0.0, 1.0), bounds=(np.log10(GRAD_FLOOR), np.inf), short="log10 |grad| layer 1",
                 unit=" decade")
VAL_LOSS = Metric("val_loss", "final validation loss", -1, Effect(0.1, 0.0), bounds=(0.0, np.inf),
                  short="val loss", note="Read with the gradient: a converged network also has small gradients.")


def _prepare(data, study):
    net, arms = networks(data, study.settings)
    g = net["grad_norm_l1"].to_numpy(dtype=float) if "grad_norm_l1" in net else np.full(len(net), np.nan)
    net["log_grad_l1"] = np.log10(np.maximum(g, GRAD_FLOOR))
    return net, arms


STUDY = Study(
    name="c2_gradients", id="C2", title="C2. Leaky ReLU avoids zero gradients",
    claim="Leaky ReLU avoids zero gradients",
    question=("In deep networks, after training, are fewer units left with a zero derivative on every probe sample, "
              "and does a non-negligible gradient still reach the first hidden layer?"),
    settings=("model.depth", "init.bias_value"),
    analyses=(Analysis(
        "deep", "Zero gradients in deep networks",
        "Where ReLU leaves units without gradient, does Leaky ReLU leave fewer, and more gradient in layer 1?",
        (ZERO_GRAD, GRAD_L1, VAL_LOSS),
        Gate("ReLU left units without gradient", "zero_grad_frac", 0.05, (0.025, 0.1),
             "the ReLU arm's mean zero-gradient fraction at the end")),),
    order=20, cost=170,
    quick=("seeds=10", "epochs=2", "model.depth=8"),
    headline=("log_grad_l1",),
    prepare=_prepare,
    limitations=("C2 trains at one learning rate (SGD 0.1) on moons; a gradient norm is a snapshot at the last "
                 "epoch, not the gradient flow during training.",),
)
