"""L2: Lu et al.'s born-dead probability.

An estimate, not an arm comparison: for ReLU networks of L hidden layers of
width N (zero biases, He-normal weights) the probability that some hidden
layer is never positive on the probe set, at one input point and over the
domain, beside the single-input formula 1 - (1 - 2^-N)^L.  The check: at one
point the formula should lie inside the 95% interval in about 95% of cells
(more misses than a binomial test allows contradicts it); over the domain the
estimate can only be lower.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ... import charts
from .. import stats as S
from ..analysis import Study, StudyResult
from ..document import ci, md_table, num, save_chart, write_csv


def _n_probe(row) -> float:
    """Probe-set size of a run: its training samples, capped at probe.max_samples."""
    try:
        n = int(row["dataset.n_samples"])
        n_train = n - math.ceil(round(float(row.get("dataset.val_fraction", 0.2)) * n, 9))
        cap = row.get("probe.max_samples")
        return float(min(n_train, int(cap)) if cap is not None and not pd.isna(cap) else n_train)
    except (KeyError, TypeError, ValueError):
        return math.nan


def born_dead_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per (depth, width, probe set): networks, born-dead count and estimate with
    a Wilson 95% interval, beside the formula.  Probe set ``point`` is a dataset
    with one training sample (``dataset.n_samples`` <= 2), else ``domain``."""
    e0 = metrics[metrics["epoch"] == 0].copy()
    e0["probe_set"] = np.where(e0["dataset.n_samples"].astype(float) <= 2, "point", "domain")
    e0["born_dead"] = S.dead_networks(e0)
    rows = []
    for (depth, width, probe), g in e0.groupby(["model.depth", "model.width", "probe_set"]):
        k, n = int(g["born_dead"].sum()), len(g)
        p, lo, hi = S.wilson(k, n)
        rows.append({"depth": int(depth), "width": int(width), "probe_set": probe, "n": n, "dead": k,
                     "estimate": p, "lo": lo, "hi": hi, "formula": S.born_dead_formula(depth, width),
                     "n_probe": _n_probe(g.iloc[0])})
    return pd.DataFrame(rows)


def _chart(tab: pd.DataFrame) -> charts.Chart:
    panels = []
    for w in sorted(tab["width"].unique()):
        g = tab[tab["width"] == w]
        depths = list(range(1, int(g["depth"].max()) + 1))
        series = [charts.Series("formula 1 − (1 − 2^−N)^L", depths,
                                list(S.born_dead_formula(np.array(depths), w)), color=charts.REFERENCE_COLOUR,
                                style="dashed")]
        for probe, label, colour in (("point", "estimate at one input point", "#1f77b4"),
                                     ("domain", "estimate over the whole domain", "#d62728")):
            p = g[g["probe_set"] == probe].sort_values("depth")
            if len(p):
                series.append(charts.Series(label, list(p["depth"]), list(p["estimate"]), list(p["lo"]),
                                            list(p["hi"]), [int(v) for v in p["n"]], color=colour))
        panels.append(charts.Panel(f"width N = {w}", series, xlabel="depth L (hidden layers)",
                                   ylabel="P(born dead)", ylim=(-0.02, 1.02)))
    return charts.Chart("born_dead", "L2: born-dead ReLU networks (zero biases, He-normal): estimate vs formula",
                        "lines", panels, columns=2, show_n=True,
                        caption="L2: born-dead probability over depth, one panel per width: the formula (dashed), the "
                                "estimate at one input point and over the domain, each with a Wilson 95% band "
                                "(n initialisations per cell in the JSON).")


