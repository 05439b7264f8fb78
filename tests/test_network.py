"""The MLP and its initialisers: whole-network gradient checks (every W, b and
PReLU slope) against central differences, forward against a plain reference,
seed independence, and the initialisers' distributions."""

import math

import numpy as np
import pytest

from conftest import fd_gradients
from relu_study.engine.activations import make_activation
from relu_study.engine.init import (
    BIAS_INITS,
    RAI_SIGMA,
    WEIGHT_INITS,
    check_init,
    init_bias,
    init_layer,
    init_weights,
)
from relu_study.engine.losses import LOSSES
from relu_study.engine.network import MLP, network_rngs

GRAD_ACTIVATIONS = ["relu", "leaky", "prelu", "elu", "tanh", "gelu"]
ACT_PARAMS = {"leaky": {"alpha": 0.2}, "prelu": {"alpha": 0.25}, "elu": {"alpha": 1.3}}


def reference_forward(W, b, act, X, slopes=None):
    """Plain per-network loop: returns (S, n, k) and the hidden pre-activations."""
    outs, pres = [], []
    for s in range(W[0].shape[0]):
        a = X if X.ndim == 2 else X[s]
        zs = []
        for l in range(len(W) - 1):
            z = a @ W[l][s] + b[l][s].reshape(1, -1)
            zs.append(z)
            if slopes is not None:
                alpha = slopes[l][s].reshape(1, -1)
                a = np.where(z > 0, z, alpha * z)
            else:
                a = act.forward(z)
        outs.append(a @ W[-1][s] + b[-1][s].reshape(1, -1))
        pres.append(zs)
    return np.stack(outs), pres


def _problem(task, S=2, n=7, d=3, per_network=False, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(S, n, d) if per_network else (n, d))
    if task == "classification":
        y = rng.integers(0, 3, size=(S, n) if per_network else n)
        k = 3
    else:
        k = 2
        y = rng.normal(size=(S, n, k) if per_network else (n, k))
    return X, y, k


def _net_away_from_kinks(act, d, k, X, seeds=(11, 12)):
    """A network with non-zero biases whose hidden pre-activations all have |z| > 1e-3
    on X (so central differences never straddle a kink)."""
    for attempt in range(50):
        net = MLP(d, [5, 4], k, activation=act, seeds=[s + 100 * attempt for s in seeds],
                  bias_init="normal", bias_std=0.5)
        if net.slopes is not None:  # varied per-unit slopes, incl. negative and > 1
            r = np.random.default_rng(attempt)
            net.slopes = [r.uniform(-0.5, 1.5, size=v.shape) for v in net.slopes]
        _, cache = net.forward(X)
        if min(np.abs(z).min() for z in cache.pre) > 1e-3:
            return net
    raise AssertionError("could not find a network away from kinks")  # pragma: no cover


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("name", GRAD_ACTIVATIONS)
def test_backward_matches_central_differences(name, task):
    X, y, k = _problem(task)
    act = make_activation(name, **ACT_PARAMS.get(name, {}))
    net = _net_away_from_kinks(act, X.shape[-1], k, X)
    loss_fn = LOSSES[task]

    out, cache = net.forward(X)
    _, dout = loss_fn(out, y, grad=True)
    grads = net.backward(cache, dout)
    params = net.params()
    assert len(grads) == len(params)
    expected_len = 2 * len(net.W) + (net.n_hidden if name == "prelu" else 0)
    assert len(params) == expected_len
    for g, p in zip(grads, params):
        assert g.shape == p.shape

    fd, cross = fd_gradients(net, lambda m: loss_fn(m.forward(X)[0], y))
    assert cross == 0.0  # each network's loss depends only on its own parameters
    for i, (g, f) in enumerate(zip(grads, fd)):
        np.testing.assert_allclose(g, f, rtol=1e-6, atol=1e-9, err_msg=f"param {i}")
        assert np.abs(f).max() > 1e-6  # the check is not vacuous


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_backward_per_network_inputs_and_targets(task):
    """Minibatch shape: every network sees its own samples (S, n, d) and labels."""
    X, y, k = _problem(task, S=3, per_network=True, seed=4)
    loss_fn = LOSSES[task]
    net = _net_away_from_kinks(make_activation("leaky", alpha=0.1), 3, k,
                               X, seeds=(1, 2, 3))
    out, cache = net.forward(X)
    _, dout = loss_fn(out, y, grad=True)
    grads = net.backward(cache, dout)
    fd, cross = fd_gradients(net, lambda m: loss_fn(m.forward(X)[0], y))
    assert cross == 0.0
    for g, f in zip(grads, fd):
        np.testing.assert_allclose(g, f, rtol=1e-6, atol=1e-9)


