"""Probes of hidden units: the quantities of the design notes, per network.

For hidden layer ``l`` with pre-activations ``Z`` (probe samples x units),
activations ``A = f(Z)`` and local derivatives ``D = f'(Z)`` over the probe set P:

=================  ===========================================================
``dead_frac``      fraction of units with ``z <= 0`` for every sample in P
                   ("never positive"; truly dead for ReLU, stuck for leaky).
``zero_grad_frac`` fraction of units with ``f'(z) == 0`` for every sample in P
                   (truly dead for any activation).
``exact_zero_frac``fraction of (sample, unit) activations exactly equal to 0.
``near_zero_frac`` fraction of activations with ``|a| < eps`` or ``a == 0``,
                   ``eps = near_zero_rel * std(A)`` (the layer's, per network).
``active_rate``    mean over units of the fraction of samples with ``z > 0``.
``grad_norm``      L2 norm of the layer's incoming weight gradient of the mean
                   loss on P (``grad_norm_out``: the output layer's).
``revived``        number of units never-positive at some earlier probe and
                   not now (``ProbeState`` carries the earlier ones).
=================  ===========================================================

Per network: ``output_spread`` is the standard deviation of the output over P
(class probabilities for classification; the maximum over outputs) divided by
that of the targets (one-hot for classification), and ``collapsed`` is
``output_spread < collapse_tol``: the network computes a constant function on P.

Columns ``<name>`` aggregate over all hidden units (fractions weighted by layer
width, ``grad_norm`` the norm over every weight matrix); ``<name>_l<i>`` is
hidden layer ``i`` (1-based).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .losses import LOSSES, softmax

__all__ = ["LAYER_METRICS", "NETWORK_METRICS", "ProbeState", "probe", "target_spread"]

#: per-layer metrics, reported as ``<name>`` (all hidden units) and ``<name>_l<i>``
LAYER_METRICS = ("dead_frac", "zero_grad_frac", "exact_zero_frac", "near_zero_frac",
                 "active_rate", "grad_norm", "revived")
#: per-network metrics
NETWORK_METRICS = ("grad_norm_out", "output_spread", "collapsed")


@dataclass
class ProbeState:
    """Union of the never-positive masks seen at earlier probes, per layer (S, width)."""

    ever_dead: list = field(default_factory=list)


def target_spread(y: np.ndarray, task: str, n_outputs: int) -> float:
    """Standard deviation of the targets over the probe set (max over outputs)."""
    if task == "classification":
        y = np.eye(n_outputs)[y]
    return float(np.max(np.std(y, axis=0)))


def probe(net, X, y, task: str, near_zero_rel: float = 1e-3, collapse_tol: float = 1e-3,
          state: ProbeState | None = None, spread: float | None = None):
    """Probe every network of ``net`` on ``(X, y)``.

    Returns ``(columns, loss, state)``: ``columns`` maps each metric name to an
    ``(S,)`` array, ``loss`` is the ``(S,)`` mean loss on P, ``state`` the updated
    :class:`ProbeState` (pass it to the next probe for ``revived``).
    """
    out, cache = net.forward(X, train=False)
    loss, dout = LOSSES[task](out, y, grad=True)
    grads = net.backward(cache, dout)
    n_layers = len(net.W)
    state = state or ProbeState()
    first = not state.ever_dead
    cols: dict[str, np.ndarray] = {}
    totals = {k: 0.0 for k in ("dead", "zero_grad", "exact", "near", "active", "revived")}
    n_units = 0
    sq_total = 0.0
    for l in range(net.n_hidden):
        z, a, d = cache.pre[l], cache.post[l], cache.derivs[l]
        width = z.shape[-1]
        pos = z > 0
        dead = ~pos.any(axis=1)  # (S, width)
        zero_grad = (d == 0).all(axis=1)
        eps = near_zero_rel * a.std(axis=(1, 2), keepdims=True)
        exact = a == 0
        near = (np.abs(a) < eps) | exact
        if first:
            state.ever_dead.append(np.zeros_like(dead))
        revived = (state.ever_dead[l] & ~dead).sum(axis=1)
        state.ever_dead[l] = state.ever_dead[l] | dead
        sq = np.einsum("sij,sij->s", grads[l], grads[l])
        sq_total = sq_total + sq
        layer = {
            "dead_frac": dead.mean(axis=1),
            "zero_grad_frac": zero_grad.mean(axis=1),
            "exact_zero_frac": exact.mean(axis=(1, 2)),
            "near_zero_frac": near.mean(axis=(1, 2)),
            "active_rate": pos.mean(axis=(1, 2)),
            "grad_norm": np.sqrt(sq),
            "revived": revived,
        }
        for key, total in zip(("dead", "zero_grad", "exact", "near", "active"),
                              ("dead_frac", "zero_grad_frac", "exact_zero_frac", "near_zero_frac", "active_rate")):
            totals[key] = totals[key] + layer[total] * width
        totals["revived"] = totals["revived"] + revived
        n_units += width
        for name, value in layer.items():
            cols[f"{name}_l{l + 1}"] = value
    sq_out = np.einsum("sij,sij->s", grads[n_layers - 1], grads[n_layers - 1])
    n_units = max(n_units, 1)
    overall = {
        "dead_frac": totals["dead"] / n_units,
        "zero_grad_frac": totals["zero_grad"] / n_units,
        "exact_zero_frac": totals["exact"] / n_units,
        "near_zero_frac": totals["near"] / n_units,
        "active_rate": totals["active"] / n_units,
        "grad_norm": np.sqrt(sq_total + sq_out),
        "revived": np.asarray(totals["revived"]).astype(np.int64),
    }
    for l in range(net.n_hidden):
        cols[f"revived_l{l + 1}"] = cols[f"revived_l{l + 1}"].astype(np.int64)
    if spread is None:
        spread = target_spread(y, task, out.shape[-1])
    values = softmax(out) if task == "classification" else out
    out_spread = values.std(axis=1).max(axis=-1) / (spread if spread > 0 else 1.0)
    network = {
        "grad_norm_out": np.sqrt(sq_out),
        "output_spread": out_spread,
        "collapsed": out_spread < collapse_tol,
    }
    return {**overall, **network, **cols}, loss, state
