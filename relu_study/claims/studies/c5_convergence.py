"""C5: Leaky ReLU trains more stably and converges better.

Every arm trains on several datasets (with a held-out test part) over a grid of
learning rates, from ones where every network trains to ones where networks
diverge or their ReLUs die.  Two questions:

* **Each arm at its best** (C5.1): the arm's learning rate is chosen per
  dataset on the *tuning* seeds' validation loss, and the *scoring* seeds are
  compared at it (:mod:`relu_study.claims.tuning`): test loss (primary, on the
  chance scale, every network counts), test accuracy or R², failed networks,
  and the epochs until the validation loss first reaches a threshold (the
  restricted mean: a network that never reaches it counts as the last epoch;
  Kaplan-Meier curves and log-rank tests in the section).
* **Stability** (C5.2): at every learning rate of the grid, the share of
  networks that diverged (every seed), arm against ReLU.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ... import charts
from .. import stats as S
from ..analysis import Analysis, Effect, Gate, Metric, Study
from ..document import arm_colour, md_table, num, pval, save_chart, verdict_sentence, write_csv
from ..tables import fmt_value, networks
from ..tuning import THRESHOLD_FACTOR, TUNING_SEEDS, tuned_table

GRID = "optimizer.lr"
SCORED_COUNTS = "every scored network counts (a diverged one scores the chance loss)"

TEST_LOSS = Metric("test_loss_chance", "test loss at the arm's tuned learning rate (chance scale)", -1,
                   Effect(0.1, 0.0), bounds=(0.0, math.inf), short="test loss", counts=SCORED_COUNTS)
TEST_SCORE = Metric("test_score", "test accuracy (classification) or R² (regression) at the tuned rate", +1,
                    Effect(0.02, 0.01), bounds=(-math.inf, 1.0), short="test accuracy / R²")
EPOCHS_TO = Metric("epochs_to", "epochs until the validation loss first reaches the threshold (restricted mean: "
                                "never reached counts as the last epoch)", -1, Effect(0.1, 1.0),
                   bounds=(0.0, math.inf), short="epochs to threshold", unit=" epoch",
                   counts="every scored network counts (never reached, or diverged: the last epoch)")
FAILED = Metric("failed", "failed networks at the tuned rate (diverged, collapsed or not trained)", -1,
                Effect(0.2, 0.05), binary=True, if_diverged=1.0, short="failed")
DORMANT = Metric("dormant_frac", "dormant fraction at the end, at the tuned rate", -1, Effect(0.25, 0.02),
                 short="dormant")
DIVERGED = Metric("diverged", "diverged networks (loss became non-finite)", -1, Effect(0.2, 0.05), binary=True,
                  if_diverged=1.0, short="diverged")
FAILED_ALL = Metric("failed", "failed networks (diverged, collapsed or not trained)", -1, Effect(0.2, 0.05),
                    binary=True, if_diverged=1.0, short="failed")

TUNED = Analysis("tuned", "Each arm at its best learning rate",
                 "With each arm at the learning rate its tuning seeds found best, do the scoring seeds reach a lower "
                 "test loss, a higher test accuracy or R², and the loss threshold sooner?",
                 (TEST_LOSS, TEST_SCORE, EPOCHS_TO, FAILED, DORMANT), settings=("dataset.name",), rows="scored")
STABILITY = Analysis("stability", "Stability against the learning rate",
                     "At each learning rate of the grid where training is unstable, do fewer Leaky networks diverge "
                     "than ReLU networks?",
                     (DIVERGED, FAILED_ALL), Gate("some network diverged at this rate, in any arm", "unstable", 0.01,
                                                  (0.0, 0.05), "the share of diverged networks over every arm"),
                     settings=("dataset.name", GRID))


def _prepare(data, study):
    net, arms = networks(data, ("dataset.name", GRID))
    net = tuned_table(net, data.metrics, GRID, TUNING_SEEDS)
    # arm-neutral instability of a setting (dataset x rate): the share of diverged networks over every arm,
    # the gate of the stability analysis (a gate on ReLU alone would miss rates where only Leaky diverges)
    net["unstable"] = net.groupby(["dataset.name", GRID])["diverged"].transform("mean")
    return net, arms


def km_steps(t, values, end: float) -> tuple[list, list]:
    """A Kaplan-Meier curve as the step function it is: ``values[i]`` holds from
    ``t[i]`` to the next event time, 0 before the first, and the last value runs
    on to ``end`` (the last time observed).  Drawn as points joined by lines, so
    every renderer (PNG and page) shows steps and no line suggests events
    between two epochs."""
    x, y, prev = [0.0], [0.0], 0.0
    for ti, vi in zip(np.asarray(t, dtype=float), np.asarray(values, dtype=float)):
        x += [float(ti), float(ti)]
        y += [prev, float(vi)]
        prev = float(vi)
    if end > x[-1]:
        x.append(float(end))
        y.append(prev)
    return x, y


def km_section(result, out) -> tuple[str, list]:
    """Kaplan-Meier curves of epochs to the threshold per dataset and arm (the
    scored networks) and log-rank tests against ReLU, Holm-adjusted: the text
    and the chart (for every tuned study: C5, the slope sweep)."""
    name = result.study.name
    net = result.net[result.net["scored"] == 1]
    panels, rows, records = [], [], []
    for d, g in net.groupby("dataset.name"):
        series = []
        base = g[g["arm"] == "ReLU"]
        for arm in result.arms:
            a = g[g["arm"] == arm.label]
            if a.empty:
                continue
            km = S.kaplan_meier(a["epochs_to"], a["reached"] == 1)
            end = float(a["epochs_to"].max())
            x, y = km_steps(km.t, 1 - km.S, end)
            series.append(charts.Series(f"{arm.short} (n={len(a)})", x, y, km_steps(km.t, 1 - km.hi, end)[1],
                                        km_steps(km.t, 1 - km.lo, end)[1], color=arm_colour(arm.label, result.arms)))
            median = float(km.t[np.argmax(km.S <= 0.5)]) if len(km.S) and (km.S <= 0.5).any() else math.nan
            rec = {"dataset": d, "arm": arm.label, "n": len(a), "reached": int((a["reached"] == 1).sum()),
                   "median_epochs": median, "threshold": float(a["threshold"].iloc[0]), "chi2": math.nan,
                   "p": math.nan}
            if not arm.baseline and len(base):
                chi2, p = S.logrank(base["epochs_to"], base["reached"] == 1, a["epochs_to"], a["reached"] == 1)
                rec.update(chi2=chi2, p=p)
            records.append(rec)
        panels.append(charts.Panel(f"{d} (threshold {num(g['threshold'].iloc[0], 2)})", series, xlabel="epoch",
                                   ylabel="fraction reached", ylim=(-0.02, 1.02)))
    table = pd.DataFrame(records)
    if len(table):
        table["p_holm"] = np.nan
        sel = table["p"].notna()
        table.loc[sel, "p_holm"] = S.holm(table.loc[sel, "p"].to_numpy())
    result.tables.append(write_csv(table, out, f"{name}_logrank.csv"))
    sid = result.study.id
    chart = charts.Chart(f"{name}_km", f"{sid}: epochs until the validation loss reaches the threshold", "lines",
                         panels, columns=4, show_n=True,
                         caption=f"{sid}: Kaplan-Meier estimate of the fraction of scored networks (scoring seeds at "
                                 "each arm's tuned rate) whose validation loss has reached the dataset's threshold by "
                                 "each epoch, with a 95% band; a network that never reaches it (or diverged) is "
                                 "censored at the last epoch. n in the legend.")
    for _, r in table.iterrows():
        rows.append([r["dataset"], r["arm"].replace("Leaky ", ""), f"{r['reached']}/{r['n']}",
                     num(r["median_epochs"]), num(r["chi2"], 2), pval(r["p_holm"])])
    text = ("**Epochs to the threshold, Kaplan-Meier and log-rank.** Per dataset the threshold is "
            f"{THRESHOLD_FACTOR:g} x the median final validation loss of all scored networks (arm-neutral). Median "
            "epochs from the Kaplan-Meier curve (–: fewer than half reached it); log-rank test of each arm against "
            "ReLU (unpaired; Holm over the table).\n\n"
            + md_table(["dataset", "arm", "reached", "median epochs", "log-rank χ²", "p (Holm)"], rows))
    return text, [chart]


def tuned_rates_text(result, out) -> str:
    """The table of every arm's tuned learning rate per dataset (and its CSV)."""
    chosen = result.net.attrs.get("chosen")
    if chosen is None or not len(chosen):
        return ""
    result.tables.append(write_csv(chosen.drop(columns="scores"), out, f"{result.study.name}_tuned_rates.csv"))
    piv = chosen.pivot(index="dataset.name", columns="arm", values=GRID)
    arms = [a for a in result.arms if a.label in piv.columns]
    grid = sorted(float(v) for v in result.net[GRID].dropna().unique())
    edge = (grid[0], grid[-1]) if grid else ()

    def cell(v):
        return fmt_value(v) + (" ⇤" if grid and v == edge[0] else " ⇥" if grid and v == edge[1] else "")

    n_edge = int(sum(v in edge for v in piv.to_numpy().ravel()))
    return "\n".join([f"**Tuned learning rates** (lowest mean validation loss of the tuning seeds, chance scale; "
                      f"grid {', '.join(fmt_value(v) for v in grid)}). ⇤ / ⇥: the choice is the grid's smallest / "
                      f"largest rate, so the best rate may lie outside it ({n_edge} of {piv.size} choices).", "",
                      md_table(["dataset", *[a.short for a in arms]],
                               [[d, *[cell(r[a.label]) for a in arms]] for d, r in piv.iterrows()]), ""])


