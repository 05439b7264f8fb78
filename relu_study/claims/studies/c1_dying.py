"""C1: Leaky ReLU prevents dying units.

Two questions with different causes, analysed apart: units that *training*
makes useless (large steps at zero bias push a unit below zero on every input),
and units already useless at *initialisation* (a bias of -1).  The grid crosses
three optimizers (SGD, momentum 0.9, Adam) with one learning-rate grid from
stable to unstable, with and without gradient clipping, so that "dying" is seen
next to its usual cure and next to divergence.

The primary measure can fail for every arm and means that a unit is
functionally lost: the *dormant* fraction (Sokar et al. 2023: a unit whose mean
|activation| is at most 0.025 of its layer's average).  A dead ReLU unit is
dormant; a stuck leaky unit (never positive, output alpha*z) is dormant only if
its output is negligible next to its neighbours'.  A diverged network counts as
every unit lost.  Never-positive, negligible contribution and low gain are
secondary; low gain cannot happen for a slope above ``probe.gain_tol``.  The
section adds each arm's value at initialisation, the change from it, and the
per-unit transitions (died / revived / stayed) with the revival rate, the time
to revive (Kaplan-Meier) and the contribution of revived units, from
``units.parquet``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ... import charts
from .. import stats as S
from ..analysis import Analysis, Effect, Gate, Metric, Study, setting_labels
from ..document import arm_colour, ci, md_table, num, save_chart, verdict_sentence, write_csv

DORMANT = Metric("dormant_frac", "dormant fraction at the end (units whose mean |a| is at most 0.025 of their "
                                 "layer's average)", -1, Effect(0.25, 0.02), if_diverged=1.0, short="dormant",
                 note="A diverged network counts as every unit lost (1).")
FAILED = Metric("failed", "failed networks (diverged, collapsed or not trained)", -1, Effect(0.2, 0.05), binary=True,
                if_diverged=1.0, short="failed")
CHANGE_DORMANT = Metric("change_dormant_frac", "change of the dormant fraction during training (final − initial)", -1,
                        Effect(0.25, 0.02), bounds=(-1.0, 1.0), short="Δ dormant")
DEAD = Metric("dead_frac", "never-positive fraction at the end (z ≤ 0 on every probe sample)", -1, Effect(0.25, 0.02),
              short="never positive",
              note="For ReLU such a unit is dead; a leaky unit is stuck but still passes α·z and learns.")
CHANGE_DEAD = Metric("change_dead_frac", "change of the never-positive fraction during training (negative: units "
                                         "came back)", -1, Effect(0.25, 0.02), bounds=(-1.0, 1.0),
                     short="Δ never positive")
LOW_CONTRIBUTION = Metric("low_contribution_frac", "negligible-contribution fraction at the end (first-order share of "
                                                   "the layer's total ≤ 0.001)", -1, Effect(0.25, 0.02),
                          short="negligible contribution")
LOW_GAIN = Metric("low_gain_frac", "low-gain fraction at the end (|f'(z)| ≤ 0.05 on every probe sample)", -1,
                  Effect(0.25, 0.02), short="low gain",
                  by_construction="|f'(z)| ≥ α > 0.05 on every sample, so no unit can be low-gain (α = 0.01 can be)",
                  construction_arms="every arm with a slope above probe.gain_tol = 0.05")
DIVERGED = Metric("diverged", "diverged networks (loss became non-finite)", -1, Effect(0.2, 0.05), binary=True,
                  if_diverged=1.0, short="diverged",
                  note="Not part of the claim: the price a negative slope may pay at a large step.")
COLLAPSED = Metric("collapsed", "collapsed networks (constant output) at the end", -1, Effect(0.2, 0.05), binary=True,
                   short="collapsed")

ZERO_BIAS, NEGATIVE_BIAS = 0.0, -1.0

TRAINING = Analysis(
    "training", "Dying caused by training",
    "At zero bias, where training made ReLU units dormant, does Leaky ReLU leave fewer units dormant (and fewer "
    "networks failed)?",
    (DORMANT, FAILED, CHANGE_DORMANT, DEAD, LOW_CONTRIBUTION, LOW_GAIN, DIVERGED, COLLAPSED),
    Gate("training made ReLU units dormant", "change_dormant_frac", 0.05, (0.02, 0.1),
         "the ReLU arm's mean rise of the dormant fraction from initialisation to the end"),
    where=(("init.bias_value", (ZERO_BIAS,)),))

AT_INIT = Analysis(
    "init", "Dying present at initialisation",
    "With a bias of −1, where many ReLU units are dormant from the start, does Leaky ReLU leave fewer units dormant "
    "at the end, fewer networks failed, and do its stuck units come back?",
    (DORMANT, FAILED, CHANGE_DEAD, DEAD, DIVERGED),
    Gate("many ReLU units were dormant at initialisation", "init_dormant_frac", 0.25, (0.1, 0.5),
         "the ReLU arm's mean dormant fraction at initialisation"),
    where=(("init.bias_value", (NEGATIVE_BIAS,)),))


# --------------------------------------------------------------------------- units: transitions and revival

def _units(data, net) -> pd.DataFrame:
    """Per unit of every network with a ``units.parquet``: never-positive at
    initialisation and at the end, the first probed epoch at which a unit
    never-positive at initialisation was positive somewhere (NaN: never), and
    its contribution share at the end (x layer width: 1 = an average unit)."""
    parts = []
    for run_dir, g in net.groupby("run_dir"):
        f = Path(run_dir) / "units.parquet"
        if not f.is_file():
            continue
        u = pd.read_parquet(f, columns=["seed", "epoch", "layer", "unit", "never_positive", "contribution"])
        seeds = g.set_index("seed")
        u = u[u["seed"].isin(seeds.index)]
        if u.empty:
            continue
        key = ["seed", "layer", "unit"]
        init = u[u["epoch"] == 0].set_index(key)["never_positive"]
        last_epoch = u.groupby("seed")["epoch"].transform("max")
        final = u[u["epoch"] == last_epoch].set_index(key)
        back = u[(u["epoch"] > 0) & ~u["never_positive"]].groupby(key)["epoch"].min()
        width = u.groupby(["seed", "layer"])["unit"].transform("max").groupby([u["seed"], u["layer"]]).first() + 1
        t = pd.DataFrame({"stuck0": init})
        t["stuck1"] = final["never_positive"].reindex(t.index)
        t["contribution"] = final["contribution"].reindex(t.index)
        t["revived_at"] = back.reindex(t.index)
        t = t.reset_index()
        t["relative_contribution"] = t["contribution"] * t.set_index(["seed", "layer"]).index.map(width).to_numpy()
        t["last_epoch"] = t["seed"].map(u.groupby("seed")["epoch"].max())
        for k in ("arm", "init.bias_value", "optimizer.name"):
            t[k] = g[k].iloc[0] if k in g else None
        t["diverged"] = t["seed"].map(seeds["diverged"]).to_numpy()
        parts.append(t[t["diverged"] == 0])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _transitions(units: pd.DataFrame, arms) -> tuple[pd.DataFrame, list]:
    """Per arm and bias: units alive / stuck at initialisation and at the end
    (died, revived, stayed), the revival rate of units stuck at initialisation
    (Wilson 95%), the Kaplan-Meier median epoch of revival, and the mean
    contribution (relative to an average unit) of revived and still-stuck units."""
    rows, curves = [], []
    for (bias, label), g in units.groupby(["init.bias_value", "arm"], sort=True):
        stuck0, stuck1 = g["stuck0"].astype(bool), g["stuck1"].astype(bool)
        n0 = int(stuck0.sum())
        revived = stuck0 & ~stuck1
        k = int(revived.sum())
        rate, lo, hi = S.wilson(k, n0)
        times = np.where(g.loc[stuck0, "revived_at"].notna(), g.loc[stuck0, "revived_at"], g.loc[stuck0, "last_epoch"])
        km = S.kaplan_meier(times, g.loc[stuck0, "revived_at"].notna().to_numpy()) if n0 else None
        median = math.nan
        if km is not None and len(km.S) and (km.S <= 0.5).any():
            median = float(km.t[np.argmax(km.S <= 0.5)])
        rows.append({"bias": bias, "arm": label, "units": len(g), "alive_stayed": int((~stuck0 & ~stuck1).sum()),
                     "died": int((~stuck0 & stuck1).sum()), "stuck_at_init": n0, "revived": k,
                     "stayed_stuck": int((stuck0 & stuck1).sum()), "revival_rate": rate, "revival_lo": lo,
                     "revival_hi": hi, "median_epoch_to_revive": median,
                     "contribution_revived": float(g.loc[revived, "relative_contribution"].mean()) if k else math.nan,
                     "contribution_still_stuck": float(g.loc[stuck0 & stuck1, "relative_contribution"].mean())
                     if (stuck0 & stuck1).any() else math.nan,
                     "contribution_never_stuck": float(g.loc[~stuck0 & ~stuck1, "relative_contribution"].mean())
                     if (~stuck0 & ~stuck1).any() else math.nan})
        if km is not None and bias == NEGATIVE_BIAS:
            curves.append((label, km))
    return pd.DataFrame(rows), curves


def _revival_chart(curves, arms) -> charts.Chart:
    series = []
    for label, km in curves:
        x = [0.0, *km.t.tolist()]
        frac = [0.0, *(1 - km.S).tolist()]
        series.append(charts.Series(f"{label} (n={km.n} units)", x, frac, [0.0, *(1 - km.hi).tolist()],
                                    [0.0, *(1 - km.lo).tolist()], color=arm_colour(label, arms)))
    panel = charts.Panel("units never positive at initialisation (bias −1), pooled over optimizers, rates and "
                         "clipping", series, xlabel="epoch (probed epochs)", ylabel="fraction revived",
                         ylim=(-0.02, 1.02), empty="no unit was never-positive at initialisation")
    return charts.Chart("c1_dying_revival", "C1: time to revive of units stuck at initialisation", "lines", [panel],
                        columns=1, panel_size=(8.0, 3.6),
                        caption="C1: Kaplan-Meier estimate of the fraction of units never positive at initialisation "
                                "that have been positive on some probe sample by each probed epoch, per arm, with a "
                                "95% band (Greenwood, log-log); networks that diverged are left out, n units in the "
                                "legend. A ReLU unit can come back only when the layer below it changes.")


def _init_table(result) -> str:
    """Each arm's dormant fraction at initialisation and at the end, pooled over
    the analysed settings of each analysis (every network, diverged = 1 at the end)."""
    rows = []
    for ar in result.analyses:
        net = ar.net[ar.net["setting"].isin(ar.eligible_settings())] if "setting" in ar.net else ar.net
        for arm in result.arms:
            a = net[net["arm"] == arm.label]
            if a.empty:
                continue
            init = a["init_dormant_frac"].to_numpy(dtype=float)
            final = np.where(a["diverged"] == 1, 1.0, a["dormant_frac"].to_numpy(dtype=float))
            i, ilo, ihi = S.mean_interval(init, (0, 1))
            f, flo, fhi = S.mean_interval(final, (0, 1))
            rows.append([ar.analysis.title, arm.short, len(a), ci(i, ilo, ihi, 2), ci(f, flo, fhi, 2),
                         num(float(np.nanmean(final - init)), 2)])
    return md_table(["analysis", "arm", "networks", "dormant at init [95% CI]", "dormant at the end [95% CI]",
                     "mean change"], rows)


def _section(result, data, out) -> str:
    for ar in result.analyses:  # the setting label of every network, for the pooled tables
        ar.net = ar.net.assign(setting=setting_labels(ar.net, ar.settings))
    text = ["**Initial value and change.** Each arm's dormant fraction at initialisation and at the end, over the "
            "settings each analysis admits (a diverged network counts as 1 at the end). Leaky and ReLU share their "
            "initial draws (seed by seed), so the initial values differ only through the activation.", "",
            _init_table(result), ""]
    units = _units(data, result.net)
    if units.empty:
        return "\n".join(text + ["_No units.parquet in the sweep (probe.units=false): no per-unit transitions._"])
    table, curves = _transitions(units, result.arms)
    result.tables.append(write_csv(table, out, "c1_dying_transitions.csv"))
    chart = _revival_chart(curves, result.arms)
    result.figures.append((save_chart(chart, out), chart.caption))
    rows = []
    for _, r in table.iterrows():
        rows.append([f"{r['bias']:g}", r["arm"].replace("Leaky ", ""), r["units"], r["alive_stayed"], r["died"],
                     r["stuck_at_init"], r["revived"], r["stayed_stuck"],
                     ci(r["revival_rate"], r["revival_lo"], r["revival_hi"], 2), num(r["median_epoch_to_revive"]),
                     num(r["contribution_revived"], 2), num(r["contribution_still_stuck"], 2),
                     num(r["contribution_never_stuck"], 2)])
    text += ["**Per-unit transitions** (`units.parquet`, networks that did not diverge, every setting of each bias "
             "pooled): units positive somewhere at initialisation that were never positive at the end (*died*), "
             "units never positive at initialisation that were positive somewhere at the end (*revived*) or not "
             "(*stayed stuck*); the revival rate with a Wilson 95% interval; the Kaplan-Meier median epoch of the "
             "first revival (– : fewer than half revived); and the contribution of a unit at the end relative to an "
             "average unit of its layer (1 = average; first-order share × width).", "",
             md_table(["bias", "arm", "units", "alive, stayed", "died", "stuck at init", "revived", "stayed stuck",
                       "revival rate [95% CI]", "median epoch to revive", "contribution: revived",
                       "still stuck", "never stuck"], rows), ""]
    result.extra["transitions"] = table
    return "\n".join(text)


def _answer(result) -> str:
    tr, init = result.analyses[0], result.analyses[1] if len(result.analyses) > 1 else None
    n_el, n = len(tr.eligible_settings()), len(tr.gates)
    out = [f"Where training made ReLU units dormant ({n_el} of {n} zero-bias settings: large steps), "
           + verdict_sentence(result, tr, DORMANT, "left fewer units dormant at the end",
                              "left more units dormant (a diverged network counts as all lost)")]
    j = tr.judged[(tr.judged["metric"] == DIVERGED.column) & tr.judged["eligible"]] if len(tr.judged) else tr.judged
    worse = j[j["verdict"] == "contradicted"]
    if len(worse):
        by_setting = worse.groupby("setting", sort=False)["arm"].apply(
            lambda arms: ", ".join(result.arm(a).short for a in arms))
        out.append("The price: more networks diverged than with ReLU at "
                   + "; ".join(f"{s} ({arms})" for s, arms in by_setting.items())
                   + " (a diverged network counts as every unit lost).")
    if init is not None and init.eligible_settings():
        out.append("With a bias of −1 (units dormant from the start): "
                   + verdict_sentence(result, init, DORMANT, "left fewer units dormant",
                                      "left more units dormant")
                   + " Failed networks: " + "; ".join(
                       f"{a.short} {init.metric_verdicts.get((FAILED.column, a.label), 'inconclusive')}"
                       for a in result.arms if not a.baseline) + ".")
    return " ".join(out)


def _literature(result) -> dict:
    main = result.main
    v = main.arm_verdicts
    small = next((a for a in result.arms if a.activation == "leaky" and a.slope <= 0.01), None)
    out = {}
    if small is not None and small.label in v:
        out["maas2013"] = f"C1 (dormant units caused by training): {small.short} is {v[small.label]}."
    n_el = len(main.eligible_settings())
    out["sokar2023"] = (f"C1: training made ReLU units dormant (their τ-dormant score, τ = 0.025) in {n_el} of "
                        f"{len(main.gates)} zero-bias settings (large steps with every optimizer); per arm: "
                        + "; ".join(f"{result.arm(a).short} {w}" for a, w in v.items()) + ".")
    return out


STUDY = Study(
    name="c1_dying", id="C1", title="C1. Leaky ReLU prevents dying units", claim="Leaky ReLU prevents dying units",
    question=("Where ReLU units die, because of large training steps or a negative initial bias, does Leaky ReLU "
              "leave fewer units functionally lost (dormant) and fewer networks failed?"),
    settings=("optimizer.name", "optimizer.lr", "optimizer.clip_norm", "init.bias_value"),
    analyses=(TRAINING, AT_INIT),
    notes=("*Dormant* (Sokar et al. 2023): a unit's mean |activation| over the probe set divided by its layer's "
           "average is at most τ = 0.025; it is lost in practice, whatever the activation. A never-positive ReLU "
           "unit is dead and dormant. A never-positive Leaky unit still passes α·z and gets α-scaled gradients: it is "
           "dormant only when that output is negligible next to its neighbours' (its score is about "
           "α·E|z| over the layer's average, so with α ≥ 0.05 a stuck unit is rarely dormant unless the whole layer is "
           "stuck — then it is a linear layer, not a dormant one). A network *fails* when it diverged, collapsed to a "
           "constant output, or ended with a validation loss above half that of a constant prediction."),
    order=10, cost=260,
    quick=("seeds=10", "epochs=3", "optimizer=adam", "optimizer.lr=0.1,1.0", "optimizer.clip_norm=null"),
    headline=("failed", "diverged"),
    curves=("dormant_frac",),
    pilot=("moons, depth 4 x width 16, 30 epochs, 40 networks per cell: at zero bias SGD at lr 0.01-0.3 and momentum "
           "at 0.01-0.1 left ReLU's dormant fraction at its initial 0.13 or lower; SGD at 1.0 raised it to 0.35, Adam "
           "at 0.03 / 0.1 / 0.3 to 0.27 / 0.62 / 0.83, momentum at 0.3 to 0.78; clipping the gradient norm at 1 "
           "undid it for SGD and halved it for momentum, not for Adam. Leaky α = 0.3 diverged in 33 of 40 networks "
           "at SGD 1.0 and every leaky slope at momentum 1.0 (ReLU: 0 and 1 of 40). With a bias of −1 about half of "
           "ReLU's units are dead at initialisation and half of its networks collapsed."),
    limitations=("C1 uses one dataset (moons) and one architecture (4 hidden layers of 16 units); the learning-rate "
                 "grid is the same for the three optimizers, so its top end is far past stable for momentum and "
                 "Adam.",
                 "C1's dormant fraction is relative to the layer: a Leaky layer whose units are all stuck negative is "
                 "not dormant (it is a linear layer), although its network may fail like ReLU's; the failed-network "
                 "outcome beside it says so."),
    summary=None, literature=_literature, section=_section, answer=_answer,
)
