"""Sweep folders in, one row per network out: what every claim study reads.

:func:`find_sweeps` maps the folders given to the report onto studies (the
``experiment`` choice in a sweep's ``multirun.yaml``, else a study name in the
folder's name); :func:`load_sweeps` reads each sweep's tables (its
``sweep_*.parquet`` aggregate when present, else its run folders) into a
:class:`SweepData`; :func:`networks` turns that into one row per network.

Arms are identified by the activation's name first, then its slope, then the
initialisation when it is RAI (:class:`Arm`); a relu row's ``alpha`` column is
never read (it holds the unused default today and 0.0 after the slope-column
fix).  Probe columns may be NaN on epochs that were not probed; epoch 0 and
the last epoch always are, and only those two rows are read here.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "BASELINE", "Arm", "SweepData", "arm_of", "arms_column", "chance_loss", "find_sweeps", "identify_study",
    "load_sweeps", "networks", "setting_label",
]

BASELINE = "ReLU"
SWEEP_RUNS_FILE = "sweep_runs.parquet"
SWEEP_METRICS_FILE = "sweep_metrics.parquet"

#: short names of config keys in setting labels
SHORT = {"model.depth": "depth", "model.width": "width", "optimizer.lr": "lr", "init.bias_value": "bias",
         "init.name": "init", "dataset.name": "dataset", "dataset.n_samples": "n_samples",
         "optimizer.name": "optimizer", "optimizer.clip_norm": "clip", "max_epochs": "epochs"}

#: classes of the bundled classification datasets (used when a run folder's summary is not at hand)
KNOWN_CLASSES = {"moons": 2, "circles": 2, "spirals": 2, "breast_cancer": 2, "iris": 3, "wine": 3, "blobs": 3,
                 "digits": 10, "mnist1d": 10}


# --------------------------------------------------------------------------- arms

@dataclass(frozen=True)
class Arm:
    """One arm of a claim study: an activation, its negative slope, and whether
    the weights come from RAI (Lu et al.'s randomized asymmetric initialisation),
    on the hidden layers only or on every layer (``rai_all``).  Other
    initialisations are settings, not arms."""

    activation: str
    slope: float = math.nan
    rai: bool = False
    lower: float = math.nan
    upper: float = math.nan
    rai_all: bool = False

    @property
    def label(self) -> str:
        a = self.activation
        if a == "relu":
            base = "ReLU"
        elif a == "leaky":
            base = f"Leaky α={self.slope:.3g}"
        elif a == "prelu":
            base = f"PReLU α₀={self.slope:.3g}"
        elif a == "rrelu":
            base = f"RReLU α~U[{self.lower:.3g}, {self.upper:.3g}]"
        else:
            base = a.upper() if len(a) <= 4 else a.capitalize()
        if not self.rai:
            return base
        return base + (" + RAI (all layers)" if self.rai_all else " + RAI (hidden layers)")

    @property
    def short(self) -> str:
        """``α=0.01``, ``PReLU``, ``ReLU + RAI``: the label without "Leaky"."""
        return self.label.replace("Leaky ", "")

    @property
    def baseline(self) -> bool:
        return self.activation == "relu" and not self.rai

    @property
    def negative_slope(self) -> bool:
        """The activation has a non-zero slope for z < 0, so f'(z) != 0 and
        f(z) != 0 for z != 0 (what makes claims 2 and 4 true by construction)."""
        if self.activation in ("leaky", "prelu"):
            return math.isfinite(self.slope) and self.slope != 0
        return self.activation == "rrelu"

    def sort_key(self):
        kind = {"relu": 0, "leaky": 1, "prelu": 2, "rrelu": 3}.get(self.activation, 4)
        return (not self.baseline, kind, self.slope if math.isfinite(self.slope) else 0.0, self.rai, self.rai_all,
                self.activation)


def _num(v) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return math.nan
    return v


def arm_of(row) -> Arm:
    """The arm of one runs/metrics row (a dict or a pandas row)."""
    get = row.get if hasattr(row, "get") else (lambda k, d=None: d)
    act = str(get("activation.name", "relu"))
    slope = math.nan
    if act in ("leaky", "prelu"):
        slope = _num(get("activation.alpha"))
        if not math.isfinite(slope):
            slope = _num(get("alpha"))
    rai = str(get("init.name", "")) == "rai" or str(get("init.weight", "")) == "rai"
    lower = _num(get("activation.lower")) if act == "rrelu" else math.nan
    upper = _num(get("activation.upper")) if act == "rrelu" else math.nan
    # init.output = default: RAI on the hidden layers only; tables written before the
    # option (no column) drew the output layer with RAI too
    rai_all = rai and str(get("init.output", "same")) != "default"
    return Arm(act, slope, rai, lower, upper, rai_all)


def arms_column(table: pd.DataFrame) -> tuple[pd.Series, dict[str, Arm]]:
    """``(labels per row, {label: Arm})`` for a runs or metrics table."""
    cols = [c for c in ("activation.name", "activation.alpha", "alpha", "init.name", "init.weight",
                        "activation.lower", "activation.upper", "init.output") if c in table.columns]
    # one key per distinct combination (repr: NaN, a slope that does not apply, is a value too)
    keys = [repr(t) for t in zip(*(table[c].tolist() for c in cols))] if cols else [""] * len(table)
    cache: dict[str, Arm] = {}
    labels = []
    for key, (_, row) in zip(keys, table[cols].iterrows()):
        if key not in cache:
            cache[key] = arm_of(row)
        labels.append(cache[key].label)
    arms = {a.label: a for a in cache.values()}
    return pd.Series(labels, index=table.index, dtype=object), arms


def fmt_value(v) -> str:
    """A config value in a label: ``0.1``; a missing value (a null such as
    ``optimizer.clip_norm``, NaN in the tables) is ``none``."""
    if v is None:
        return "none"
    if isinstance(v, (float, np.floating)):
        return "none" if math.isnan(v) else f"{float(v):g}"
    return str(v)


def setting_label(keys, values) -> str:
    """``depth=4, lr=1, bias=0`` (``all`` when there are no setting keys)."""
    if not keys:
        return "all"
    return ", ".join(f"{SHORT.get(k, k)}={fmt_value(v)}" for k, v in zip(keys, values))


# --------------------------------------------------------------------------- finding and loading

def identify_study(folder: Path, names) -> str | None:
    """The study of a sweep folder: the ``experiment`` choice in its
    ``multirun.yaml``, else a study name contained in the folder's name."""
    mr = folder / "multirun.yaml"
    if mr.is_file():
        try:
            from omegaconf import OmegaConf

            choice = OmegaConf.select(OmegaConf.load(mr), "hydra.runtime.choices.experiment")
            if choice in names:
                return str(choice)
        except Exception:  # noqa: BLE001 - fall back to the folder name
            pass
    for part in reversed(folder.resolve().parts):
        for name in sorted(names, key=len, reverse=True):
            if name in part:
                return name
    return None


def find_sweeps(paths, names) -> dict[str, list[Path]]:
    """``{study: [sweep folders]}`` for the given paths (each a sweep folder, or a
    folder holding sweep folders that carry ``multirun.yaml``).  Raises
    FileNotFoundError or ValueError (naming the path) for a path that is not a
    folder or whose study cannot be told."""
    found: dict[str, list[Path]] = {}
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"PATH {p}: no such folder")
        if not p.is_dir():
            raise ValueError(f"PATH {p}: not a folder (give a sweep folder or a folder holding sweeps)")
        sweeps = [p] if (p / "multirun.yaml").is_file() or (p / SWEEP_RUNS_FILE).is_file() else \
            sorted({m.parent for m in p.rglob("multirun.yaml")})
        if not sweeps:
            sweeps = [p]
        for sweep in sweeps:
            name = identify_study(sweep, names)
            if name is None:
                raise ValueError(f"PATH {sweep}: cannot tell which study this sweep belongs to (no multirun.yaml "
                                 f"with an experiment choice, and no study name in the folder name; studies: "
                                 f"{', '.join(names)})")
            if sweep not in found.setdefault(name, []):
                found[name].append(sweep)
    return found


