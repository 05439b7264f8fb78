"""The claim report: sweep folders in, ``REPORT.md`` with verdicts, figures and CSVs out.

    python -m relu_study.report PATH [PATH ...] --out DIR

Each PATH is a sweep folder of one of the presets in ``conf/experiment/`` (or a
folder holding several of them).  A sweep's study is read from its
``multirun.yaml`` (the ``experiment`` choice), else from its folder name.  The
report writes into DIR:

``REPORT.md``
    per claim: the question, the arms, a table of the metric per arm (mean,
    bootstrap 95% CI over seeds), the effect against ReLU with its CI, a
    Mann-Whitney p-value (Holm-adjusted), the verdict of every comparison and of
    the claim, computed by :mod:`relu_study.claims.stats` with the rule quoted at the top;
``figures/*.png``, ``tables/*.csv``
    what the text rests on.

Nothing in a verdict is typed by hand: every number and verdict word comes from
the sweep tables.  The study definitions (metrics, claimed directions, minimal
practical effects) are in :data:`STUDIES`, fixed before the data.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import shlex
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._version import __version__
from . import stats as S

__all__ = ["Metric", "Study", "STUDIES", "arm_labels", "find_sweeps", "load_studies", "main", "write_report"]

BASELINE = "ReLU"
SWEEP_RUNS_FILE = "sweep_runs.parquet"
SWEEP_METRICS_FILE = "sweep_metrics.parquet"
#: log10 of gradient norms is floored here (an exact zero gradient counts as 1e-12)
GRAD_FLOOR = 1e-12


# --------------------------------------------------------------------------- definitions

@dataclass(frozen=True)
class Metric:
    """A per-network quantity compared between arms.

    ``direction``: the sign the claim predicts for mean(leaky) - mean(ReLU).
    ``min_effect``: the minimal practical effect, absolute; or, with
    ``relative=True``, that fraction of |mean of the ReLU arm| in the same setting
    (and at least ``floor``).  ``eligible``: a comparison only counts when the
    ReLU arm's mean is at least ``eligible`` (the problem the claim is about occurs).
    """

    column: str
    label: str
    direction: int
    min_effect: float
    relative: bool = False
    floor: float = 0.0
    kind: str = "superiority"
    primary: bool = False
    eligible: float | None = None
    note: str = ""

    def threshold(self, relu_mean: float) -> float:
        if not self.relative:
            return self.min_effect
        return max(self.floor, self.min_effect * abs(relu_mean)) if math.isfinite(relu_mean) else math.nan


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    claim: str
    question: str
    settings: tuple = ()
    metrics: tuple = ()
    notes: str = ""


_DEAD = Metric("dead_frac", "dead fraction (units never positive on the probe set), final", -1, 0.05,
               primary=True, eligible=0.05)
_ZERO_GRAD = Metric("zero_grad_frac", "zero-gradient fraction (f'(z) = 0 on every probe sample), final", -1, 0.05,
                    eligible=0.05, note="0 for Leaky ReLU by construction (f' = alpha != 0)")
_COLLAPSED = Metric("collapsed", "collapsed networks (constant output), final", -1, 0.05)
_DIVERGED = Metric("diverged", "diverged networks (loss became non-finite), all networks", -1, 0.05,
                   note="not part of the claim, but the price of a larger negative slope at a large learning rate")

STUDIES = {
    "c1_dying": Study(
        "c1_dying", "Claim 1: Leaky ReLU prevents dying units", "C1",
        "After training, does Leaky ReLU leave fewer units dead (never positive on any probe sample), "
        "fewer units without gradient, and fewer collapsed networks than ReLU, in settings where ReLUs die?",
        ("model.depth", "optimizer.lr", "init.bias_value"),
        (_DEAD, _ZERO_GRAD, _COLLAPSED, _DIVERGED),
        "A never-positive ReLU unit is dead: zero output, zero gradient. A never-positive Leaky unit outputs "
        "alpha*z and still gets alpha-scaled gradients, so it *can* come back; the dead fraction measures "
        "whether it does. Comparisons in settings where the ReLU arm's mean dead fraction is below 0.05 "
        "have no dying to prevent and are not counted (marked n/a). Final metrics exist only for networks "
        "that did not diverge; where an arm keeps fewer than 10 of them the comparison is inconclusive, and "
        "the divergence rate itself is compared as the last metric."),
    "c2_gradients": Study(
        "c2_gradients", "Claim 2: Leaky ReLU avoids zero gradients", "C2",
        "In deep networks, after training, are fewer units left with a zero local derivative on every probe "
        "sample, and does a non-negligible gradient still reach the first hidden layer?",
        ("model.depth", "init.bias_value"),
        (Metric("zero_grad_frac", "zero-gradient fraction (f'(z) = 0 on every probe sample), final", -1, 0.05,
                primary=True, eligible=0.05, note="0 for Leaky ReLU by construction"),
         Metric("log_grad_l1", "log10 gradient norm of the first hidden layer, final (floor 1e-12)", +1, 1.0,
                note="one decade is the minimal effect; an exact zero counts as 1e-12")),
        "Comparisons where the ReLU arm's mean zero-gradient fraction is below 0.05 have no zero gradients to "
        "avoid and are not counted (n/a). A converged healthy network also has small gradients, so the "
        "first-layer gradient norm is read together with the loss."),
    "c3_sensitivity": Study(
        "c3_sensitivity", "Claim 3: Leaky ReLU is less sensitive to hyperparameters", "C3",
        "Over a learning-rate x initialisation grid, is one network's (one seed's) final validation loss less "
        "spread out across the grid with Leaky ReLU, and does it train in more grid cells?",
        (),
        (Metric("spread", "spread of final val loss across the lr x init grid (std over cells, per seed)", -1, 0.10,
                relative=True, primary=True, note="minimal effect: 10% of the ReLU spread"),
         Metric("trained_frac", "fraction of grid cells where the network trains", +1, 0.10)),
        "Final validation losses are clipped at the chance level ln(K) (K classes) and a diverged network counts "
        "as chance, so one exploding cell cannot dominate the spread. A network *trains* in a cell when it did "
        "not diverge and its final validation loss is below half the chance level."),
    "c4_sparsity": Study(
        "c4_sparsity", "Claim 4: Leaky ReLU keeps ReLU's sparse activations", "C4",
        "After training, are Leaky ReLU's hidden activations as sparse as ReLU's: as large a fraction exactly "
        "zero, or near zero (|a| < 1e-3 x the layer's std)?",
        ("dataset.name",),
        (Metric("exact_zero_frac", "fraction of activations exactly 0, final", +1, 0.05, kind="noninferiority",
                primary=True, note="0 for Leaky ReLU by construction (f(z) = alpha*z != 0 for z != 0)"),
         Metric("near_zero_frac", "fraction of activations near 0, final", +1, 0.05, kind="noninferiority")),
        "The claim is one of non-inferiority (sparsity like ReLU's): supported if Leaky ReLU's fraction is not "
        "lower than ReLU's by the minimal effect 0.05 or more."),
    "c5_convergence": Study(
        "c5_convergence", "Claim 5: Leaky ReLU converges better", "C5",
        "Per dataset, does Leaky ReLU reach a validation-loss threshold in fewer epochs, and end at a lower "
        "validation loss?",
        ("dataset.name",),
        (Metric("epochs_to", "epochs until val loss first <= threshold", -1, 0.10, relative=True, floor=1.0,
                primary=True, note="minimal effect: 10% of the ReLU mean, at least 1 epoch"),
         Metric("val_loss", "final validation loss", -1, 0.10, relative=True,
                note="minimal effect: 10% of the ReLU mean")),
        "The threshold per dataset is 1.25 x the median final validation loss over all networks of all arms "
        "(arm-neutral). A network that never reaches it counts as epochs + 1 (the rank test handles this "
        "censoring; the mean understates it)."),
    "lu_collapse": Study(
        "lu_collapse", "Deep and narrow: Leaky ReLU (and RAI) prevent the collapse of width-2, depth-10 networks",
        "deep-narrow collapse",
        "What fraction of width-2, depth-10 networks trained on f(x) = |x| collapse to a constant function, "
        "with ReLU, Leaky ReLU and ReLU with randomized asymmetric initialisation (RAI)? The claim tested: "
        "Leaky ReLU (and RAI) make such networks collapse less often than ReLU.",
        (),
        (Metric("collapsed", "collapsed networks (output spread < 1e-3 x target spread), final", -1, 0.05,
                primary=True),
         Metric("val_r2", "final validation R^2", +1, 0.05)),
        "Lu et al. (2019) report that most such ReLU networks collapse and that RAI lowers the rate. Here "
        "every alternative arm (Leaky alphas and RAI) is compared with plain ReLU."),
    "born_dead": Study(
        "born_dead", "Deep and narrow: born-dead probability at initialisation", "Born dead",
        "How likely is a freshly initialised ReLU network (zero biases, He-normal weights) of L hidden layers of "
        "width N to be born dead, and how does that compare with Lu et al.'s single-input formula "
        "1 - (1 - 2^-N)^L?"),
}

ORDER = ("c1_dying", "c2_gradients", "c3_sensitivity", "c4_sparsity", "c5_convergence", "lu_collapse", "born_dead")

_SHORT = {"model.depth": "depth", "model.width": "width", "optimizer.lr": "lr", "init.bias_value": "bias",
          "init.name": "init", "dataset.name": "dataset", "dataset.n_samples": "n_samples"}


# --------------------------------------------------------------------------- loading

def identify_study(folder: Path) -> str | None:
    """The study of a sweep folder: the ``experiment`` choice in its
    ``multirun.yaml``, else a study name contained in the folder's name."""
    mr = folder / "multirun.yaml"
    if mr.is_file():
        try:
            from omegaconf import OmegaConf

            choice = OmegaConf.select(OmegaConf.load(mr), "hydra.runtime.choices.experiment")
            if choice in STUDIES:
                return str(choice)
        except Exception:  # noqa: BLE001 - fall back to the folder name
            pass
    for part in reversed(folder.resolve().parts):
        for name in STUDIES:
            if name in part:
                return name
    return None


