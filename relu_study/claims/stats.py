"""Claim statistics: paired and unpaired tests, intervals, Holm, verdict rules.

Everything here takes plain arrays and counts and returns numbers; the study
modules (:mod:`relu_study.claims.studies`) decide what to compare.

The studies are *paired*: every arm trains the same network seeds, so seed s
of an arm and seed s of ReLU share their initial draws (scaled by each
activation's gain) and their minibatch order.  A comparison therefore works on
the per-seed difference arm - ReLU:

* continuous metric: mean difference, a BCa bootstrap interval of that mean
  (:func:`scipy.stats.bootstrap`) and the Wilcoxon signed-rank test (Pratt's
  treatment of zero differences, which are common: two networks with the same
  dead units give exactly 0);
* binary outcome (diverged, collapsed, failed): difference of the two
  proportions, Newcombe's interval for paired proportions (method 10 of
  Newcombe 1998, built from Wilson intervals) and the exact McNemar test
  (a binomial test on the discordant pairs).

When arms cannot be paired (different seeds) the unpaired versions are used:
an independent-resampling bootstrap and the Mann-Whitney U test, or Newcombe's
hybrid score interval (method 10 of Newcombe 1998, independent samples) and
Fisher's exact test.

No interval is ever zero-width.  A constant sample (0/30 diverged in both arms,
or a zero-gradient fraction of exactly 0 in every network) says the variation
is rare, not absent: its interval is the one the sample size allows, from the
Wilson bound for "0 of n deviate" (0.11 for n = 30), scaled by how far the
value can move within its bounds.  An unbounded metric with a constant sample
gets an infinite interval: nothing can be resolved.

:func:`verdict` turns a comparison into one of :data:`VERDICTS`;
:func:`combine` turns the verdicts of several settings (one arm) or several arms
(one claim) into one, which may be :data:`DEPENDS`.  The rules are quoted in
:data:`VERDICT_RULE`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ALPHA", "DEPENDS", "LEVEL", "MIN_N", "N_BOOT", "VERDICTS", "VERDICT_RULE", "WORDS", "Comparison",
    "born_dead_formula", "combine", "compare_paired", "compare_unpaired", "constant_interval", "dead_networks",
    "Survival", "fisher_exact", "holm", "kaplan_meier", "logrank", "mann_whitney", "mcnemar_exact", "mean_interval",
    "newcombe_paired", "newcombe_unpaired", "verdict", "wilcoxon_signed_rank", "wilson",
]

#: significance level (applied to Holm-adjusted p-values)
ALPHA = 0.05
#: confidence level of every interval
LEVEL = 0.95
#: bootstrap resamples
N_BOOT = 4000
#: fewer pairs (or networks per arm, unpaired) than this: the comparison is inconclusive
MIN_N = 10
#: the four verdict words of one comparison
VERDICTS = ("supported", "not supported", "contradicted", "inconclusive")
#: the fifth word, for an arm over settings or a claim over arms whose resolved verdicts disagree
DEPENDS = "depends on slope or setting"
#: every verdict word
WORDS = (*VERDICTS, DEPENDS)
#: verdicts that count as evidence against a claim
AGAINST = ("not supported", "contradicted")

VERDICT_RULE = f"""\
**Comparisons are paired.** Every arm trains the same network seeds, so seed s of an arm and seed s of ReLU
share their initial weight draws (scaled by each activation's gain) and their minibatch order; the effect is
the mean over seeds of the difference arm − ReLU in the same setting. Continuous metrics: BCa bootstrap 95%
interval of that mean ({N_BOOT} resamples) and the Wilcoxon signed-rank test (Pratt's treatment of zero
differences). Binary outcomes: Newcombe's 95% interval for the difference of paired proportions and the exact
McNemar test. Where arms cannot be paired, the unpaired counterparts are used (independent bootstrap and
Mann-Whitney U; Newcombe's hybrid score interval and Fisher's exact test) and the table says so. A constant
sample never gives a zero-width interval: 0 of 30 events has the Wilson upper bound 0.11, and a difference of
two constant arms gets the interval that bound allows.

**Verdict of one comparison.** p is Holm-adjusted over the comparisons of the same metric within a claim's
analysis (every arm and setting that passes the gate). Each metric has a claimed direction and a minimal
practical effect m, fixed before the data (relative to the ReLU level in the same setting, with a floor).
With the signed effect e = direction × effect and its signed interval [lo, hi]:

* **supported**: p_adj < {ALPHA}, lo > 0 and e ≥ m (significant, in the claimed direction, large enough);
* **contradicted**: p_adj < {ALPHA}, hi < 0 and −e ≥ m (the same in the opposite direction);
* **not supported**: −m < lo and hi < m (the interval lies inside ±m: equivalence shown, no relevant effect);
* **inconclusive**: anything else (the seeds do not resolve it), and always with fewer than {MIN_N} pairs.

A claim that an arm is *as good as* ReLU (non-inferiority): **supported** if lo > −m; **contradicted** if
p_adj < {ALPHA} and hi < −m; otherwise **inconclusive**.

**Verdict of an arm** (over the settings that pass the gate) and **of a claim** (over its arms): when
resolved verdicts point both ways (some supported, some not supported or contradicted) the answer is
**{DEPENDS}**; when fewer than half are resolved it is **inconclusive**; otherwise it is the resolved
verdict (supported; or, among the verdicts against, contradicted if at least half of them are, else not
supported). "Not supported" and "contradicted" both count as evidence against."""


# ----------------------------------------------------------------- proportions

def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2))


def wilson(k: int, n: int, level: float = LEVEL) -> tuple[float, float, float]:
    """``(k/n, lo, hi)``: the Wilson score interval of a binomial proportion
    (``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``).  NaNs
    when ``n`` is 0.  0 of 30 gives ``(0, 0, 0.114)``."""
    from scipy.stats import binomtest

    if n <= 0:
        return (math.nan,) * 3
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return k / n, float(ci.low), float(ci.high)


def newcombe_unpaired(k1: int, n1: int, k2: int, n2: int, level: float = LEVEL) -> tuple[float, float, float]:
    """``(p1 - p2, lo, hi)``: Newcombe's hybrid score interval for the difference
    of two independent proportions (Newcombe 1998, Stat Med 17:873, method 10),
    from the Wilson intervals of each (a few lines over :func:`wilson`; scipy
    has no interval for a difference of proportions)."""
    if n1 <= 0 or n2 <= 0:
        return (math.nan,) * 3
    p1, l1, u1 = wilson(k1, n1, level)
    p2, l2, u2 = wilson(k2, n2, level)
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, max(-1.0, lo), min(1.0, hi)


def newcombe_paired(n11: int, n10: int, n01: int, n00: int, level: float = LEVEL) -> tuple[float, float, float]:
    """``(p1 - p2, lo, hi)`` for paired proportions (Newcombe 1998, Stat Med
    17:2635, method 10).  Hand-written: no library in the dependencies
    (scipy, statsmodels' ``confint_proportions_2indep`` is for independent
    samples) gives this paired interval.  ``n10``: pairs where the first is 1 and the second 0;
    ``p1 = (n11 + n10) / n``, ``p2 = (n11 + n01) / n``.  The Wilson intervals of
    p1 and p2 are combined with the (continuity-corrected) correlation phi."""
    n = n11 + n10 + n01 + n00
    if n <= 0:
        return (math.nan,) * 3
    a, b, c, d = n11, n10, n01, n00
    p1, l1, u1 = wilson(a + b, n, level)
    p2, l2, u2 = wilson(a + c, n, level)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    phi = 0.0
    if margins > 0:
        ad_bc = a * d - b * c
        if ad_bc > n / 2:
            phi = (ad_bc - n / 2) / math.sqrt(margins)
        elif ad_bc < 0:
            phi = ad_bc / math.sqrt(margins)
    diff = p1 - p2
    dl = (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2
    du = (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2
    return diff, max(-1.0, diff - math.sqrt(max(dl, 0.0))), min(1.0, diff + math.sqrt(max(du, 0.0)))


def mcnemar_exact(n10: int, n01: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of ``n10`` successes in
    ``n10 + n01`` discordant pairs at 1/2 (1 when there is no discordant pair)."""
    from scipy.stats import binomtest

    m = int(n10) + int(n01)
    if m == 0:
        return 1.0
    return float(binomtest(int(n10), m, 0.5).pvalue)


def fisher_exact(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of Fisher's exact test on ``k1/n1`` vs ``k2/n2``."""
    from scipy.stats import fisher_exact as _fisher

    if n1 <= 0 or n2 <= 0:
        return math.nan
    return float(_fisher([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)


# ----------------------------------------------------------------- continuous

def _finite(x) -> np.ndarray:
    x = np.asarray(x, dtype=float).ravel()
    return x[np.isfinite(x)]


def constant_interval(value: float, n: int, bounds=None, level: float = LEVEL) -> tuple[float, float]:
    """The interval of the mean of a variable observed ``n`` times at exactly
    ``value``.  With ``bounds = (low, high)`` of the variable: the share of the
    population that differs from ``value`` is at most the Wilson upper bound
    ``u`` of 0 in n, so the mean lies in ``[value - u (value - low),
    value + u (high - value)]``.  Without bounds (or with infinite ones) the
    corresponding end is infinite."""
    u = wilson(0, max(int(n), 1), level)[2]
    low, high = bounds if bounds is not None else (-math.inf, math.inf)
    lo = value - u * (value - low) if math.isfinite(low) else -math.inf
    hi = value + u * (high - value) if math.isfinite(high) else math.inf
    return float(lo), float(hi)


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def mean_interval(x, bounds=None, level: float = LEVEL, n_boot: int = N_BOOT, seed=0) -> tuple[float, float, float]:
    """``(mean, lo, hi)`` of ``x`` (non-finite values dropped): a BCa bootstrap
    interval of the mean (percentile when BCa is undefined), or
    :func:`constant_interval` when the sample has no spread.  NaNs when empty."""
    from scipy.stats import bootstrap

    x = _finite(x)
    if not len(x):
        return (math.nan,) * 3
    m = float(x.mean())
    if len(x) == 1 or np.all(x == x[0]):
        return (m, *constant_interval(m, len(x), bounds, level))
    lo = hi = math.nan
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = bootstrap((x,), np.mean, n_resamples=n_boot, confidence_level=level, method=method,
                            rng=_rng(seed), vectorized=True)
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(lo) and math.isfinite(hi) and hi > lo:
            break
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        return (m, *constant_interval(m, len(x), bounds, level))
    return m, min(lo, m), max(hi, m)


def _diff_bounds(bounds):
    if bounds is None:
        return None
    low, high = bounds
    return (low - high, high - low)


def wilcoxon_signed_rank(d) -> float:
    """Two-sided p-value of the Wilcoxon signed-rank test of the differences
    ``d`` against 0 (``scipy.stats.wilcoxon``, ``zero_method="pratt"``); 1 when
    every difference is 0, NaN when ``d`` is empty.  With zeros or tied
    magnitudes the normal approximation (with tie correction) is used: scipy's
    default would run a permutation test, far slower for the same answer at
    the sample sizes that can reach a verdict."""
    from scipy.stats import wilcoxon

    d = _finite(d)
    if not len(d):
        return math.nan
    if np.all(d == 0):
        return 1.0
    nonzero = np.abs(d[d != 0])
    method = "approx" if len(nonzero) < len(d) or len(np.unique(nonzero)) < len(nonzero) else "auto"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(wilcoxon(d, zero_method="pratt", method=method).pvalue)


def mann_whitney(a, b) -> float:
    """Two-sided Mann-Whitney U p-value of ``b`` against ``a`` (1 when every
    value in both is the same, NaN when one is empty)."""
    from scipy.stats import mannwhitneyu

    a, b = _finite(a), _finite(b)
    if not len(a) or not len(b):
        return math.nan
    both = np.concatenate([a, b])
    if np.all(both == both[0]):
        return 1.0
    return float(mannwhitneyu(b, a, alternative="two-sided").pvalue)


def _unpaired_diff_interval(a, b, bounds, level, n_boot, seed):
    from scipy.stats import bootstrap

    d = float(b.mean() - a.mean())
    if np.all(a == a[0]) and np.all(b == b[0]):
        return (d, *constant_interval(d, min(len(a), len(b)), _diff_bounds(bounds), level))

    def stat(y, x, axis=-1):
        return y.mean(axis=axis) - x.mean(axis=axis)

    lo = hi = math.nan
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = bootstrap((b, a), stat, n_resamples=n_boot, confidence_level=level, method=method,
                            rng=_rng(seed), vectorized=True)
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(lo) and math.isfinite(hi) and hi > lo:
            break
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        return (d, *constant_interval(d, min(len(a), len(b)), _diff_bounds(bounds), level))
    return d, min(lo, d), max(hi, d)


# ----------------------------------------------------------------- comparisons

@dataclass
class Comparison:
    """One arm (``b``) against the baseline (``a``) on one metric, before Holm.

    ``n``: pairs used (paired) or the smaller arm's networks (unpaired);
    ``level_a``/``level_b``: the two means (proportions for binary outcomes)
    over the networks used; ``effect`` = level_b - level_a with ``[lo, hi]``;
    ``n10``/``n01`` (binary, paired): pairs where only the arm / only the
    baseline has the event."""

    paired: bool
    binary: bool
    n: int
    n_a: int
    n_b: int
    level_a: float
    level_b: float
    effect: float
    lo: float
    hi: float
    p: float
    test: str
    interval: str
    n10: int = 0
    n01: int = 0

    @property
    def half_width(self) -> float:
        """Half the interval's width: the smallest effect these seeds resolve."""
        return (self.hi - self.lo) / 2 if math.isfinite(self.lo) and math.isfinite(self.hi) else math.inf


def _empty(paired, binary, test, interval) -> Comparison:
    nan = math.nan
    return Comparison(paired, binary, 0, 0, 0, nan, nan, nan, nan, nan, nan, test, interval)


def compare_paired(a, b, binary: bool = False, bounds=None, level: float = LEVEL, n_boot: int = N_BOOT,
                   seed=0) -> Comparison:
    """Paired comparison of ``b`` (arm) with ``a`` (baseline): ``a[i]`` and
    ``b[i]`` are the same seed.  Pairs where either value is not finite are
    dropped.  Binary values must be 0 or 1."""
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {len(a)} and {len(b)}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    n = len(a)
    if binary:
        if n and not np.isin(np.concatenate([a, b]), (0.0, 1.0)).all():
            raise ValueError("binary outcomes must be 0 or 1")
        if not n:
            return _empty(True, True, "McNemar (exact)", "Newcombe paired")
        a1, b1 = a == 1, b == 1
        n11, n10 = int((b1 & a1).sum()), int((b1 & ~a1).sum())
        n01, n00 = int((~b1 & a1).sum()), int((~b1 & ~a1).sum())
        eff, lo, hi = newcombe_paired(n11, n10, n01, n00, level)
        return Comparison(True, True, n, n, n, float(a.mean()), float(b.mean()), eff, lo, hi,
                          mcnemar_exact(n10, n01), "McNemar (exact)", "Newcombe paired", n10, n01)
    if not n:
        return _empty(True, False, "Wilcoxon signed-rank", "BCa bootstrap, paired")
    eff, lo, hi = mean_interval(b - a, _diff_bounds(bounds), level, n_boot, seed)
    return Comparison(True, False, n, n, n, float(a.mean()), float(b.mean()), eff, lo, hi,
                      wilcoxon_signed_rank(b - a), "Wilcoxon signed-rank", "BCa bootstrap, paired")


def compare_unpaired(a, b, binary: bool = False, bounds=None, level: float = LEVEL, n_boot: int = N_BOOT,
                     seed=0) -> Comparison:
    """Unpaired comparison of ``b`` (arm) with ``a`` (baseline), for arms that
    do not share seeds.  Non-finite values are dropped."""
    a, b = _finite(a), _finite(b)
    if not len(a) or not len(b):
        return _empty(False, binary, "Fisher (exact)" if binary else "Mann-Whitney U",
                      "Newcombe hybrid score" if binary else "BCa bootstrap, independent")
    n = min(len(a), len(b))
    if binary:
        if not np.isin(np.concatenate([a, b]), (0.0, 1.0)).all():
            raise ValueError("binary outcomes must be 0 or 1")
        ka, kb = int(a.sum()), int(b.sum())
        eff, lo, hi = newcombe_unpaired(kb, len(b), ka, len(a), level)
        return Comparison(False, True, n, len(a), len(b), ka / len(a), kb / len(b), eff, lo, hi,
                          fisher_exact(kb, len(b), ka, len(a)), "Fisher (exact)", "Newcombe hybrid score")
    eff, lo, hi = _unpaired_diff_interval(a, b, bounds, level, n_boot, seed)
    return Comparison(False, False, n, len(a), len(b), float(a.mean()), float(b.mean()), eff, lo, hi,
                      mann_whitney(a, b), "Mann-Whitney U", "BCa bootstrap, independent")


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaNs stay NaN and do not count)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if not m:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


# ----------------------------------------------------------------- verdicts

def verdict(effect: float, lo: float, hi: float, p_adj: float, min_effect: float, direction: int = 1,
            test: str = "superiority", n: int | None = None, min_n: int = MIN_N, alpha: float = ALPHA) -> str:
    """One of :data:`VERDICTS` by the rule in :data:`VERDICT_RULE`; ``n`` is the
    number of pairs (below ``min_n`` the answer is inconclusive)."""
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction!r}")
    if test not in ("superiority", "noninferiority"):
        raise ValueError(f"test must be 'superiority' or 'noninferiority', got {test!r}")
    if not min_effect >= 0:
        raise ValueError(f"min_effect must be >= 0, got {min_effect!r}")
    if not all(math.isfinite(v) for v in (effect, lo, hi)) or (n is not None and n < min_n):
        return "inconclusive"
    e = direction * effect
    slo, shi = sorted((direction * lo, direction * hi))
    significant = math.isfinite(p_adj) and p_adj < alpha
    if test == "noninferiority":
        if slo > -min_effect:
            return "supported"
        if significant and shi < -min_effect:
            return "contradicted"
        return "inconclusive"
    if significant and slo > 0 and e >= min_effect:
        return "supported"
    if significant and shi < 0 and -e >= min_effect:
        return "contradicted"
    if -min_effect < slo and shi < min_effect:
        return "not supported"
    return "inconclusive"


def combine(verdicts) -> str:
    """One word from several verdicts (an arm over settings, a claim over arms),
    by the rule in :data:`VERDICT_RULE`.  Words that are not verdicts (``n/a``)
    are ignored; nothing left gives ``inconclusive``."""
    v = [x for x in verdicts if x in WORDS]
    if not v:
        return "inconclusive"
    if DEPENDS in v:
        return DEPENDS
    n_for = v.count("supported")
    n_against = sum(v.count(w) for w in AGAINST)
    if n_for and n_against:
        return DEPENDS
    if 2 * (n_for + n_against) < len(v):
        return "inconclusive"
    if n_for:
        return "supported"
    return "contradicted" if v.count("contradicted") >= v.count("not supported") else "not supported"


# ----------------------------------------------------------------- time to an event

@dataclass
class Survival:
    """A Kaplan-Meier curve: at each distinct event time ``t[i]``, the number
    at risk just before it, the events at it, the estimate ``S(t[i])`` of the
    probability that the event has not happened by then, and its pointwise
    95% interval."""

    t: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    S: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    n: int

    def at(self, time) -> float:
        """``S`` at ``time`` (a step function, 1 before the first event)."""
        i = np.searchsorted(self.t, time, side="right") - 1
        return 1.0 if i < 0 else float(self.S[i])


def kaplan_meier(times, events, level: float = LEVEL) -> Survival:
    """The Kaplan-Meier estimate from ``times`` (event or censoring time of each
    subject) and ``events`` (1: the event happened at that time, 0: censored
    then): ``scipy.stats.ecdf`` on ``scipy.stats.CensoredData``, its survival
    function read at the distinct event times.  ``S(t) = prod_{t_i <= t} (1 -
    d_i / n_i)`` with ``d_i`` events among the ``n_i`` subjects at risk at
    ``t_i`` (censored at ``t_i`` count as at risk there).  Interval: Greenwood's
    variance on the log(-log S) scale (``confidence_interval(method="log-log")``,
    it stays inside [0, 1]); where ``S`` is 0 or 1 the interval is the point."""
    from scipy.stats import CensoredData, ecdf

    times, events = np.asarray(times, dtype=float).ravel(), np.asarray(events).astype(bool).ravel()
    if times.shape != events.shape:
        raise ValueError(f"times and events differ in length: {len(times)} and {len(events)}")
    ok = np.isfinite(times)
    times, events = times[ok], events[ok]
    t = np.unique(times[events])
    at_risk = np.array([(times >= x).sum() for x in t], dtype=float)
    d = np.array([(events & (times == x)).sum() for x in t], dtype=float)
    if not len(t):
        empty = np.zeros(0)
        return Survival(t, at_risk, d, empty, empty, empty, int(len(times)))
    res = ecdf(CensoredData(uncensored=times[events], right=times[~events])).sf
    where = np.searchsorted(res.quantiles, t)
    S = res.probabilities[where]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        band = res.confidence_interval(confidence_level=level, method="log-log")
    lo, hi = band.low.probabilities[where], band.high.probabilities[where]
    lo = np.where(np.isfinite(lo), lo, S)
    hi = np.where(np.isfinite(hi), hi, S)
    return Survival(t, at_risk, d, S, np.minimum(lo, S), np.maximum(hi, S), int(len(times)))


def logrank(times_a, events_a, times_b, events_b) -> tuple[float, float]:
    """The two-sample log-rank test (``scipy.stats.logrank``, two-sided):
    ``(chi2, p)`` with chi2 the square of scipy's standardised statistic (one
    degree of freedom).  p is 1 when there is no event or no variance.  The
    test is unpaired: for paired arms the paired restricted mean is the
    primary (:func:`relu_study.claims.studies.c5_convergence`)."""
    from scipy.stats import CensoredData
    from scipy.stats import logrank as _logrank

    def data(t, e):
        t, e = np.asarray(t, dtype=float).ravel(), np.asarray(e).astype(bool).ravel()
        return CensoredData(uncensored=t[e], right=t[~e])

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        res = _logrank(data(times_a, events_a), data(times_b, events_b))
    z, p = float(res.statistic), float(res.pvalue)
    if not (math.isfinite(z) and math.isfinite(p)):
        return 0.0, 1.0
    return z * z, p


# ----------------------------------------------------------------- born dead

def born_dead_formula(depth, width):
    """Lu et al.'s probability that a ReLU network with ``depth`` hidden layers of
    ``width`` units, zero biases and symmetric weights is dead at one input point
    ``x != 0``: ``1 - (1 - 2**-width)**depth``.  (Each layer is all non-positive
    with probability ``2**-width`` given a live input; a dead layer kills all
    layers above it.)"""
    depth, width = np.asarray(depth, dtype=float), np.asarray(width, dtype=float)
    out = 1.0 - (1.0 - 2.0 ** -width) ** depth
    return float(out) if out.ndim == 0 else out


def dead_networks(table) -> np.ndarray:
    """Born-dead indicator per row of a metrics table: some hidden layer has every
    unit never positive on the probe set (``dead_frac_l<i> == 1``).  Such a ReLU
    layer outputs 0 for every probe input, so the network is constant there.
    Layers a shallower network lacks (NaN columns) do not count."""
    cols = [c for c in table.columns if c.startswith("dead_frac_l") and c[len("dead_frac_l"):].isdigit()]
    if not cols:
        raise ValueError("table has no dead_frac_l<i> columns (were probes enabled?)")
    values = table[cols].to_numpy(dtype=float)
    return (values == 1.0).any(axis=1)
