"""Losses, batched over a leading seed axis.

Each loss takes network outputs ``out`` of shape ``(S, n, k)`` and targets, and
returns the per-network mean loss ``(S,)`` and, on request, its gradient with
respect to ``out``.

* ``cross_entropy``: softmax cross-entropy with integer labels ``y`` of shape
  ``(n,)``.  ``L = mean_i [logsumexp(o_i) - o_i[y_i]]``, computed from
  max-shifted logits so large logits neither overflow nor lose the loss.
  ``dL/do = (softmax(o) - onehot(y)) / n``.
* ``mse``: mean squared error with targets ``y`` of shape ``(n, k)`` or ``(S, n, k)``:
  ``L = mean_{i,j} (o_ij - y_ij)^2``, ``dL/do = 2 (o - y) / (n k)``.

:data:`SAMPLE_LOSSES` gives each sample's loss ``l_i`` (``L = mean_i l_i``), for
outputs with any leading axes ``(..., n, k)`` (the probes' exact ablation).
"""

from __future__ import annotations

import numpy as np

__all__ = ["LOSSES", "SAMPLE_LOSSES", "cross_entropy", "mse", "sample_cross_entropy", "sample_mse", "softmax"]


def softmax(out: np.ndarray) -> np.ndarray:
    """Row softmax along the last axis, shifted by the row maximum."""
    shifted = out - out.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(out: np.ndarray, y: np.ndarray, grad: bool = False):
    """``y``: integer labels, ``(n,)`` shared by all networks or ``(S, n)``."""
    n = out.shape[-2]
    shifted = out - out.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    sum_e = e.sum(axis=-1, keepdims=True)
    # (n, k) or (S, n, k); broadcasts against the (S, n, k) arrays
    onehot = np.asarray(y)[..., None] == np.arange(out.shape[-1])
    picked = np.where(onehot, shifted, 0.0).sum(axis=-1)
    loss = (np.log(sum_e[..., 0]) - picked).mean(axis=-1)
    if not grad:
        return loss
    d = e  # e is not needed any more: the gradient is built in its memory
    d /= sum_e
    d -= onehot
    d /= n
    return loss, d


def mse(out: np.ndarray, y: np.ndarray, grad: bool = False):
    diff = out - y
    loss = (diff * diff).mean(axis=(-2, -1))
    if not grad:
        return loss
    return loss, diff * (2.0 / (diff.shape[-2] * diff.shape[-1]))


def sample_cross_entropy(out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``logsumexp(o_i) - o_i[y_i]`` for every sample: ``(..., n)``."""
    shifted = out - out.max(axis=-1, keepdims=True)
    onehot = np.asarray(y)[..., None] == np.arange(out.shape[-1])
    return np.log(np.exp(shifted).sum(axis=-1)) - np.where(onehot, shifted, 0.0).sum(axis=-1)


def sample_mse(out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``mean_j (o_ij - y_ij)^2`` for every sample: ``(..., n)``."""
    diff = out - y
    return (diff * diff).mean(axis=-1)


#: task -> loss function
LOSSES = {"classification": cross_entropy, "regression": mse}
#: task -> per-sample loss
SAMPLE_LOSSES = {"classification": sample_cross_entropy, "regression": sample_mse}