def find_sweeps(paths) -> dict[str, list[Path]]:
    """``{study: [sweep folders]}`` for the given paths (each a sweep folder, or a
    folder holding sweep folders that carry ``multirun.yaml``)."""
    found: dict[str, list[Path]] = {}
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such folder")
        sweeps = [p] if (p / "multirun.yaml").is_file() or (p / SWEEP_RUNS_FILE).is_file() else \
            sorted({m.parent for m in p.rglob("multirun.yaml")})
        if not sweeps:
            sweeps = [p]
        for sweep in sweeps:
            name = identify_study(sweep)
            if name is None:
                raise ValueError(f"{sweep}: cannot tell which study this sweep belongs to (no multirun.yaml "
                                 f"with an experiment choice, and no study name in the folder name; studies: "
                                 f"{', '.join(STUDIES)})")
            if sweep not in found.setdefault(name, []):
                found[name].append(sweep)
    return found


def _load_sweep(folder: Path, recollect: bool):
    runs_f, metrics_f = folder / SWEEP_RUNS_FILE, folder / SWEEP_METRICS_FILE
    if not recollect and runs_f.is_file() and metrics_f.is_file():
        return pd.read_parquet(metrics_f), pd.read_parquet(runs_f)
    from ..sweeps.aggregate import collect

    return collect(folder, warn=False)


def load_studies(paths, recollect: bool = False) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, list[Path]]]:
    """``{study: (metrics, runs, sweep folders)}``.  A sweep's aggregate tables
    (``sweep_*.parquet``) are used when present, else its run folders are read."""
    out = {}
    for name, folders in find_sweeps(paths).items():
        parts = [_load_sweep(f, recollect) for f in folders]
        metrics = pd.concat([m.assign(_source=i) for i, (m, _) in enumerate(parts)], ignore_index=True)
        runs = pd.concat([r.assign(_source=i) for i, (_, r) in enumerate(parts)], ignore_index=True)
        if len(folders) > 1:
            metrics, runs = _drop_repeats(metrics, runs)
        metrics, runs = metrics.drop(columns="_source"), runs.drop(columns="_source")
        out[name] = (metrics, runs, folders)
    return out


def _drop_repeats(metrics, runs):
    """Keep one copy of a network (same config and seed) found in several sweeps."""
    from ..sweeps.aggregate import RESULT_COLUMNS

    ok = runs[runs["status"] != "failed"]
    keys = [c for c in ok.columns if c not in RESULT_COLUMNS and c != "_source" and not c.startswith("final_")]
    filled = ok[keys + ["seed"]].astype(str)
    dup = filled.duplicated(keep="first").to_numpy()
    if not dup.any():
        return metrics, runs
    warnings.warn(f"{int(dup.sum())} networks appear in more than one sweep folder; each is counted once")
    drop = set(zip(ok["_source"][dup], ok["run_dir"][dup], ok["seed"][dup]))
    runs = runs.drop(index=ok.index[dup]).reset_index(drop=True)
    triples = zip(metrics["_source"], metrics["run_dir"], metrics["seed"])
    metrics = metrics[[t not in drop for t in triples]].reset_index(drop=True)
    return metrics, runs


# --------------------------------------------------------------------------- arms

def _arm_one(name, alpha, init) -> str:
    if name == "relu":
        return "ReLU + RAI" if init == "rai" else BASELINE
    if name == "leaky":
        return f"Leaky α={float(alpha):g}"
    return str(name) + (" + RAI" if init == "rai" else "")


def arm_labels(table: pd.DataFrame) -> pd.Series:
    """``ReLU``, ``Leaky α=0.1``, ``ReLU + RAI``... per row of a runs or metrics table."""
    init = table["init.name"] if "init.name" in table else pd.Series("he", index=table.index)
    return pd.Series([_arm_one(n, a, i) for n, a, i in zip(table["activation.name"], table["activation.alpha"], init)],
                     index=table.index)


def _arm_order(arms) -> list[str]:
    def key(a):
        if a == BASELINE:
            return (0, 0.0, a)
        if a.startswith("Leaky α="):
            return (1, float(a.split("=")[1]), a)
        return (2, 0.0, a)

    return sorted(set(arms), key=key)


def _setting_label(keys, values) -> str:
    if not keys:
        return "all"
    return ", ".join(f"{_SHORT.get(k, k)}={_fmtv(v)}" for k, v in zip(keys, values))


def _fmtv(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}"
    return str(v)


# --------------------------------------------------------------------------- per-network frames

def _final_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """The last row of every (run, seed); diverged networks dropped."""
    last = metrics.sort_values(["run_dir", "seed", "epoch"], kind="stable").groupby(["run_dir", "seed"]).tail(1)
    return last[~last["diverged"].astype(bool)].reset_index(drop=True)