def test_prelu_slope_gradient_through_network():
    X, y, k = _problem("regression", seed=7)
    net = _net_away_from_kinks(make_activation("prelu"), 3, k, X, seeds=(5, 6))
    out, cache = net.forward(X)
    _, dout = LOSSES["regression"](out, y, grad=True)
    gslopes = net.backward(cache, dout)[2 * len(net.W):]
    assert len(gslopes) == 2
    h = 1e-6
    for l, sl in enumerate(net.slopes):
        assert gslopes[l].shape == sl.shape
        for idx in np.ndindex(sl.shape):
            old = sl[idx]
            sl[idx] = old + h
            up = LOSSES["regression"](net.forward(X)[0], y)
            sl[idx] = old - h
            down = LOSSES["regression"](net.forward(X)[0], y)
            sl[idx] = old
            fd = (up - down) / (2 * h)
            assert gslopes[l][idx] == pytest.approx(fd[idx[0]], rel=1e-6, abs=1e-9)
    # at least one unit is in its negative regime somewhere, so some slope gradient is non-zero
    assert max(np.abs(g).max() for g in gslopes) > 1e-4


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_rrelu_training_mode_gradient(task):
    """With the slopes drawn in training mode held fixed (same generators), backward is
    the gradient of the training-mode loss."""
    X, y, k = _problem(task, seed=3)
    act = make_activation("rrelu", lower=0.1, upper=0.6)
    net = _net_away_from_kinks(act, 3, k, X)
    loss_fn = LOSSES[task]

    def train_loss(m):
        rngs = [np.random.default_rng(77), np.random.default_rng(78)]
        return loss_fn(m.forward(X, train=True, noise_rngs=rngs)[0], y)

    rngs = [np.random.default_rng(77), np.random.default_rng(78)]
    out, cache = net.forward(X, train=True, noise_rngs=rngs)
    _, dout = loss_fn(out, y, grad=True)
    grads = net.backward(cache, dout)
    fd, cross = fd_gradients(net, train_loss)
    assert cross == 0.0
    for g, f in zip(grads, fd):
        np.testing.assert_allclose(g, f, rtol=1e-6, atol=1e-9)
    # training mode differs from evaluation mode (random slopes)
    assert not np.allclose(out, net.predict(X))


# ------------------------------------------------------------------ forward
@pytest.mark.parametrize("name", ["relu", "leaky", "prelu", "elu", "gelu", "tanh", "identity"])
def test_forward_matches_reference(name):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(9, 4))
    act = make_activation(name, alpha=0.3) if name in ("leaky", "prelu") else make_activation(name)
    net = MLP(4, [6, 5, 3], 2, activation=act, seeds=[0, 1, 2], bias_init="normal", bias_std=0.3)
    if net.slopes is not None:
        net.slopes = [rng.uniform(-1, 2, size=v.shape) for v in net.slopes]
    out, cache = net.forward(X)
    ref, pres = reference_forward(net.W, net.b, act, X, net.slopes)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(net.predict(X), ref, rtol=1e-12, atol=1e-14)
    for l in range(3):
        np.testing.assert_allclose(cache.pre[l], np.stack([p[l] for p in pres]), rtol=1e-12, atol=1e-14)
    assert out.shape == (3, 9, 2)


def test_shared_input_equals_stacked_input():
    X = np.random.default_rng(1).normal(size=(6, 3))
    net = MLP(3, [4], 2, seeds=[0, 1])
    np.testing.assert_allclose(net.predict(X), net.predict(np.stack([X, X])), rtol=1e-14)


def test_prelu_initial_slopes_and_leaky_equivalence():
    X = np.random.default_rng(2).normal(size=(8, 3))
    p = MLP(3, [5, 4], 2, activation=make_activation("prelu", alpha=0.3), seeds=[4])
    assert [s.shape for s in p.slopes] == [(1, 1, 5), (1, 1, 4)]
    assert all(np.all(s == 0.3) for s in p.slopes)
    q = MLP(3, [5, 4], 2, activation=make_activation("leaky", alpha=0.3), seeds=[4])
    for a, b in zip(p.W, q.W):  # same gain, same generator: same weights
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(p.predict(X), q.predict(X), rtol=1e-14)


