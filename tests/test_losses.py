"""Losses: values against scipy references, gradients against central differences,
shared (n,) and per-network (S, n) labels, stability at huge logits."""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.special import softmax as sp_softmax

from relu_study.engine.losses import LOSSES, cross_entropy, mse, softmax


def _ce_reference(out, y):
    """Per-network mean cross-entropy, via scipy's logsumexp; y (n,) or (S, n)."""
    S, n, k = out.shape
    y = np.broadcast_to(y, (S, n))
    picked = np.take_along_axis(out, y[..., None], axis=-1)[..., 0]
    return (logsumexp(out, axis=-1) - picked).mean(axis=-1)


def _fd_grad(f, out, h=1e-6):
    """Central-difference gradient of ``f(out) -> (S,)`` wrt every entry of ``out``;
    returns d f[s] / d out[s, ...] and the largest cross-network derivative."""
    g = np.zeros_like(out)
    cross = 0.0
    for idx in np.ndindex(out.shape):
        o1, o2 = out.copy(), out.copy()
        o1[idx] += h
        o2[idx] -= h
        d = (f(o1) - f(o2)) / (2 * h)
        g[idx] = d[idx[0]]
        cross = max(cross, float(np.abs(np.delete(d, idx[0])).max(initial=0.0)))
    return g, cross


@pytest.fixture
def logits():
    return np.random.default_rng(0).normal(0, 2.0, size=(3, 5, 4))


def test_registry():
    assert LOSSES["classification"] is cross_entropy
    assert LOSSES["regression"] is mse


def test_cross_entropy_value_shared_labels(logits):
    y = np.array([0, 3, 1, 2, 3])
    loss = cross_entropy(logits, y)
    assert loss.shape == (3,)
    np.testing.assert_allclose(loss, _ce_reference(logits, y), rtol=1e-13)


def test_cross_entropy_value_per_network_labels(logits):
    y = np.array([[0, 3, 1, 2, 3], [1, 1, 1, 1, 1], [2, 0, 3, 3, 0]])
    loss = cross_entropy(logits, y)
    np.testing.assert_allclose(loss, _ce_reference(logits, y), rtol=1e-13)
    # each network uses its own labels: network 1 alone with labels y[1]
    np.testing.assert_allclose(loss[1], cross_entropy(logits[1:2], y[1])[0], rtol=0)


@pytest.mark.parametrize("per_network", [False, True])
def test_cross_entropy_gradient_fd(logits, per_network):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, size=(3, 5)) if per_network else rng.integers(0, 4, size=5)
    loss, grad = cross_entropy(logits, y, grad=True)
    np.testing.assert_allclose(loss, cross_entropy(logits, y), rtol=0)
    assert grad.shape == logits.shape
    fd, cross = _fd_grad(lambda o: cross_entropy(o, y), logits)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-10)
    assert cross == 0.0
    # closed form (softmax - onehot) / n
    yy = np.broadcast_to(y, (3, 5))
    onehot = np.eye(4)[yy]
    np.testing.assert_allclose(grad, (sp_softmax(logits, axis=-1) - onehot) / 5, rtol=1e-12, atol=1e-15)


def test_cross_entropy_large_logits_finite_and_correct():
    out = np.array([[[1000.0, -1000.0, 0.0],
                     [-1000.0, 1000.0, 999.0],
                     [5000.0, 5000.0, -5000.0],
                     [-800.0, -800.5, -801.0]]])
    y = np.array([1, 2, 0, 2])
    loss, grad = cross_entropy(out, y, grad=True)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    per_sample = logsumexp(out[0], axis=-1) - out[0, np.arange(4), y]  # scipy reference
    closed_form = [2000.0, 1 + np.log1p(np.exp(-1)), np.log(2), 1 + np.log1p(np.exp(-0.5) + np.exp(-1))]
    np.testing.assert_allclose(per_sample, closed_form, rtol=1e-12)
    np.testing.assert_allclose(loss, [np.mean(closed_form)], rtol=1e-13)
    np.testing.assert_allclose(grad[0], (sp_softmax(out[0], axis=-1) - np.eye(3)[y]) / 4, atol=1e-15)


def test_cross_entropy_large_logits_float32():
    out = np.array([[[1000.0, -1000.0], [0.0, 200.0]]], dtype=np.float32)
    y = np.array([1, 1])
    loss, grad = cross_entropy(out, y, grad=True)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(loss, [(2000.0 + 0.0) / 2], rtol=1e-6)


def test_softmax_rows_sum_to_one_at_large_logits():
    out = np.array([[1000.0, 999.0, -1000.0]])
    p = softmax(out)
    np.testing.assert_allclose(p, sp_softmax(out, axis=-1), rtol=1e-14, atol=1e-300)
    assert p.sum() == pytest.approx(1.0)


def test_mse_value_and_gradient_shared_targets():
    rng = np.random.default_rng(2)
    out = rng.normal(size=(2, 6, 3))
    y = rng.normal(size=(6, 3))
    loss, grad = mse(out, y, grad=True)
    np.testing.assert_allclose(loss, [np.mean((out[s] - y) ** 2) for s in range(2)], rtol=1e-14)
    fd, cross = _fd_grad(lambda o: mse(o, y), out)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-10)
    assert cross == 0.0
    np.testing.assert_allclose(grad, 2 * (out - y) / 18, rtol=1e-14)


def test_mse_per_network_targets():
    rng = np.random.default_rng(3)
    out = rng.normal(size=(2, 4, 1))
    y = rng.normal(size=(2, 4, 1))
    loss, grad = mse(out, y, grad=True)
    np.testing.assert_allclose(loss, ((out - y) ** 2).mean(axis=(1, 2)), rtol=1e-14)
    fd, cross = _fd_grad(lambda o: mse(o, y), out)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-10)
    assert cross == 0.0
    assert mse(out[1:], y[1])[0] == loss[1]


def test_mse_zero_at_target():
    y = np.arange(6.0).reshape(3, 2)
    loss, grad = mse(np.stack([y, y]), y, grad=True)
    np.testing.assert_array_equal(loss, [0.0, 0.0])
    np.testing.assert_array_equal(grad, np.zeros((2, 3, 2)))