def _stability_chart(result) -> charts.Chart:
    ar = result.analyses[1]
    lev = ar.levels[ar.levels["metric"] == DIVERGED.column]
    panels = []
    for d in dict.fromkeys(lev["dataset.name"]):
        series = []
        for arm in result.arms:
            a = lev[(lev["dataset.name"] == d) & (lev["arm"] == arm.label)].sort_values(GRID)
            if a.empty:
                continue
            series.append(charts.Series(arm.label, list(a[GRID]), list(a["level"]), list(a["lo"]), list(a["hi"]),
                                        [int(v) for v in a["n"]], color=arm_colour(arm.label, result.arms)))
        panels.append(charts.Panel(str(d), series, xlabel="learning rate", ylabel="diverged", logx=True,
                                   ylim=(-0.02, 1.02)))
    return charts.Chart("c5_convergence_divergence", "C5: divergence against the learning rate", "lines", panels,
                        columns=4, show_n=True,
                        caption="C5: share of networks (every seed) whose loss became non-finite, per learning rate, "
                                "arm and dataset, with Wilson 95% intervals (n networks per point).")


def _section(result, data, out) -> str:
    text = [tuned_rates_text(result, out)]
    km_text, km_charts = km_section(result, out)
    for c in km_charts:
        result.figures.append((save_chart(c, out), c.caption))
    chart = _stability_chart(result)
    result.figures.append((save_chart(chart, out), chart.caption))
    return "\n".join(text + [km_text])