def _analyse(data, study, out) -> StudyResult:
    tab = born_dead_table(data.metrics)
    result = StudyResult(study, n_networks=int(tab["n"].sum()) if len(tab) else 0)
    result.tables.append(write_csv(tab, out, "born_dead.csv"))
    chart = _chart(tab)
    result.figures.append((save_chart(chart, out), chart.caption))
    point, dom = tab[tab["probe_set"] == "point"], tab[tab["probe_set"] == "domain"]
    inside = ((point["lo"] <= point["formula"]) & (point["formula"] <= point["hi"]))
    k_in, k = int(inside.sum()), len(point)
    # more misses than a 5% miss rate allows (one-sided binomial test at 5%) contradicts the formula
    from scipy.stats import binom

    misses_p = float(binom.sf(k - k_in - 1, k, 0.05)) if k else math.nan
    below = dom["lo"] <= dom["formula"]
    k_below, kd = int(below.sum()), len(dom)
    if not k:
        verdict = "inconclusive"
    else:
        verdict = "supported" if misses_p >= 0.05 else "contradicted"
    result.verdict = verdict
    frac, flo, fhi = S.wilson(k_in, k)
    dfrac, dlo, dhi = S.wilson(k_below, kd)
    result.claim_arms = [
        {"arm": "ReLU, one input point", "verdict": verdict,
         "metric": "fraction of cells whose 95% interval holds the formula",
         "effect": frac if k else None, "lo": flo if k else None, "hi": fhi if k else None, "n": k},
        {"arm": "ReLU, whole domain", "verdict": ("supported" if kd and k_below == kd else
                                                 "contradicted" if kd else "inconclusive"),
         "metric": "fraction of cells whose estimate is not above the formula",
         "effect": dfrac if kd else None, "lo": dlo if kd else None, "hi": dhi if kd else None, "n": kd}]
    rows = []
    for (depth, width), g in tab.groupby(["depth", "width"]):
        pt, dm = g[g["probe_set"] == "point"], g[g["probe_set"] == "domain"]
        f = S.born_dead_formula(depth, width)
        row = [depth, width, num(f)]
        if len(pt):
            r = pt.iloc[0]
            row += [ci(r["estimate"], r["lo"], r["hi"]), "yes" if r["lo"] <= f <= r["hi"] else "**no**"]
        else:
            row += ["–", "–"]
        row += [ci(dm.iloc[0]["estimate"], dm.iloc[0]["lo"], dm.iloc[0]["hi"]) if len(dm) else "–"]
        rows.append(row)
    n_init = int(tab["n"].median()) if len(tab) else 0
    n_dom = tab.loc[tab["probe_set"] == "domain", "n_probe"]
    text = [f"**Claim.** {study.claim}. **Question.** {study.question}", "",
            "A network is counted *born dead* when some hidden layer has every unit never positive on the probe set "
            "(its `dead_frac_l<i>` is 1 at epoch 0): that layer outputs 0 for every input, so the network is "
            "constant. Probe sets: one input point (a dataset of a single training sample), and the domain "
            f"({num(n_dom.median()) if len(n_dom) else '–'} points of U[−√3, √3]). About {n_init} initialisations "
            f"per cell; worst-case 95% half-width {num(1.96 * math.sqrt(0.25 / max(n_init, 1)), 2)}.", "",
            "**Why the domain is two points.** With zero biases every layer is positively homogeneous: "
            "relu(c·z) = c·relu(z) for c > 0, so the whole network satisfies N(c·x) = c·N(x), and which units are "
            "positive depends on x only through its sign. With a 1-D input the domain [−√3, √3] therefore holds "
            "exactly two activation patterns, those of x = −1 and x = +1: a network is born dead over the domain "
            "exactly when it is dead at both points (a test checks this on random networks). That is why the domain "
            "estimate lies below the one-point formula, and why its first layer can never be dead: a first-layer unit "
            "with weight w is positive at x = +1 when w > 0 and at x = −1 when w < 0.", "",
            "**Which L.** The formula's exponent is the number of *hidden* layers that can each die (a layer of N "
            "units is all non-positive at one live input with probability 2^−N; the output layer has no ReLU). Here L "
            "counts hidden layers (`model.depth`), so it reads 1 − (1 − 2^−N)^L; in a notation whose depth counts the "
            "output layer too, as a network of L layers with L − 1 hidden ones, the same formula has the exponent "
            "L − 1.", "",
            md_table(["L (depth)", "N (width)", "formula 1−(1−2^−N)^L", "one point [Wilson 95% CI]",
                      "formula in CI", "domain [Wilson 95% CI]"], rows), "",
            f"**Check (computed).** At one input point the formula lies inside the 95% interval in {k_in} of {k} "
            f"cells (about 95% expected if it is exact; binomial p of this many misses {_p2(misses_p)}): "
            f"**{verdict}**. Over the domain the interval's lower end is at or below the formula in {k_below} of "
            f"{kd} cells (the domain estimate can only be lower).", ""]
    for f_, cap in result.figures:
        text += [f"![{cap}]({f_})", "", f"*{cap}*", ""]
    text.append("Table: " + ", ".join(f"[{t.split('/')[-1]}]({t})" for t in result.tables))
    result.text = "\n".join(text) + "\n"
    ex = tab[(tab["probe_set"] == "domain") & (tab["depth"] == 4) & (tab["width"] == 4)]
    example = (f"; L = 4, N = 4: {num(ex.iloc[0]['estimate'], 2)} vs {num(ex.iloc[0]['formula'], 2)}"
               if len(ex) else "")
    result.summary = (f"At one input point the formula 1 − (1 − 2^−N)^L lies inside the Wilson 95% interval of "
                      f"the estimate in {k_in} of {k} depth x width cells (about {n_init} initialisations each), as "
                      f"expected if it is exact. Over the whole input domain the born-dead probability is lower, as "
                      f"it must be: a network dead at one point can be alive elsewhere (the interval's lower end is "
                      f"at or below the formula in {k_below} of {kd} cells{example}).")
    return result


def _p2(p) -> str:
    return "–" if not math.isfinite(p) else f"{p:.2f}"


def _literature(result) -> dict:
    point = result.claim_arms[0] if result.claim_arms else None
    if not point or not point["n"]:
        return {}
    k_in = round(point["effect"] * point["n"])
    return {"lu2019": f"L2: at one input point their formula lies inside the 95% interval in {k_in} of "
                      f"{point['n']} cells ({point['verdict']}); over a whole input domain the probability is lower."}


STUDY = Study(
    name="born_dead", id="L2", title="L2. Born dead: Lu et al.'s formula",
    claim="A ReLU network of L layers of width N is born dead at one input with probability 1 − (1 − 2^−N)^L",
    question=("How likely is a freshly initialised ReLU network (zero biases, He-normal weights) of L hidden layers "
              "of width N to be born dead, and does Lu et al.'s single-input formula hold?"),
    order=70, cost=54,
    quick=("seeds=300", "model.depth=1,4,10", "model.width=2,4"),
    analyse=_analyse, literature=_literature,
    pilot=("`collapsed` at epoch 0 is not the born-dead indicator: with RAI (non-zero initial biases, small weights) "
           "a third of pilot networks had an output spread below 1e-3 of the target's without any dead layer; a "
           "network is born dead when some hidden layer is entirely never-positive."),
)
