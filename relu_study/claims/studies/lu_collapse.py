"""L1: Leaky ReLU (and RAI) prevent the collapse of deep, narrow networks.

Lu, Shin, Su and Karniadakis (2019): width-2, depth-10 ReLU networks trained
on f(x) = |x| mostly collapse to a constant; their randomized asymmetric
initialisation (RAI) lowers the rate.  Every alternative arm (Leaky slopes,
ReLU + RAI) is compared with plain ReLU, paired by seed; a diverged network
counts as collapsed.
"""

from __future__ import annotations

import numpy as np

from ... import charts
from .. import stats as S
from ..analysis import Analysis, Effect, Metric, Study
from ..document import arm_colour, ci, md_table, num, save_chart, write_csv

COLLAPSED = Metric("collapsed", "collapsed networks (output spread below 1e-3 of the target's) after training", -1,
                   Effect(0.2, 0.05), binary=True, if_diverged=1.0, short="collapsed")
R2 = Metric("val_r2", "final validation R²", +1, Effect(0.1, 0.05), bounds=(-np.inf, 1.0), short="R²")


def _section(result, data, out) -> str:
    net = result.net
    init = data.metrics[data.metrics["epoch"] == 0].copy()
    from ..tables import arms_column

    init["arm"], _ = arms_column(init)
    layer_cols = [c for c in init.columns if c.startswith("dead_frac_l") and c[11:].isdigit()]
    init["dead_layer"] = (init[layer_cols] == 1).any(axis=1).astype(float) if layer_cols else np.nan
    init["collapsed0"] = init["collapsed"].astype("Float64").astype(float) if "collapsed" in init else np.nan
    rows, table = [], []
    for arm in result.arms:
        a0 = init[init["arm"] == arm.label]
        a1 = net[net["arm"] == arm.label]
        coll = np.where(a1["diverged"] == 1, 1.0, a1["collapsed"].to_numpy(dtype=float))
        born = a0.set_index(["run_dir", "seed"])["dead_layer"].reindex(list(zip(a1["run_dir"], a1["seed"])))
        alive = ~(born.to_numpy(dtype=float) == 1)
        r = {"arm": arm.label, "n": len(a1)}
        for key, k, n in (("dead_layer_init", int(a0["dead_layer"].sum()), len(a0)),
                          ("collapsed_init", int(np.nansum(a0["collapsed0"])), len(a0)),
                          ("collapsed_final", int(np.nansum(coll)), len(a1)),
                          ("collapsed_final_not_born_dead", int(np.nansum(coll[alive])), int(alive.sum()))):
            p, lo, hi = S.wilson(k, n)
            r.update({key: p, f"{key}_lo": lo, f"{key}_hi": hi, f"{key}_n": n})
        r["median_val_r2_final"] = float(np.nanmedian(a1["val_r2"])) if a1["val_r2"].notna().any() else np.nan
        rows.append(r)
        table.append([arm.label, len(a1)] + [ci(r[k], r[f"{k}_lo"], r[f"{k}_hi"], 2) + f" ({r[f'{k}_n']})" for k in
                                             ("dead_layer_init", "collapsed_init", "collapsed_final",
                                              "collapsed_final_not_born_dead")] + [num(r["median_val_r2_final"])])
    import pandas as pd

    rates = pd.DataFrame(rows)
    result.tables.append(write_csv(rates, out, "lu_collapse_rates.csv"))
    kinds = (("dead_layer_init", "dead layer at init", "#bbbbbb"), ("collapsed_init", "collapsed at init", "#7aa6c2"),
             ("collapsed_final", "collapsed after training", "#c0392b"))
    series = [charts.Series(label, list(rates["arm"]), list(rates[k]), list(rates[f"{k}_lo"]),
                            list(rates[f"{k}_hi"]), list(rates[f"{k}_n"]), color=col) for k, label, col in kinds]
    chart = charts.Chart("lu_collapse_rates", "L1: width 2, depth 10, f(x) = |x|: born dead and collapsed", "bars",
                         [charts.Panel("fraction of networks (Wilson 95% CI)", series, ylabel="fraction",
                                       ylim=(0, 1.05), categories=list(rates["arm"]))],
                         columns=1, show_n=True, panel_size=(8.0, 3.4),
                         caption="L1: per arm, the fraction of networks with a fully dead hidden layer at "
                                 "initialisation, collapsed at initialisation, and collapsed after training (a "
                                 "diverged network counts as collapsed), with Wilson 95% intervals and n.")
    result.figures.append((save_chart(chart, out), chart.caption))
    grid = np.linspace(-17, 1, 73)
    ecdf = []
    for arm in result.arms:
        v = net.loc[net["arm"] == arm.label, "output_spread"].to_numpy(dtype=float)
        v = np.log10(np.maximum(v[np.isfinite(v)], 1e-17))
        if len(v):
            ecdf.append(charts.Series(f"{arm.label} (n={len(v)})", list(grid),
                                      list((v[:, None] <= grid[None, :]).mean(axis=0)),
                                      color=arm_colour(arm.label, result.arms)))
    chart = charts.Chart("lu_collapse_spread", "L1: final output spread", "lines",
                         [charts.Panel("share of networks with log10 spread ≤ x", ecdf,
                                       xlabel="log10 (output std / target std)", ylabel="fraction", ylim=(0, 1.02))],
                         columns=1, panel_size=(8.0, 3.6),
                         caption="L1: empirical distribution of the final output spread (std of the output over the "
                                 "probe set / std of the targets) per arm, networks that did not diverge; a network "
                                 "left of 10^-3 counts as collapsed.")
    chart.panels[0].series.append(charts.Series("collapse threshold", [-3, -3], [0, 1], style="dashed",
                                                color="#555555"))
    result.figures.append((save_chart(chart, out), chart.caption))
    return ("Rates per arm with Wilson 95% intervals (n): a *dead layer* at initialisation has every unit never "
            "positive on the probe set, which for ReLU makes the output constant; *collapsed* = output spread below "
            "1e-3 of the target's (a diverged network counts as collapsed). The last rate leaves out the networks "
            "born with a dead layer: for ReLU those cannot recover, so it shows what training does to the rest.\n\n"
            + md_table(["arm", "networks", "dead layer at init", "collapsed at init", "collapsed after training",
                        "collapsed, not born dead", "median final R²"], table))