@dataclass
class SweepData:
    """The tables of one study: ``metrics`` (one row per network per epoch),
    ``runs`` (one row per network, failed jobs included), the sweep folders,
    and ``info`` per run folder (``n_outputs``, ``wall_time_s`` from its
    ``summary.json`` when present)."""

    metrics: pd.DataFrame
    runs: pd.DataFrame
    folders: list[Path] = field(default_factory=list)
    info: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def wall_time_s(self) -> float:
        """Sum of the run folders' training wall times (NaN when unknown)."""
        if self.info.empty or "wall_time_s" not in self.info:
            return math.nan
        w = self.info["wall_time_s"].astype(float)
        return float(w.sum()) if w.notna().any() else math.nan


def probed_rows(table: pd.DataFrame) -> np.ndarray:
    """The rows a study of long runs needs: epoch 0, every probed epoch (``dead_frac``
    measured), each network's last row and the row where it diverged."""
    keep = (table["epoch"] == 0).to_numpy(copy=True)
    if "dead_frac" in table:
        keep |= table["dead_frac"].notna().to_numpy()
    if "diverged" in table:
        keep |= table["diverged"].astype(bool).to_numpy()
    last = table.groupby("seed", sort=False)["epoch"].transform("max")
    return keep | (table["epoch"] == last).to_numpy()


