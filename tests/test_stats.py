"""relu_study.claims.stats on synthetic data with known answers, and the born-dead estimator
on a single input point against Lu et al.'s exact formula."""

import math

import numpy as np
import pandas as pd
import pytest

from relu_study.claims import stats as S
from relu_study.engine.network import MLP
from relu_study.engine.probes import probe


def _verdict_of(a, b, min_effect, direction=-1, kind="superiority", n_comparisons=1):
    c = S.compare(a, b)
    p_adj = S.holm([c.p] * n_comparisons)[0]
    return S.verdict(c.diff, c.lo, c.hi, p_adj, min_effect, direction, kind, n=min(c.n_a, c.n_b))


# ------------------------------------------------------------------ verdicts

def test_clear_difference_in_claimed_direction_is_supported():
    rng = np.random.default_rng(0)
    relu = rng.normal(0.40, 0.05, 30)  # e.g. dead fraction under ReLU
    leaky = rng.normal(0.10, 0.05, 30)  # much lower: the claimed direction (-1)
    assert _verdict_of(relu, leaky, 0.05, direction=-1, n_comparisons=9) == "supported"


def test_identical_arms_are_not_supported_or_inconclusive():
    rng = np.random.default_rng(1)
    x = rng.normal(0.3, 0.05, 40)
    assert _verdict_of(x, x.copy(), 0.05) in ("not supported", "inconclusive")
    # same distribution, different draws, enough seeds: the CI lies inside +-m -> not supported
    a, b = rng.normal(0.3, 0.02, 200), rng.normal(0.3, 0.02, 200)
    assert _verdict_of(a, b, 0.05) == "not supported"
    # constant and equal (zero_grad_frac 0 vs 0): no difference at all
    assert _verdict_of(np.zeros(20), np.zeros(20), 0.05) == "not supported"


def test_reversed_difference_is_contradicted():
    rng = np.random.default_rng(2)
    relu = rng.normal(0.10, 0.05, 30)
    leaky = rng.normal(0.40, 0.05, 30)  # higher, but the claim says lower
    assert _verdict_of(relu, leaky, 0.05, direction=-1) == "contradicted"
    # the same numbers with the claim pointing the other way are supported
    assert _verdict_of(relu, leaky, 0.05, direction=+1) == "supported"


def test_small_but_significant_difference_below_min_effect():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.30, 0.01, 500), rng.normal(0.29, 0.01, 500)
    # significant, but 0.01 < m = 0.05 and the CI lies inside +-m: practically no difference
    assert _verdict_of(a, b, 0.05) == "not supported"


def test_noisy_small_sample_is_inconclusive():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0.3, 0.3, 12), rng.normal(0.2, 0.3, 12)
    assert _verdict_of(a, b, 0.05) == "inconclusive"


def test_too_few_networks_is_inconclusive():
    a, b = np.array([0.5, 0.6, 0.55]), np.array([0.0, 0.01, 0.02])
    assert _verdict_of(a, b, 0.05) == "inconclusive"
    c = S.compare(a, b)
    assert S.verdict(c.diff, c.lo, c.hi, 0.001, 0.05, -1) == "supported"  # without n the rule itself says so


def test_noninferiority():
    rng = np.random.default_rng(5)
    relu = rng.uniform(0.45, 0.55, 30)
    assert _verdict_of(relu, np.zeros(30), 0.05, direction=+1, kind="noninferiority") == "contradicted"
    assert _verdict_of(relu, relu + 0.01, 0.05, direction=+1, kind="noninferiority") == "supported"
    assert _verdict_of(relu, relu - 0.01, 0.05, direction=+1, kind="noninferiority") == "supported"


def test_verdict_rule_by_hand():
    # signed effect e = direction * diff; CI likewise
    assert S.verdict(-0.3, -0.35, -0.25, 0.001, 0.05, -1) == "supported"
    assert S.verdict(-0.3, -0.35, -0.25, 0.2, 0.05, -1) == "inconclusive"  # not significant
    assert S.verdict(-0.03, -0.04, -0.02, 0.001, 0.05, -1) == "not supported"  # inside +-m
    assert S.verdict(-0.04, -0.07, -0.01, 0.001, 0.05, -1) == "inconclusive"  # too small, CI reaches m
    assert S.verdict(0.3, 0.25, 0.35, 0.001, 0.05, -1) == "contradicted"
    assert S.verdict(math.nan, math.nan, math.nan, math.nan, 0.05, -1) == "inconclusive"
    with pytest.raises(ValueError):
        S.verdict(0.1, 0.0, 0.2, 0.01, 0.05, direction=0)


def test_overall_verdict():
    assert S.overall_verdict(["supported"] * 3 + ["not supported"]) == "supported"
    assert S.overall_verdict(["supported", "contradicted", "supported"]) == "inconclusive"
    assert S.overall_verdict(["supported", "not supported"]) == "inconclusive"  # no majority
    assert S.overall_verdict(["not supported", "not supported", "inconclusive"]) == "not supported"
    assert S.overall_verdict(["n/a", "n/a"]) == "inconclusive"
    assert S.overall_verdict(["contradicted", "n/a", "contradicted"]) == "contradicted"


# ------------------------------------------------------------------ the pieces

