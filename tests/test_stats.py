"""relu_study.claims.stats against scipy and published examples, the verdict rules by
hand, and the born-dead estimator on a single input point against Lu et al.'s formula."""

import math

import numpy as np
import pandas as pd
import pytest

from relu_study.claims import stats as S
from relu_study.engine.network import MLP
from relu_study.engine.probes import probe


# ------------------------------------------------------------------ paired tests and intervals against scipy

def test_paired_continuous_matches_scipy_wilcoxon_and_bca_bootstrap():
    from scipy.stats import bootstrap, wilcoxon

    rng = np.random.default_rng(0)
    relu = rng.normal(0.4, 0.05, 30)
    arm = relu - 0.1 + rng.normal(0, 0.03, 30)  # the same seeds: arm tracks relu
    c = S.compare_paired(relu, arm, bounds=(0, 1), seed=3)
    d = arm - relu
    assert c.paired and not c.binary and c.n == 30
    assert c.effect == pytest.approx(d.mean())
    assert c.p == pytest.approx(wilcoxon(d, zero_method="pratt").pvalue)
    # zeros and ties: the normal approximation with tie correction
    t = np.array([0.0, 0.0, 0.1, -0.1, 0.2, 0.2, 0.3, 0.3, 0.3, -0.05, 0.4, 0.1])
    assert S.wilcoxon_signed_rank(t) == pytest.approx(wilcoxon(t, zero_method="pratt", method="approx").pvalue)
    ref = bootstrap((d,), np.mean, n_resamples=S.N_BOOT, method="BCa", rng=np.random.default_rng(3))
    assert (c.lo, c.hi) == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high))
    assert c.half_width == pytest.approx((c.hi - c.lo) / 2)


def test_pairing_gains_power_an_unpaired_test_lacks():
    rng = np.random.default_rng(1)
    seedwise = rng.normal(0.3, 0.2, 25)  # large differences between seeds, shared by both arms
    relu, arm = seedwise, seedwise - 0.05 + rng.normal(0, 0.01, 25)
    paired, unpaired = S.compare_paired(relu, arm), S.compare_unpaired(relu, arm)
    assert paired.p < 1e-4 < 0.05 < unpaired.p
    assert paired.half_width < unpaired.half_width / 5


def test_paired_pairs_with_a_missing_value_are_dropped():
    a, b = np.array([0.1, 0.2, np.nan, 0.4]), np.array([0.0, np.nan, 0.3, 0.3])
    c = S.compare_paired(a, b)
    assert c.n == 2 and c.effect == pytest.approx(-0.1)
    with pytest.raises(ValueError, match="differ in length"):
        S.compare_paired([1, 2], [1])


def test_mcnemar_is_the_exact_binomial_test_on_discordant_pairs():
    from scipy.stats import binomtest

    relu = np.array([1] * 12 + [0] * 18, dtype=float)
    arm = np.array([0] * 9 + [1] * 3 + [1] * 2 + [0] * 16, dtype=float)  # 9 only-ReLU, 2 only-arm
    c = S.compare_paired(relu, arm, binary=True)
    assert (c.n10, c.n01) == (2, 9)
    assert c.p == pytest.approx(binomtest(2, 11, 0.5).pvalue)
    assert c.effect == pytest.approx((5 - 12) / 30)
    assert S.mcnemar_exact(0, 0) == 1.0


def test_newcombe_paired_published_example():
    """Fagerland, Lydersen and Laake (contingencytables, chapter 8): 59, 6, 16, 80
    gives -0.0621 (95% CI -0.1186 to -0.0046) by Newcombe's square-and-add method."""
    d, lo, hi = S.newcombe_paired(59, 6, 16, 80)
    assert (d, lo, hi) == pytest.approx((-0.0621, -0.1186, -0.0046), abs=5e-5)


def test_newcombe_unpaired_published_examples():
    # Newcombe 1998 (method 10): 56/70 vs 48/80 -> 0.0524 to 0.3339
    assert S.newcombe_unpaired(56, 70, 48, 80)[1:] == pytest.approx((0.0524, 0.3339), abs=5e-5)
    # Perondi et al. 2004 in Fagerland et al.: 7/34 vs 1/34 -> 0.1765 (0.0189 to 0.3404)
    assert S.newcombe_unpaired(7, 34, 1, 34) == pytest.approx((0.1765, 0.0189, 0.3404), abs=5e-5)


def test_fisher_matches_scipy():
    from scipy.stats import fisher_exact

    assert S.fisher_exact(7, 34, 1, 34) == pytest.approx(fisher_exact([[7, 27], [1, 33]]).pvalue)
    c = S.compare_unpaired(np.r_[np.ones(1), np.zeros(33)], np.r_[np.ones(7), np.zeros(27)], binary=True)
    assert not c.paired and c.test == "Fisher (exact)" and c.effect == pytest.approx(6 / 34)


