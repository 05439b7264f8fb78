"""C4: Leaky ReLU keeps ReLU's sparse activations.

A claim of non-inferiority.  Exact zeros decide it by construction for any
non-zero slope (f(z) = α·z ≠ 0 for z ≠ 0), so the study measures the whole
curve the construction leaves open: the fraction of hidden activations with
|a| < t x std(a) of their layer, for t from 1e-4 to 1 (``probe.near_zero_curve``;
a ReLU zero counts at every t).  A leaky unit's negative side is α·z, below
t·std when |z| < t·std/α: the curve says from which threshold on, if any, a
slope's activations are as often "small" as ReLU's.  The active rate and the
dormant fraction are read beside it.
"""

from __future__ import annotations

import pandas as pd

from ... import charts
from ...engine.probes import curve_column
from ..analysis import Analysis, Effect, Metric, Study
from ..document import arm_colour, md_table, num, save_chart, write_csv

#: the thresholds t of the near-zero curve (the preset's probe.near_zero_curve)
CURVE = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)

EXACT = Metric("exact_zero_frac", "fraction of activations exactly 0 at the end", +1, Effect(0.1, 0.05),
               test="noninferiority", if_diverged=0.0, short="exactly zero",
               by_construction="f(z) = α·z ≠ 0 for z ≠ 0, so no activation is exactly zero")
NEAR = tuple(Metric(curve_column(t), f"fraction of activations with |a| < {t:g} x the layer's std at the end", +1,
                    Effect(0.1, 0.05), test="noninferiority", short=f"|a| < {t:g}·std") for t in CURVE)
ACTIVE = Metric("active_rate", "active rate at the end (fraction of (sample, unit) pairs with z > 0)", -1,
                Effect(0.1, 0.05), test="noninferiority", short="active rate",
                note="Claimed: not higher than ReLU's by m or more (as few units firing).")


def _thresholds_held(result) -> dict:
    """Per arm: the thresholds at which it keeps ReLU's sparsity (non-inferiority
    supported on every dataset) and the smallest t from which it holds for every
    larger t too (None: nowhere)."""
    mv = result.main.metric_verdicts
    out = {}
    for arm in result.arms:
        if arm.baseline:
            continue
        held = [t for t, m in zip(CURVE, NEAR) if mv.get((m.column, arm.label)) == "supported"]
        from_t = None
        for t in reversed(CURVE):
            if t in held:
                from_t = t
            else:
                break
        out[arm.label] = (held, from_t)
    return out


def _curve_chart(result) -> charts.Chart:
    lev = result.main.levels
    panels = []
    for setting in dict.fromkeys(lev["setting"]):
        series = []
        for arm in result.arms:
            rows = [lev[(lev["setting"] == setting) & (lev["arm"] == arm.label) & (lev["metric"] == m.column)]
                    for m in NEAR]
            if not all(len(r) for r in rows):
                continue
            y = [float(r["level"].iloc[0]) for r in rows]
            series.append(charts.Series(arm.label, list(CURVE), y, [float(r["lo"].iloc[0]) for r in rows],
                                        [float(r["hi"].iloc[0]) for r in rows], [int(r["n"].iloc[0]) for r in rows],
                                        color=arm_colour(arm.label, result.arms)))
        panels.append(charts.Panel(setting, series, xlabel="threshold t (x the layer's activation std)",
                                   ylabel="fraction with |a| < t·std", logx=True, ylim=(-0.02, 1.02)))
    return charts.Chart("c4_sparsity_curve", "C4: the sparsity curve", "lines", panels, columns=2, show_n=True,
                        caption="C4: fraction of hidden activations below t x their layer's standard deviation at the "
                                "end of training, against t, per arm and dataset: mean over networks with a 95% "
                                "bootstrap interval (n networks in the panel title). A ReLU zero is below every t; a "
                                "Leaky activation α·z only once t·std exceeds |α·z|.")


