"""Claim statistics: bootstrap intervals, Mann-Whitney U, effect sizes, verdicts.

Everything here takes plain arrays (one value per network seed) and returns
numbers; :mod:`relu_study.report` decides which arrays to compare.

A comparison sets an arm ``b`` (a Leaky ReLU arm) beside the baseline ``a``
(ReLU) on one metric:

* ``diff`` = mean(b) - mean(a), with a percentile bootstrap 95% interval
  (each arm resampled with replacement, independently);
* ``r_rb``, the rank-biserial correlation, ``P(b > a) - P(b < a)`` over all
  pairs (from the Mann-Whitney U statistic);
* ``p``, the two-sided Mann-Whitney U p-value, then Holm-adjusted across the
  comparisons of one metric within a claim (:func:`holm`).

:func:`verdict` turns those numbers into one of four words with the rule in
:data:`VERDICT_RULE` (the report quotes it).  ``direction`` is the sign the claim
predicts for ``diff`` (+1: the claim says Leaky ReLU's value is higher); the
*signed* effect is ``direction * diff`` and its interval likewise.  ``min_effect``
is the smallest difference that would matter in practice, fixed per metric
before looking at the data.

Born-dead helpers: :func:`wilson` (binomial interval) and
:func:`born_dead_formula` (Lu et al.'s single-input probability).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ALPHA", "MIN_N", "N_BOOT", "VERDICTS", "VERDICT_RULE", "Comparison", "born_dead_formula", "bootstrap_diff_ci", "dead_networks",
    "bootstrap_mean_ci", "compare", "holm", "mann_whitney", "overall_verdict", "rank_biserial", "verdict",
    "wilson",
]

#: significance level (applied to Holm-adjusted p-values)
ALPHA = 0.05
#: bootstrap resamples
N_BOOT = 4000
#: fewer networks than this in either arm: the comparison is inconclusive
MIN_N = 10
#: the four verdict words
VERDICTS = ("supported", "not supported", "contradicted", "inconclusive")

VERDICT_RULE = """\
Each comparison sets one alternative arm (a Leaky ReLU slope, or ReLU with RAI) beside plain ReLU on one
metric, one value per network seed. *Effect* = mean(arm) - mean(ReLU); its 95% CI is a percentile bootstrap (4000 resamples, each arm
resampled independently). *p* is the two-sided Mann-Whitney U p-value, Holm-adjusted across all
comparisons of the same metric within the claim (comparisons marked n/a, where the ReLU arm does not show
the problem the claim is about, are neither tested nor counted). The claim fixes a direction (the sign it predicts for
the effect) and each metric has a minimal practical effect *m*, both stated before the data.
With the signed effect e = direction x effect and its signed CI [lo, hi]:

* **supported**: p_adj < 0.05, lo > 0 and e >= m (significant, in the claimed direction, large enough);
* **contradicted**: p_adj < 0.05, hi < 0 and -e >= m (the same in the opposite direction);
* **not supported**: -m < lo and hi < m (the CI lies inside +-m: no practically relevant difference);
* **inconclusive**: anything else (the seeds cannot resolve it), and always when either arm has fewer
  than 10 networks (a bootstrap interval from so few is not trustworthy).

For a claim that Leaky ReLU is *as good as* ReLU (non-inferiority, claim 4):
**supported** if lo > -m; **contradicted** if p_adj < 0.05 and hi < -m; **inconclusive** otherwise.