def test_bootstrap_mean_ci_covers_known_mean():
    rng = np.random.default_rng(6)
    covered = 0
    for i in range(100):
        x = rng.normal(1.0, 1.0, 50)
        _, lo, hi = S.bootstrap_mean_ci(x, n_boot=1000, seed=i)
        covered += lo <= 1.0 <= hi
    assert 85 <= covered <= 100  # nominal 95%
    m, lo, hi = S.bootstrap_mean_ci([2.0, 2.0, 2.0])
    assert (m, lo, hi) == (2.0, 2.0, 2.0)
    assert all(math.isnan(v) for v in S.bootstrap_mean_ci([]))
    assert S.bootstrap_mean_ci([1.0, np.nan, 3.0])[0] == 2.0  # non-finite values dropped


def test_bootstrap_is_deterministic_for_a_seed():
    x, y = np.arange(20.0), np.arange(20.0) + 3
    assert S.bootstrap_diff_ci(x, y, seed=7) == S.bootstrap_diff_ci(x, y, seed=7)
    d, lo, hi = S.bootstrap_diff_ci(x, y)
    assert d == pytest.approx(3.0) and lo < 3.0 < hi


def test_mann_whitney_and_rank_biserial():
    a, b = np.arange(10.0), np.arange(10.0) + 100
    u, p = S.mann_whitney(a, b)
    assert u == 100 and p < 1e-3
    assert S.rank_biserial(a, b) == pytest.approx(1.0)
    assert S.rank_biserial(b, a) == pytest.approx(-1.0)
    assert S.mann_whitney(np.ones(5), np.ones(7)) == (17.5, 1.0)
    assert S.rank_biserial(np.ones(5), np.ones(7)) == pytest.approx(0.0)
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(8)
    x, y = rng.normal(size=15), rng.normal(0.5, 1, size=18)
    assert S.mann_whitney(x, y)[1] == pytest.approx(mannwhitneyu(y, x).pvalue)


def test_holm():
    p = [0.01, 0.04, 0.03, np.nan, 0.005]
    adj = S.holm(p)
    # sorted 0.005, 0.01, 0.03, 0.04 with m = 4: 0.02, 0.03, 0.06, 0.06 (monotone)
    np.testing.assert_allclose(adj[[4, 0, 2, 1]], [0.02, 0.03, 0.06, 0.06])
    assert np.isnan(adj[3])
    assert S.holm([0.9, 0.8])[0] == 1.0


def test_wilson():
    p, lo, hi = S.wilson(50, 100)
    assert p == 0.5 and lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
    p, lo, hi = S.wilson(0, 20)
    assert p == 0 and lo == 0 and 0.1 < hi < 0.2
    assert S.wilson(20, 20)[2] == 1.0


def test_born_dead_formula():
    assert S.born_dead_formula(1, 1) == 0.5
    assert S.born_dead_formula(10, 2) == pytest.approx(1 - 0.75 ** 10)
    np.testing.assert_allclose(S.born_dead_formula(np.array([1, 2]), 3), [1 / 8, 1 - (7 / 8) ** 2])


# ------------------------------------------------------------------ born dead at one input point

def _born_dead_at(X, depth, width, n_networks, first_seed=0):
    net = MLP(X.shape[1], [width] * depth, 1, activation="relu", seeds=range(first_seed, first_seed + n_networks),
              weight_init="he_normal", bias_init="zeros")
    y = np.zeros((len(X), 1))
    cols, _, _ = probe(net, X, y, "regression")
    table = pd.DataFrame({k: v for k, v in cols.items() if k.startswith("dead_frac_l")})
    return S.dead_networks(table), cols


@pytest.mark.parametrize("depth, width", [(1, 1), (3, 2), (10, 2), (4, 3), (6, 4)])
def test_born_dead_single_point_matches_formula(depth, width):
    """Zero biases, symmetric weights, one input x != 0: each layer is all non-positive
    with probability 2^-N given a live input, and a dead layer kills the rest, so
    P(dead) = 1 - (1 - 2^-N)^L exactly.  The Monte Carlo estimate must agree."""
    n = 3000
    dead, _ = _born_dead_at(np.array([[0.7]]), depth, width, n)
    k = int(dead.sum())
    p, lo, hi = S.wilson(k, n, level=0.999)
    assert lo <= S.born_dead_formula(depth, width) <= hi


def test_born_dead_over_a_domain_is_never_more_likely():
    X = np.linspace(-1.7, 1.7, 64)[:, None]
    dead_dom, _ = _born_dead_at(X, 6, 2, 1500)
    dead_pt, _ = _born_dead_at(X[[50]], 6, 2, 1500)
    # the same networks (same seeds): dead on the whole domain implies dead at every point of it
    assert np.all(dead_pt[dead_dom])
    assert dead_dom.mean() < dead_pt.mean()


def test_dead_networks_counts_a_fully_dead_layer_and_ignores_missing_layers():
    t = pd.DataFrame({"dead_frac_l1": [1.0, 0.5, 0.5, 0.0], "dead_frac_l2": [0.0, 1.0, 0.5, np.nan],
                      "dead_frac": [0.5, 0.75, 0.5, 0.0]})
    np.testing.assert_array_equal(S.dead_networks(t), [True, True, False, False])
    with pytest.raises(ValueError):
        S.dead_networks(pd.DataFrame({"x": [1]}))


def test_a_dead_relu_network_is_constant():
    X = np.linspace(-1.7, 1.7, 64)[:, None]
    dead, cols = _born_dead_at(X, 8, 2, 400)
    assert dead.any() and (~dead).any()
    assert np.all(cols["output_spread"][dead] == 0.0)