def _literature(result) -> dict:
    lv = result.levels[(result.levels["metric"] == "collapsed")]
    rate = {r["arm"]: (r["level"], r["lo"], r["hi"]) for _, r in lv.iterrows()}
    txt = "L1: collapsed after training: " + "; ".join(
        f"{a} {ci(*rate[a], 2)}" for a in (x.label for x in result.arms) if a in rate) + "."
    return {"lu2019": txt}


STUDY = Study(
    name="lu_collapse", id="L1", title="L1. Leaky ReLU and RAI prevent the collapse of deep, narrow networks",
    claim="Leaky ReLU (and RAI) prevent the collapse of deep, narrow networks",
    question=("What fraction of width-2, depth-10 networks trained on f(x) = |x| collapse to a constant function, "
              "with ReLU, Leaky ReLU and ReLU with randomized asymmetric initialisation (RAI)?"),
    analyses=(Analysis("collapse", "Collapse after training",
                       "Does the arm leave fewer networks collapsed than ReLU, and fit |x| better?", (COLLAPSED, R2)),),
    notes=("Lu et al. (2019) report that most such ReLU networks collapse and that RAI lowers the rate. Every "
           "alternative arm (Leaky slopes and RAI) is compared with plain ReLU with the same seeds."),
    order=60, cost=130,
    quick=("seeds=40", "epochs=3"),
    headline=("val_r2",),
    section=_section, literature=_literature,
    pilot=("Width 2, depth 10 on |x| with Adam: lr 0.001 and 0.01 gave the same ReLU collapse rate (0.92); 0.003 is "
           "used."),
    limitations=("L1 applies RAI to every layer including the output layer (Lu et al. apply it to the hidden "
                 "layers), trains for 50 epochs only, and uses one learning rate for every arm.",),
)