def test_rrelu_eval_equals_leaky_at_mean_slope():
    X = np.random.default_rng(2).normal(size=(8, 3))
    r = MLP(3, [5], 2, activation=make_activation("rrelu", lower=0.1, upper=0.3), seeds=[1])
    ref, _ = reference_forward(r.W, r.b, make_activation("leaky", alpha=0.2), X)
    np.testing.assert_allclose(r.predict(X), ref, rtol=1e-13)


# ------------------------------------------------------------ construction
def test_group_member_equals_network_alone():
    group = MLP(3, [8, 6], 2, activation="leaky", seeds=[3, 4, 5], bias_init="normal", bias_std=0.1)
    alone = MLP(3, [8, 6], 2, activation="leaky", seeds=[4], bias_init="normal", bias_std=0.1)
    for a, b in zip(group.params(), alone.params()):
        np.testing.assert_array_equal(a[1], b[0])
    assert not np.array_equal(group.W[0][0], group.W[0][1])


def test_shapes_dtype_masks_and_repr():
    net = MLP(3, [5, 4], 2, activation="prelu", seeds=[0, 1], dtype=np.float32)
    assert net.n_networks == 2 and net.widths == [5, 4] and net.n_hidden == 2
    assert [w.shape for w in net.W] == [(2, 3, 5), (2, 5, 4), (2, 4, 2)]
    assert [v.shape for v in net.b] == [(2, 1, 5), (2, 1, 4), (2, 1, 2)]
    assert all(p.dtype == np.float32 for p in net.params())
    assert net.weight_mask() == [True] * 3 + [False] * 5
    assert net.predict(np.ones((4, 3), np.float32)).dtype == np.float32
    r = repr(net)
    assert "3-5-4-2" in r and "alpha=0.25" in r
    sd = net.state_dict()
    assert set(sd) == {"seeds", "W1", "W2", "W3", "b1", "b2", "b3", "slope1", "slope2"}
    assert sd["b1"].shape == (2, 5)


def test_from_params_shapes_and_copies_inputs():
    W = [np.ones((2, 3)), np.ones((3, 1))]
    b = [np.zeros(3), np.zeros(1)]
    net = MLP.from_params(W, b, "relu")
    assert [w.shape for w in net.W] == [(1, 2, 3), (1, 3, 1)]
    assert [v.shape for v in net.b] == [(1, 1, 3), (1, 1, 1)]
    assert net.sizes == [2, 3, 1]
    # training updates parameters in place; that must not write through to the
    # caller's arrays (biases are copied, weights must be too)
    for p in net.params():
        p -= 0.5
    np.testing.assert_array_equal(b[0], np.zeros(3))
    np.testing.assert_array_equal(W[0], np.ones((2, 3)))
    np.testing.assert_array_equal(W[1], np.ones((3, 1)))


def test_select_gives_subnetwork():
    X = np.random.default_rng(0).normal(size=(5, 3))
    net = MLP(3, [4], 2, seeds=[7, 8, 9])
    sub = net.select(np.array([2]))
    assert sub.seeds == [9]
    np.testing.assert_allclose(sub.predict(X)[0], net.predict(X)[2], rtol=1e-14)


def test_output_layer_zero_bias_and_constant_hidden_bias():
    net = MLP(3, [5, 4], 2, seeds=[0, 1], bias_init="constant", bias_value=-0.7)
    assert np.all(net.b[0] == -0.7) and np.all(net.b[1] == -0.7)
    assert np.all(net.b[2] == 0.0)


def test_hidden_layers_use_activation_gain():
    # one wide layer: std of W1 ~ gain / sqrt(fan_in); output layer gain 1
    alpha = 0.5
    net = MLP(200, [400], 300, activation=make_activation("leaky", alpha=alpha), seeds=[0])
    gain = math.sqrt(2 / (1 + alpha**2))
    assert net.W[0].std() == pytest.approx(gain / math.sqrt(200), rel=0.01)
    assert net.W[1].std() == pytest.approx(1 / math.sqrt(400), rel=0.01)