def _load_sweep(folder: Path, recollect: bool, epochs: str = "all"):
    runs_f, metrics_f = folder / SWEEP_RUNS_FILE, folder / SWEEP_METRICS_FILE
    unfinished = (folder / "sweep_aggregate.unfinished").exists()  # an interrupted aggregate: read the runs
    if not recollect and not unfinished and runs_f.is_file() and metrics_f.is_file():
        metrics = pd.read_parquet(metrics_f)
        return (metrics[probed_rows(metrics)] if epochs == "probed" else metrics), pd.read_parquet(runs_f)
    from ..sweeps.aggregate import collect

    return collect(folder, warn=False, keep_rows=probed_rows if epochs == "probed" else None)


def _run_info(run_dirs) -> pd.DataFrame:
    rows = []
    for d in run_dirs:
        row = {"run_dir": d, "n_outputs": math.nan, "wall_time_s": math.nan}
        try:
            s = json.loads((Path(d) / "summary.json").read_text())
            row["n_outputs"] = _num((s.get("dataset") or {}).get("n_outputs"))
            row["wall_time_s"] = _num(s.get("wall_time_s"))
        except (OSError, ValueError, AttributeError):
            pass
        rows.append(row)
    return pd.DataFrame(rows, columns=["run_dir", "n_outputs", "wall_time_s"])


def load_sweeps(found: dict[str, list[Path]], recollect: bool = False, epochs: dict | None = None) -> dict:
    """``{study: SweepData}`` for the output of :func:`find_sweeps`.  ``epochs``:
    ``{study: "probed"}`` keeps only the rows :func:`probed_rows` selects."""
    out = {}
    for name, folders in found.items():
        parts = [_load_sweep(f, recollect, (epochs or {}).get(name, "all")) for f in folders]
        metrics = pd.concat([m.assign(_source=i) for i, (m, _) in enumerate(parts)], ignore_index=True)
        runs = pd.concat([r.assign(_source=i) for i, (_, r) in enumerate(parts)], ignore_index=True)
        if len(folders) > 1:
            metrics, runs = _drop_repeats(metrics, runs)
        metrics, runs = metrics.drop(columns="_source"), runs.drop(columns="_source")
        info = _run_info(sorted(runs["run_dir"].astype(str).unique())) if "run_dir" in runs else pd.DataFrame()
        out[name] = SweepData(metrics, runs, list(folders), info)
    return out


def _drop_repeats(metrics, runs):
    """Keep one copy of a network (same config and seed) found in several sweeps."""
    from ..sweeps.arms import RESULT_COLUMNS

    ok = runs[runs["status"] != "failed"]
    keys = [c for c in ok.columns if c not in RESULT_COLUMNS and c != "_source" and not c.startswith("final_")]
    filled = ok[keys + ["seed"]].astype(str)
    dup = filled.duplicated(keep="first").to_numpy()
    if not dup.any():
        return metrics, runs
    warnings.warn(f"{int(dup.sum())} networks appear in more than one sweep folder; each is counted once",
                  stacklevel=3)
    drop = set(zip(ok["_source"][dup], ok["run_dir"][dup], ok["seed"][dup]))
    runs = runs.drop(index=ok.index[dup]).reset_index(drop=True)
    triples = zip(metrics["_source"], metrics["run_dir"], metrics["seed"])
    metrics = metrics[[t not in drop for t in triples]].reset_index(drop=True)
    return metrics, runs


# --------------------------------------------------------------------------- one row per network

_LAYER = re.compile(r".+_l\d+$")
_NOT_METRICS = {"seed", "epoch", "run_dir", "max_epochs", "task", "epochs", "diverged"}


def metric_columns(data: SweepData) -> list[str]:
    """Numeric columns of the metrics table that are measurements, not config:
    every probe column, present or future (``dormant_frac``...), by name."""
    config = set(data.runs.columns)
    out = []
    for c in data.metrics.columns:
        if c in _NOT_METRICS or c in config:
            continue
        if data.metrics[c].dtype == object:
            continue
        out.append(c)
    return out


def chance_loss(task: str, n_outputs: float, dataset: str | None = None) -> float:
    """The loss of a constant prediction: ln K for K balanced classes (K from the
    run's summary, else the dataset's known class count); NaN for regression
    (where R² stands in) or when K is unknown."""
    if task != "classification":
        return math.nan
    k = n_outputs if math.isfinite(n_outputs) else KNOWN_CLASSES.get(str(dataset), math.nan)
    return math.log(k) if math.isfinite(k) and k >= 2 else math.nan