A claim's overall verdict comes from its primary metric's comparisons: if some are supported and some
contradicted it is *inconclusive*; otherwise it is the verdict held by more than half of them, and
*inconclusive* when no verdict has a majority."""


def _arr(x) -> np.ndarray:
    x = np.asarray(x, dtype=float).ravel()
    return x[np.isfinite(x)]


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _boot_means(x: np.ndarray, n_boot: int, rng) -> np.ndarray:
    """Means of ``n_boot`` resamples of ``x`` (in chunks, to bound memory)."""
    n = len(x)
    out = np.empty(n_boot)
    chunk = max(1, 2_000_000 // max(n, 1))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = x[idx].mean(axis=1)
    return out


def bootstrap_mean_ci(x, level: float = 0.95, n_boot: int = N_BOOT, seed=0) -> tuple[float, float, float]:
    """``(mean, lo, hi)``: the mean of ``x`` (non-finite values dropped) and its
    percentile bootstrap interval.  NaNs when ``x`` is empty."""
    x = _arr(x)
    if not len(x):
        return (math.nan,) * 3
    m = float(x.mean())
    if len(x) == 1 or np.all(x == x[0]):
        return m, m, m
    means = _boot_means(x, n_boot, _rng(seed))
    q = (1 - level) / 2
    lo, hi = np.quantile(means, [q, 1 - q])
    return m, float(lo), float(hi)


def bootstrap_diff_ci(a, b, level: float = 0.95, n_boot: int = N_BOOT, seed=0) -> tuple[float, float, float]:
    """``(diff, lo, hi)`` for ``mean(b) - mean(a)``, each arm resampled independently."""
    a, b = _arr(a), _arr(b)
    if not len(a) or not len(b):
        return (math.nan,) * 3
    d = float(b.mean() - a.mean())
    rng = _rng(seed)
    const_a, const_b = np.all(a == a[0]), np.all(b == b[0])
    if const_a and const_b:
        return d, d, d
    ma = np.full(n_boot, a.mean()) if const_a else _boot_means(a, n_boot, rng)
    mb = np.full(n_boot, b.mean()) if const_b else _boot_means(b, n_boot, rng)
    q = (1 - level) / 2
    lo, hi = np.quantile(mb - ma, [q, 1 - q])
    return d, float(lo), float(hi)


def mann_whitney(a, b) -> tuple[float, float]:
    """``(U, p)``: the Mann-Whitney U statistic of ``b`` against ``a`` and its
    two-sided p-value (``scipy.stats.mannwhitneyu``).  ``p = 1`` when every value
    in both arms is the same; NaN when an arm is empty."""
    from scipy.stats import mannwhitneyu

    a, b = _arr(a), _arr(b)
    if not len(a) or not len(b):
        return math.nan, math.nan
    both = np.concatenate([a, b])
    if np.all(both == both[0]):
        return len(a) * len(b) / 2, 1.0
    res = mannwhitneyu(b, a, alternative="two-sided")
    return float(res.statistic), float(res.pvalue)


def rank_biserial(a, b) -> float:
    """``P(b > a) - P(b < a)`` over all pairs: +1 when every ``b`` exceeds every
    ``a``, 0 for identical distributions (= 2 U / (n_a n_b) - 1)."""
    a, b = _arr(a), _arr(b)
    if not len(a) or not len(b):
        return math.nan
    u, _ = mann_whitney(a, b)
    return 2 * u / (len(a) * len(b)) - 1


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


def verdict(diff: float, lo: float, hi: float, p_adj: float, min_effect: float, direction: int = 1,
            kind: str = "superiority", alpha: float = ALPHA, n: int | None = None) -> str:
    """One of :data:`VERDICTS` by the rule in :data:`VERDICT_RULE`; ``n`` is the
    smaller arm's number of networks (below :data:`MIN_N` the answer is inconclusive)."""
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction!r}")
    if kind not in ("superiority", "noninferiority"):
        raise ValueError(f"kind must be 'superiority' or 'noninferiority', got {kind!r}")
    if min_effect < 0:
        raise ValueError(f"min_effect must be >= 0, got {min_effect!r}")
    if not all(math.isfinite(v) for v in (diff, lo, hi)) or (n is not None and n < MIN_N):
        return "inconclusive"
    e = direction * diff
    slo, shi = sorted((direction * lo, direction * hi))
    significant = math.isfinite(p_adj) and p_adj < alpha
    if kind == "noninferiority":
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


def overall_verdict(verdicts) -> str:
    """A claim's verdict from its primary comparisons (rule in :data:`VERDICT_RULE`)."""
    verdicts = [v for v in verdicts if v in VERDICTS]
    if not verdicts:
        return "inconclusive"
    if "supported" in verdicts and "contradicted" in verdicts:
        return "inconclusive"
    for word in VERDICTS:
        if verdicts.count(word) * 2 > len(verdicts):
            return word
    return "inconclusive"


@dataclass
class Comparison:
    """One arm against the baseline on one metric (before the Holm adjustment)."""

    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    diff: float
    lo: float
    hi: float
    r_rb: float
    u: float
    p: float


def compare(a, b, n_boot: int = N_BOOT, seed=0) -> Comparison:
    """Bootstrap difference, rank-biserial effect and Mann-Whitney p of ``b`` vs ``a``."""
    a, b = _arr(a), _arr(b)
    diff, lo, hi = bootstrap_diff_ci(a, b, n_boot=n_boot, seed=seed)
    u, p = mann_whitney(a, b)
    r = 2 * u / (len(a) * len(b)) - 1 if len(a) and len(b) else math.nan
    return Comparison(len(a), len(b), float(a.mean()) if len(a) else math.nan,
                      float(b.mean()) if len(b) else math.nan, diff, lo, hi, r, u, p)


# ----------------------------------------------------------------- born dead

def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """``(k/n, lo, hi)``: the Wilson score interval of a binomial proportion."""
    from scipy.stats import norm

    if n <= 0:
        return (math.nan,) * 3
    z = float(norm.ppf(0.5 + level / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return p, lo, hi


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