@pytest.mark.parametrize("kwargs,match", [
    ({"widths": [4, 0]}, "width"),
    ({"widths": [-1]}, "width"),
    ({"n_inputs": 0}, "n_inputs"),
    ({"seeds": []}, "seed"),
    ({"activation": "nope"}, "valid choices"),
    ({"weight_init": "nope"}, "valid choices"),
    ({"bias_init": "nope"}, "valid choices"),
])
def test_constructor_errors(kwargs, match):
    args = {"n_inputs": 3, "widths": [4], "n_outputs": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        MLP(**args)


def test_network_rngs_independent_and_reproducible():
    a, b = network_rngs(5), network_rngs(5)
    assert a["order"].permutation(10).tolist() == b["order"].permutation(10).tolist()
    c = network_rngs(5)
    assert not np.array_equal(c["init"].random(5), c["order"].random(5))


# ------------------------------------------------------------ initialisers
FAN_IN, FAN_OUT = 300, 600


@pytest.mark.parametrize("gain", [1.0, math.sqrt(2.0), 0.7])
def test_he_normal_std(gain):
    W = init_weights("he_normal", np.random.default_rng(0), FAN_IN, FAN_OUT, gain)
    assert W.shape == (FAN_IN, FAN_OUT)
    assert W.std() == pytest.approx(gain / math.sqrt(FAN_IN), rel=0.01)
    assert abs(W.mean()) < 0.02 * gain / math.sqrt(FAN_IN)


@pytest.mark.parametrize("gain", [1.0, math.sqrt(2.0)])
def test_he_uniform_bounds_and_std(gain):
    W = init_weights("he_uniform", np.random.default_rng(1), FAN_IN, FAN_OUT, gain)
    limit = gain * math.sqrt(3.0 / FAN_IN)
    assert np.abs(W).max() <= limit
    assert np.abs(W).max() > 0.999 * limit
    assert W.std() == pytest.approx(gain / math.sqrt(FAN_IN), rel=0.01)


def test_glorot_and_lecun():
    rng = np.random.default_rng(2)
    W = init_weights("glorot_normal", rng, FAN_IN, FAN_OUT, gain=5.0)  # gain ignored
    assert W.std() == pytest.approx(math.sqrt(2.0 / (FAN_IN + FAN_OUT)), rel=0.01)
    W = init_weights("glorot_uniform", rng, FAN_IN, FAN_OUT, gain=5.0)
    limit = math.sqrt(6.0 / (FAN_IN + FAN_OUT))
    assert np.abs(W).max() <= limit and np.abs(W).max() > 0.999 * limit
    assert W.std() == pytest.approx(limit / math.sqrt(3), rel=0.01)
    W = init_weights("lecun_normal", rng, FAN_IN, FAN_OUT, gain=5.0)
    assert W.std() == pytest.approx(1 / math.sqrt(FAN_IN), rel=0.01)


def test_rai_one_beta_entry_per_unit():
    fan_in, fan_out = 400, 3000
    v = init_weights("rai", np.random.default_rng(3), fan_in, fan_out)
    assert v.shape == (fan_in + 1, fan_out)
    # Gaussian entries have std 0.6007/20 = 0.03, so entries > 0.2 are the Beta(2,1) draws
    big = v > 0.2
    counts = big.sum(axis=0)
    assert counts.max() == 1  # never two replaced entries in one unit
    p_small = 0.2**2  # P(Beta(2,1) <= 0.2)
    assert counts.mean() == pytest.approx(1 - p_small, abs=0.02)
    top = v.max(axis=0)
    assert top.max() <= 1.0
    assert top.mean() == pytest.approx(2 / 3, abs=0.02)  # Beta(2,1) mean
    assert (top > 0.5).mean() == pytest.approx(0.75, abs=0.03)  # 1 - 0.5^2
    # the remaining entries are N(0, sigma^2 / fan_in)
    rest = v[~big]
    assert rest.std() == pytest.approx(RAI_SIGMA / math.sqrt(fan_in), rel=0.03)


def test_rai_replaced_entry_uniform_over_weights_and_bias():
    # fan_in = 1: two entries per unit ([w; b]); each is replaced with probability 1/2,
    # so each row's mean is 1/2 * E[Beta(2,1)] = 1/3 (the Gaussian part has mean 0).
    v = init_weights("rai", np.random.default_rng(4), 1, 40000)
    np.testing.assert_allclose(v.mean(axis=1), [1 / 3, 1 / 3], atol=0.02)
    w, b = init_layer(np.random.default_rng(4), 1, 40000, weight="rai", bias="constant", bias_value=-5.0)
    np.testing.assert_array_equal(w, v[:1])
    np.testing.assert_array_equal(b, v[1])  # the bias initialiser is not used with RAI


def test_rai_network_every_unit_has_positive_entry():
    net = MLP(2, [2] * 10, 1, weight_init="rai", seeds=list(range(20)))
    for l in range(net.n_hidden):
        wb = np.concatenate([net.W[l], net.b[l]], axis=1)  # (S, fan_in + 1, width)
        has = ((wb > 0) & (wb <= 1)).any(axis=1)
        assert has.all()


def test_rai_on_hidden_layers_only_leaves_the_output_layer_at_the_default_init():
    """output_init="default" (Lu et al.'s setting): the hidden layers are exactly
    RAI's draws, and the output layer is what the default init draws next from the
    same generator, He-normal with gain 1 (N(0, 1/fan_in)) and a zero bias; with
    "same" the output layer is RAI's (the old behaviour, unchanged)."""
    from relu_study.engine.network import seed_generator

    sizes = [1, 3, 3, 2]
    hidden = MLP(1, sizes[1:-1], 2, weight_init="rai", seeds=[5, 6], output_init="default")
    every = MLP(1, sizes[1:-1], 2, weight_init="rai", seeds=[5, 6])
    for s, seed in enumerate([5, 6]):
        rng = seed_generator(seed, "init")
        for l in range(2):  # hidden layers: RAI, as in the all-layers network
            w, b = init_layer(rng, sizes[l], sizes[l + 1], weight="rai")
            np.testing.assert_array_equal(hidden.W[l][s], w)
            np.testing.assert_array_equal(hidden.b[l][s, 0], b)
            np.testing.assert_array_equal(every.W[l][s], w)
        state = rng.bit_generator.state
        w_out = rng.standard_normal((3, 2)) * (1.0 / math.sqrt(3))  # He-normal, gain 1: the default output layer
        np.testing.assert_array_equal(hidden.W[2][s], w_out)
        np.testing.assert_array_equal(hidden.b[2][s], np.zeros((1, 2)))
        rng.bit_generator.state = state
        w, b = init_layer(rng, 3, 2, weight="rai")
        np.testing.assert_array_equal(every.W[2][s], w)
        np.testing.assert_array_equal(every.b[2][s, 0], b)
        assert (b != 0).any() or (w > 0).any()
    # a He-initialised network's output layer is the same whichever option (it is the default)
    a, b = MLP(2, [4], 3, seeds=[1]), MLP(2, [4], 3, seeds=[1], output_init="default")
    np.testing.assert_array_equal(a.flat, b.flat)
    with pytest.raises(ValueError, match="output_init"):
        MLP(2, [4], 3, output_init="hidden")


def test_bias_initialisers():
    rng = np.random.default_rng(5)
    np.testing.assert_array_equal(init_bias("zeros", rng, 4), np.zeros(4))
    np.testing.assert_array_equal(init_bias("constant", rng, 3, value=-0.25), [-0.25] * 3)
    b = init_bias("normal", rng, 100000, std=0.3)
    assert b.std() == pytest.approx(0.3, rel=0.02)


def test_init_layer_draws_weights_then_bias_from_same_generator():
    w, b = init_layer(np.random.default_rng(6), 3, 4, gain=2.0, bias="normal", bias_std=1.0)
    rng = np.random.default_rng(6)
    w2 = rng.standard_normal((3, 4)) * (2.0 / math.sqrt(3))
    b2 = rng.standard_normal(4)
    np.testing.assert_allclose(w, w2, rtol=1e-15)
    np.testing.assert_allclose(b, b2, rtol=1e-15)


def test_unknown_initialisers_list_valid_choices():
    with pytest.raises(ValueError) as info:
        init_weights("kaiming", np.random.default_rng(0), 2, 2)
    assert "kaiming" in str(info.value)
    for name in WEIGHT_INITS:
        assert name in str(info.value)
    with pytest.raises(ValueError) as info:
        init_bias("ones", np.random.default_rng(0), 2)
    for name in BIAS_INITS:
        assert name in str(info.value)
    with pytest.raises(ValueError, match="valid choices"):
        check_init("nope", "zeros")
    with pytest.raises(ValueError, match="bias_value"):
        check_init("he_normal", "constant", value=float("nan"))
    with pytest.raises(ValueError, match="bias_std"):
        check_init("he_normal", "normal", std=-1.0)