def networks(data: SweepData, settings=()) -> tuple[pd.DataFrame, dict[str, Arm]]:
    """One row per network (failed jobs left out): ``arm`` (label), the setting
    keys, ``seed``, ``run_dir``, ``status``, ``diverged`` (0/1), ``max_epochs``;
    for every metric column m the final value ``m`` (NaN when the network
    diverged), and for whole-network metrics ``init_m`` (epoch 0) and
    ``change_m`` (final - init); and the outcomes defined on every network:

    ``trained``: did not diverge, did not collapse, and ended below half the
    loss of a constant prediction (classification: ln K; regression: R² > 0.5);
    ``failed`` = 1 - trained; ``chance`` (and ``test_chance`` with a test part):
    the loss of a constant prediction on that part."""
    runs = data.runs[data.runs["status"] != "failed"].copy()
    labels, arms = arms_column(runs)
    runs["arm"] = labels
    cols = ["arm", *[k for k in settings if k in runs.columns], "seed", "run_dir", "status", "max_epochs",
            "diverged_epoch", "task", "dataset.name"]
    net = runs[[c for c in dict.fromkeys(cols) if c in runs.columns]].copy()
    net["seed"] = net["seed"].astype(int)
    net["diverged"] = (runs["status"] == "diverged").astype(float).to_numpy()
    m = data.metrics
    if len(m):
        m = m.sort_values(["run_dir", "seed", "epoch"], kind="stable")
        last = m.groupby(["run_dir", "seed"], sort=False).tail(1).set_index(["run_dir", "seed"])
        first = m[m["epoch"] == 0].groupby(["run_dir", "seed"], sort=False).head(1).set_index(["run_dir", "seed"])
        key = pd.MultiIndex.from_arrays([net["run_dir"].astype(str), net["seed"]])
        bad = net["diverged"].to_numpy() == 1
        new = {}
        for c in metric_columns(data):
            fin = last[c].reindex(key).to_numpy(dtype=float, na_value=np.nan).copy()
            fin[bad] = np.nan
            new[c] = fin
            if not _LAYER.match(c):
                ini = first[c].reindex(key).to_numpy(dtype=float, na_value=np.nan) if c in first else \
                    np.full(len(net), np.nan)
                new[f"init_{c}"] = ini
                new[f"change_{c}"] = fin - ini
        net = pd.concat([net.reset_index(drop=True), pd.DataFrame(new)], axis=1)
    else:
        net = net.reset_index(drop=True)
    net["chance"] = _chance(net, data.info, "val")
    if "test_loss" in net:
        net["test_chance"] = _chance(net, data.info, "test")
    net["trained"] = _trained(net, data.info)
    net["failed"] = 1.0 - net["trained"]
    return net, arms


def _chance(net: pd.DataFrame, info: pd.DataFrame, part: str = "val") -> np.ndarray:
    """Per network, the ``part`` loss of a constant prediction: ln K for K classes
    (:func:`chance_loss`); for regression the mean squared deviation of the
    part's targets, recovered exactly from any network of the same dataset as
    ``loss / (1 - R^2)`` (one target: R^2 = 1 - MSE / variance) and shared by
    every network of that dataset (the median over those with finite values).
    NaN where nothing tells it."""
    k = pd.Series(np.nan, index=net.index)
    if not info.empty:
        k = net["run_dir"].astype(str).map(info.set_index("run_dir")["n_outputs"]).astype(float)
    task = net["task"] if "task" in net else pd.Series("classification", index=net.index)
    dataset = net["dataset.name"] if "dataset.name" in net else pd.Series(None, index=net.index)
    chance = np.array([chance_loss(t, kk, d) for t, kk, d in zip(task, k, dataset)], dtype=float)
    loss_col, r2_col = f"{part}_loss", f"{part}_r2"
    reg = (task != "classification").to_numpy()
    if reg.any() and loss_col in net and r2_col in net:
        loss, r2 = net[loss_col].to_numpy(dtype=float), net[r2_col].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            each = np.where(reg & (r2 < 1), loss / (1 - r2), np.nan)
        for d in pd.unique(dataset[reg]):
            sel = reg & (dataset == d).to_numpy() if d is not None else reg
            vals = each[sel][np.isfinite(each[sel])]
            if len(vals):
                chance[sel] = float(np.median(vals))
    return chance


def _trained(net: pd.DataFrame, info: pd.DataFrame) -> np.ndarray:
    ok = net["diverged"].to_numpy() == 0
    if "collapsed" in net:
        ok &= ~(net["collapsed"].to_numpy(dtype=float) == 1)
    task = net["task"] if "task" in net else pd.Series("classification", index=net.index)
    chance = net["chance"].to_numpy(dtype=float)
    good = np.ones(len(net), dtype=bool)
    cls = (task == "classification").to_numpy() & np.isfinite(chance)
    if "val_loss" in net:
        loss = net["val_loss"].to_numpy(dtype=float)
        good[cls] = loss[cls] < 0.5 * chance[cls]
    if "val_r2" in net:
        r2 = net["val_r2"].to_numpy(dtype=float)
        reg = (task != "classification").to_numpy()
        good[reg] = r2[reg] > 0.5
    return (ok & good).astype(float)
