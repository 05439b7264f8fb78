"""Optimisers: single steps against hand-computed values, weight decay, clipping,
the active mask, schedules and argument errors."""

import math

import numpy as np
import pytest

from relu_study.engine.optim import OPTIMIZERS, Adam, Momentum, SGD, learning_rate, make_optimizer


def _arr(*rows):
    """A (1, 1, n) parameter array (one network)."""
    return np.array(rows, dtype=float).reshape(1, 1, -1)


def test_sgd_one_step():
    p = _arr(1.0, 2.0, -3.0)
    g = _arr(0.5, -1.0, 2.0)
    make_optimizer("sgd", 0.1).step([p], [g])
    np.testing.assert_allclose(p, _arr(0.95, 2.1, -3.2), rtol=1e-15)


def test_sgd_step_with_explicit_lr():
    p = _arr(1.0)
    make_optimizer("sgd", 0.1).step([p], [_arr(2.0)], lr=0.25)
    np.testing.assert_allclose(p, _arr(0.5), rtol=1e-15)


def test_momentum_two_steps():
    p = _arr(1.0, -1.0)
    opt = make_optimizer("momentum", 0.1, momentum=0.9)
    opt.step([p], [_arr(1.0, 2.0)])  # v = g1 = (1, 2); p = (0.9, -1.2)
    np.testing.assert_allclose(p, _arr(0.9, -1.2), rtol=1e-15)
    opt.step([p], [_arr(-0.5, 1.0)])  # v = 0.9 (1, 2) + (-0.5, 1) = (0.4, 2.8)
    np.testing.assert_allclose(p, _arr(0.9 - 0.04, -1.2 - 0.28), rtol=1e-14)


def test_nesterov_two_steps():
    p = _arr(1.0)
    opt = make_optimizer("momentum", 0.1, momentum=0.5, nesterov=True)
    opt.step([p], [_arr(2.0)])  # v = 2; update g + mu v = 2 + 1 = 3 -> p = 0.7
    np.testing.assert_allclose(p, _arr(0.7), rtol=1e-15)
    opt.step([p], [_arr(-1.0)])  # v = 0.5*2 - 1 = 0; update -1 + 0 = -1 -> p = 0.8
    np.testing.assert_allclose(p, _arr(0.8), rtol=1e-14)


def test_adam_two_steps():
    p = _arr(1.0, -2.0, 0.5)
    g1, g2 = _arr(0.1, -3.0, 0.0), _arr(0.2, 1.0, 4.0)
    lr, b1, b2, eps = 0.01, 0.8, 0.9, 1e-8
    opt = make_optimizer("adam", lr, beta1=b1, beta2=b2, eps=eps)
    opt.step([p], [g1])
    # step 1: m_hat = g1, v_hat = g1^2 -> update g1 / (|g1| + eps)
    expected = np.array([1.0, -2.0, 0.5]) - lr * np.array([0.1 / (0.1 + eps), -3.0 / (3.0 + eps), 0.0])
    np.testing.assert_allclose(p[0, 0], expected, rtol=1e-14)
    opt.step([p], [g2])
    m = [(1 - b1) * b1 * 0.1 + (1 - b1) * 0.2, (1 - b1) * b1 * -3.0 + (1 - b1) * 1.0, (1 - b1) * 4.0]
    v = [(1 - b2) * b2 * 0.01 + (1 - b2) * 0.04, (1 - b2) * b2 * 9.0 + (1 - b2) * 1.0, (1 - b2) * 16.0]
    c1, c2 = 1 - b1**2, 1 - b2**2
    upd = [(mi / c1) / (math.sqrt(vi / c2) + eps) for mi, vi in zip(m, v)]
    expected = expected - lr * np.array(upd)
    np.testing.assert_allclose(p[0, 0], expected, rtol=1e-13)