def _networks(metrics, runs, settings) -> pd.DataFrame:
    """One row per network: arm, setting keys, seed, status and the final metrics."""
    ok = runs[runs["status"] != "failed"].copy()
    ok["arm"] = arm_labels(ok)
    cols = ["arm", *settings, "seed", "run_dir", "status", "max_epochs"]
    net = ok[[c for c in cols if c in ok.columns]].copy()
    for m in ("dead_frac", "zero_grad_frac", "exact_zero_frac", "near_zero_frac", "val_loss", "val_r2", "val_acc",
              "output_spread"):
        if f"final_{m}" in ok:
            net[m] = ok[f"final_{m}"].astype(float)
    if "final_collapsed" in ok:
        net["collapsed"] = ok["final_collapsed"].astype("Float64").astype(float)
    net["diverged"] = (ok["status"] == "diverged").astype(float).to_numpy()
    return net.reset_index(drop=True)


def _failed_jobs(runs) -> list[str]:
    bad = runs[runs["status"] == "failed"]
    return [f"{r['run_dir']}: {r['error']}" for _, r in bad.iterrows()]


# --------------------------------------------------------------------------- statistics

def _arm_table(net, settings, metrics) -> pd.DataFrame:
    rows = []
    groups = net.groupby(list(settings), sort=True, dropna=False) if settings else [((), net)]
    for svals, g in groups:
        svals = svals if isinstance(svals, tuple) else (svals,)
        for arm in _arm_order(g["arm"]):
            a = g[g["arm"] == arm]
            for m in metrics:
                mean, lo, hi = S.bootstrap_mean_ci(a[m.column], seed=_seed(arm, m.column, svals))
                rows.append({**dict(zip(settings, svals)), "arm": arm, "metric": m.column,
                             "n": int(np.isfinite(a[m.column].to_numpy(float)).sum()),
                             "n_diverged": int((a["status"] == "diverged").sum()), "mean": mean, "lo": lo, "hi": hi})
    return pd.DataFrame(rows)


def _seed(*parts) -> int:
    import zlib

    return zlib.crc32(repr(parts).encode()) & 0x7FFFFFFF


def _comparisons(net, settings, metrics) -> pd.DataFrame:
    rows = []
    groups = net.groupby(list(settings), sort=True, dropna=False) if settings else [((), net)]
    for svals, g in groups:
        svals = svals if isinstance(svals, tuple) else (svals,)
        base = g[g["arm"] == BASELINE]
        if base.empty:
            continue
        for arm in _arm_order(g["arm"]):
            if arm == BASELINE:
                continue
            b = g[g["arm"] == arm]
            for m in metrics:
                c = S.compare(base[m.column], b[m.column], seed=_seed(arm, m.column, svals))
                eligible = m.eligible is None or (math.isfinite(c.mean_a) and c.mean_a >= m.eligible)
                rows.append({**dict(zip(settings, svals)), "arm": arm, "metric": m.column, "primary": m.primary,
                             "n_relu": c.n_a, "n_arm": c.n_b, "mean_relu": c.mean_a, "mean_arm": c.mean_b,
                             "effect": c.diff, "lo": c.lo, "hi": c.hi, "r_rb": c.r_rb, "p": c.p,
                             "min_effect": m.threshold(c.mean_a), "direction": m.direction, "kind": m.kind,
                             "eligible": eligible})
    comp = pd.DataFrame(rows)
    if comp.empty:
        return comp
    comp["p_adj"] = np.nan
    for m in metrics:
        sel = (comp["metric"] == m.column) & comp["eligible"]
        comp.loc[sel, "p_adj"] = S.holm(comp.loc[sel, "p"].to_numpy())
    verdicts = []
    for _, r in comp.iterrows():
        if not r["eligible"]:
            verdicts.append("n/a")
            continue
        verdicts.append(S.verdict(r["effect"], r["lo"], r["hi"], r["p_adj"], r["min_effect"], int(r["direction"]),
                                  r["kind"], n=min(r["n_relu"], r["n_arm"])))
    comp["verdict"] = verdicts
    return comp


# --------------------------------------------------------------------------- formatting

def _num(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    x = float(x)
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.2e}"
    return f"{x:.{digits}g}"


def _p(p) -> str:
    if p is None or not math.isfinite(p):
        return "–"
    return "<1e-300" if p == 0 else (f"{p:.1e}" if p < 1e-3 else f"{p:.3f}")


def _ci(mean, lo, hi) -> str:
    return f"{_num(mean)} [{_num(lo)}, {_num(hi)}]"


def _md_table(header, rows) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def _vword(v: str) -> str:
    return f"**{v}**" if v in S.VERDICTS else v


# --------------------------------------------------------------------------- figures

def _plt():
    from ..runs.plots import pyplot

    return pyplot()


def _save(fig, path) -> None:
    """Write a report figure and free it."""
    fig.savefig(path, dpi=110)
    _plt().close(fig)


def _int_locator():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


_COLORS = {"ReLU": "#222222", "ReLU + RAI": "#8c564b"}
_LEAKY_COLORS = ["#1f77b4", "#2ca02c", "#ff7f0e", "#d62728", "#9467bd", "#17becf"]


def _color(arm, arms) -> str:
    if arm in _COLORS:
        return _COLORS[arm]
    leaky = [a for a in arms if a.startswith("Leaky")]
    return _LEAKY_COLORS[leaky.index(arm) % len(_LEAKY_COLORS)] if arm in leaky else "#7f7f7f"


def _dot_plot(arm_table, settings, metric, label, path, title, ylim=None):
    """Mean and 95% CI per arm (colours) per setting (x positions)."""
    plt = _plt()
    t = arm_table[arm_table["metric"] == metric]
    arms = _arm_order(t["arm"])
    keys = list(settings)
    cells = t[keys].drop_duplicates().to_records(index=False).tolist() if keys else [()]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(cells) * max(1, len(arms)) / 2.5 + 2), 4.2))
    width = 0.8 / max(len(arms), 1)
    for j, arm in enumerate(arms):
        xs, ys, lo, hi = [], [], [], []
        for i, cell in enumerate(cells):
            sel = t["arm"] == arm
            for k, v in zip(keys, cell):
                sel &= t[k] == v
            r = t[sel]
            if r.empty or not np.isfinite(r["mean"].iloc[0]):
                continue
            xs.append(i - 0.4 + width * (j + 0.5))
            ys.append(r["mean"].iloc[0])
            lo.append(max(0.0, r["mean"].iloc[0] - r["lo"].iloc[0]))
            hi.append(max(0.0, r["hi"].iloc[0] - r["mean"].iloc[0]))
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", ms=5, capsize=3, color=_color(arm, arms), label=arm)
    ax.set_xticks(range(len(cells)))
    ax.set_xticklabels([_setting_label(keys, c).replace(", ", "\n") for c in cells], fontsize=8)
    ax.set_ylabel(label)
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, ncol=min(len(arms), 5), loc="lower center", frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    _save(fig, path)


