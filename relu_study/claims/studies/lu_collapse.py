"""L1: Leaky ReLU (and RAI) prevent the collapse of deep, narrow networks.

Lu, Shin, Su and Karniadakis (2019): width-2, depth-10 ReLU networks trained
on f(x) = |x| mostly collapse to a constant; their randomized asymmetric
initialisation (RAI) lowers the rate.  Here at depth 10 with widths 2, 3 and
4, trained for 500 epochs, the collapse is read at every probed epoch (about
50, 100, 230 and 500 among them: collapse against training length).  RAI is
two arms: on the hidden layers only (the paper's setting, the output layer at
the default initialisation) and on every layer.  Every alternative arm (Leaky
slopes, both RAI arms) is compared with plain ReLU, paired by seed; a
diverged network counts as collapsed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ... import charts
from .. import stats as S
from ..analysis import Analysis, Effect, Metric, Study
from ..document import arm_colour, ci, md_table, num, save_chart, verdict_sentence, write_csv

COLLAPSED = Metric("collapsed", "collapsed networks (output spread below 1e-3 of the target's) after training", -1,
                   Effect(0.2, 0.05), binary=True, if_diverged=1.0, short="collapsed")
R2 = Metric("val_r2", "final validation R²", +1, Effect(0.1, 0.05), bounds=(-np.inf, 1.0), short="R²")


def _length_chart(result, data) -> charts.Chart:
    """Collapse rate against the training epoch (probed epochs >= 1), per width
    and arm; a network that diverged counts as collapsed from then on."""
    from ..tables import arms_column

    m = data.metrics[data.metrics["epoch"] >= 1].copy()
    m["arm"], _ = arms_column(m)
    probed = m[m["collapsed"].notna() | m["diverged"].astype(bool)]
    panels, rows = [], []
    for width, g in probed.groupby("model.width"):
        series = []
        for arm in result.arms:
            a = g[g["arm"] == arm.label]
            if a.empty:
                continue
            x, y, lo, hi, n = [], [], [], [], []
            # a network that diverged stays counted (as collapsed) at every later probed epoch
            div_at = a[a["diverged"].astype(bool)].groupby(["run_dir", "seed"])["epoch"].min()
            for epoch, e in a.groupby("epoch"):
                coll = e["collapsed"].astype("Float64").fillna(1.0).to_numpy(dtype=float)
                gone = int((div_at < epoch).sum())
                k, total = int(coll.sum()) + gone, len(e) + gone
                p, l_, h_ = S.wilson(k, total)
                x.append(int(epoch)), y.append(p), lo.append(l_), hi.append(h_), n.append(total)
                rows.append({"width": int(width), "arm": arm.label, "epoch": int(epoch), "collapsed": p, "lo": l_,
                             "hi": h_, "n": total})
            series.append(charts.Series(arm.label, x, y, lo, hi, n, color=arm_colour(arm.label, result.arms)))
        panels.append(charts.Panel(f"width {int(width)}, depth 10", series, xlabel="epoch (probed epochs)",
                                   ylabel="collapsed", logx=True, ylim=(-0.02, 1.02)))
    chart = charts.Chart("lu_collapse_length", "L1: collapse against training length", "lines", panels, columns=3,
                         show_n=True,
                         caption="L1: share of networks whose output is constant (spread below 1e-3 of the target's) "
                                 "at each probed epoch, per width and arm, with Wilson 95% intervals (n networks; a "
                                 "network that diverged counts as collapsed from then on).")
    chart.meta["rows"] = rows
    return chart


def _section(result, data, out) -> str:
    net = result.net
    init = data.metrics[data.metrics["epoch"] == 0].copy()
    from ..tables import arms_column

    length = _length_chart(result, data)
    result.figures.append((save_chart(length, out), length.caption))
    result.tables.append(write_csv(pd.DataFrame(length.meta.pop("rows")), out, "lu_collapse_length.csv"))
    init["arm"], _ = arms_column(init)
    layer_cols = [c for c in init.columns if c.startswith("dead_frac_l") and c[11:].isdigit()]
    init["dead_layer"] = (init[layer_cols] == 1).any(axis=1).astype(float) if layer_cols else np.nan
    init["collapsed0"] = init["collapsed"].astype("Float64").astype(float) if "collapsed" in init else np.nan
    widths = sorted(net["model.width"].dropna().unique()) if "model.width" in net else [None]
    rows, table = [], []
    for width in widths:
        for arm in result.arms:
            a0 = init[(init["arm"] == arm.label) & ((init["model.width"] == width) if width is not None else True)]
            a1 = net[(net["arm"] == arm.label) & ((net["model.width"] == width) if width is not None else True)]
            if a1.empty:
                continue
            coll = np.where(a1["diverged"] == 1, 1.0, a1["collapsed"].to_numpy(dtype=float))
            born = a0.set_index(["run_dir", "seed"])["dead_layer"].reindex(list(zip(a1["run_dir"], a1["seed"])))
            alive = ~(born.to_numpy(dtype=float) == 1)
            r = {"width": width, "arm": arm.label, "n": len(a1)}
            for key, k, n in (("dead_layer_init", int(a0["dead_layer"].sum()), len(a0)),
                              ("collapsed_init", int(np.nansum(a0["collapsed0"])), len(a0)),
                              ("collapsed_final", int(np.nansum(coll)), len(a1)),
                              ("collapsed_final_not_born_dead", int(np.nansum(coll[alive])), int(alive.sum()))):
                p, lo, hi = S.wilson(k, n)
                r.update({key: p, f"{key}_lo": lo, f"{key}_hi": hi, f"{key}_n": n})
            r["median_val_r2_final"] = float(np.nanmedian(a1["val_r2"])) if a1["val_r2"].notna().any() else np.nan
            rows.append(r)
            table.append([num(width), arm.short, len(a1)]
                         + [ci(r[k], r[f"{k}_lo"], r[f"{k}_hi"], 2) + f" ({r[f'{k}_n']})"
                            for k in ("dead_layer_init", "collapsed_init", "collapsed_final",
                                      "collapsed_final_not_born_dead")] + [num(r["median_val_r2_final"])])
    rates = pd.DataFrame(rows)
    result.tables.append(write_csv(rates, out, "lu_collapse_rates.csv"))
    kinds = (("dead_layer_init", "dead layer at init", "#bbbbbb"), ("collapsed_init", "collapsed at init", "#7aa6c2"),
             ("collapsed_final", "collapsed after training", "#c0392b"))
    panels = []
    for width in widths:
        w = rates[rates["width"] == width] if width is not None else rates
        cats = [result.arm(a).short for a in w["arm"]]
        panels.append(charts.Panel(f"width {num(width)}, depth 10 (Wilson 95% CI)", [
            charts.Series(label, cats, list(w[k]), list(w[f"{k}_lo"]), list(w[f"{k}_hi"]), list(w[f"{k}_n"]),
                          color=col) for k, label, col in kinds], ylabel="fraction", ylim=(0, 1.05),
            categories=cats))
    chart = charts.Chart("lu_collapse_rates", "L1: depth 10, f(x) = |x|: born dead and collapsed", "bars", panels,
                         columns=1, show_n=True, panel_size=(9.0, 3.0),
                         caption="L1: per width and arm, the fraction of networks with a fully dead hidden layer at "
                                 "initialisation, collapsed at initialisation, and collapsed after training (a "
                                 "diverged network counts as collapsed), with Wilson 95% intervals and n.")
    result.figures.append((save_chart(chart, out), chart.caption))
    return ("Rates per width and arm with Wilson 95% intervals (n): a *dead layer* at initialisation has every unit "
            "never positive on the probe set, which for ReLU makes the output constant; *collapsed* = output spread "
            "below 1e-3 of the target's (a diverged network counts as collapsed). The last rate leaves out the "
            "networks born with a dead layer: for ReLU those cannot recover, so it shows what training does to the "
            "rest. *RAI (hidden layers)* is Lu et al.'s setting (the output layer keeps the default He-normal "
            "weights with gain 1 and a zero bias); *RAI (all layers)* draws the output layer with RAI too.\n\n"
            + md_table(["width", "arm", "networks", "dead layer at init", "collapsed at init",
                        "collapsed after training", "collapsed, not born dead", "median final R²"], table))


def _literature(result) -> dict:
    lv = result.levels[(result.levels["metric"] == "collapsed")]
    parts = []
    for setting, g in lv.groupby("setting", sort=False):
        rate = {r["arm"]: (r["level"], r["lo"], r["hi"]) for _, r in g.iterrows()}
        parts.append(f"{setting}: " + "; ".join(f"{result.arm(a).short} {ci(*rate[a], 2)}"
                                                for a in (x.label for x in result.arms) if a in rate))
    return {"lu2019": "L1: collapsed after 500 epochs, " + " | ".join(parts) + "."}


def _answer(result) -> str:
    return ("At depth 10 on f(x) = |x| (widths 2, 3, 4; 500 epochs), against plain ReLU: "
            + verdict_sentence(result, result.main, COLLAPSED, "left fewer networks collapsed",
                               "left more networks collapsed"))


STUDY = Study(
    name="lu_collapse", id="L1", title="L1. Leaky ReLU and RAI prevent the collapse of deep, narrow networks",
    claim="Leaky ReLU (and RAI) prevent the collapse of deep, narrow networks",
    question=("What fraction of depth-10 networks of width 2, 3 and 4 trained on f(x) = |x| collapse to a constant "
              "function, and how does it change with training length, for ReLU, Leaky ReLU and ReLU with randomized "
              "asymmetric initialisation (RAI) on the hidden layers or on every layer?"),
    settings=("model.width",),
    analyses=(Analysis("collapse", "Collapse after training",
                       "Does the arm leave fewer networks collapsed than ReLU after 500 epochs, and fit |x| better?",
                       (COLLAPSED, R2)),),
    notes=("Lu et al. (2019) report that most such ReLU networks collapse and that RAI lowers the rate. Every "
           "alternative arm (Leaky slopes and both RAI arms) is compared with plain ReLU with the same seeds."),
    order=60, cost=355,
    quick=("seeds=30", "epochs=5", "model.width=2"),
    headline=("val_r2",),
    section=_section, literature=_literature, answer=_answer, epochs="probed",
    pilot=("Width 2, depth 10 on |x| with Adam: lr 0.001 and 0.01 gave the same ReLU collapse rate (0.92); 0.003 is "
           "used. 200 networks per cell for 500 epochs: ReLU's collapse rate is flat after about 20 epochs (0.91, "
           "0.82, 0.50 at widths 2, 3, 4) while Leaky α = 0.01's keeps falling (width 2: 0.27 at epoch 50, 0.10 at "
           "500); RAI on every layer collapsed less than RAI on the hidden layers only (width 2: 0.50 against 0.64)."),
    limitations=("L1 uses one learning rate (Adam 0.003) for every arm and 400 training points; Lu et al.'s "
                 "training details differ.",),
)