def _answer(result) -> str:
    tuned, stab = result.analyses[0], result.analyses[1]
    return ("With each arm at its own best learning rate, "
            + verdict_sentence(result, tuned, TEST_LOSS, "reached a lower test loss", "reached a higher test loss")
            + " Speed to the loss threshold: "
            + verdict_sentence(result, tuned, EPOCHS_TO, "got there sooner", "got there later")
            + " Stability over the learning-rate grid: "
            + verdict_sentence(result, stab, DIVERGED, "diverged less often", "diverged more often"))


def _literature(result) -> dict:
    v = result.main.arm_verdicts
    text = ("C5 (test loss at each arm's tuned learning rate): " + "; ".join(f"{result.arm(a).short} {w}"
                                                                          for a, w in v.items()) + ".")
    return {"maas2013": text, "xu2015": text}


STUDY = Study(
    name="c5_convergence", id="C5", title="C5. Leaky ReLU trains more stably and converges better",
    claim="Leaky ReLU trains more stably and converges better",
    question=("Per dataset, with each arm at the learning rate that suits it, does Leaky ReLU reach a lower test loss, "
              "and reach a loss threshold sooner; and over a grid of learning rates, does it diverge less often?"),
    settings=("dataset.name",),
    analyses=(TUNED, STABILITY),
    notes=("Tuning and scoring are kept apart: seeds and data. The first tuning seeds of each cell choose the arm's "
           "learning rate on the validation split; the comparison reads the other seeds' held-out test split at that "
           "rate. Losses are on the chance scale (a diverged network, or one worse than a constant prediction, "
           "scores the chance loss)."),
    order=50, cost=420,
    quick=("seeds=12", "epochs=3", "dataset=spirals,sine", "optimizer.lr=0.01,0.3"),
    headline=("epochs_to",),
    prepare=_prepare, section=_section, literature=_literature, answer=_answer,
    pilot=("A full pilot run over rates 0.003-0.3 chose 0.003, the grid's smallest rate, for every arm on 4 of 7 "
           "datasets; 0.001 was added. At 0.3 most Leaky networks diverged where ReLU's did not (ReLU units died "
           "instead), and most other rates saw no divergence at all; the stability analysis is therefore gated on the "
           "rates where some network of any arm diverged (a gate on ReLU alone would miss them)."),
    limitations=("C5 tunes the learning rate only (one optimizer, SGD with momentum 0.9, one architecture, a fixed "
                 "number of epochs); test metrics are read at the last epoch, without early stopping.",),
)
