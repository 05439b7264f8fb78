"""Activations: forward/derivative against finite differences, Leaky ReLU's exact
definition for every finite alpha, RReLU's modes, He gains, and errors."""

import math

import numpy as np
import pytest

from relu_study.engine.activations import (
    ACTIVATIONS,
    Identity,
    LeakyReLU,
    PReLU,
    ReLU,
    RReLU,
    activation_names,
    leaky_relu,
    make_activation,
)

# parameters that make every activation non-trivial (not the defaults where possible)
NON_DEFAULT = {
    "leaky": {"alpha": 0.3},
    "prelu": {"alpha": -0.4},
    "rrelu": {"lower": 0.1, "upper": 0.5},
    "elu": {"alpha": 1.7},
    "softplus": {"beta": 2.5},
}
PIECEWISE = {"relu", "leaky", "prelu", "rrelu", "elu"}


def _points(name):
    rng = np.random.default_rng(123)
    z = np.concatenate([rng.normal(0, 2.0, 400), np.linspace(-6, 6, 241)])
    if name in PIECEWISE:
        z = z[np.abs(z) > 1e-3]
    return z.astype(np.float64)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("params", ["default", "custom"])
def test_derivative_matches_central_differences(name, params):
    kw = NON_DEFAULT.get(name, {}) if params == "custom" else {}
    act = make_activation(name, **kw)
    z = _points(name)
    h = 1e-6
    numeric = (act.forward(z + h) - act.forward(z - h)) / (2 * h)
    analytic = act.derivative(z)
    assert analytic.shape == z.shape
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_registry_lists_expected_activations():
    expected = {"relu", "leaky", "prelu", "rrelu", "elu", "gelu", "silu", "softplus", "tanh", "identity"}
    assert set(ACTIVATIONS) == expected
    assert activation_names() == list(ACTIVATIONS)


# --------------------------------------------------------------- reference values
def test_forward_reference_values():
    z = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_array_equal(make_activation("relu").forward(z), [0, 0, 0, 0.5, 3.0])
    elu = make_activation("elu", alpha=2.0).forward(z)
    np.testing.assert_allclose(elu, [2 * (math.exp(-2) - 1), 2 * (math.exp(-0.5) - 1), 0, 0.5, 3.0], rtol=1e-14)
    from scipy.stats import norm
    np.testing.assert_allclose(make_activation("gelu").forward(z), z * norm.cdf(z), rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(make_activation("silu").forward(z), z / (1 + np.exp(-z)), rtol=1e-13)
    np.testing.assert_allclose(make_activation("softplus", beta=2.0).forward(z),
                               np.log1p(np.exp(2 * z)) / 2, rtol=1e-13)
    np.testing.assert_allclose(make_activation("tanh").forward(z), np.tanh(z), rtol=0)
    np.testing.assert_array_equal(make_activation("identity").forward(z), z)


def test_softplus_stable_for_large_inputs():
    z = np.array([-1000.0, 1000.0])
    out = make_activation("softplus", beta=1.0).forward(z)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, [0.0, 1000.0], atol=1e-300)


# --------------------------------------------------------------- Leaky ReLU
Z = np.array([-3.0, -1.0, -1e-8, 0.0, 1e-8, 0.5, 2.0])


def test_leaky_alpha_zero_is_relu():
    np.testing.assert_array_equal(LeakyReLU(alpha=0.0).forward(Z), ReLU().forward(Z))
    np.testing.assert_array_equal(LeakyReLU(alpha=0.0).derivative(Z), ReLU().derivative(Z))


def test_leaky_alpha_one_is_identity():
    np.testing.assert_array_equal(LeakyReLU(alpha=1.0).forward(Z), Z)
    np.testing.assert_array_equal(LeakyReLU(alpha=1.0).derivative(Z), np.ones_like(Z))


@pytest.mark.parametrize("alpha", [2.0, -0.5, 0.01, 0.3])
def test_leaky_defined_values_for_any_alpha(alpha):
    expected = np.array([z if z > 0 else alpha * z for z in Z])
    expected_d = np.array([1.0 if z > 0 else alpha for z in Z])
    act = LeakyReLU(alpha=alpha)
    np.testing.assert_array_equal(act.forward(Z), expected)
    np.testing.assert_array_equal(act.derivative(Z), expected_d)
    np.testing.assert_array_equal(leaky_relu(Z, alpha), expected)


def test_leaky_alpha_two_differs_from_max_formula():
    # f(-1) = -2 under the definition; max(2z, z) would give -1.
    act = LeakyReLU(alpha=2.0)
    assert act.forward(np.array([-1.0]))[0] == -2.0
    assert act.forward(np.array([1.5]))[0] == 1.5  # max(2z, z) would give 3