def test_adam_defaults_match_pytorch_convention():
    opt = make_optimizer("adam", 1e-3)
    assert (opt.beta1, opt.beta2, opt.eps) == (0.9, 0.999, 1e-8)
    p = _arr(0.0)
    for _ in range(3):  # constant gradient: m_hat = g, v_hat = g^2 at every step
        opt.step([p], [_arr(0.5)])
    np.testing.assert_allclose(p, _arr(-3e-3 * 0.5 / (0.5 + 1e-8)), rtol=1e-12)


def test_state_is_per_parameter_array():
    W, b = _arr(1.0), _arr(1.0)
    opt = make_optimizer("momentum", 1.0, momentum=0.5)
    opt.step([W, b], [_arr(1.0), _arr(0.0)])
    opt.step([W, b], [_arr(0.0), _arr(1.0)])
    # W: v1 = 1, v2 = 0.5 -> W = 1 - 1 - 0.5; b: v1 = 0, v2 = 1 -> b = 0
    np.testing.assert_allclose([W.item(), b.item()], [-0.5, 0.0], rtol=1e-15)


def test_weight_decay_only_on_weight_matrices():
    W = np.full((2, 2, 3), 2.0)
    b = np.full((2, 1, 3), 2.0)
    slope = np.full((2, 1, 3), 0.25)
    zeros = [np.zeros_like(W), np.zeros_like(b), np.zeros_like(slope)]
    opt = make_optimizer("sgd", 0.5, weight_decay=0.1)
    opt.step([W, b, slope], zeros, decay_mask=[True, False, False])
    np.testing.assert_allclose(W, 2.0 - 0.5 * 0.1 * 2.0, rtol=1e-15)
    np.testing.assert_array_equal(b, 2.0)
    np.testing.assert_array_equal(slope, 0.25)


def test_weight_decay_with_gradient_and_adam():
    # adam step 1 with decay: g' = g + wd W, update = g' / (|g'| + eps)
    W = _arr(1.0, -4.0)
    opt = make_optimizer("adam", 0.1, weight_decay=0.5)
    opt.step([W], [_arr(0.2, 1.0)], decay_mask=[True])
    gp = np.array([0.2 + 0.5, 1.0 - 2.0])
    np.testing.assert_allclose(W[0, 0], np.array([1.0, -4.0]) - 0.1 * gp / (np.abs(gp) + 1e-8), rtol=1e-14)


def test_clip_norm_per_network():
    # network 0: global norm over both arrays = 5 -> scaled by 1/5; network 1: 0.5 -> untouched
    A = np.zeros((2, 1, 1))
    B = np.zeros((2, 1, 2))
    gA = np.array([[[3.0]], [[0.3]]])
    gB = np.array([[[0.0, 4.0]], [[0.0, -0.4]]])
    opt = make_optimizer("sgd", 1.0, clip_norm=1.0)
    opt.step([A, B], [gA, gB])
    np.testing.assert_allclose(A[:, 0, 0], [-0.6, -0.3], rtol=1e-10)
    np.testing.assert_allclose(B[:, 0, :], [[0.0, -0.8], [0.0, 0.4]], rtol=1e-10, atol=1e-15)
    clipped = np.sqrt(A[0] ** 2 + (B[0] ** 2).sum())
    assert clipped.item() == pytest.approx(1.0, rel=1e-10)


def test_clip_applies_after_weight_decay():
    W = np.full((1, 1, 1), 10.0)
    opt = make_optimizer("sgd", 1.0, weight_decay=1.0, clip_norm=2.0)
    opt.step([W], [np.zeros((1, 1, 1))], decay_mask=[True])  # g' = 10, clipped to 2
    assert W.item() == pytest.approx(8.0, rel=1e-10)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_active_mask_freezes_network(name):
    p = np.ones((3, 2, 2))
    before = p.copy()
    opt = make_optimizer(name, 0.1)
    g = np.random.default_rng(0).normal(size=p.shape)
    g[1] = np.nan  # a broken network's gradient must not leak into the others
    opt.step([p], [g], active=np.array([True, False, True]))
    np.testing.assert_array_equal(p[1], before[1])
    ref = np.ones((3, 2, 2))
    make_optimizer(name, 0.1).step([ref], [np.where(np.isnan(g), 0.0, g)])
    np.testing.assert_allclose(p[[0, 2]], ref[[0, 2]], rtol=1e-15)


