"""Probes on hand-built networks whose answers are counted by hand."""

import numpy as np
import pytest

from relu_study.engine.activations import make_activation
from relu_study.engine.losses import cross_entropy
from relu_study.engine.network import MLP
from relu_study.engine.probes import LAYER_METRICS, NETWORK_METRICS, ProbeState, probe, target_spread

# 4 samples, 2 features
X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.5], [0.5, -1.0]])
Y = np.array([0, 1, 0, 1])
# hidden layer of 3 units; unit 2 (index 1) has zero incoming weights and bias -0.5
W1 = np.array([[1.0, 0.0, -1.0], [0.5, 0.0, 1.0]])
B1 = np.array([0.1, -0.5, 0.2])
W2 = np.array([[1.0, -1.0], [2.0, 1.0], [0.5, 0.3]])
B2 = np.array([0.0, 0.0])
# Z1 = X W1 + b1, by hand:
Z1 = np.array([[1.1, -0.5, -0.8],
               [0.6, -0.5, 1.2],
               [-0.65, -0.5, 1.7],
               [0.1, -0.5, -1.3]])


def _relu_reference_grads(W1, b1, W2, b2, act_alpha=0.0):
    """Independent backprop for one hidden layer with (leaky) ReLU and softmax CE."""
    Z = X @ W1 + b1
    A = np.where(Z > 0, Z, act_alpha * Z)
    O = A @ W2 + b2
    P = np.exp(O - O.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    dO = (P - np.eye(2)[Y]) / len(X)
    gW2 = A.T @ dO
    dZ = (dO @ W2.T) * np.where(Z > 0, 1.0, act_alpha)
    gW1 = X.T @ dZ
    return gW1, gW2, P


def test_hand_computed_preactivations():
    net = MLP.from_params([W1, W2], [B1, B2], "relu")
    _, cache = net.forward(X)
    np.testing.assert_allclose(cache.pre[0][0], Z1, rtol=1e-14, atol=1e-15)


def test_dead_relu_unit():
    net = MLP.from_params([W1, W2], [B1, B2], "relu")
    cols, loss, _ = probe(net, X, Y, "classification", near_zero_rel=0.2)
    assert cols["dead_frac_l1"][0] == pytest.approx(1 / 3)
    assert cols["zero_grad_frac_l1"][0] == pytest.approx(1 / 3)
    # zeros of A = relu(Z1): 2 + 1 + 2 + 2 = 7 of 12
    assert cols["exact_zero_frac_l1"][0] == pytest.approx(7 / 12)
    # positives: unit 1: 3/4, unit 2: 0, unit 3: 2/4
    assert cols["active_rate_l1"][0] == pytest.approx((0.75 + 0 + 0.5) / 3)
    # std(A) = 0.5823 (population), eps = 0.1165: the 0.1 entry is near zero too
    assert cols["near_zero_frac_l1"][0] == pytest.approx(8 / 12)
    # the overall columns equal the single layer's
    for m in ("dead_frac", "zero_grad_frac", "exact_zero_frac", "near_zero_frac", "active_rate"):
        assert cols[m][0] == cols[f"{m}_l1"][0]
    # the dead unit's incoming weights get exactly zero gradient
    out, cache = net.forward(X)
    _, dout = cross_entropy(out, Y, grad=True)
    gW1 = net.backward(cache, dout)[0]
    assert np.all(gW1[0, :, 1] == 0.0)
    assert np.all(gW1[0, :, [0, 2]] != 0.0)
    # grad norms and loss against an independent computation
    rW1, rW2, P = _relu_reference_grads(W1, B1, W2, B2)
    np.testing.assert_allclose(gW1[0], rW1, rtol=1e-13, atol=1e-16)
    assert cols["grad_norm_l1"][0] == pytest.approx(np.linalg.norm(rW1), rel=1e-12)
    assert cols["grad_norm_out"][0] == pytest.approx(np.linalg.norm(rW2), rel=1e-12)
    assert cols["grad_norm"][0] == pytest.approx(np.hypot(np.linalg.norm(rW1), np.linalg.norm(rW2)), rel=1e-12)
    assert loss[0] == pytest.approx(-np.mean(np.log(P[np.arange(4), Y])), rel=1e-12)
    assert not cols["collapsed"][0]


def test_default_near_zero_eps_is_tiny():
    net = MLP.from_params([W1, W2], [B1, B2], "relu")
    cols, _, _ = probe(net, X, Y, "classification")  # eps = 1e-3 * 0.58: only exact zeros
    assert cols["near_zero_frac_l1"][0] == pytest.approx(7 / 12)


def test_same_unit_under_leaky_is_never_positive_but_learns():
    net = MLP.from_params([W1, W2], [B1, B2], make_activation("leaky", alpha=0.1))
    cols, _, _ = probe(net, X, Y, "classification")
    assert cols["dead_frac_l1"][0] == pytest.approx(1 / 3)  # never positive
    assert cols["zero_grad_frac_l1"][0] == 0.0
    assert cols["exact_zero_frac_l1"][0] == 0.0
    assert cols["active_rate_l1"][0] == pytest.approx(5 / 12)
    out, cache = net.forward(X)
    _, dout = cross_entropy(out, Y, grad=True)
    gW1 = net.backward(cache, dout)[0]
    assert np.all(gW1[0, :, 1] != 0.0)
    rW1, _, _ = _relu_reference_grads(W1, B1, W2, B2, act_alpha=0.1)
    np.testing.assert_allclose(gW1[0], rW1, rtol=1e-13, atol=1e-16)
    assert cols["grad_norm_l1"][0] == pytest.approx(np.linalg.norm(rW1), rel=1e-12)


def test_unit_exactly_at_zero_is_dead():
    """Zero weights and zero bias: z = 0 on every sample.  Never positive, so dead; ReLU's
    derivative at 0 is 0 (zero gradient), leaky's is alpha (not zero gradient)."""
    W = W1.copy()
    W[:, 1] = 0.0
    b = B1.copy()
    b[1] = 0.0
    relu = MLP.from_params([W, W2], [b, B2], "relu")
    cols, _, _ = probe(relu, X, Y, "classification")
    assert cols["dead_frac"][0] == pytest.approx(1 / 3)
    assert cols["zero_grad_frac"][0] == pytest.approx(1 / 3)
    leaky = MLP.from_params([W, W2], [b, B2], make_activation("leaky", alpha=0.1))
    cols, _, _ = probe(leaky, X, Y, "classification")
    assert cols["dead_frac"][0] == pytest.approx(1 / 3)
    assert cols["zero_grad_frac"][0] == 0.0
    assert cols["exact_zero_frac"][0] == pytest.approx(4 / 12)  # 0.1 * 0 = 0 exactly
    assert cols["active_rate"][0] == pytest.approx(5 / 12)


def test_leaky_alpha_zero_counts_zero_grad():
    net = MLP.from_params([W1, W2], [B1, B2], make_activation("leaky", alpha=0.0))
    cols, _, _ = probe(net, X, Y, "classification")
    assert cols["zero_grad_frac_l1"][0] == pytest.approx(1 / 3)


def test_per_network_values_and_weighted_overall():
    """Two layers (widths 3 and 2) and two networks.  Network 0: layer 1 has 1 dead unit
    of 3 and layer 2 one dead unit of 2.  Network 1: nothing dead."""
    Wa = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])  # (3, 2)
    ba = np.array([0.0, -0.1])
    # layer-2 unit 2 in network 0: zero weights, bias -1 -> dead
    Wa0 = Wa.copy()
    Wa0[:, 1] = 0.0
    ba0 = np.array([0.0, -1.0])
    W1s = np.stack([W1, np.array([[1.0, 0.3, -1.0], [0.5, 1.0, 1.0]])])
    B1s = np.stack([B1, np.array([0.1, 0.2, 0.2])])
    W2s = np.stack([Wa0, Wa])
    B2s = np.stack([ba0, ba])
    W3s = np.stack([np.ones((2, 2)), np.array([[1.0, -1.0], [0.5, 2.0]])])
    net = MLP.from_params([W1s, W2s, W3s], [B1s, B2s, np.zeros((2, 2))], "relu")
    cols, _, _ = probe(net, X, Y, "classification")
    for m in LAYER_METRICS:
        if m == "low_ablation_frac":  # opt-in (ablation=True)
            assert m not in cols and f"{m}_l1" not in cols
            continue
        for l in (1, 2):
            assert f"{m}_l{l}" in cols and cols[f"{m}_l{l}"].shape == (2,)
        assert m in cols
    for m in NETWORK_METRICS:
        assert cols[m].shape == (2,)
    assert "dead_frac_l3" not in cols
    # layer 1 of network 0 as before; network 1: Z = [[1.1, .5, -.8], [.6, 1.2, 1.2], ...]
    np.testing.assert_allclose(cols["dead_frac_l1"], [1 / 3, 0.0])
    np.testing.assert_allclose(cols["dead_frac_l2"], [1 / 2, 0.0])
    # overall = width-weighted: (1 + 1) / 5, not the mean of 1/3 and 1/2
    np.testing.assert_allclose(cols["dead_frac"], [2 / 5, 0.0])
    np.testing.assert_allclose(cols["zero_grad_frac"], [2 / 5, 0.0])
    for m in ("exact_zero_frac", "near_zero_frac", "active_rate"):
        np.testing.assert_allclose(cols[m], (3 * cols[f"{m}_l1"] + 2 * cols[f"{m}_l2"]) / 5, rtol=1e-14)
    # layer 2 of network 0: A1 = relu(Z1) = [[1.1,0,0],[.6,0,1.2],[0,0,1.7],[.1,0,0]];
    # unit 1 of layer 2: z = a1 + a2 + 0 -> [1.1, .6, 0, .1]: 3 of 4 positive, unit 2 dead
    assert cols["active_rate_l2"][0] == pytest.approx((3 / 4 + 0) / 2)
    assert cols["exact_zero_frac_l2"][0] == pytest.approx(5 / 8)
    gn = np.sqrt(sum(cols[f"grad_norm_l{l}"] ** 2 for l in (1, 2)) + cols["grad_norm_out"] ** 2)
    np.testing.assert_allclose(cols["grad_norm"], gn, rtol=1e-13)
    assert cols["revived"].dtype.kind == "i" and cols["revived_l1"].dtype.kind == "i"
    assert cols["died"].dtype.kind == "i" and cols["died_l2"].dtype.kind == "i"


