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
from .network import network_blocks

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
    state = state if state is not None else ProbeState()
    if spread is None:
        spread = target_spread(y, task, net.sizes[-1])
    # a probe of many networks on many samples runs block by block, each
    # network's numbers exactly as alone (see network_blocks)
    blocks = network_blocks(net.n_networks, len(X), max(net.sizes[1:]))
    if len(blocks) == 1:
        return _probe(net, X, y, task, near_zero_rel, collapse_tol, state, spread)
    first = not state.ever_dead
    parts = []
    for block in blocks:
        sub = ProbeState([] if first else [e[block] for e in state.ever_dead])
        parts.append(_probe(net.select(block), X, y, task, near_zero_rel, collapse_tol, sub, spread))
    cols = {k: np.concatenate([p[0][k] for p in parts]) for k in parts[0][0]}
    loss = np.concatenate([p[1] for p in parts])
    state.ever_dead = [np.concatenate([p[2].ever_dead[l] for p in parts]) for l in range(net.n_hidden)]
    return cols, loss, state


def _count(mask: np.ndarray, axis: int) -> np.ndarray:
    """Number of True along ``axis`` (bytes summed in int32: about twice as fast
    as ``count_nonzero`` with an axis, exact below 2**31 per count)."""
    dtype = np.int32 if mask.shape[axis] < 2**31 else np.int64
    return np.add.reduce(mask.view(np.uint8), axis=axis, dtype=dtype)


def _std(a: np.ndarray) -> np.ndarray:
    """Population standard deviation of each row of ``a`` (S, m): the
    definition of ``np.std``, in three passes instead of five."""
    mean = np.add.reduce(a, axis=1) / a.shape[1]
    c = a - mean[:, None]
    return np.sqrt(np.einsum("ij,ij->i", c, c) / a.shape[1])


def _probe(net, X, y, task, near_zero_rel, collapse_tol, state, spread):
    out, cache = net.forward(X, train=False)
    loss, dout = LOSSES[task](out, y, grad=True)
    grads = net.backward(cache, dout)
    n_layers = len(net.W)
    first = not state.ever_dead
    cols: dict[str, np.ndarray] = {}
    totals = {k: 0.0 for k in ("dead", "zero_grad", "exact", "near", "active", "revived")}
    n_units = 0
    sq_total = 0.0
    # the forward pass's arrays as (S, width, n): each network's block is
    # contiguous (feature-major for narrow networks, sample-major for wide ones)
    _, derivs, pre, post = cache.transposed()
    for l in range(net.n_hidden):
        z, a, d = pre[l], post[l], derivs[l]
        S, width, n = z.shape
        n_cells = n * width  # (sample, unit) pairs per network
        # counts instead of boolean means: one pass per quantity, same values
        n_pos = _count(z > 0, axis=2)  # (S, width): samples with z > 0
        dead = n_pos == 0
        zero_grad = _count(d != 0, axis=2) == 0  # f'(z) == 0 on every sample
        # all (sample, unit) cells of each network, read in memory order
        a = a.reshape(S, n_cells) if a.flags.c_contiguous else np.swapaxes(a, 1, 2).reshape(S, n_cells)
        n_exact = n_cells - _count(a != 0, axis=1)
        eps = near_zero_rel * _std(a)  # (S,)
        # |a| < eps already contains a == 0 when eps > 0; with eps == 0 (or NaN)
        # it is empty and "near zero" is "exactly zero"
        n_below = _count(np.abs(a) < eps[:, None], axis=1)
        n_near = np.where(eps > 0, n_below, n_exact)
        if first:
            state.ever_dead.append(np.zeros_like(dead))
        revived = np.add.reduce(state.ever_dead[l] & ~dead, axis=1)
        state.ever_dead[l] = state.ever_dead[l] | dead
        sq = np.einsum("sij,sij->s", grads[l], grads[l])
        sq_total = sq_total + sq
        layer = {
            "dead_frac": np.add.reduce(dead, axis=1) / width,
            "zero_grad_frac": np.add.reduce(zero_grad, axis=1) / width,
            "exact_zero_frac": n_exact / n_cells,
            "near_zero_frac": n_near / n_cells,
            "active_rate": np.add.reduce(n_pos, axis=1, dtype=np.int64) / n_cells,
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
    values = softmax(out) if task == "classification" else out
    out_spread = values.std(axis=1).max(axis=-1) / (spread if spread > 0 else 1.0)
    network = {
        "grad_norm_out": np.sqrt(sq_out),
        "output_spread": out_spread,
        "collapsed": out_spread < collapse_tol,
    }
    return {**overall, **network, **cols}, loss, state
