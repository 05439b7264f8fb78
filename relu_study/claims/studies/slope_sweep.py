"""S: which slope, if any.  The slope sweep.

Fixed slopes α from 0 (ReLU) to 1 (the identity: a linear network, the
control), Xu et al.'s 1/5.5 among them, a learned slope (PReLU, starting at
0.25) and a random one (RReLU, α ~ U[1/8, 1/3] in training, its mean in
evaluation), each at its own learning rate tuned on validation data
(:mod:`relu_study.claims.tuning`) and scored on held-out test data with other
seeds, on several datasets.  Every outcome is drawn as a curve against the
slope with its interval, and every arm gets its own verdict against ReLU: the
answer is "which slope, if any", not "leaky or not".
"""

from __future__ import annotations

import math

from ... import charts
from ..analysis import Analysis, Effect, Metric, Study
from ..document import md_table, num, save_chart, verdict_sentence
from ..tables import networks
from ..tuning import TUNING_SEEDS, tuned_table
from .c5_convergence import EPOCHS_TO, FAILED, TEST_LOSS, TEST_SCORE, km_section, tuned_rates_text

GRID = "optimizer.lr"
DORMANT = Metric("dormant_frac", "dormant fraction at the end", -1, Effect(0.25, 0.02), short="dormant")
DEAD = Metric("dead_frac", "never-positive fraction at the end", -1, Effect(0.25, 0.02), short="never positive")
NEAR = Metric("near_zero_frac", "near-zero fraction at the end (|a| < 1e-3 x the layer's std)", +1, Effect(0.1, 0.05),
              test="noninferiority", short="near zero")

TUNED = Analysis("tuned", "Each slope at its best learning rate",
                 "With each arm at the learning rate its tuning seeds found best, does the scoring seeds' test loss "
                 "beat ReLU's, and how do the other outcomes move with the slope?",
                 (TEST_LOSS, TEST_SCORE, FAILED, EPOCHS_TO, DORMANT, DEAD, NEAR), settings=("dataset.name",),
                 rows="scored")

#: outcomes drawn against the slope: (column, axis label, chart name suffix)
CURVES = (("test_loss_chance", "test loss (chance scale)", "test_loss"),
          ("test_score", "test accuracy / R²", "test_score"),
          ("failed", "failed networks", "failed"),
          ("dormant_frac", "dormant fraction", "dormant"),
          ("dead_frac", "never-positive fraction", "dead"),
          ("near_zero_frac", "near-zero fraction", "near_zero"),
          ("epochs_to", "epochs to threshold", "epochs_to"))


def _prepare(data, study):
    net, arms = networks(data, ("dataset.name", GRID))
    return tuned_table(net, data.metrics, GRID, TUNING_SEEDS), arms


def _slope_of(arm) -> float:
    if arm.activation == "relu":
        return 0.0
    if arm.activation == "rrelu":
        return (arm.lower + arm.upper) / 2
    return arm.slope


def _curve_charts(result) -> list:
    """One figure per outcome: per dataset, the level of every arm (in slope
    order; PReLU at its initial and RReLU at its mean slope) with its 95%
    interval and n, over the scored networks."""
    lev = result.main.levels
    datasets = list(dict.fromkeys(lev["setting"])) if len(lev) else []
    order = sorted(result.arms, key=lambda a: (a.activation in ("prelu", "rrelu"), _slope_of(a), a.activation))
    # tick labels short enough for ten arms side by side; the caption gives PReLU's start and RReLU's range
    cats = [{"prelu": "PReLU", "rrelu": "RReLU"}.get(a.activation, a.short) for a in order]
    out = []
    for column, label, suffix in CURVES:
        panels = []
        for d in datasets:
            rows = lev[(lev["setting"] == d) & (lev["metric"] == column)].set_index("arm")
            if rows.empty:
                continue
            y, lo, hi, n = [], [], [], []
            for a in order:
                r = rows.loc[a.label] if a.label in rows.index else None
                y.append(None if r is None else r["level"])
                lo.append(None if r is None else r["lo"])
                hi.append(None if r is None else r["hi"])
                n.append(None if r is None else int(r["n"]))
            panels.append(charts.Panel(d, [charts.Series("mean over scored networks [95% CI]", cats, y, lo, hi, n,
                                                         color="#1f77b4")],
                                       ylabel=label, categories=cats))
        if panels:
            out.append(charts.Chart(f"slope_sweep_{suffix}", f"S: {label} against the slope", "points", panels,
                                    columns=2, show_n=True, panel_size=(6.0, 3.0),
                                    caption=f"S: {label} of the scored networks (scoring seeds at each arm's tuned "
                                            f"learning rate), per dataset, arms in order of their slope (α = 0: "
                                            f"ReLU; α = 1: the identity, a linear network; PReLU at its initial "
                                            f"slope 0.25, learned; RReLU: random in training, its mean in "
                                            f"evaluation); mean or rate with its 95% interval and n."))
    return out


