"""What a claim study is, and the computation every comparison study shares.

A study (one module in :mod:`relu_study.claims.studies`) is a :class:`Study`:
the claim and its question, the config keys that make a *setting*, and one or
more :class:`Analysis` -- each a :class:`Gate` (where the problem the claim is
about occurs) and a list of :class:`Metric` (the first is the primary outcome).
The first analysis answers the claim; further analyses are separate questions
reported apart (for dying: units killed by training vs units dead at
initialisation).

The computation, in order (:func:`analyse`):

1. :func:`compare_all`: for every setting, every arm and every metric, the
   paired comparison with ReLU (:mod:`relu_study.claims.stats`); pairs are
   networks of the same seed in the same setting.  Done once: thresholds do not
   change intervals or raw p-values.
2. :func:`judge`: per analysis, the gate picks the settings, the minimal effect
   is fixed per comparison from the ReLU level, p-values are Holm-adjusted over
   the metric's eligible comparisons, and each comparison gets its verdict; an
   arm's verdict combines its settings, the claim's combines its arms.
3. :func:`sensitivity`: step 2 again with the minimal effects halved and
   doubled, the gate moved, and the minimum number of pairs changed.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from . import stats as S
from .tables import BASELINE, Arm, setting_label

__all__ = [
    "Analysis", "AnalysisResult", "Effect", "Gate", "Metric", "Params", "Study", "StudyResult", "analyse",
    "compare_all", "conditions", "judge", "levels", "metric_values", "pairing", "pooled", "prepare_analysis",
    "sensitivity", "setting_labels",
]


# --------------------------------------------------------------------------- definitions

@dataclass(frozen=True)
class Effect:
    """Minimal practical effect: ``max(floor, rel x |ReLU level|)`` in the same
    setting.  Relative to the level, so a low-baseline setting is not
    "not supported" automatically; the floor keeps it from vanishing."""

    rel: float = 0.0
    floor: float = 0.0

    def at(self, relu_level: float, scale: float = 1.0) -> float:
        level = abs(relu_level) if math.isfinite(relu_level) else 0.0
        return scale * max(self.floor, self.rel * level)

    def describe(self, unit: str = "") -> str:
        floor = f"{self.floor:g}{unit}"
        if not self.rel:
            return floor
        return f"{self.rel:.0%} of the ReLU level" + (f", at least {floor}" if self.floor else "")


@dataclass(frozen=True)
class Metric:
    """A per-network quantity compared between an arm and ReLU.

    ``column``: a column of the study's network table (any probe column works
    by name: its final value ``m``, ``init_m`` and ``change_m`` are there).
    ``direction``: the sign the claim predicts for arm - ReLU.  ``binary``:
    0/1 outcomes (McNemar and Newcombe).  ``test``: ``superiority`` or
    ``noninferiority``.  ``if_diverged``: the value a diverged network counts
    as, so every network counts; None makes the metric *survivors only* (pairs
    where neither network diverged), which can only be secondary.
    ``bounds``: the values the metric can take (for the interval of a constant
    sample).  ``by_construction``: why the metric is decided by definition for
    an arm with a negative slope (empty when it is not).  ``counts``: how every
    network counts, when the unit compared is not one network (C3: one seed
    over a grid)."""

    column: str
    label: str
    direction: int
    min_effect: Effect
    binary: bool = False
    test: str = "superiority"
    if_diverged: float | None = None
    bounds: tuple | None = (0.0, 1.0)
    by_construction: str = ""
    short: str = ""
    unit: str = ""
    note: str = ""
    counts: str = ""
    construction_arms: str = "every arm with a negative slope"

    def __post_init__(self):
        if self.direction not in (1, -1):
            raise ValueError(f"metric {self.column}: direction must be +1 or -1, got {self.direction!r}")
        if self.test not in ("superiority", "noninferiority"):
            raise ValueError(f"metric {self.column}: test must be superiority or noninferiority, got {self.test!r}")

    @property
    def survivors_only(self) -> bool:
        return self.if_diverged is None and not self.counts

    @property
    def name(self) -> str:
        return self.short or self.column

    @property
    def population(self) -> str:
        if self.counts:
            return self.counts
        if self.survivors_only:
            return "among the pairs where neither network diverged"
        if self.binary and self.if_diverged == 1:
            return "every network counts (a diverged network counts as an event)"
        return f"every network counts (a diverged network counts as {self.if_diverged:g})"

    def claim_text(self) -> str:
        if self.test == "noninferiority":
            return f"not {'lower' if self.direction > 0 else 'higher'} than ReLU's by m or more (non-inferiority)"
        return f"{'higher' if self.direction > 0 else 'lower'} than ReLU's"


@dataclass(frozen=True)
class Gate:
    """Where the problem a claim is about occurs: a setting is analysed when the
    ReLU arm's mean of ``column`` is above ``threshold``.  One gate serves every
    metric of an analysis.  ``label`` says what passing means ("training killed
    ReLU units"), ``measure`` what is compared with the threshold ("the ReLU
    arm's mean rise of the dead fraction during training").  ``alternatives``:
    a lower and a higher threshold for the sensitivity table (default: half
    and double)."""

    label: str
    column: str
    threshold: float
    alternatives: tuple = ()
    measure: str = ""

    def rule(self, threshold: float | None = None) -> str:
        what = self.measure or f"the ReLU arm's mean of {self.column}"
        return f"{what} above {self.threshold if threshold is None else threshold:g}"

    def moved(self) -> tuple:
        return self.alternatives or (self.threshold / 2, self.threshold * 2)


@dataclass(frozen=True)
class Analysis:
    """One question of a study: a gate and its metrics (the first is primary).

    By default an analysis compares every network of the study's table in the
    study's settings.  ``settings`` gives it settings of its own (C5's
    stability: dataset x learning rate); ``rows`` names a boolean column of the
    table that selects its networks (C5's scored networks: scoring seeds at each
    arm's tuned rate); ``where`` restricts it to settings with the given values,
    ``((key, (value, ...)), ...)`` (C1: training-caused dying at zero bias,
    dying at initialisation at a negative bias)."""

    name: str
    title: str
    question: str
    metrics: tuple
    gate: Gate | None = None
    settings: tuple | None = None
    rows: str = ""
    where: tuple = ()

    def __post_init__(self):
        if not self.metrics:
            raise ValueError(f"analysis {self.name}: no metrics")
        if self.metrics[0].survivors_only:
            raise ValueError(f"analysis {self.name}: the primary metric {self.metrics[0].column} must count every "
                             f"network (set if_diverged)")

    @property
    def primary(self) -> Metric:
        return self.metrics[0]


@dataclass(frozen=True)
class Study:
    """One claim study: what a module in :mod:`relu_study.claims.studies` defines
    as ``STUDY``.  ``name`` is also the preset's name (``conf/experiment/<name>.yaml``).

    Hooks (all optional): ``prepare(data, study) -> (table, arms)`` builds the
    table of units compared (default: one row per network,
    :func:`relu_study.claims.tables.networks`); ``section(result, data, out) -> str``
    adds markdown (and may write figures and tables, appending to
    ``result.figures`` / ``result.tables``); ``summary(result) -> str`` adds a
    sentence to the claim's summary paragraph; ``literature(result) ->
    {reference key: text}`` feeds the Literature section; ``analyse(data,
    study, out) -> StudyResult`` replaces the whole comparison machinery (for a
    study that estimates rather than compares, such as born dead); ``answer(result)
    -> str``: the plain-language answer (one or two sentences with the key numbers
    and the conditions) that leads the claim's paragraph.  ``epochs``: ``"all"``
    rows of the metrics tables, or ``"probed"`` (epoch 0, probed epochs, the last
    and diverged rows: what a study of long runs needs and memory allows)."""

    name: str
    id: str
    title: str
    claim: str
    question: str
    settings: tuple = ()
    analyses: tuple = ()
    notes: str = ""
    order: int = 100
    quick: tuple = ()
    cost: float = 100.0
    pilot: str = ""
    limitations: tuple = ()
    headline: tuple = ()
    curves: tuple = ()
    prepare: Callable | None = None
    section: Callable | None = None
    summary: Callable | None = None
    literature: Callable | None = None
    analyse: Callable | None = None
    answer: Callable | None = None
    epochs: str = "all"

    @property
    def by_construction(self) -> bool:
        return bool(self.analyses) and bool(self.analyses[0].primary.by_construction)

    @property
    def metrics(self) -> list[Metric]:
        """Every metric of every analysis, each column once."""
        seen = {}
        for a in self.analyses:
            for m in a.metrics:
                seen.setdefault(m.column, m)
        return list(seen.values())


@dataclass(frozen=True)
class Params:
    """The thresholds of a verdict: minimal effects scaled by ``scale``, the gate
    at ``gate`` (None: as stated), at least ``min_n`` pairs."""

    scale: float = 1.0
    gate: float | None = None
    min_n: int = S.MIN_N
    label: str = "as stated"
    detail: str = ""


@dataclass
class AnalysisResult:
    analysis: Analysis
    gates: pd.DataFrame
    judged: pd.DataFrame
    arm_verdicts: dict
    metric_verdicts: dict
    verdict: str
    pooled: dict = field(default_factory=dict)
    settings: tuple = ()
    net: pd.DataFrame = field(default_factory=pd.DataFrame)
    pairs: pd.DataFrame = field(default_factory=pd.DataFrame)
    levels: pd.DataFrame = field(default_factory=pd.DataFrame)
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)

    def eligible_settings(self) -> list[str]:
        return list(self.gates.loc[self.gates["eligible"], "setting"]) if len(self.gates) else []


@dataclass
class StudyResult:
    """Everything the report needs from one study."""

    study: object
    net: pd.DataFrame = field(default_factory=pd.DataFrame)
    arms: list = field(default_factory=list)
    settings: tuple = ()
    pairs: pd.DataFrame = field(default_factory=pd.DataFrame)
    levels: pd.DataFrame = field(default_factory=pd.DataFrame)
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)
    analyses: list = field(default_factory=list)
    sensitivity: pd.DataFrame = field(default_factory=pd.DataFrame)
    verdict: str | None = None
    conditions: str = ""
    figures: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    text: str = ""
    summary: str = ""
    claim_arms: list = field(default_factory=list)
    wall_time_s: float = math.nan
    n_networks: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def main(self) -> AnalysisResult | None:
        return self.analyses[0] if self.analyses else None

    def arm(self, label: str) -> Arm | None:
        return next((a for a in self.arms if a.label == label), None)


# --------------------------------------------------------------------------- computation

def _seed(*parts) -> int:
    return zlib.crc32(repr(parts).encode()) & 0x7FFFFFFF


def _settings_in(net: pd.DataFrame, settings) -> tuple:
    return tuple(k for k in settings if k in net.columns)


def _groups(net: pd.DataFrame, settings):
    """``(setting values, setting label, rows)`` in sorted setting order."""
    if not settings:
        yield (), "all", net
        return
    for values, g in net.groupby(list(settings), sort=True, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        yield values, setting_label(settings, values), g


def setting_labels(net: pd.DataFrame, settings) -> pd.Series:
    """The setting label (``optimizer=adam, lr=0.1``) of every row of ``net``."""
    labels = pd.Series("all", index=net.index, dtype=object)
    for _, label, g in _groups(net, settings):
        labels[g.index] = label
    return labels


def metric_values(rows: pd.DataFrame, metric: Metric) -> np.ndarray:
    """The metric per network: its column, with diverged networks set to
    ``if_diverged`` (or NaN: survivors only)."""
    if metric.column not in rows:
        return np.full(len(rows), np.nan)
    v = rows[metric.column].to_numpy(dtype=float, na_value=np.nan).copy()
    div = rows["diverged"].to_numpy(dtype=float) == 1 if "diverged" in rows else np.zeros(len(rows), bool)
    if metric.survivors_only:
        v[div] = np.nan
    elif metric.if_diverged is not None:
        v[div] = float(metric.if_diverged)
    return v


def _unique_by_seed(rows: pd.DataFrame, where: str) -> pd.DataFrame:
    dup = rows["seed"].duplicated()
    if dup.any():
        raise ValueError(f"{where}: seed {int(rows['seed'][dup].iloc[0])} appears twice in one arm and setting; "
                         f"a config key that varies is missing from the study's settings")
    return rows.set_index("seed")


def _arm_rows(net: pd.DataFrame, settings, arms):
    """``(setting values, setting label, ReLU rows, arm, arm rows)`` for every
    non-baseline arm with networks in a setting."""
    for values, label, g in _groups(net, settings):
        base = g[g["arm"] == BASELINE]
        for arm in arms:
            a = g[g["arm"] == arm.label]
            if not arm.baseline and not a.empty:
                yield values, label, base, arm, a


def pairing(net: pd.DataFrame, settings, arms) -> pd.DataFrame:
    """Per setting and arm: networks, pairs with ReLU (same seed), and networks
    without a partner in either arm."""
    rows = []
    for values, label, base, arm, a in _arm_rows(net, settings, arms):
        seeds, base_seeds = set(a["seed"]), set(base["seed"])
        rows.append({**dict(zip(settings, values)), "setting": label, "arm": arm.label, "n_arm": len(a),
                     "n_relu": len(base), "pairs": len(seeds & base_seeds),
                     "only_arm": len(seeds - base_seeds), "only_relu": len(base_seeds - seeds)})
    return pd.DataFrame(rows, columns=[*settings, "setting", "arm", "n_arm", "n_relu", "pairs", "only_arm",
                                       "only_relu"])


def levels(net: pd.DataFrame, settings, arms, metrics, study_name: str = "") -> pd.DataFrame:
    """Per setting, arm and metric: the level (mean or rate) with its 95%
    interval (Wilson for rates, BCa bootstrap for means) and the networks behind it."""
    rows = []
    for values, label, g in _groups(net, settings):
        for arm in arms:
            a = g[g["arm"] == arm.label]
            if a.empty:
                continue
            for m in metrics:
                v = metric_values(a, m)
                ok = v[np.isfinite(v)]
                if m.binary:
                    lev, lo, hi = S.wilson(int(ok.sum()), len(ok))
                else:
                    lev, lo, hi = S.mean_interval(ok, m.bounds, seed=_seed(study_name, label, arm.label, m.column))
                rows.append({**dict(zip(settings, values)), "setting": label, "arm": arm.label, "metric": m.column,
                             "level": lev, "lo": lo, "hi": hi, "n": len(ok), "n_networks": len(a),
                             "n_diverged": int((a["diverged"] == 1).sum())})
    return pd.DataFrame(rows, columns=[*settings, "setting", "arm", "metric", "level", "lo", "hi", "n", "n_networks",
                                       "n_diverged"])


def compare_all(net: pd.DataFrame, settings, arms, metrics, study_name: str = "") -> pd.DataFrame:
    """Every arm against ReLU on every metric in every setting (paired by seed
    where the arms share seeds, unpaired otherwise); raw p-values."""
    rows = []
    for values, label, base, arm, a in _arm_rows(net, settings, arms):
        if base.empty:
            continue
        b = _unique_by_seed(base, f"setting {label}, arm ReLU")
        x = _unique_by_seed(a, f"setting {label}, arm {arm.label}")
        seeds = sorted(set(b.index) & set(x.index))
        for m in metrics:
            seed = _seed(study_name, label, arm.label, m.column)
            if seeds:
                va = metric_values(b.loc[seeds], m)
                vb = metric_values(x.loc[seeds], m)
                c = S.compare_paired(va, vb, m.binary, m.bounds, seed=seed)
                excluded = len(seeds) - c.n
            else:
                c = S.compare_unpaired(metric_values(b, m), metric_values(x, m), m.binary, m.bounds, seed=seed)
                excluded = 0
            rows.append({**dict(zip(settings, values)), "setting": label, "arm": arm.label, "metric": m.column,
                         "binary": m.binary, "paired": c.paired, "n": c.n, "n_relu": c.n_a, "n_arm": c.n_b,
                         "excluded": excluded, "level_relu": c.level_a, "level_arm": c.level_b,
                         "effect": c.effect, "lo": c.lo, "hi": c.hi, "half_width": c.half_width, "p": c.p,
                         "test": c.test, "interval": c.interval, "n10": c.n10, "n01": c.n01})
    return pd.DataFrame(rows, columns=[*settings, "setting", "arm", "metric", "binary", "paired", "n", "n_relu",
                                       "n_arm", "excluded", "level_relu", "level_arm", "effect", "lo", "hi",
                                       "half_width", "p", "test", "interval", "n10", "n01"])


def gate_values(net: pd.DataFrame, settings, gate: Gate | None) -> pd.DataFrame:
    """Per setting: the ReLU arm's mean of the gate's column (NaN without a gate)."""
    rows = []
    for values, label, g in _groups(net, settings):
        base = g[g["arm"] == BASELINE]
        v = np.nan
        n = 0
        if gate is not None and gate.column in base:
            x = base[gate.column].to_numpy(dtype=float, na_value=np.nan)
            x = x[np.isfinite(x)]
            n = len(x)
            v = float(x.mean()) if n else np.nan
        rows.append({**dict(zip(settings, values)), "setting": label, "value": v, "n_relu": n})
    return pd.DataFrame(rows, columns=[*settings, "setting", "value", "n_relu"])


def judge(comp: pd.DataFrame, gates: pd.DataFrame, analysis: Analysis, arms, params: Params = Params()):
    """Verdicts of one analysis under ``params``: ``(judged comparisons, gates
    with eligibility, {arm: verdict} on the primary metric, {(metric, arm):
    verdict}, the analysis's verdict)``."""
    gates = gates.copy()
    if analysis.gate is None:
        gates["eligible"] = True
    else:
        thr = analysis.gate.threshold if params.gate is None else params.gate
        gates["eligible"] = gates["value"].to_numpy(dtype=float) > thr
    eligible = set(gates.loc[gates["eligible"], "setting"])
    parts = []
    for m in analysis.metrics:
        c = comp[comp["metric"] == m.column].copy() if len(comp) else pd.DataFrame()
        if c.empty:
            continue
        c["eligible"] = c["setting"].isin(eligible)
        c["m"] = [m.min_effect.at(lvl, params.scale) for lvl in c["level_relu"]]
        c["p_adj"] = np.nan
        sel = c["eligible"].to_numpy()
        c.loc[sel, "p_adj"] = S.holm(c.loc[sel, "p"].to_numpy())
        c["verdict"] = [
            S.verdict(r.effect, r.lo, r.hi, r.p_adj, r.m, m.direction, m.test, n=r.n, min_n=params.min_n)
            if r.eligible else "n/a" for r in c.itertuples()]
        c["equivalence"] = [bool(math.isfinite(r.lo) and math.isfinite(r.hi) and -r.m < r.lo and r.hi < r.m)
                            for r in c.itertuples()]
        parts.append(c)
    judged = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    metric_verdicts = {}
    for m in analysis.metrics:
        for arm in arms:
            if arm.baseline:
                continue
            sel = judged[(judged["metric"] == m.column) & (judged["arm"] == arm.label)] if len(judged) else judged
            if len(sel):
                metric_verdicts[(m.column, arm.label)] = S.combine(sel.loc[sel["eligible"], "verdict"])
    arm_verdicts = {a: v for (col, a), v in metric_verdicts.items() if col == analysis.primary.column}
    verdict = S.combine(arm_verdicts.values()) if arm_verdicts else "inconclusive"
    return judged, gates, arm_verdicts, metric_verdicts, verdict


def pooled(net: pd.DataFrame, settings, metric: Metric, arm: str, eligible, study_name: str = "") -> S.Comparison:
    """The arm against ReLU on ``metric`` with the pairs of all ``eligible``
    settings pooled: the one number per arm the summary quotes."""
    va, vb = [], []
    for _, label, g in _groups(net, settings):
        if label not in eligible:
            continue
        base, a = g[g["arm"] == BASELINE], g[g["arm"] == arm]
        if base.empty or a.empty:
            continue
        b, x = base.set_index("seed"), a.set_index("seed")
        seeds = sorted(set(b.index) & set(x.index))
        va.append(metric_values(b.loc[seeds], metric))
        vb.append(metric_values(x.loc[seeds], metric))
    if not va:
        return S.compare_paired([], [], metric.binary, metric.bounds)
    return S.compare_paired(np.concatenate(va), np.concatenate(vb), metric.binary, metric.bounds,
                            seed=_seed(study_name, "pooled", arm, metric.column))


def conditions(arm_verdicts: dict, arms) -> str:
    """The arms grouped by verdict: ``holds for α ≥ 0.1; not for α=0.01``, or
    ``supported: α=0.1, α=0.3; inconclusive: ReLU + RAI``."""
    if not arm_verdicts:
        return ""
    by = {}
    for arm in arms:
        if arm.label in arm_verdicts:
            by.setdefault(arm_verdicts[arm.label], []).append(arm)
    if len(by) == 1:
        return ""
    leaky = [a for a in arms if a.activation == "leaky" and a.label in arm_verdicts]
    sup = [a for a in leaky if arm_verdicts[a.label] == "supported"]
    against = [a for a in leaky if arm_verdicts[a.label] in S.AGAINST]
    parts = []
    if sup and against and max(a.slope for a in against) < min(a.slope for a in sup):
        parts.append(f"holds for α ≥ {min(a.slope for a in sup):.3g}, not for "
                     + ", ".join(f"α={a.slope:.3g}" for a in against))
        done = {a.label for a in sup + against}
    else:
        done = set()
    for word in S.WORDS:
        rest = [a.short for a in by.get(word, []) if a.label not in done]
        if rest:
            parts.append(f"{word}: {', '.join(rest)}")
    return "; ".join(parts)


def _restricted(net: pd.DataFrame, analysis: Analysis) -> pd.DataFrame:
    """The networks an analysis reads: its ``rows`` and ``where``."""
    keep = np.ones(len(net), dtype=bool)
    if analysis.rows:
        if analysis.rows not in net:
            raise ValueError(f"analysis {analysis.name}: the table has no column {analysis.rows!r}")
        keep &= net[analysis.rows].to_numpy(dtype=float) == 1
    for key, values in analysis.where:
        if key in net:
            keep &= net[key].isin(list(values)).to_numpy()
    return net[keep]


def prepare_analysis(result: StudyResult, analysis: Analysis) -> AnalysisResult:
    """Step 1 for one analysis: its networks, settings, pairing, levels and
    comparisons (thresholds do not enter yet)."""
    study = result.study
    settings = _settings_in(result.net, study.settings if analysis.settings is None else analysis.settings)
    net = _restricted(result.net, analysis)
    metrics = list(analysis.metrics)
    empty = pd.DataFrame()
    ar = AnalysisResult(analysis, empty, empty, {}, {}, "inconclusive", settings=settings, net=net)
    ar.pairs = pairing(net, settings, result.arms)
    ar.levels = levels(net, settings, result.arms, metrics, study.name)
    ar.comparisons = compare_all(net, settings, result.arms, metrics, study.name)
    return ar


def analyse_one(base: AnalysisResult, arms, params: Params = Params()) -> AnalysisResult:
    """Steps 2 for one prepared analysis under ``params``."""
    analysis = base.analysis
    gates = gate_values(base.net, base.settings, analysis.gate)
    judged, gates, arm_v, metric_v, verdict = judge(base.comparisons, gates, analysis, arms, params)
    return AnalysisResult(analysis, gates, judged, arm_v, metric_v, verdict, settings=base.settings, net=base.net,
                          pairs=base.pairs, levels=base.levels, comparisons=base.comparisons)


def sensitivity(result: StudyResult) -> pd.DataFrame:
    """The main analysis's verdicts (claim and each arm) again with the minimal
    effects halved and doubled, the gate moved, and the minimum number of pairs
    at 5 and 20; ``flips`` marks a variant whose verdicts differ from the stated one."""
    prepared = result.analyses[0]
    main = prepared.analysis
    variants = [Params(), Params(scale=0.5, label="m × ½", detail="minimal effects halved"),
                Params(scale=2.0, label="m × 2", detail="minimal effects doubled")]
    if main.gate is not None:
        low, high = sorted(main.gate.moved())
        variants += [Params(gate=low, label="gate lower", detail=f"gate: {main.gate.rule(low)}"),
                     Params(gate=high, label="gate higher", detail=f"gate: {main.gate.rule(high)}")]
    variants += [Params(min_n=5, label="n ≥ 5", detail="at least 5 pairs"),
                 Params(min_n=20, label="n ≥ 20", detail="at least 20 pairs")]
    rows = []
    base = None
    for p in variants:
        a = analyse_one(prepared, result.arms, p)
        row = {"variant": p.label, "detail": p.detail or "the thresholds as stated", "verdict": a.verdict,
               **{f"arm:{k}": v for k, v in a.arm_verdicts.items()}}
        if base is None:
            base = row
        row["flips"] = any(row.get(k) != base.get(k) for k in base if k not in ("variant", "detail", "flips"))
        rows.append(row)
    return pd.DataFrame(rows)


def _stacked(frames: list, names: list) -> pd.DataFrame:
    parts = [f.assign(analysis=n) for f, n in zip(frames, names) if len(f)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def analyse(study: Study, net: pd.DataFrame, arms: dict, settings=None) -> StudyResult:
    """Steps 1-3 of the module docstring for a study's network table."""
    settings = _settings_in(net, study.settings if settings is None else settings)
    order = sorted(arms.values(), key=Arm.sort_key)
    if not any(a.baseline for a in order):
        raise ValueError(f"study {study.name}: no ReLU arm to compare with (arms: "
                         f"{', '.join(a.label for a in order)})")
    result = StudyResult(study, net=net, arms=order, settings=settings)
    result.n_networks = len(net)
    for analysis in study.analyses:
        a = analyse_one(prepare_analysis(result, analysis), order)
        eligible = set(a.eligible_settings())
        for m in analysis.metrics:
            for arm in order:
                if not arm.baseline and (m.column, arm.label) in a.metric_verdicts:
                    a.pooled[(m.column, arm.label)] = pooled(a.net, a.settings, m, arm.label, eligible, study.name)
        result.analyses.append(a)
    names = [a.analysis.name for a in result.analyses]
    result.pairs = _stacked([a.pairs for a in result.analyses], names)
    result.levels = _stacked([a.levels for a in result.analyses], names)
    result.comparisons = _stacked([a.comparisons for a in result.analyses], names)
    result.verdict = result.main.verdict if result.main else None
    result.conditions = conditions(result.main.arm_verdicts, order) if result.main else ""
    result.sensitivity = sensitivity(result) if study.analyses else pd.DataFrame()
    return result