def test_dead_last_hidden_layer_collapses_network():
    rng = np.random.default_rng(0)
    W1r = rng.normal(size=(2, 4))
    W2 = np.stack([np.zeros((4, 3)), rng.normal(size=(4, 3))])  # network 0: all-dead layer 2
    b2 = np.stack([np.full(3, -0.2), np.full(3, 0.1)])
    W3 = rng.normal(size=(2, 3, 2))
    b3 = np.array([[0.3, -0.3], [0.0, 0.0]])
    net = MLP.from_params([np.stack([W1r, W1r]), W2, W3], [np.zeros(4), b2, b3], "relu")
    for task, y in (("classification", Y), ("regression", rng.normal(size=(4, 2)))):
        cols, _, _ = probe(net, X, y, task)
        assert cols["dead_frac_l2"][0] == 1.0
        assert cols["zero_grad_frac_l2"][0] == 1.0
        assert cols["output_spread"][0] == 0.0
        assert cols["collapsed"][0] and cols["collapsed"].dtype == bool
        assert cols["output_spread"][1] > 1e-2
        assert not cols["collapsed"][1]
        assert cols["grad_norm_l1"][0] == 0.0 and cols["grad_norm_l2"][0] == 0.0


def test_output_spread_definition_regression():
    rng = np.random.default_rng(1)
    net = MLP(2, [5], 2, seeds=[0])
    y = rng.normal(size=(4, 2)) * np.array([1.0, 3.0])
    cols, _, _ = probe(net, X, y, "regression")
    out = net.predict(X)[0]
    expected = out.std(axis=0).max() / y.std(axis=0).max()
    assert cols["output_spread"][0] == pytest.approx(expected, rel=1e-12)
    assert target_spread(y, "regression", 2) == pytest.approx(y.std(axis=0).max())
    # classification: one-hot targets [1,0,1,0] / [0,1,0,1]: std 0.5
    assert target_spread(Y, "classification", 2) == pytest.approx(0.5)
    assert target_spread(np.array([0, 0, 0, 2]), "classification", 3) == pytest.approx(np.sqrt(3) / 4)