def _curves_plot(metrics, settings, column, label, path, title, logy=False):
    """Mean of ``column`` per epoch per arm, a panel per setting."""
    plt = _plt()
    m = metrics.copy()
    m["arm"] = arm_labels(m)
    keys = list(settings)
    cells = m[keys].drop_duplicates().sort_values(keys).to_records(index=False).tolist() if keys else [()]
    arms = _arm_order(m["arm"])
    n = len(cells)
    if not n:
        return
    ncol = min(4, n)
    nrow = math.ceil(n / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 2.7 * nrow + 0.6), squeeze=False, sharey=not logy)
    for i, cell in enumerate(cells):
        ax = axes[i // ncol][i % ncol]
        sel = np.ones(len(m), dtype=bool)
        for k, v in zip(keys, cell):
            sel &= (m[k] == v).to_numpy()
        g = m[sel]
        for arm in arms:
            a = g[g["arm"] == arm]
            if a.empty:
                continue
            curve = a.groupby("epoch")[column].mean()
            ax.plot(curve.index, curve.to_numpy(), color=_color(arm, arms), label=arm, lw=1.5)
        ax.set_title(_setting_label(keys, cell), fontsize=9)
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        if i % ncol == 0:
            ax.set_ylabel(label, fontsize=8)
        if i // ncol == nrow - 1:
            ax.set_xlabel("epoch", fontsize=8)
    for j in range(n, nrow * ncol):
        axes[j // ncol][j % ncol].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(arms), fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    _save(fig, path)


# --------------------------------------------------------------------------- sections

@dataclass
class Section:
    study: str
    title: str
    text: str
    verdict: str | None = None
    headline: str = ""
    secondary: str = ""
    figures: list = field(default_factory=list)
    tables: list = field(default_factory=list)


def _settings_present(net, settings):
    return tuple(k for k in settings if k in net.columns)


def _arm_verdicts(prim: pd.DataFrame) -> dict[str, str]:
    """Per Leaky arm: the overall rule applied to that arm's primary comparisons."""
    out = {}
    for arm in _arm_order(prim["arm"]):
        v = list(prim.loc[prim["arm"] == arm, "verdict"])
        out[arm] = S.overall_verdict(v) if any(x in S.VERDICTS for x in v) else "n/a"
    return out


def _tally(verdicts) -> str:
    verdicts = list(verdicts)
    return ", ".join(f"{verdicts.count(v)} {v}" for v in (*S.VERDICTS, "n/a") if verdicts.count(v))


def _claim_text(study: Study, net, arm_tab, comp, settings, figures, tables, extra="") -> tuple[str, str, str, str]:
    """Markdown for a claim section, its overall verdict, and the primary and secondary headlines."""
    lines = [f"**Question.** {study.question}", ""]
    if study.notes:
        lines += [study.notes, ""]
    arms = _arm_order(net["arm"])
    counts = net.groupby("arm")["seed"].count()
    div = net[net["status"] == "diverged"].groupby("arm")["seed"].count()
    n_cells = net[list(settings)].drop_duplicates().shape[0] if settings else 1
    lines.append("**Arms.** " + "; ".join(
        f"{a}: {int(counts.get(a, 0))} networks" + (f" ({int(div.get(a, 0))} diverged)" if div.get(a, 0) else "")
        for a in arms) + f" — over {n_cells} setting(s)" + (
        f" ({', '.join(_SHORT.get(k, k) for k in settings)})" if settings else "") + ".")
    lines.append("")
    if extra:
        lines += [extra, ""]
    for m in study.metrics:
        lines += [f"### {'Primary' if m.primary else 'Secondary'} metric: {m.label}", ""]
        if m.note:
            lines += [f"Note: {m.note}.", ""]
        lines += [("Claim: the arm's value is not " + ("lower" if m.direction > 0 else "higher")
                   + " than ReLU's by m or more (non-inferiority)" if m.kind == "noninferiority" else
                   f"Claimed direction: the arm's value {'higher' if m.direction > 0 else 'lower'} than ReLU's")
                  + f"; minimal practical effect m = "
                  + (f"{_num(m.min_effect, 2)} x |ReLU mean|" + (f" (at least {_num(m.floor, 2)})" if m.floor else "")
                     if m.relative else _num(m.min_effect, 2)) + ".", ""]
        t = arm_tab[arm_tab["metric"] == m.column]
        head = ([_SHORT.get(k, k) for k in settings] if settings else []) + [f"{a}" for a in arms]
        rows = []
        cells = t[list(settings)].drop_duplicates().to_records(index=False).tolist() if settings else [()]
        for cell in cells:
            sel = np.ones(len(t), dtype=bool)
            for k, v in zip(settings, cell):
                sel &= (t[k] == v).to_numpy()
            row = [_fmtv(v) for v in cell]
            for a in arms:
                r = t[sel & (t["arm"] == a).to_numpy()]
                row.append(f"{_ci(r['mean'].iloc[0], r['lo'].iloc[0], r['hi'].iloc[0])} (n={int(r['n'].iloc[0])})"
                           if len(r) else "–")
            rows.append(row)
        lines += ["Per arm: mean [bootstrap 95% CI] (networks).", "", _md_table(head, rows), ""]
        c = comp[comp["metric"] == m.column] if not comp.empty else comp
        if len(c):
            head = [_SHORT.get(k, k) for k in settings] + ["arm", "effect vs ReLU [95% CI]", "r", "p", "p_adj", "m",
                                                           "verdict"]
            rows = [[_fmtv(r[k]) for k in settings]
                    + [r["arm"], _ci(r["effect"], r["lo"], r["hi"]), _num(r["r_rb"], 2), _p(r["p"]), _p(r["p_adj"]),
                       _num(r["min_effect"], 2), _vword(r["verdict"])] for _, r in c.iterrows()]
            lines += ["Against ReLU: effect = mean(arm) − mean(ReLU); r = rank-biserial correlation; p = two-sided "
                      "Mann-Whitney U; p_adj = Holm over this metric's comparisons; m = minimal practical effect.", "",
                      _md_table(head, rows), ""]
            per_arm = _arm_verdicts(c)
            lines += ["By arm (same rule over the settings): " + "; ".join(
                f"{a}: {_vword(v)} ({_tally(c.loc[c['arm'] == a, 'verdict'])})" for a, v in per_arm.items()) + ".",
                ""]
    prim = comp[comp["primary"]] if not comp.empty else comp
    counted = list(prim["verdict"]) if len(prim) else []
    overall = S.overall_verdict(counted)
    lines.append(f"**Verdict for {study.claim}: {overall}** — from all {len(counted)} comparisons of the primary "
                 f"metric ({_tally(counted) or 'none'}).")
    lines.append("")
    for f, cap in figures:
        lines += [f"![{cap}]({f})", "", f"*{cap}*", ""]
    if tables:
        lines.append("Tables: " + ", ".join(f"[{Path(t).name}]({t})" for t in tables))
        lines.append("")
    headline = _headline(prim)
    secondary = [_headline(comp[comp["metric"] == m.column]) for m in study.metrics
                 if not m.primary and not comp.empty and (comp["metric"] == m.column).any()]
    return "\n".join(lines), overall, headline, "<br>".join(secondary)


def _short_col(c: str) -> str:
    return {"dead_frac": "dead_frac", "zero_grad_frac": "zero_grad_frac", "collapsed": "collapse rate",
            "log_grad_l1": "log10 grad_l1", "spread": "loss spread", "trained_frac": "trained fraction",
            "exact_zero_frac": "exact_zero_frac", "near_zero_frac": "near_zero_frac",
            "epochs_to": "epochs to threshold", "val_loss": "final val loss", "val_r2": "final val R²",
            "diverged": "divergence rate"}.get(c, c)


def _headline(prim: pd.DataFrame) -> str:
    """Per arm: its verdict on the primary metric and the tally over settings."""
    if prim is None or prim.empty:
        return "no comparisons"
    metric = _short_col(prim["metric"].iloc[0])
    parts = []
    for arm, v in _arm_verdicts(prim).items():
        c = prim[prim["arm"] == arm]
        if len(c) == 1:
            r = c.iloc[0]
            parts.append(f"{arm}: {v} ({_num(r['mean_arm'])} vs {_num(r['mean_relu'])})")
        else:
            parts.append(f"{arm}: {v} ({_tally(c['verdict'])})")
    return f"{metric} — " + "; ".join(parts)


def _resolution(comp: pd.DataFrame) -> str:
    prim = comp[comp["primary"] & comp["eligible"]] if not comp.empty else comp
    if prim.empty:
        return ""
    half = ((prim["hi"] - prim["lo"]) / 2).median()
    return (f"With {int(prim['n_relu'].median())} ReLU and {int(prim['n_arm'].median())} Leaky networks per "
            f"comparison (medians), the primary metric's effect is resolved to about ±{_num(half, 2)} "
            f"(median 95% CI half-width); smaller differences cannot be told apart from none.")


def _write_csv(df, out: Path, name: str) -> str:
    path = out / "tables" / name
    df.to_csv(path, index=False, float_format="%.6g")
    return f"tables/{name}"


def _did_relu_die(metrics, settings) -> str:
    """A table of the ReLU arm's dead fraction at init and at the end, per setting."""
    m = metrics.copy()
    m["arm"] = arm_labels(m)
    r = m[m["arm"] == BASELINE]
    if r.empty or "dead_frac" not in r:
        return ""
    keys = list(settings)
    first = r[r["epoch"] == 0]
    last = _final_rows(r)
    g0 = first.groupby(keys)["dead_frac"].mean() if keys else pd.Series([first["dead_frac"].mean()], index=["all"])
    g1 = last.groupby(keys)["dead_frac"].mean() if keys else pd.Series([last["dead_frac"].mean()], index=["all"])
    rows = []
    for idx in g0.index:
        vals = idx if isinstance(idx, tuple) else (idx,)
        end = g1.get(idx, np.nan)
        rows.append([_setting_label(keys, vals) if keys else "all", _num(g0[idx]), _num(end),
                     "yes" if end >= 0.05 else "no", "yes" if end > g0[idx] + 0.01 else "no"])
    return ("**Did ReLU units die here?** ReLU arm, mean dead fraction per setting (computed from this run): "
            "dead units remain when the final mean is at least 0.05; training killed units when the final mean "
            "exceeds the one at init by more than 0.01.\n\n"
            + _md_table(["setting", "at init", "final", "dead units remain", "training killed units"], rows))


def _section_standard(name, metrics, runs, out: Path) -> Section:
    study = STUDIES[name]
    settings = _settings_present(runs, study.settings)
    net = _networks(metrics, runs, settings)
    if name == "c2_gradients":
        fin = _final_rows(metrics)
        g = fin.set_index(["run_dir", "seed"])["grad_norm_l1"]
        key = pd.MultiIndex.from_arrays([net["run_dir"], net["seed"]])
        net["log_grad_l1"] = np.log10(np.maximum(g.reindex(key).to_numpy(float), GRAD_FLOOR))
        net.loc[net["status"] == "diverged", "log_grad_l1"] = np.nan
    if name == "c5_convergence":
        net = _add_epochs_to(net, metrics)
    arm_tab = _arm_table(net, settings, study.metrics)
    comp = _comparisons(net, settings, study.metrics)
    tables = [_write_csv(arm_tab, out, f"{name}_arms.csv"), _write_csv(comp, out, f"{name}_comparisons.csv")]
    figures = []
    prim = next(m for m in study.metrics if m.primary)
    f = f"figures/{name}_{prim.column}.png"
    _dot_plot(arm_tab, settings, prim.column, _short_col(prim.column), out / f,
              f"{study.claim}: {prim.label}")
    figures.append((f, f"{study.claim}: {prim.label}, mean and bootstrap 95% CI per arm and setting."))
    extra = ""
    if name in ("c1_dying", "c2_gradients"):
        extra = _did_relu_die(metrics, settings)
    if name == "c1_dying":
        f = f"figures/{name}_dead_curves.png"
        _curves_plot(metrics, settings, "dead_frac", "dead fraction", out / f,
                     "C1: dead fraction (never-positive units) during training, mean over seeds")
        figures.append((f, "C1: dead fraction per epoch, mean over each arm's networks, one panel per setting."))
        f = f"figures/{name}_collapsed.png"
        _dot_plot(arm_tab, settings, "collapsed", "collapse rate", out / f, "C1: collapsed networks, final",
                  ylim=(-0.05, 1.05))
        figures.append((f, "C1: fraction of collapsed networks (constant output) at the end, mean and 95% CI."))
    if name == "c2_gradients":
        f = f"figures/{name}_layers.png"
        _layer_grad_plot(metrics, settings, out / f)
        figures.append((f, "C2: log10 gradient norm per hidden layer at the end of training (median over "
                           "networks; exact zeros at 1e-12), one panel per setting."))
        f = f"figures/{name}_log_grad_l1.png"
        _dot_plot(arm_tab, settings, "log_grad_l1", "log10 grad norm, layer 1", out / f,
                  "C2: first-layer gradient norm, final")
        figures.append((f, "C2: log10 of the first hidden layer's gradient norm, mean and 95% CI."))
    if name == "c4_sparsity":
        f = f"figures/{name}_near_zero_frac.png"
        _dot_plot(arm_tab, settings, "near_zero_frac", "near-zero fraction", out / f,
                  "C4: fraction of activations near 0, final")
        figures.append((f, "C4: near-zero fraction (|a| < 1e-3 x layer std), mean and 95% CI."))
    if name == "c5_convergence":
        f = f"figures/{name}_curves.png"
        _curves_plot(metrics, settings, "val_loss", "val loss", out / f,
                     "C5: validation loss per epoch, mean over seeds", logy=True)
        figures.append((f, "C5: validation loss per epoch (log scale), mean over each arm's networks."))
        thr = net.groupby("dataset.name")["threshold"].first()
        extra = "Thresholds (1.25 x pooled median final val loss): " + ", ".join(
            f"{d}: {_num(v)}" for d, v in thr.items()) + "."
    text, overall, headline, secondary = _claim_text(study, net, arm_tab, comp, settings, figures, tables, extra)
    res = _resolution(comp)
    if res:
        text += "\n" + res + "\n"
    return Section(name, study.title, text, overall, headline, secondary, figures, tables)


def _add_epochs_to(net, metrics) -> pd.DataFrame:
    net = net.copy()
    net["threshold"] = np.nan
    net["epochs_to"] = np.nan
    for d, g in net.groupby("dataset.name"):
        thr = 1.25 * float(np.nanmedian(g["val_loss"]))
        m = metrics[metrics["dataset.name"] == d]
        m = m[(m["epoch"] >= 1) & (m["val_loss"] <= thr)]
        first = m.groupby(["run_dir", "seed"])["epoch"].min()
        key = pd.MultiIndex.from_arrays([g["run_dir"], g["seed"]])
        reached = first.reindex(key).to_numpy(float)
        never = g["max_epochs"].to_numpy(float) + 1
        net.loc[g.index, "epochs_to"] = np.where(np.isfinite(reached), reached, never)
        net.loc[g.index, "threshold"] = thr
    return net


def _layer_grad_plot(metrics, settings, path):
    plt = _plt()
    fin = _final_rows(metrics)
    fin["arm"] = arm_labels(fin)
    keys = list(settings)
    cells = fin[keys].drop_duplicates().sort_values(keys).to_records(index=False).tolist() if keys else [()]
    arms = _arm_order(fin["arm"])
    if not cells:
        return
    ncol = min(4, len(cells))
    nrow = math.ceil(len(cells) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 2.8 * nrow + 0.6), squeeze=False, sharey=True)
    for i, cell in enumerate(cells):
        ax = axes[i // ncol][i % ncol]
        sel = np.ones(len(fin), dtype=bool)
        for k, v in zip(keys, cell):
            sel &= (fin[k] == v).to_numpy()
        g = fin[sel]
        cols = sorted([c for c in g.columns if c.startswith("grad_norm_l") and c[11:].isdigit()
                       and g[c].notna().any()], key=lambda c: int(c[11:]))
        for arm in arms:
            a = g[g["arm"] == arm]
            if a.empty:
                continue
            vals = [np.median(np.log10(np.maximum(a[c].to_numpy(float), GRAD_FLOOR))) for c in cols]
            ax.plot(range(1, len(cols) + 1), vals, "o-", ms=3, color=_color(arm, arms), label=arm)
        ax.set_title(_setting_label(keys, cell), fontsize=9)
        ax.grid(alpha=0.3)
        ax.set_xlabel("hidden layer", fontsize=8)
        ax.xaxis.set_major_locator(_int_locator())
        if i % ncol == 0:
            ax.set_ylabel("log10 grad norm (median)", fontsize=8)
    for j in range(len(cells), nrow * ncol):
        axes[j // ncol][j % ncol].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(arms), fontsize=8, frameon=False)
    fig.suptitle("C2: gradient norm per hidden layer at the end of training", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    _save(fig, path)


# ---- C3

def _section_c3(metrics, runs, out: Path) -> Section:
    study = STUDIES["c3_sensitivity"]
    ok = runs[runs["status"] != "failed"].copy()
    ok["arm"] = arm_labels(ok)
    n_classes = _n_classes(metrics)
    chance = math.log(n_classes) if n_classes else float(np.nanmax(ok["final_val_loss"]))
    loss = ok["final_val_loss"].astype(float)
    diverged = ok["status"] == "diverged"
    ok["clipped"] = np.where(diverged | ~np.isfinite(loss), chance, np.minimum(loss, chance))
    ok["trained"] = (~diverged & (loss < 0.5 * chance)).astype(float)
    ok["cell"] = [f"lr={_fmtv(lr)}, init={i}" for lr, i in zip(ok["optimizer.lr"], ok["init.name"])]
    per_seed = ok.groupby(["arm", "seed"]).agg(spread=("clipped", lambda x: float(np.std(x))),
                                                trained_frac=("trained", "mean"), n_cells=("cell", "nunique"))
    net = per_seed.reset_index()
    net["status"] = "ok"
    arm_tab = _arm_table(net, (), study.metrics)
    comp = _comparisons(net, (), study.metrics)
    tables = [_write_csv(arm_tab, out, "c3_sensitivity_arms.csv"),
              _write_csv(comp, out, "c3_sensitivity_comparisons.csv")]
    # the grid itself, and alpha sensitivity
    grid = ok.groupby(["init.name", "optimizer.lr", "arm"]).agg(
        mean_clipped_val_loss=("clipped", "mean"), trained=("trained", "mean"),
        diverged=("status", lambda s: float((s == "diverged").mean()))).reset_index()
    tables.append(_write_csv(grid, out, "c3_sensitivity_grid.csv"))
    figures = []
    f = "figures/c3_sensitivity_grid.png"
    _c3_grid_plot(grid, out / f, chance)
    figures.append((f, "C3: mean final validation loss (clipped at chance, diverged = chance) over the learning "
                       "rate, one panel per initialisation, one line per arm."))
    f = "figures/c3_sensitivity_spread.png"
    _c3_spread_plot(net, out / f)
    figures.append((f, "C3: per-seed spread of the final validation loss across the 12 grid cells (each dot one "
                       "network seed) and fraction of cells where it trains."))
    alpha_tab = _alpha_sensitivity(grid)
    tables.append(_write_csv(alpha_tab, out, "c3_alpha_sensitivity.csv"))
    extra = (f"Grid: {ok['cell'].nunique()} cells (lr x init); chance level ln({n_classes}) = {_num(chance)}; "
             f"each network seed is the same seed in every cell, so each seed gives one spread per arm.")
    text, overall, headline, secondary = _claim_text(study, net, arm_tab, comp, (), figures, tables, extra)
    res = _resolution(comp)
    text += ("\n" + res + "\n" if res else "")
    text += ("\n**Sensitivity to alpha itself** (descriptive, no verdict): mean final validation loss per grid "
             "cell for each arm, and its range (max − min) over the Leaky alphas.\n\n" + _alpha_md(alpha_tab) + "\n")
    return Section("c3_sensitivity", study.title, text, overall, headline, secondary, figures, tables)


def _n_classes(metrics) -> int | None:
    if "task" in metrics and (metrics["task"] == "classification").all() and "dataset.name" in metrics:
        names = set(metrics["dataset.name"].unique())
        known = {"moons": 2, "circles": 2, "spirals": 2, "breast_cancer": 2, "iris": 3, "wine": 3, "blobs": 3,
                 "digits": 10}
        if len(names) == 1 and next(iter(names)) in known:
            return known[next(iter(names))]
    return None


def _alpha_sensitivity(grid) -> pd.DataFrame:
    piv = grid.pivot_table(index=["init.name", "optimizer.lr"], columns="arm", values="mean_clipped_val_loss")
    piv = piv[[a for a in _arm_order(piv.columns)]]
    leaky = [a for a in piv.columns if a.startswith("Leaky")]
    piv["range over alphas"] = piv[leaky].max(axis=1) - piv[leaky].min(axis=1) if leaky else np.nan
    return piv.reset_index()


def _alpha_md(tab) -> str:
    cols = [c for c in tab.columns if c not in ("init.name", "optimizer.lr")]
    rows = [[r["init.name"], _fmtv(r["optimizer.lr"])] + [_num(r[c]) for c in cols] for _, r in tab.iterrows()]
    return _md_table(["init", "lr"] + cols, rows)


def _c3_grid_plot(grid, path, chance):
    plt = _plt()
    inits = list(dict.fromkeys(grid["init.name"]))
    arms = _arm_order(grid["arm"])
    fig, axes = plt.subplots(1, len(inits), figsize=(3.6 * len(inits), 3.4), squeeze=False, sharey=True)
    for ax, init in zip(axes[0], inits):
        g = grid[grid["init.name"] == init]
        for arm in arms:
            a = g[g["arm"] == arm].sort_values("optimizer.lr")
            ax.plot(a["optimizer.lr"], a["mean_clipped_val_loss"], "o-", color=_color(arm, arms), label=arm, ms=4)
        ax.axhline(chance, color="grey", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_title(f"init={init}", fontsize=9)
        ax.set_xlabel("learning rate (SGD)", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("final val loss (clipped at chance)", fontsize=8)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("C3: final validation loss over the lr x init grid (dotted: chance)", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def _c3_spread_plot(net, path):
    plt = _plt()
    arms = _arm_order(net["arm"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    rng = np.random.default_rng(0)
    for ax, col, lab in ((axes[0], "spread", "spread of final val loss (std over cells)"),
                         (axes[1], "trained_frac", "fraction of cells where it trains")):
        for i, arm in enumerate(arms):
            v = net.loc[net["arm"] == arm, col].to_numpy(float)
            ax.scatter(i + rng.uniform(-0.15, 0.15, len(v)), v, s=10, alpha=0.6, color=_color(arm, arms))
            ax.plot([i - 0.3, i + 0.3], [np.mean(v)] * 2, color="k", lw=2)
        ax.set_xticks(range(len(arms)))
        ax.set_xticklabels(arms, fontsize=8)
        ax.set_ylabel(lab, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("C3: one dot per network seed; bar = mean", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


# ---- Lu collapse

def _section_lu(metrics, runs, out: Path) -> Section:
    study = STUDIES["lu_collapse"]
    net = _networks(metrics, runs, ())
    arm_tab = _arm_table(net, (), study.metrics)
    comp = _comparisons(net, (), study.metrics)
    init = metrics[metrics["epoch"] == 0].copy()
    init["arm"] = arm_labels(init)
    layer_cols = [c for c in init.columns if c.startswith("dead_frac_l") and c[11:].isdigit()]
    init["dead_layer"] = (init[layer_cols] == 1).any(axis=1).astype(float)
    init["collapsed0"] = init["collapsed"].astype("Float64").astype(float)
    rows = []
    for arm in _arm_order(net["arm"]):
        a0 = init[init["arm"] == arm]
        a1 = net[net["arm"] == arm]
        n1 = int(a1["collapsed"].notna().sum())
        k1 = int(a1["collapsed"].sum())
        p1, l1, h1 = S.wilson(k1, n1)
        p0, l0, h0 = S.wilson(int(a0["collapsed0"].sum()), len(a0))
        pd0, ld0, hd0 = S.wilson(int(a0["dead_layer"].sum()), len(a0))
        rows.append({"arm": arm, "n": len(a0), "dead_layer_init": pd0, "dead_layer_init_lo": ld0,
                     "dead_layer_init_hi": hd0, "collapsed_init": p0, "collapsed_init_lo": l0,
                     "collapsed_init_hi": h0, "n_final": n1, "collapsed_final": p1, "collapsed_final_lo": l1,
                     "collapsed_final_hi": h1, "median_output_spread_final": float(np.nanmedian(a1["output_spread"])),
                     "median_val_r2_final": float(np.nanmedian(a1["val_r2"]))})
    rates = pd.DataFrame(rows)
    tables = [_write_csv(rates, out, "lu_collapse_rates.csv"), _write_csv(comp, out, "lu_collapse_comparisons.csv")]
    figures = []
    f = "figures/lu_collapse_rates.png"
    _lu_rate_plot(rates, out / f)
    figures.append((f, "Collapse of width-2, depth-10 networks on |x|: fraction with a fully dead layer at "
                       "initialisation, collapsed at initialisation, and collapsed after training (Wilson 95% CI)."))
    f = "figures/lu_collapse_spread.png"
    _lu_spread_plot(net, out / f)
    figures.append((f, "Final output spread (std of the output over the probe set / std of the targets), one "
                       "histogram per arm; left of the dashed line = collapsed."))
    extra = ("Rates with Wilson 95% intervals (init: epoch 0; a *dead layer* has every unit never positive on the "
             "probe set, which for ReLU makes the output constant; *collapsed* = output spread < 1e-3 x target "
             "spread):\n\n" + _md_table(
                 ["arm", "networks", "dead layer at init", "collapsed at init", "collapsed after training",
                  "median final R²"],
                 [[r["arm"], r["n"], _ci(r["dead_layer_init"], r["dead_layer_init_lo"], r["dead_layer_init_hi"]),
                   _ci(r["collapsed_init"], r["collapsed_init_lo"], r["collapsed_init_hi"]),
                   _ci(r["collapsed_final"], r["collapsed_final_lo"], r["collapsed_final_hi"]),
                   _num(r["median_val_r2_final"])] for _, r in rates.iterrows()]))
    text, overall, headline, secondary = _claim_text(study, net, arm_tab, comp, (), figures, tables, extra)
    res = _resolution(comp)
    text += ("\n" + res + "\n" if res else "")
    return Section("lu_collapse", study.title, text, overall, headline, secondary, figures, tables)


def _lu_rate_plot(rates, path):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.8))
    arms = list(rates["arm"])
    kinds = [("dead_layer_init", "dead layer at init", "#bbbbbb"), ("collapsed_init", "collapsed at init", "#7aa6c2"),
             ("collapsed_final", "collapsed after training", "#c0392b")]
    w = 0.26
    for j, (col, lab, colr) in enumerate(kinds):
        x = np.arange(len(arms)) + (j - 1) * w
        y = rates[col].to_numpy()
        err = np.maximum(0, [y - rates[col + "_lo"].to_numpy(), rates[col + "_hi"].to_numpy() - y])
        ax.bar(x, y, w, color=colr, label=lab, yerr=err, capsize=3)
    ax.set_xticks(range(len(arms)))
    ax.set_xticklabels(arms, fontsize=9)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fraction of networks")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Width 2, depth 10, f(x) = |x|: born dead and collapsed", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def _lu_spread_plot(net, path):
    plt = _plt()
    arms = _arm_order(net["arm"])
    fig, axes = plt.subplots(1, len(arms), figsize=(2.6 * len(arms), 2.8), sharey=True, squeeze=False)
    bins = np.linspace(-17, 1, 37)
    for ax, arm in zip(axes[0], arms):
        v = np.log10(np.maximum(net.loc[net["arm"] == arm, "output_spread"].dropna().to_numpy(float), 1e-17))
        ax.hist(v, bins=bins, color=_color(arm, arms))
        ax.axvline(-3, color="k", ls="--", lw=1)
        ax.set_title(arm, fontsize=9)
        ax.set_xlabel("log10 output spread", fontsize=8)
    axes[0][0].set_ylabel("networks", fontsize=8)
    fig.tight_layout()
    _save(fig, path)


# ---- born dead

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
    """Per (depth, width, probe set): networks, born-dead count and estimate with a
    Wilson 95% CI, beside the single-input formula.  Probe set ``point`` is a
    dataset with one training sample (``dataset.n_samples`` <= 2), else ``domain``."""
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


def _section_born_dead(metrics, runs, out: Path) -> Section:
    study = STUDIES["born_dead"]
    tab = born_dead_table(metrics)
    wide = tab.pivot_table(index=["depth", "width"], columns="probe_set",
                           values=["estimate", "lo", "hi", "n", "n_probe"]).reset_index()
    wide.columns = ["_".join(str(c) for c in col if c) for col in wide.columns]
    tables = [_write_csv(tab, out, "born_dead.csv")]
    f = "figures/born_dead.png"
    _born_dead_plot(tab, out / f)
    figures = [(f, "Born-dead probability over depth, one panel per width: the formula 1 - (1 - 2^-N)^L (line), "
                   "the estimate at one input point (filled) and over the domain (open), Wilson 95% CIs.")]
    rows = []
    point_ok = point_n = dom_le = dom_n = 0
    for (depth, width), g in tab.groupby(["depth", "width"]):
        pt = g[g["probe_set"] == "point"]
        dm = g[g["probe_set"] == "domain"]
        formula = S.born_dead_formula(depth, width)
        row = [depth, width, _num(formula)]
        if len(pt):
            r = pt.iloc[0]
            inside = r["lo"] <= formula <= r["hi"]
            point_ok += inside
            point_n += 1
            row += [_ci(r["estimate"], r["lo"], r["hi"]), "yes" if inside else "**no**"]
        else:
            row += ["–", "–"]
        if len(dm):
            r = dm.iloc[0]
            below = r["lo"] <= formula
            dom_le += below
            dom_n += 1
            row += [_ci(r["estimate"], r["lo"], r["hi"])]
        else:
            row += ["–"]
        rows.append(row)
    n_init = int(tab["n"].median()) if len(tab) else 0
    n_dom_probe = tab.loc[tab["probe_set"] == "domain", "n_probe"]
    lines = [f"**Question.** {study.question}", "",
             "A network is counted *born dead* when some hidden layer has every unit never positive on the probe "
             "set (its `dead_frac_l<i>` is 1 at epoch 0): that layer outputs 0 for every input, so the network is "
             "constant. Probe sets: one input point (a dataset of a single training sample), and the domain "
             f"({_num(n_dom_probe.median()) if len(n_dom_probe) else '–'} points of U[-√3, √3]). "
             f"About {n_init} initialisations per cell; worst-case 95% half-width "
             f"{_num(1.96 * math.sqrt(0.25 / max(n_init, 1)), 2)}.", "",
             _md_table(["L (depth)", "N (width)", "formula 1-(1-2^-N)^L", "one point [Wilson 95% CI]",
                        "formula in CI", "domain [Wilson 95% CI]"], rows), "",
             f"**Check (computed):** at one input point the formula lies inside the 95% interval in {point_ok} of "
             f"{point_n} cells (about 95% expected if the formula is exact); over the domain the interval's lower "
             f"end is at or below the formula in {dom_le} of {dom_n} cells (the domain estimate can only be lower).",
             ""]
    for f_, cap in figures:
        lines += [f"![{cap}]({f_})", f"*{cap}*", ""]
    lines.append("Table: " + ", ".join(f"[{Path(t).name}]({t})" for t in tables))
    headline = (f"formula inside the one-point 95% CI in {point_ok}/{point_n} cells; "
                f"domain estimate never above it in {dom_le}/{dom_n}")
    return Section("born_dead", study.title, "\n".join(lines) + "\n", None, headline, "", figures, tables)


def _born_dead_plot(tab, path):
    plt = _plt()
    widths = sorted(tab["width"].unique())
    ncol = min(2, len(widths))
    nrow = math.ceil(len(widths) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.3 * nrow + 0.5), squeeze=False, sharey=True)
    for i, w in enumerate(widths):
        ax = axes[i // ncol][i % ncol]
        g = tab[tab["width"] == w]
        depths = np.arange(1, max(g["depth"].max(), 1) + 1)
        ax.plot(depths, S.born_dead_formula(depths, w), "k-", lw=1.2, label="formula 1 - (1 - 2^-N)^L")
        for probe, mk, fc in (("point", "o", None), ("domain", "s", "none")):
            p = g[g["probe_set"] == probe].sort_values("depth")
            if p.empty:
                continue
            err = np.maximum(0, [p["estimate"] - p["lo"], p["hi"] - p["estimate"]])
            ax.errorbar(p["depth"], p["estimate"], yerr=err, fmt=mk, ms=5, capsize=2, mfc=fc,
                        color="#1f77b4" if probe == "point" else "#d62728",
                        label=f"estimate at {'one input point' if probe == 'point' else 'the whole domain'}")
        ax.set_title(f"width N = {w}", fontsize=9)
        ax.xaxis.set_major_locator(_int_locator())
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        if i // ncol == nrow - 1:
            ax.set_xlabel("depth L (hidden layers)", fontsize=8)
        if i % ncol == 0:
            ax.set_ylabel("P(born dead)", fontsize=8)
    for j in range(len(widths), nrow * ncol):
        axes[j // ncol][j % ncol].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle("Born-dead ReLU networks (zero biases, He-normal weights): estimate vs formula", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    _save(fig, path)


# --------------------------------------------------------------------------- the report

def build_sections(data: dict, out: Path) -> list[Section]:
    sections = []
    for name in ORDER:
        if name not in data:
            continue
        metrics, runs, _ = data[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if name == "born_dead":
                sec = _section_born_dead(metrics, runs, out)
            elif name == "c3_sensitivity":
                sec = _section_c3(metrics, runs, out)
            elif name == "lu_collapse":
                sec = _section_lu(metrics, runs, out)
            else:
                sec = _section_standard(name, metrics, runs, out)
        failed = _failed_jobs(runs)
        if failed:
            sec.text += "\n**Failed jobs** (not in the numbers above):\n\n" + "\n".join(f"- {f}" for f in failed) + "\n"
        sections.append(sec)
    return sections


def write_report(paths, out, command: str | None = None, date: str | None = None, recollect: bool = False,
                 preamble: str = "", notes: str = "") -> Path:
    """Read the sweeps in ``paths``, write ``REPORT.md``, figures and tables into
    ``out``; return the report's path."""
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    data = load_studies(paths, recollect=recollect)
    if not data:
        raise ValueError("no sweeps found in " + ", ".join(map(str, paths)))
    sections = build_sections(data, out)
    command = command or "python -m relu_study.report " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    date = date or _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = ["# relu_study: the claims about Leaky ReLU, tested", "",
             f"Generated by `{command}` on {date} with relu_study {__version__}. "
             "Every verdict and every number in the tables and figures is computed from the sweep tables; none "
             "is typed by hand" + (" (the section *Settings tried* holds notes on pilot runs made before the "
                                   "presets were fixed)." if notes else "."), ""]
    if preamble:
        lines += [preamble, ""]
    lines += ["## Summary", "", "Verdict of each claim (from its primary metric), then each arm's verdict on the primary "
              "and secondary metrics, with the tally over settings (or the arm's mean vs ReLU's when there is one "
              "setting).", "", _md_table(
                  ["study", "verdict", "primary metric, by arm", "secondary metrics, by arm"],
                  [[s.title, _vword(s.verdict) if s.verdict else "(estimate, no verdict)", s.headline, s.secondary]
                   for s in sections]), ""]
    missing = [STUDIES[n].title for n in ORDER if n not in data]
    if missing:
        lines += ["Not in this report (no sweep given): " + "; ".join(missing) + ".", ""]
    lines += ["## How verdicts are computed", "", S.VERDICT_RULE, "",
              "Final metrics are those of each network's last epoch; diverged networks (non-finite loss) have no "
              "final metrics and are counted per arm instead. Means are over network seeds; the seed is the unit of "
              "replication.", ""]
    if notes:
        lines += ["## Settings tried", "", notes, ""]
    for s in sections:
        lines += [f"## {s.title}", "", s.text, ""]
    lines += ["## Sweeps read", ""]
    for name in ORDER:
        if name in data:
            _, runs, folders = data[name]
            n_jobs = runs["run_dir"].nunique()
            lines.append(f"- {name}: {', '.join(f'`{f}`' for f in folders)} ({n_jobs} jobs, "
                         f"{int((runs['status'] != 'failed').sum())} networks)")
    report = out / "REPORT.md"
    report.write_text("\n".join(lines) + "\n")
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m relu_study.report",
        description="Read claim-study sweep folders and write REPORT.md with verdicts, figures and CSV tables.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="sweep folder(s), or folder(s) holding them")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (REPORT.md, figures/, tables/)")
    parser.add_argument("--recollect", action="store_true",
                        help="read the run folders even when a sweep has its sweep_*.parquet tables")
    parser.add_argument("--command", default=None, help="command to stamp in the report (default: this one)")
    args = parser.parse_args(argv)
    try:
        path = write_report(args.paths, args.out, command=args.command, recollect=args.recollect)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