@pytest.mark.parametrize("alpha", [0.0, 0.1, 2.0, -0.5])
def test_derivative_at_exact_zero_is_alpha(alpha):
    z = np.zeros(3)
    np.testing.assert_array_equal(LeakyReLU(alpha=alpha).derivative(z), [alpha] * 3)
    np.testing.assert_array_equal(PReLU(alpha=alpha).derivative(z), [alpha] * 3)
    np.testing.assert_array_equal(LeakyReLU(alpha=alpha).forward(z), [0.0] * 3)


def test_relu_and_elu_derivative_at_zero_take_otherwise_branch():
    z = np.zeros(2)
    np.testing.assert_array_equal(ReLU().derivative(z), [0.0, 0.0])
    np.testing.assert_array_equal(make_activation("elu", alpha=1.5).derivative(z), [1.5, 1.5])


def test_leaky_preserves_float32():
    z = np.linspace(-2, 2, 9, dtype=np.float32)
    act = LeakyReLU(alpha=0.1)
    assert act.forward(z).dtype == np.float32
    assert act.derivative(z).dtype == np.float32


def test_prelu_per_unit_slopes_broadcast():
    z = np.array([[-1.0, -2.0, 3.0], [0.0, 1.0, -4.0]])
    slope = np.array([[0.5, -1.0, 2.0]])
    np.testing.assert_array_equal(PReLU.forward_slope(z, slope), [[-0.5, 2.0, 3.0], [0.0, 1.0, -8.0]])
    np.testing.assert_array_equal(PReLU.derivative_slope(z, slope), [[0.5, -1.0, 1.0], [0.5, 1.0, 2.0]])
    # d f / d slope = z where z <= 0 else 0
    np.testing.assert_array_equal(PReLU.slope_grad_factor(z), [[-1.0, -2.0, 0.0], [0.0, 0.0, -4.0]])


def test_prelu_slope_grad_factor_matches_finite_differences():
    rng = np.random.default_rng(0)
    z = rng.normal(size=50)
    z = z[np.abs(z) > 1e-3]
    s, h = 0.3, 1e-6
    numeric = (PReLU.forward_slope(z, s + h) - PReLU.forward_slope(z, s - h)) / (2 * h)
    np.testing.assert_allclose(PReLU.slope_grad_factor(z), numeric, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------- errors
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), "abc", None])
def test_non_finite_alpha_raises_naming_alpha(bad):
    with pytest.raises(ValueError, match="alpha"):
        LeakyReLU(alpha=bad)
    if bad is not None:  # make_activation drops None-valued parameters (the default is used)
        with pytest.raises(ValueError, match="alpha"):
            make_activation("leaky", alpha=bad)
        with pytest.raises(ValueError, match="alpha"):
            make_activation("prelu", alpha=bad)


def test_unknown_activation_lists_valid_choices():
    with pytest.raises(ValueError) as info:
        make_activation("sigmoidish")
    msg = str(info.value)
    assert "sigmoidish" in msg
    for name in ACTIVATIONS:
        assert name in msg


def test_make_activation_binds_params_and_strict_mode():
    act = make_activation("leaky", alpha=0.2, lower=0.1, upper=0.3)  # extra keys ignored
    assert isinstance(act, LeakyReLU) and act.alpha == 0.2
    with pytest.raises(ValueError):
        make_activation("leaky", alpha=0.2, beta=3.0, strict=True)
    assert make_activation("rrelu", lower=0.1, upper=0.2) == RReLU(0.1, 0.2)


def test_rrelu_rejects_lower_above_upper():
    with pytest.raises(ValueError, match="lower"):
        RReLU(lower=0.5, upper=0.1)


# --------------------------------------------------------------- RReLU
def test_rrelu_training_slopes_in_range_and_vary():
    act = RReLU(lower=0.1, upper=0.4)
    z = -np.ones((200, 50))
    a, d = act.train_forward(z, np.random.default_rng(0))
    slopes = a / z  # z = -1 everywhere, so a = -slope
    assert slopes.min() >= 0.1 and slopes.max() <= 0.4
    np.testing.assert_array_equal(d, slopes)
    assert np.unique(slopes).size > 0.99 * slopes.size  # a fresh slope per element
    assert abs(slopes.mean() - 0.25) < 0.005
    assert abs(slopes.std() - 0.3 / math.sqrt(12)) < 0.005


def test_rrelu_training_positive_side_is_identity():
    act = RReLU(lower=0.1, upper=0.4)
    z = np.linspace(0.01, 3, 100)
    a, d = act.train_forward(z, np.random.default_rng(1))
    np.testing.assert_array_equal(a, z)
    np.testing.assert_array_equal(d, np.ones_like(z))