def test_collapse_tolerance():
    # a nearly constant network: output spread 1e-4 relative -> collapsed at tol 1e-3, not at 1e-5
    x = np.linspace(-1, 1, 11)[:, None]
    y = x.copy()  # std of y = std of x
    net = MLP.from_params([np.array([[1e-4]]), np.array([[1.0]])], [np.array([2.0]), np.array([0.0])], "relu")
    cols, _, _ = probe(net, x, y, "regression", collapse_tol=1e-3)
    assert cols["output_spread"][0] == pytest.approx(1e-4, rel=1e-9)
    assert cols["collapsed"][0]
    cols, _, _ = probe(net, x, y, "regression", collapse_tol=1e-5)
    assert not cols["collapsed"][0]


def test_revived_counts_units_coming_back():
    net = MLP.from_params([W1.copy(), W2.copy()], [B1.copy(), B2.copy()], "relu")
    cols, _, state = probe(net, X, Y, "classification")
    assert cols["revived"][0] == 0 and cols["revived_l1"][0] == 0
    assert isinstance(state, ProbeState)
    # unchanged parameters: still dead, nothing revived
    cols, _, state = probe(net, X, Y, "classification", state=state)
    assert cols["revived"][0] == 0
    # give the dead unit a weight: z = x0 - 0.5 is positive on samples 0 (0.5) -> alive
    net.W[0][0, 0, 1] = 1.0
    cols, _, state = probe(net, X, Y, "classification", state=state)
    assert cols["dead_frac_l1"][0] == 0.0
    assert cols["revived_l1"][0] == 1 and cols["revived"][0] == 1
    # without the history the same network shows nothing revived
    fresh, _, _ = probe(net, X, Y, "classification")
    assert fresh["revived"][0] == 0