def test_binary_intervals_at_zero_and_n_of_n_are_never_zero_width():
    assert S.wilson(0, 30) == pytest.approx((0.0, 0.0, 0.1135), abs=1e-4)  # the "rule of three" region
    assert S.wilson(30, 30) == pytest.approx((1.0, 0.8865, 1.0), abs=1e-4)
    # 0/30 vs 0/30, paired: the interval reflects the sample size, not [0, 0]
    c = S.compare_paired(np.zeros(30), np.zeros(30), binary=True)
    assert c.effect == 0 and c.lo == pytest.approx(-0.1135, abs=1e-4) and c.hi == pytest.approx(0.1135, abs=1e-4)
    assert c.p == 1.0
    c = S.compare_paired(np.ones(30), np.ones(30), binary=True)
    assert c.hi - c.lo > 0.2
    c = S.compare_paired(np.zeros(30), np.ones(30), binary=True)
    # both Wilson half-widths combine: 1 - sqrt(0.1135^2 + 0.1135^2)
    assert c.effect == 1 and c.lo == pytest.approx(1 - math.hypot(0.1135, 0.1135), abs=1e-3) and c.hi == 1
    c = S.compare_unpaired(np.zeros(30), np.zeros(30), binary=True)
    assert c.lo == pytest.approx(-0.1135, abs=1e-4) and c.hi == pytest.approx(0.1135, abs=1e-4)
    # with more networks the interval narrows
    assert S.compare_paired(np.zeros(300), np.zeros(300), binary=True).hi < 0.02


def test_constant_continuous_samples_get_the_interval_their_size_allows():
    # a fraction of exactly 0 in every network: [0, 0.11] for 30 networks, not [0, 0]
    assert S.mean_interval(np.zeros(30), bounds=(0, 1)) == pytest.approx((0, 0, 0.1135), abs=1e-4)
    # paired differences of two constant fractions lie in [-1, 1]
    c = S.compare_paired(np.zeros(30), np.zeros(30), bounds=(0, 1))
    assert (c.lo, c.hi) == pytest.approx((-0.1135, 0.1135), abs=1e-4)
    # an unbounded metric cannot bound a constant sample: the interval is infinite
    lo, hi = S.constant_interval(-12.0, 30, bounds=(-12.0, math.inf))
    assert lo == -12.0 and hi == math.inf
    c = S.compare_paired(np.full(30, -12.0), np.full(30, -12.0), bounds=(-12.0, math.inf))
    assert c.lo == -math.inf and c.hi == math.inf
    assert all(math.isnan(v) for v in S.mean_interval([]))


def test_holm():
    p = [0.01, 0.04, 0.03, np.nan, 0.005]
    adj = S.holm(p)
    # sorted 0.005, 0.01, 0.03, 0.04 with m = 4: 0.02, 0.03, 0.06, 0.06 (monotone)
    np.testing.assert_allclose(adj[[4, 0, 2, 1]], [0.02, 0.03, 0.06, 0.06])
    assert np.isnan(adj[3])
    assert S.holm([0.9, 0.8])[0] == 1.0


def test_mann_whitney_matches_scipy():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(8)
    x, y = rng.normal(size=15), rng.normal(0.5, 1, size=18)
    assert S.mann_whitney(x, y) == pytest.approx(mannwhitneyu(y, x).pvalue)
    assert S.mann_whitney(np.ones(5), np.ones(7)) == 1.0


# ------------------------------------------------------------------ verdicts

def test_verdict_rule_by_hand():
    # signed effect e = direction * effect; interval likewise
    assert S.verdict(-0.3, -0.35, -0.25, 0.001, 0.05, -1) == "supported"
    assert S.verdict(-0.3, -0.35, -0.25, 0.2, 0.05, -1) == "inconclusive"  # not significant
    assert S.verdict(-0.03, -0.04, -0.02, 0.001, 0.05, -1) == "not supported"  # inside +-m
    assert S.verdict(-0.04, -0.07, -0.01, 0.001, 0.05, -1) == "inconclusive"  # too small, interval reaches m
    assert S.verdict(0.3, 0.25, 0.35, 0.001, 0.05, -1) == "contradicted"
    assert S.verdict(-0.3, -0.35, -0.25, 0.001, 0.05, -1, n=9) == "inconclusive"  # too few pairs
    assert S.verdict(-0.3, -0.35, -0.25, 0.001, 0.05, -1, n=9, min_n=5) == "supported"
    assert S.verdict(0.0, -math.inf, math.inf, 1.0, 0.05, -1) == "inconclusive"
    assert S.verdict(math.nan, math.nan, math.nan, math.nan, 0.05, -1) == "inconclusive"
    with pytest.raises(ValueError):
        S.verdict(0.1, 0.0, 0.2, 0.01, 0.05, direction=0)


def test_noninferiority_rule():
    assert S.verdict(-0.01, -0.03, 0.01, 0.5, 0.05, +1, "noninferiority") == "supported"
    assert S.verdict(-0.5, -0.52, -0.48, 1e-6, 0.05, +1, "noninferiority") == "contradicted"
    assert S.verdict(-0.05, -0.09, -0.01, 0.01, 0.05, +1, "noninferiority") == "inconclusive"