def _section(result, data, out) -> str:
    for chart in _curve_charts(result):
        result.figures.append((save_chart(chart, out), chart.caption))
    km_text, km_charts = km_section(result, out)
    for c in km_charts:
        result.figures.append((save_chart(c, out), c.caption))
    return "\n".join([tuned_rates_text(result, out), _best_text(result), "", km_text])


def _best_text(result) -> str:
    """Per dataset: the slope with the lowest mean test loss, and the arms whose
    paired effect on test loss against ReLU is supported (better) or
    contradicted (worse)."""
    ar = result.main
    j = ar.judged[(ar.judged["metric"] == TEST_LOSS.column) & ar.judged["eligible"]] if len(ar.judged) else ar.judged
    lev = ar.levels[ar.levels["metric"] == TEST_LOSS.column]
    rows = []
    for d in dict.fromkeys(lev["setting"]):
        ld = lev[lev["setting"] == d].sort_values("level")
        best = result.arm(ld.iloc[0]["arm"])
        jd = j[j["setting"] == d]
        better = [result.arm(a).short for a in jd.loc[jd["verdict"] == "supported", "arm"]]
        worse = [result.arm(a).short for a in jd.loc[jd["verdict"] == "contradicted", "arm"]]
        rows.append([d, f"{best.short} ({num(ld.iloc[0]['level'])})", ", ".join(better) or "none",
                     ", ".join(worse) or "none"])
    return ("**Which slope?** Per dataset, the arm with the lowest mean test loss, and the arms whose test loss is "
            "better or worse than ReLU's by the verdict rule (paired by seed, Holm over every arm and dataset):\n\n"
            + md_table(["dataset", "lowest mean test loss", "better than ReLU", "worse than ReLU"], rows))


def _answer(result) -> str:
    return ("Each slope at its own tuned learning rate, against ReLU on test loss: "
            + verdict_sentence(result, result.main, TEST_LOSS, "reached a lower test loss",
                               "reached a higher test loss"))


def _literature(result) -> dict:
    v = result.main.arm_verdicts
    xu = [a for a in result.arms if a.activation == "leaky" and math.isclose(a.slope, 1 / 5.5, rel_tol=1e-3)]
    text = "S (test loss at each slope's tuned learning rate): " + "; ".join(
        f"{result.arm(a).short} {w}" for a, w in v.items()) + "."
    out = {"xu2015": text + (f" Their 1/5.5 ({xu[0].short}): {v.get(xu[0].label, 'not tested')}." if xu else "")}
    prelu = [a for a in result.arms if a.activation == "prelu"]
    if prelu:
        out["he2015"] = f"S: PReLU (learned slope from 0.25), test loss at its tuned rate: {v.get(prelu[0].label)}."
    small = [a for a in result.arms if a.activation == "leaky" and a.slope == 0.01]
    if small:
        out["maas2013"] = f"S: α = 0.01 at its tuned rate, test loss: {v.get(small[0].label)}."
    return out


STUDY = Study(
    name="slope_sweep", id="S", title="S. Which slope, if any: the slope sweep",
    claim="A negative slope (fixed, learned or random) gives a better network than ReLU",
    question=("With every slope at its own tuned learning rate, which negative slope, if any, reaches a lower test "
              "loss than ReLU, and how do test accuracy, failed networks, dormant and never-positive units and "
              "sparsity move with the slope?"),
    settings=("dataset.name",),
    analyses=(TUNED,),
    notes=("α = 1 makes every hidden layer the identity: the network is linear, the control that shows what the "
           "nonlinearity buys. Tuning and scoring are kept apart as in C5 (tuning seeds choose the learning rate on "
           "validation data; the other seeds are scored on test data)."),
    order=55, cost=670,
    quick=("seeds=12", "epochs=3", "dataset=spirals", "optimizer.lr=0.003,0.03",
           "+experiment/arm=relu,leaky_0.1,leaky_1.0,prelu,rrelu"),
    headline=("test_score", "dormant_frac"),
    prepare=_prepare, section=_section, literature=_literature, answer=_answer,
    pilot=("A full pilot run with Adam rates 0.001-0.03 chose 0.001, the smallest, for every arm on digits and 0.03, "
           "the largest, for five arms on MNIST-1D; the grid now starts at 0.0003 (0.03 stays the top: larger rates "
           "made ReLU units die in C1's pilot). The pilot's half-widths on spirals and sine were 2-3 times m/2; the "
           "seeds that would resolve them (see the resolution table) do not fit the 30-minute budget."),
    limitations=("The slope sweep tunes the learning rate of Adam only, for one architecture and a fixed number of "
                 "epochs; PReLU learns one slope per unit from 0.25 and RReLU draws from Xu et al.'s default range.",),
)