def test_revived_is_a_transition_between_consecutive_probes():
    W1s = np.stack([W1, W1])
    net = MLP.from_params([W1s, np.stack([W2, W2])], [B1, B2], "relu")
    _, _, state = probe(net, X, Y, "classification")
    # revive unit 2 only in network 1, and kill unit 1 (index 0) in network 0
    net.W[0][1, 0, 1] = 1.0
    net.W[0][0, :, 0] = 0.0
    net.b[0][0, 0, 0] = -1.0
    cols, _, state = probe(net, X, Y, "classification", state=state)
    np.testing.assert_array_equal(cols["revived"], [0, 1])
    np.testing.assert_allclose(cols["dead_frac"], [2 / 3, 0.0])
    np.testing.assert_array_equal(cols["died"], [1, 0])  # unit 1 of network 0
    # now revive unit 1 of network 0: it was dead at the previous probe; network 1's
    # unit 2 revived at the previous probe and stays alive: no transition now
    net.W[0][0, :, 0] = W1[:, 0]
    net.b[0][0, 0, 0] = B1[0]
    cols, _, _ = probe(net, X, Y, "classification", state=state)
    np.testing.assert_array_equal(cols["revived"], [1, 0])
    np.testing.assert_array_equal(cols["died"], [0, 0])


# ------------------------------------------------------------------ probes v2
def _units(state, name, layer=0, network=0):
    return state.units[name][layer][network]


def test_low_gain_relu_leaky_and_tanh():
    """Unit 2 (index 1) is never positive.  ReLU: f' = 0 there, low gain.  Leaky alpha 0.01:
    |f'| = 0.01 <= 0.05 on every sample, low gain (but not zero gradient).  Leaky alpha 0.3:
    |f'| = 0.3 > 0.05, never low gain.  Units 1 and 3 are positive somewhere (f' = 1)."""
    for act, low, zero, gains in (("relu", 1 / 3, 1 / 3, [1.0, 0.0, 1.0]),
                                  (make_activation("leaky", alpha=0.01), 1 / 3, 0.0, [1.0, 0.01, 1.0]),
                                  (make_activation("leaky", alpha=0.3), 0.0, 0.0, [1.0, 0.3, 1.0])):
        net = MLP.from_params([W1, W2], [B1, B2], act)
        cols, _, state = probe(net, X, Y, "classification")
        assert cols["dead_frac_l1"][0] == pytest.approx(1 / 3), act
        assert cols["low_gain_frac_l1"][0] == pytest.approx(low), act
        assert cols["low_gain_frac"][0] == pytest.approx(low), act
        assert cols["zero_grad_frac_l1"][0] == pytest.approx(zero), act
        np.testing.assert_allclose(_units(state, "max_gain"), gains, rtol=1e-15)
        np.testing.assert_array_equal(_units(state, "never_positive"), [False, True, False])
    # the tolerance is a setting: at gain_tol 0.3 the alpha-0.3 unit is low gain
    net = MLP.from_params([W1, W2], [B1, B2], make_activation("leaky", alpha=0.3))
    cols, _, _ = probe(net, X, Y, "classification", gain_tol=0.3)
    assert cols["low_gain_frac_l1"][0] == pytest.approx(1 / 3)


def test_saturated_tanh_unit_is_low_gain_not_dead():
    """tanh with unit 2's bias at +10 (z = 10 on every sample: tanh' = 8.2e-9) and,
    in a second network, at -3 (tanh'(-3) = 0.00987): saturated, so low gain, though
    the first is never negative and neither has a zero derivative.  The other units
    have |z| <= 1.7, tanh' >= 0.12."""
    b = np.stack([B1, B1])
    b[0, 1], b[1, 1] = 10.0, -3.0
    net = MLP.from_params([np.stack([W1, W1]), np.stack([W2, W2])], [b, B2], "tanh")
    cols, _, state = probe(net, X, Y, "classification")
    np.testing.assert_allclose(cols["low_gain_frac_l1"], [1 / 3, 1 / 3])
    np.testing.assert_allclose(cols["dead_frac_l1"], [0.0, 1 / 3])  # z = 10 > 0; z = -3 never positive
    np.testing.assert_allclose(cols["zero_grad_frac_l1"], [0.0, 0.0])
    assert _units(state, "max_gain", 0, 0)[1] == pytest.approx(1 - np.tanh(10.0) ** 2, rel=1e-6)
    assert _units(state, "max_gain", 0, 1)[1] == pytest.approx(1 - np.tanh(3.0) ** 2, rel=1e-12)
    # the unsaturated units' largest derivative: at their z closest to 0 (0.1 and 0.2)
    assert _units(state, "max_gain", 0, 0)[0] == pytest.approx(1 - np.tanh(0.1) ** 2, rel=1e-12)
    assert _units(state, "max_gain", 0, 0)[2] == pytest.approx(1 - np.tanh(-0.8) ** 2, rel=1e-12)