def _section(result, data, out) -> str:
    chart = _curve_chart(result)
    result.figures.append((save_chart(chart, out), chart.caption))
    held = _thresholds_held(result)
    rows = []
    for arm in result.arms:
        if arm.baseline:
            continue
        ts, from_t = held[arm.label]
        verdicts = [result.main.metric_verdicts.get((m.column, arm.label), "–") for m in NEAR]
        rows.append([arm.short, *verdicts, f"t ≥ {from_t:g}" if from_t is not None else "nowhere"])
    table = pd.DataFrame([{"arm": r[0], **{f"t={t:g}": v for t, v in zip(CURVE, r[1:-1])}, "keeps from": r[-1]}
                          for r in rows])
    result.tables.append(write_csv(table, out, "c4_sparsity_thresholds.csv"))
    net = result.net
    dormant = net.groupby(["dataset.name", "arm"])["dormant_frac"].mean().unstack() if "dormant_frac" in net else None
    dormant_text = ""
    if dormant is not None:
        arms = [a for a in result.arms if a.label in dormant.columns]
        dormant_text = ("\n\n**Dormant fraction beside it** (descriptive; sparse is not dormant: a ReLU unit that is "
                        "zero on most samples still carries the others): mean over networks that did not diverge.\n\n"
                        + md_table(["dataset", *[a.short for a in arms]],
                                   [[d, *[num(r[a.label], 2) for a in arms]] for d, r in dormant.iterrows()]))
    return ("**At which thresholds does each slope keep ReLU's sparsity?** Per threshold t, the arm's verdict on "
            "\"the fraction below t·std is not lower than ReLU's by m or more\" over the datasets (supported: kept on "
            "every dataset); the last column is the smallest t from which it holds at every larger t.\n\n"
            + md_table(["arm", *[f"t={t:g}" for t in CURVE], "keeps ReLU's sparsity"], rows) + dormant_text)


def _answer(result) -> str:
    held = _thresholds_held(result)
    parts = []
    for arm in result.arms:
        if arm.baseline:
            continue
        _, from_t = held[arm.label]
        parts.append(f"{arm.short} from t = {from_t:g}" if from_t is not None else f"{arm.short} at no threshold")
    exact = result.main.arm_verdicts
    word = "no" if any(v == "contradicted" for v in exact.values()) else "by construction no"
    return (f"Exact zeros: {word} Leaky slope keeps them (f(z) = α·z ≠ 0). Counting an activation as zero when "
            f"|a| < t x its layer's standard deviation, Leaky ReLU is as sparse as ReLU (non-inferiority on every "
            f"dataset) " + "; ".join(parts) + ": the smaller the slope, the smaller the threshold from which its "
            "negative side counts as zero.")


def _literature(result) -> dict:
    held = _thresholds_held(result)
    text = "; ".join(f"{result.arm(a).short}: " + (f"t ≥ {f:g}" if f is not None else "nowhere")
                     for a, (_, f) in held.items())
    return {"xu2015": f"C4 (sparsity): no Leaky slope keeps ReLU's exact zeros (by construction); the near-zero "
                      f"fraction |a| < t·std matches ReLU's from: {text}."}


STUDY = Study(
    name="c4_sparsity", id="C4", title="C4. Leaky ReLU keeps ReLU's sparse activations",
    claim="Leaky ReLU keeps ReLU's sparse activations",
    question=("After training, are Leaky ReLU's hidden activations as sparse as ReLU's: as large a fraction exactly "
              "zero, or below t times the layer's standard deviation, for t from 1e-4 to 1?"),
    settings=("dataset.name",),
    analyses=(Analysis("sparsity", "Sparsity of trained networks",
                       "Is the fraction of zero (or near-zero) activations not lower than ReLU's by m or more, and at "
                       "which thresholds?", (EXACT, *NEAR, ACTIVE)),),
    notes="The claim is one of non-inferiority: sparsity like ReLU's, not more.",
    order=40, cost=32,
    quick=("seeds=10", "epochs=3", "dataset=moons"),
    headline=(),
    section=_section, literature=_literature, answer=_answer,
    limitations=("C4's networks are healthy 2 x 32 MLPs trained with SGD at one rate; sparsity under dying is in C1's "
                 "tables (`exact_zero_frac`, `near_zero_frac` columns).",),
)