def test_reset_forgets_network_state():
    p = np.zeros((2, 1, 1))
    opt = make_optimizer("momentum", 1.0, momentum=0.5)
    opt.step([p], [np.ones((2, 1, 1))])
    opt.reset(np.array([True, False]))
    opt.step([p], [np.ones((2, 1, 1))])
    # network 0 restarted: v = 1; network 1: v = 0.5 + 1
    np.testing.assert_allclose(p[:, 0, 0], [-2.0, -2.5], rtol=1e-15)


def test_float32_parameters_stay_float32():
    for name in OPTIMIZERS:
        p = np.ones((1, 2, 2), dtype=np.float32)
        opt = make_optimizer(name, 0.1, weight_decay=0.01, clip_norm=1.0)
        opt.step([p], [np.ones_like(p)], active=np.array([True]), decay_mask=[True])
        assert p.dtype == np.float32


# ------------------------------------------------------------------ schedule
def test_cosine_schedule_endpoints():
    assert learning_rate("cosine", 1.0, 0, 10, min_lr=0.1) == pytest.approx(1.0)
    assert learning_rate("cosine", 1.0, 10, 10, min_lr=0.1) == pytest.approx(0.1)
    assert learning_rate("cosine", 1.0, 5, 10, min_lr=0.1) == pytest.approx(0.55)
    assert learning_rate("cosine", 1.0, 25, 10, min_lr=0.1) == pytest.approx(0.1)  # clamped
    assert learning_rate("cosine", 2.0, 0, 0) == pytest.approx(2.0)
    assert learning_rate("constant", 0.3, 7, 10) == 0.3


def test_unknown_schedule():
    with pytest.raises(ValueError, match="cosine"):
        learning_rate("linear", 1.0, 0, 1)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("lr", [0, 0.0, -1, -1e-3, float("nan"), float("inf")])
@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_bad_lr_raises_naming_lr(name, lr):
    with pytest.raises(ValueError, match=r"\blr\b"):
        make_optimizer(name, lr)


@pytest.mark.parametrize("kwargs,key", [
    ({"weight_decay": -0.1}, "weight_decay"),
    ({"weight_decay": float("nan")}, "weight_decay"),
    ({"clip_norm": 0.0}, "clip_norm"),
    ({"clip_norm": -1.0}, "clip_norm"),
    ({"clip_norm": float("inf")}, "clip_norm"),
])
def test_bad_common_options(kwargs, key):
    with pytest.raises(ValueError, match=key):
        make_optimizer("sgd", 0.1, **kwargs)


def test_bad_own_options():
    with pytest.raises(ValueError, match="momentum"):
        make_optimizer("momentum", 0.1, momentum=1.0)
    with pytest.raises(ValueError, match="beta1"):
        make_optimizer("adam", 0.1, beta1=1.0)
    with pytest.raises(ValueError, match="beta2"):
        make_optimizer("adam", 0.1, beta2=-0.1)
    with pytest.raises(ValueError, match="eps"):
        make_optimizer("adam", 0.1, eps=0.0)


def test_unknown_optimizer_lists_choices():
    with pytest.raises(ValueError) as info:
        make_optimizer("rmsprop", 0.1)
    msg = str(info.value)
    assert "rmsprop" in msg
    for name in ("sgd", "momentum", "adam"):
        assert name in msg


def test_make_optimizer_builds_classes_and_ignores_foreign_options():
    assert isinstance(make_optimizer("sgd", 0.1, momentum=0.9, beta1=0.5), SGD)
    m = make_optimizer("momentum", 0.1, momentum=0.8, nesterov=True, beta1=0.5)
    assert isinstance(m, Momentum) and m.momentum == 0.8 and m.nesterov
    a = make_optimizer("adam", 0.1, beta1=0.5, momentum=0.3)
    assert isinstance(a, Adam) and a.beta1 == 0.5
    assert "lr=0.1" in repr(a)