def test_dormant_unit():
    """ReLU, unit 2 outputs 0.001 on every sample (zero weights, bias 0.001): alive, full
    gain, but dormant.  mean|a| by hand: unit 1 relu(1.1, .6, -.65, .1) -> 0.45, unit 3
    relu(-.8, 1.2, 1.7, -1.3) -> 0.725; layer mean (0.45 + 0.001 + 0.725) / 3 = 0.392;
    score 0.001 / 0.392 = 0.00255 <= 0.025."""
    b = B1.copy()
    b[1] = 0.001
    net = MLP.from_params([W1, W2], [b, B2], "relu")
    cols, _, state = probe(net, X, Y, "classification")
    np.testing.assert_allclose(_units(state, "mean_abs"), [0.45, 0.001, 0.725], rtol=1e-12)
    assert cols["dormant_frac_l1"][0] == pytest.approx(1 / 3)
    assert cols["dead_frac_l1"][0] == 0.0 and cols["low_gain_frac_l1"][0] == 0.0
    # tau below the score: not dormant
    cols, _, _ = probe(net, X, Y, "classification", dormant_tau=0.002)
    assert cols["dormant_frac_l1"][0] == 0.0
    # a dead unit (mean |a| = 0) is dormant too; a layer that is all zeros is all dormant
    cols, _, _ = probe(MLP.from_params([W1, W2], [B1, B2], "relu"), X, Y, "classification")
    assert cols["dormant_frac_l1"][0] == pytest.approx(1 / 3)
    cols, _, _ = probe(MLP.from_params([W1, W2], [np.full(3, -5.0), B2], "relu"), X, Y, "classification")
    assert cols["dormant_frac_l1"][0] == 1.0


def test_contribution_of_units_that_change_nothing_and_of_the_one_carrying_the_output():
    """ReLU layer of 3, every unit with outgoing weights: unit 1 dead (a = 0), unit 2
    constant (z = 0.5 on every sample: a - mean a = 0, alive and not dormant), unit 3
    varies.  Units 1 and 2 contribute exactly 0 (first order and exact ablation alike:
    replacing them by their mean changes nothing); unit 3 carries the whole output."""
    W = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.5]])
    b = np.array([-1.0, 0.5, 0.1])
    Wout = np.array([[1.0, -1.0], [2.0, 1.0], [0.5, 0.3]])
    net = MLP.from_params([W, Wout], [b, B2], "relu")
    cols, _, state = probe(net, X, Y, "classification", ablation=True)
    np.testing.assert_array_equal(_units(state, "contribution"), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(_units(state, "ablation"), [0.0, 0.0, 1.0])
    assert cols["low_contribution_frac_l1"][0] == pytest.approx(2 / 3)
    assert cols["low_ablation_frac_l1"][0] == pytest.approx(2 / 3)
    assert cols["low_ablation_frac"][0] == pytest.approx(2 / 3)
    assert cols["dead_frac_l1"][0] == pytest.approx(1 / 3)  # only unit 1 is dead
    # a varying unit with zero outgoing weights contributes nothing either (dL/da = 0)
    Wout2 = Wout.copy()
    Wout2[2] = 0.0
    W2b = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 0.5]])  # unit 1 now varies too
    net = MLP.from_params([W2b, Wout2], [np.array([0.0, 0.5, 0.1]), B2], "relu")
    cols, _, state = probe(net, X, Y, "classification", ablation=True)
    np.testing.assert_array_equal(_units(state, "contribution"), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(_units(state, "ablation"), [1.0, 0.0, 0.0])
    # without ablation=True the column is absent and the per-unit values NaN
    cols, _, state = probe(net, X, Y, "classification")
    assert "low_ablation_frac_l1" not in cols
    assert np.isnan(_units(state, "ablation")).all()


def test_contribution_tolerance_is_a_share_of_the_layer_total():
    """Two varying units whose first-order contributions are in the ratio 1 : 3 (same
    activations, outgoing weight 1 vs 3, one output, MSE): shares 0.25 and 0.75."""
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.zeros((4, 1))
    net = MLP.from_params([np.array([[1.0, 1.0]]), np.array([[1.0], [3.0]])],
                          [np.array([0.5, 0.5]), np.array([0.0])], "relu")
    cols, _, state = probe(net, x, y, "regression")
    np.testing.assert_allclose(_units(state, "contribution"), [0.25, 0.75], rtol=1e-12)
    assert cols["low_contribution_frac_l1"][0] == 0.0
    cols, _, _ = probe(net, x, y, "regression", contribution_tol=0.25)
    assert cols["low_contribution_frac_l1"][0] == 0.5
    cols, _, _ = probe(net, x, y, "regression", contribution_tol=0.2)
    assert cols["low_contribution_frac_l1"][0] == 0.0


def _reference_ablation(W, b, act, x, y, task):
    """Brute force: for every hidden unit, rerun the network with that unit's output
    replaced by its mean over the samples; mean |per-sample loss change|."""
    def run(override=None):
        a, acts = x, []
        for l in range(len(W) - 1):
            a = act.forward(a @ W[l] + b[l])
            if override is not None and override[0] == l:
                a = a.copy()
                a[:, override[1]] = a[:, override[1]].mean()
            acts.append(a)
        out = a @ W[-1] + b[-1]
        if task == "regression":
            return ((out - y) ** 2).mean(axis=1)
        p = out - out.max(axis=1, keepdims=True)
        return np.log(np.exp(p).sum(axis=1)) - p[np.arange(len(y)), y]
    base = run()
    return [np.array([np.abs(run((l, u)) - base).mean() for u in range(W[l].shape[1])])
            for l in range(len(W) - 1)]


@pytest.mark.parametrize("act,task", [("tanh", "regression"), ("leaky", "classification")])
def test_exact_ablation_against_brute_force(act, task):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(9, 3))
    y = rng.normal(size=(9, 2)) if task == "regression" else rng.integers(0, 2, size=9)
    W = [rng.normal(size=(3, 4)), rng.normal(size=(4, 3)), rng.normal(size=(3, 2))]
    b = [rng.normal(size=4), rng.normal(size=3), rng.normal(size=2)]
    activation = make_activation(act, alpha=0.1) if act == "leaky" else make_activation(act)
    net = MLP.from_params(W, b, activation)
    from relu_study.engine.network import augment
    from relu_study.engine.probes import mean_ablation
    got = mean_ablation(net, augment(x), y, task)
    for g, r in zip(got, _reference_ablation(W, b, activation, x, y, task)):
        np.testing.assert_allclose(g[0], r, rtol=1e-10, atol=1e-15)