def test_zero_vs_zero_binary_is_not_automatically_not_supported():
    """The complaint of the old report: 0/30 vs 0/30 gave [0, 0] and 'not supported'.
    Now the interval (±0.11) is wider than a minimal effect of 0.05: inconclusive."""
    c = S.compare_paired(np.zeros(30), np.zeros(30), binary=True)
    assert S.verdict(c.effect, c.lo, c.hi, c.p, 0.05, -1, n=c.n) == "inconclusive"
    assert S.verdict(c.effect, c.lo, c.hi, c.p, 0.15, -1, n=c.n) == "not supported"


def test_combine_over_settings_and_arms():
    assert S.combine(["supported", "supported", "inconclusive"]) == "supported"
    assert S.combine(["supported", "inconclusive", "inconclusive"]) == "inconclusive"  # fewer than half resolved
    assert S.combine(["supported", "not supported"]) == S.DEPENDS
    assert S.combine(["supported", "contradicted", "supported"]) == S.DEPENDS
    assert S.combine(["not supported", "contradicted"]) == "contradicted"  # both against; tie -> contradicted
    assert S.combine(["not supported", "not supported", "contradicted"]) == "not supported"
    assert S.combine([S.DEPENDS, "supported"]) == S.DEPENDS
    assert S.combine(["n/a", "n/a"]) == "inconclusive"
    assert S.combine([]) == "inconclusive"


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


# ----------------------------------------------------------------- Kaplan-Meier and log-rank

# A hand-worked example: group A has events at 1, 3, 4 (and censoring at 3 and 6),
# group B events at 2, 5, 7 (and censoring at 2).
KM_A = ([1, 3, 3, 4, 6], [1, 1, 0, 1, 0])
KM_B = ([2, 2, 5, 7], [1, 0, 1, 1])


def test_kaplan_meier_against_a_hand_computed_case():
    """S(1) = 4/5, S(3) = 4/5 * 3/4, S(4) = 0.6 * 1/2; those censored at 3 are
    still at risk at 3; Greenwood's variance on the log(-log) scale at t = 1 by hand."""
    km = S.kaplan_meier(*KM_A)
    np.testing.assert_array_equal(km.t, [1, 3, 4])
    np.testing.assert_array_equal(km.at_risk, [5, 4, 2])
    np.testing.assert_array_equal(km.events, [1, 1, 1])
    np.testing.assert_allclose(km.S, [0.8, 0.6, 0.3])
    assert km.at(0.5) == 1.0 and km.at(3.5) == pytest.approx(0.6) and km.at(100) == pytest.approx(0.3)
    # t = 1: Greenwood sum 1/(5*4); se of log(-log S) = sqrt(0.05) / |ln 0.8|
    log_s = math.log(0.8)
    se = math.sqrt(1 / 20) / abs(log_s)
    z = 1.959963984540054
    assert km.lo[0] == pytest.approx(math.exp(-math.exp(math.log(-log_s) + z * se)), rel=1e-9)
    assert km.hi[0] == pytest.approx(math.exp(-math.exp(math.log(-log_s) - z * se)), rel=1e-9)
    assert km.lo[0] == pytest.approx(0.2038, abs=1e-4) and km.hi[0] == pytest.approx(0.9692, abs=1e-4)
    # no censoring: S is one minus the empirical distribution function
    full = S.kaplan_meier([1, 2, 2, 4], [1, 1, 1, 1])
    np.testing.assert_allclose(full.S, [0.75, 0.25, 0.0])


def test_logrank_against_a_hand_computed_case():
    """Event times 1, 2, 3, 4, 5, 7 with (n_A, n_B, d) = (5,4,1), (4,4,1), (4,2,1),
    (2,2,1), (1,2,1), (0,1,1): O_B = 3, E_B = 4/9 + 1/2 + 1/3 + 1/2 + 2/3 + 1,
    V = 160/648 + 1/4 + 8/36 + 1/4 + 4/18 (+ 0 where one is at risk)."""
    from scipy.stats import chi2

    e_b = 4 / 9 + 1 / 2 + 1 / 3 + 1 / 2 + 2 / 3 + 1
    v = 160 / 648 + 1 / 4 + 8 / 36 + 1 / 4 + 4 / 18
    stat, p = S.logrank(*KM_A, *KM_B)
    assert stat == pytest.approx((3 - e_b) ** 2 / v) and stat == pytest.approx(0.165803, abs=1e-6)
    assert p == pytest.approx(chi2.sf((3 - e_b) ** 2 / v, 1))
    # symmetric in the two groups; identical groups give chi2 = 0
    assert S.logrank(*KM_B, *KM_A)[0] == pytest.approx(stat)
    assert S.logrank(*KM_A, *KM_A)[:2] == (0.0, 1.0)
    # no event at all: nothing to test
    assert S.logrank([3, 4], [0, 0], [5], [0])[1] == 1.0