def test_rrelu_training_is_reproducible_from_generator():
    act = RReLU()
    z = np.random.default_rng(5).normal(size=(7, 3))
    a1, _ = act.train_forward(z, np.random.default_rng(9))
    a2, _ = act.train_forward(z, np.random.default_rng(9))
    np.testing.assert_array_equal(a1, a2)


def test_rrelu_eval_uses_mean_slope():
    act = RReLU(lower=0.1, upper=0.5)
    z = np.array([-2.0, -1.0, 0.0, 1.0])
    np.testing.assert_allclose(act.forward(z), [-0.6, -0.3, 0.0, 1.0], rtol=1e-15)
    np.testing.assert_allclose(act.derivative(z), [0.3, 0.3, 0.3, 1.0], rtol=1e-15)
    a, d = act.train_forward(z, None)  # no generator: evaluation mode
    np.testing.assert_array_equal(a, act.forward(z))


# --------------------------------------------------------------- gains
@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.2, 1.0, 2.0, -0.5])
def test_leaky_gain(alpha):
    assert LeakyReLU(alpha=alpha).gain == pytest.approx(math.sqrt(2.0 / (1.0 + alpha**2)), rel=1e-15)
    assert PReLU(alpha=alpha).gain == pytest.approx(math.sqrt(2.0 / (1.0 + alpha**2)), rel=1e-15)


def test_relu_identity_rrelu_gain():
    assert ReLU().gain == pytest.approx(math.sqrt(2.0))
    assert Identity().gain == 1.0
    r = RReLU(0.1, 0.3)
    assert r.gain == pytest.approx(math.sqrt(2.0 / (1.0 + 0.2**2)))


_MC_Z = np.random.default_rng(2024).standard_normal(2_000_000)


@pytest.mark.parametrize("name,kw", [
    ("relu", {}), ("leaky", {"alpha": 0.3}), ("elu", {}), ("elu", {"alpha": 0.5}), ("gelu", {}),
    ("silu", {}), ("softplus", {}), ("softplus", {"beta": 3.0}), ("tanh", {}), ("identity", {}),
])
def test_gain_matches_monte_carlo(name, kw):
    act = make_activation(name, **kw)
    mc = 1.0 / math.sqrt(np.mean(act.forward(_MC_Z) ** 2))
    assert act.gain == pytest.approx(mc, rel=5e-3)


def test_smooth_gains_known_values():
    # gain = 1/sqrt(E[f(z)^2]) by adaptive quadrature; ELU's kink at 0 limits the
    # Gauss-Hermite rule's accuracy to ~1e-5, hence rel=1e-4.
    from scipy.integrate import quad
    from scipy.stats import norm
    for name in ("tanh", "gelu", "elu", "silu"):
        act = make_activation(name)
        m2, _ = quad(lambda t, act=act: act.forward(np.array([t]))[0] ** 2 * norm.pdf(t), -40, 40, points=[0.0],
                     limit=200)
        assert act.gain == pytest.approx(1.0 / math.sqrt(m2), rel=1e-4), name


def test_leaky_derivative_of_integer_input_keeps_the_slope():
    from relu_study.engine.activations import make_activation

    act = make_activation("leaky", alpha=0.1)
    np.testing.assert_array_equal(act.derivative(np.array([-2, 0, 3])), [0.1, 0.1, 1.0])
    np.testing.assert_array_equal(act.forward(np.array([-2, 0, 3])), [-0.2, 0.0, 3.0])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("alpha", [None, 0.0, 1.5, -0.5])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_into_kernels_equal_the_plain_ones_also_in_place(name, alpha, dtype):
    """The network's passes write f(z) and f'(z) into given arrays, and the training
    step overwrites z itself with f(z): bitwise the values of value_and_derivative,
    NaN and infinities included."""
    params = dict(NON_DEFAULT.get(name, {}))
    if alpha is not None and "alpha" in ACTIVATIONS[name].params:
        params["alpha"] = alpha
    act = make_activation(name, **params)
    z = np.concatenate([_points(name), [0.0, -0.0, np.inf, -np.inf, np.nan]]).astype(dtype)[None, :]
    with np.errstate(all="ignore"):  # inf * 0 and the like: NaN, as in the plain kernels
        _check_into_kernels(act, z)


def _check_into_kernels(act, z):
    value, derivative = act.value_and_derivative(z)
    a, d = np.empty_like(z), np.empty_like(z)
    act.value_and_derivative_into(z, a, d)
    np.testing.assert_array_equal(a, value)
    np.testing.assert_array_equal(d, derivative)
    inplace, d2 = z.copy(), np.empty_like(z)
    act.value_and_derivative_into(inplace, inplace, d2)
    np.testing.assert_array_equal(inplace, value)
    np.testing.assert_array_equal(d2, derivative)
    out = np.empty_like(z)
    act.forward_into(z, out)
    np.testing.assert_array_equal(out, act.forward(z))