def test_first_order_contribution_agrees_with_exact_ablation_to_first_order():
    """Scale every hidden unit's variation around its mean by eps (the first layer's
    weights, with non-zero biases so tanh stays smooth): the exact ablation effect is
    the first-order contribution plus O(eps^2), so their shares differ by O(eps)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3))
    y = rng.normal(size=(20, 2))
    W = [rng.normal(size=(3, 5)), rng.normal(size=(5, 4)), rng.normal(size=(4, 2))]
    b = [rng.normal(size=5), rng.normal(size=4), rng.normal(size=2)]
    errors = []
    for eps in (1e-2, 1e-3):
        net = MLP.from_params([W[0] * eps, W[1], W[2]], b, "tanh")
        _, _, state = probe(net, x, y, "regression", ablation=True)
        for l in range(2):
            c, e = state.units["contribution"][l][0], state.units["ablation"][l][0]
            assert c.min() > 0.01  # every unit matters a little: a fair comparison
            errors.append((eps, l, np.abs(c - e).max()))
    for l in range(2):
        big = next(err for eps, ll, err in errors if eps == 1e-2 and ll == l)
        small = next(err for eps, ll, err in errors if eps == 1e-3 and ll == l)
        assert small < 2e-3 and small < big / 5, errors  # shrinks like eps


def test_revival_epoch_median_and_died():
    """Unit 2 is dead at epoch 0; a bias change revives it (probe at epoch 5); it dies
    again (epoch 7) and revives again (epoch 9): revivals at 5 and 9, median 7."""
    net = MLP.from_params([W1.copy(), W2.copy()], [B1.copy(), B2.copy()], "relu")
    cols, _, state = probe(net, X, Y, "classification", epoch=0)
    assert np.isnan(cols["revival_epoch_median"][0]) and cols["died"][0] == 0
    net.b[0][0, 0, 1] = 0.5  # z = 0.5 everywhere: positive
    cols, _, state = probe(net, X, Y, "classification", state=state, epoch=5)
    assert (cols["revived"][0], cols["died"][0], cols["revival_epoch_median"][0]) == (1, 0, 5.0)
    assert cols["revival_epoch_median_l1"][0] == 5.0
    net.b[0][0, 0, 1] = -0.5
    cols, _, state = probe(net, X, Y, "classification", state=state, epoch=7)
    assert (cols["revived"][0], cols["died"][0], cols["revival_epoch_median"][0]) == (0, 1, 5.0)
    net.b[0][0, 0, 1] = 0.5
    cols, _, state = probe(net, X, Y, "classification", state=state, epoch=9)
    assert (cols["revived"][0], cols["died"][0], cols["revival_epoch_median"][0]) == (1, 0, 7.0)


def test_revival_epoch_median_counts_every_revival_over_layers():
    from relu_study.engine.probes import _median_epoch
    counts = np.array([[2, 0], [1, 0], [0, 0]])  # probes at epochs 1, 4, 9; networks 0, 1
    np.testing.assert_array_equal(_median_epoch([1, 4, 9], counts), [1.0, np.nan])
    counts = np.array([[1, 1], [1, 0], [2, 1]])  # network 0: {1, 4, 9, 9} -> 6.5; network 1: {1, 9} -> 5
    np.testing.assert_array_equal(_median_epoch([1, 4, 9], counts), [6.5, 5.0])


def test_probe_schedule():
    from relu_study.engine.probes import ProbeOptions, probe_schedule
    assert probe_schedule(20) == [0, 20]
    assert probe_schedule(0) == [0]
    # one per decade back from the last: E/10, E/100 (rounded, at least 1)
    assert probe_schedule(20, per_decade=1) == [0, 2, 20]  # 0.2 rounds to 0
    assert probe_schedule(30, per_decade=1) == [0, 3, 30]
    assert probe_schedule(100, per_decade=1) == [0, 1, 10, 100]
    assert probe_schedule(4, per_decade=1) == [0, 4]
    # three per decade back from 50: 23.2, 10.8, 5, 2.3, 1.08, 0.5
    assert probe_schedule(50, per_decade=3) == [0, 1, 2, 5, 11, 23, 50]
    assert probe_schedule(20, dense=3) == [0, 1, 2, 3, 20]
    assert probe_schedule(20, dense=3, per_decade=1) == [0, 1, 2, 3, 20]
    assert probe_schedule(5, every=1) == [0, 1, 2, 3, 4, 5]
    assert probe_schedule(20, every=7) == [0, 7, 14, 20]
    assert ProbeOptions(every=1).schedule(4) == [0, 1, 2, 3, 4]
    assert ProbeOptions().schedule(20) == [0, 20]


@pytest.mark.parametrize("key,value", [("gain_tol", -0.1), ("dormant_tau", float("nan")),
                                       ("contribution_tol", 1.5), ("every", 0), ("dense", -1),
                                       ("per_decade", -1), ("ablation", "yes"), ("max_samples", 0)])
def test_probe_options_name_the_bad_key(key, value):
    from relu_study.engine.probes import ProbeOptions
    with pytest.raises(ValueError, match=f"probe.{key}"):
        ProbeOptions(**{key: value})


def test_weight_change_since_the_first_probe():
    """w_change_l<i> = ||W_l - W_l(0)||_F / ||W_l(0)||_F per layer (biases left out),
    w_change_out for the output layer, w_change over all weight matrices."""
    net = MLP.from_params([W1, W2], [B1, B2], "relu")
    cols, _, state = probe(net, X, Y, "classification")
    assert cols["w_change_l1"][0] == 0 and cols["w_change_out"][0] == 0 and cols["w_change"][0] == 0
    d1 = np.array([[0.3, 0.0, 0.0], [0.0, 0.0, -0.4]])  # ||d1|| = 0.5
    net.W[0][0] += d1
    net.b[0][0] += 7.0  # biases do not count
    net.W[1][0, 0, 0] += 1.2
    cols, _, _ = probe(net, X, Y, "classification", state=state)
    n1, n2 = np.linalg.norm(W1), np.linalg.norm(W2)
    assert cols["w_change_l1"][0] == pytest.approx(0.5 / n1)
    assert cols["w_change_out"][0] == pytest.approx(1.2 / n2)
    assert cols["w_change"][0] == pytest.approx(np.sqrt(0.25 + 1.44) / np.sqrt(n1 ** 2 + n2 ** 2))


def test_near_zero_curve_counts_below_each_threshold():
    """probe.near_zero_curve: for each t the fraction of |a| < t * std(A) (exact
    zeros always counted), the hand-counted near_zero_frac at t = 0.2, only the
    exact zeros for a tiny t, every activation for a large one."""
    net = MLP.from_params([W1, W2], [B1, B2], "relu")
    cols, _, _ = probe(net, X, Y, "classification", near_zero_curve=[0.2, 1e-9, 10.0, 1e-3])
    assert cols["near_zero_frac_t0.2"][0] == pytest.approx(8 / 12)
    assert cols["near_zero_frac_t1e-09"][0] == pytest.approx(7 / 12)
    assert cols["near_zero_frac_t10"][0] == pytest.approx(1.0)
    assert cols["near_zero_frac_t0.001"][0] == cols["near_zero_frac"][0]  # the default threshold
    # leaky, alpha 0.5: A = Z or 0.5 Z, no exact zero; |a| < 0.2 std counted by hand
    leaky = MLP.from_params([W1, W2], [B1, B2], make_activation("leaky", alpha=0.5))
    cols, _, _ = probe(leaky, X, Y, "classification", near_zero_curve=[0.2])
    A = np.where(Z1 > 0, Z1, 0.5 * Z1)
    assert cols["near_zero_frac_t0.2"][0] == pytest.approx(np.mean(np.abs(A) < 0.2 * A.std()))
    assert "near_zero_frac_t0.2" not in probe(leaky, X, Y, "classification")[0]


@pytest.mark.parametrize("value", [[], [0.1, -1.0], [0.1, 0.1], "0.1", [float("nan")]])
def test_near_zero_curve_option_is_checked(value):
    from relu_study.engine.probes import ProbeOptionError, ProbeOptions

    with pytest.raises(ProbeOptionError) as exc:
        ProbeOptions(near_zero_curve=value)
    assert exc.value.key == "near_zero_curve"


# ------------------------------------------------------------------ frozen_frac
def test_frozen_frac_counts_units_whose_incoming_parameters_did_not_move():
    """Two networks; against a copy of the parameters: network 0 moves one weight of
    unit 1 and the bias of unit 3 (1 of 3 frozen), network 1 nothing (all frozen)."""
    net = MLP.from_params([np.stack([W1, W1]), np.stack([W2, W2])], [B1, B2], "relu")
    start = net.flat.copy()
    net.W[0][0, 1, 0] += 1e-12  # the smallest move counts: bit for bit
    net.b[0][0, 0, 2] -= 0.5
    net.W[1][:, 0, 0] += 1.0  # the output layer's weights are no hidden unit's incoming ones
    cols, _, _ = probe(net, X, Y, "classification", start=start)
    np.testing.assert_array_equal(cols["frozen_frac_l1"], [1 / 3, 1.0])
    np.testing.assert_array_equal(cols["frozen_frac"], [1 / 3, 1.0])
    fresh, _, _ = probe(net, X, Y, "classification")  # no start of the epoch: not measured
    assert np.isnan(fresh["frozen_frac"]).all() and np.isnan(fresh["frozen_frac_l1"]).all()


def test_frozen_frac_over_two_layers_is_width_weighted():
    W1b = np.eye(3)
    net = MLP.from_params([W1, W1b, W2], [B1, np.zeros(3), B2], "relu")
    start = net.flat.copy()
    net.W[0][0, :, 0] *= 2.0  # layer 1: unit 1 moves -> 2/3 frozen
    net.W[1][0, :, 1] += 0.1  # layer 2: units 2 and 3 move -> 1/3 frozen
    net.W[1][0, :, 2] += 0.1
    cols, _, _ = probe(net, X, Y, "classification", start=start)
    assert cols["frozen_frac_l1"][0] == pytest.approx(2 / 3) and cols["frozen_frac_l2"][0] == pytest.approx(1 / 3)
    assert cols["frozen_frac"][0] == pytest.approx(3 / 6)


def test_frozen_frac_in_training_is_the_dead_relu_unit_under_plain_sgd():
    """A ReLU unit with small incoming weights and bias -5 is never positive on the
    training set: no minibatch gives it a gradient, so plain SGD leaves it bit for
    bit.  With one hidden layer a dead unit stays dead, and a unit frozen over epoch
    e is exactly one dead at e - 1 (probe set = training set); weight decay still
    shrinks its weights, and then nothing is frozen."""
    from conftest import make_classification
    from relu_study.engine.optim import make_optimizer
    from relu_study.engine.probes import ProbeOptions
    from relu_study.engine.train import train

    data = make_classification(n_classes=2)
    assert np.abs(data.X_train).max() < 100  # 0.01 * |x| stays below the bias
    W = np.array([[0.8, 0.01, -0.6], [0.3, 0.01, 0.9]])
    for decay in (0.0, 1e-3):
        net = MLP.from_params([W, W2], [np.array([0.1, -5.0, 0.2]), B2], "relu")
        opt = make_optimizer("sgd", 0.1, weight_decay=decay)
        table = train(net, data, epochs=4, batch_size=8, optimizer=opt, probes=ProbeOptions(every=1),
                      epoch_stats=False).table
        frozen, dead = table["frozen_frac_l1"].to_numpy(), table["dead_frac_l1"].to_numpy()
        assert np.isnan(frozen[0]) and np.isnan(table["frozen_frac"].iloc[0])  # epoch 0: no epoch before it
        if decay == 0.0:
            assert frozen[1] == 1 / 3 and dead[0] == 1 / 3
            np.testing.assert_array_equal(frozen[1:], dead[:-1])
        else:
            np.testing.assert_array_equal(frozen[1:], 0.0)
