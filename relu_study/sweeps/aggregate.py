"""Many runs -> two tables, comparison plots, and the Hydra multirun callback.

:func:`collect` reads run folders (and sweep folders, searched recursively)
into two pandas tables:

``metrics``
    every row of every complete run's ``metrics.parquet`` (one row per seed per
    epoch, config columns included) plus ``run_dir`` and ``max_epochs``.
``runs``
    one row per (run, network seed), and one row per failed job (``seed`` <NA>):
    config columns (dotted keys, as in ``metrics``), ``run_dir``, ``status``
    (ok | diverged | failed), ``error``, ``diverged_epoch``, ``epochs`` (last
    epoch reached), ``final_<metric>`` for every metric of the registry with a
    final value, test and epoch statistics included (as
    :func:`relu_study.engine.finals.final_values` takes it, the run summary's
    numbers; missing when diverged or not recorded), ``best_<metric>`` where a
    best value means something (``best_val_loss``...) and the run's provenance (``relu_study_version``,
    ``code_git_commit``, ``code_git_dirty``, ``cwd_git_commit``, ``cwd_git_dirty``;
    see :mod:`relu_study.provenance`).

:func:`write_sweep` stores the aggregating process's whole provenance record as
Parquet metadata of both tables: ``pd.read_parquet(path).attrs["provenance"]``.

The config key ``epochs`` (epochs asked for) collides with the result column
``epochs`` (last epoch reached); the asked-for value is kept as ``max_epochs`` in
both tables, and :func:`swept_keys` reports ``max_epochs`` when epochs were swept.

*Arms* are the swept config keys other than the seed (:func:`arm_keys` also drops
keys that follow from the others, such as ``activation.alpha`` when ``alpha`` and
``activation.name`` are swept).  :func:`write_sweep` writes the tables and the
comparison plots (:mod:`relu_study.sweeps.plots`) into a folder, and
:class:`AggregateCallback` does it at the end of every Hydra multirun.

No silent mix-ups (:func:`gather` does the reading and says what it left out):

* A sweep folder with a job list (``sweep_jobs.jsonl``, :mod:`relu_study.runs.manifest`)
  contributes exactly the jobs of its last sweep.  Folders left there by an
  earlier sweep are *stale*: named, and left out.  A job of the sweep that left
  no result (killed, cancelled, interrupted, never started) is a ``failed`` row
  with the reason, never silently missing.
* The same network twice (the same config and seed: relu jobs that differ only
  in alpha, which relu ignores; a run given twice) is counted once, and named.
* ``alpha`` is the slope each network used (tables written before the slope had
  one name are read the same way, see :func:`relu_study.runs.experiment.config_columns`).

Nothing here imports Hydra at module level: notebooks can use :func:`collect`
without it.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine.finals import final_columns, final_values
from ..engine.metrics import metric
from ..provenance import provenance, table_columns
from ..runs.folders import METRICS_FILE, SUMMARY_FILE, load_run, read_summary, write_table
from ..runs.manifest import MANIFEST_FILE, read_manifest
from .arms import PROVENANCE_COLUMNS, RESULT_COLUMNS, arm_keys, arm_label, fixed_description, groups, is_missing

__all__ = [
    "UNFINISHED_FILE", "AggregateCallback", "Collection", "IncompleteRunWarning", "collect", "gather",
    "summary_lines", "trained_runs", "write_sweep",
]

log = logging.getLogger("relu_study")


def _result_columns(columns=()) -> list[str]:
    """The runs table's final and best columns: ``final_<name>`` for every
    final-valued metric of the registry (and the recorded columns of patterned
    ones among ``columns``), ``best_<name>`` where a best value means something."""
    found = [c[len("final_"):] for c in columns if c.startswith("final_")]
    return [c if c.startswith("best_") else f"final_{c}" for c in final_columns(found)]


def _result_dtype(column: str) -> str:
    return "float64" if column.startswith("best_") else metric(column[len("final_"):]).dtype


SWEEP_METRICS_FILE = "sweep_metrics.parquet"
SWEEP_RUNS_FILE = "sweep_runs.parquet"
#: the same two tables as CSV, with ``save_csv=true`` (sweeps) or ``compare --csv``
SWEEP_CSV_FILES = ("sweep_metrics.csv", "sweep_runs.csv")
SWEEP_SUMMARY_FILE = "sweep_summary.txt"
#: present while the aggregate is being written: tables beside it may be incomplete (an interrupted aggregate)
UNFINISHED_FILE = "sweep_aggregate.unfinished"


class IncompleteRunWarning(UserWarning):
    """A run folder was skipped because it is incomplete or corrupt."""


# --------------------------------------------------------------------------- collect

def _natural_key(path: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def _candidate_dirs(root: Path) -> list[Path]:
    """Folders under ``root`` that are (or were meant to be) run folders: they hold
    a summary, a metrics table, or a Hydra job's ``.hydra/config.yaml``."""
    if root.is_file():
        root = root.parent
    found = set()
    for pattern in (SUMMARY_FILE, METRICS_FILE, ".hydra/config.yaml"):
        for p in root.rglob(pattern):
            folder = p.parent.parent if pattern.startswith(".hydra") else p.parent
            found.add(folder)
    return sorted(found, key=_natural_key)


def _config_keys(summary: dict, table: pd.DataFrame | None) -> list[str]:
    from ..runs.experiment import config_columns

    cfg = summary.get("config")
    if isinstance(cfg, dict):
        keys = list(config_columns(cfg))
        return [k for k in keys if table is None or k in table.columns]
    if table is None:
        return []
    from ..engine.train import COLUMNS  # no config in the summary: everything that is not a metric

    metric = set(COLUMNS) | {"task"}
    return [c for c in table.columns if c not in metric and not re.fullmatch(r".+_l\d+", c)]


def _run_rows(folder: str, table: pd.DataFrame, summary: dict) -> pd.DataFrame:
    """The runs-table rows of one complete run: one per network seed."""
    keys = _config_keys(summary, table)
    extra = ["task"] if "task" in table.columns else []
    last = table.groupby("seed", sort=False).tail(1).reset_index(drop=True)
    rows = last[keys + extra].copy()
    if "epochs" in rows:
        rows = rows.rename(columns={"epochs": "max_epochs"})
    rows["seed"] = last["seed"].to_numpy()
    rows["run_dir"] = folder
    per_seed = {int(p["seed"]): p for p in summary.get("seeds", []) if isinstance(p, dict) and "seed" in p}
    div = table.loc[table["diverged"].astype(bool), ["seed", "epoch"]] if "diverged" in table else None
    div_epoch = dict(zip(div["seed"], div["epoch"])) if div is not None else {}
    status, diverged_epoch = [], []
    for seed in rows["seed"]:
        seed = int(seed)
        ep = div_epoch.get(seed, (per_seed.get(seed) or {}).get("diverged_epoch"))
        st = (per_seed.get(seed) or {}).get("status") or ("diverged" if ep is not None else "ok")
        status.append("diverged" if ep is not None else st)
        diverged_epoch.append(ep)
    rows["status"] = status
    rows["error"] = None
    rows["diverged_epoch"] = pd.array([pd.NA if e is None else int(e) for e in diverged_epoch], dtype="Int64")
    rows["epochs"] = last["epoch"].to_numpy()
    bad = pd.Series(rows["status"].to_numpy() == "diverged", index=rows["seed"].to_numpy())
    finals = final_values(table, diverged=bad).reindex(rows["seed"].to_numpy())
    for name in finals.columns:
        rows[name if name.startswith("best_") else f"final_{name}"] = finals[name].to_numpy()
    for key, value in _provenance_columns(summary).items():
        rows[key] = value
    return rows


def _provenance_columns(summary: dict) -> dict:
    """The run's provenance columns (``relu_study.provenance.TABLE_COLUMNS``); runs
    written before provenance was recorded give their version and None."""
    cols = table_columns(summary.get("provenance"))
    cols["relu_study_version"] = cols["relu_study_version"] or summary.get("version")
    return cols


def _failed_row(folder: str, summary: dict) -> dict:
    row = _config_row(summary.get("config"))
    row.update(seed=pd.NA, run_dir=folder, status="failed", error=str(summary.get("error") or "unknown error"))
    row.update(_provenance_columns(summary))
    return row


def _repeat_rows(folder: str, summary: dict, job, jobs: dict) -> list[dict]:
    """The rows of a sweep job that was not trained because an earlier job trains
    the same network (``status: repeat``): one per seed, no results, ``same_as``
    the run folder that holds them (``error`` says why)."""
    from ..runs.config import resolve_seeds

    trained = None
    if job is not None:
        sweep_dir, _, _ = job
        trained = next((f for f, (s, n, _) in jobs.items() if s == sweep_dir and n == summary.get("same_as_job")),
                       None)
        if trained is None and summary.get("same_as"):
            trained = (sweep_dir / summary["same_as"]).resolve()
    row = _config_row(summary.get("config"))
    row.update(run_dir=folder, status="repeat", same_as=None if trained is None else str(trained),
               error=f"not trained: the same network as job {summary.get('same_as_job')} "
                     f"({summary.get('why') or 'the same config'})")
    row.update(_provenance_columns(summary))
    try:
        seeds = resolve_seeds(summary.get("config") or {})
    except Exception:  # noqa: BLE001 - a config without seeds: one row for the job
        seeds = [pd.NA]
    return [{**row, "seed": s} for s in seeds]


def _config_row(cfg) -> dict:
    """Config columns of a run from its config dict (``{}`` when there is none)."""
    from ..runs.experiment import config_columns

    row = {}
    if isinstance(cfg, dict):
        try:
            row = config_columns(cfg)
        except Exception:  # noqa: BLE001 - a malformed config still makes a failed row
            row = {}
    if "epochs" in row:
        row["max_epochs"] = row.pop("epochs")
    return row


#: config groups whose choice ``group=option`` is the column ``group.name``
_GROUPS = ("activation", "dataset", "model", "init", "optimizer")


def _override_row(overrides) -> dict:
    """Config columns read off a job's overrides, for a job that never wrote its config."""
    import yaml

    row = {}
    for o in overrides:
        key, eq, value = str(o).partition("=")
        key = key.lstrip("~+")
        if not eq or "/" in key or key.startswith("hydra."):
            continue
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError:
            pass
        row[f"{key}.name" if key in _GROUPS else ("max_epochs" if key == "epochs" else key)] = value
    return row


def _no_result_row(folder: Path, overrides, reason: str) -> dict:
    """The failed row of a job of a sweep that left no result."""
    from omegaconf import OmegaConf

    row = {}
    try:  # Hydra wrote the job's composed config before the job began
        row = _config_row(OmegaConf.to_container(OmegaConf.load(folder / ".hydra" / "config.yaml"), resolve=True))
    except Exception:  # noqa: BLE001 - no config: the overrides say what they can
        row = _override_row(overrides)
    row.update(seed=pd.NA, run_dir=str(folder), status="failed", error=reason)
    return row


def _finish_runs(runs: pd.DataFrame) -> pd.DataFrame:
    results = _result_columns(runs.columns)
    head = [c for c in runs.columns if c not in RESULT_COLUMNS and not c.startswith("final_")]
    tail = ["seed", "run_dir", "status", "error", "same_as", "diverged_epoch", "epochs", *results,
            *PROVENANCE_COLUMNS]
    if "task" in runs.columns:
        head.append("task")
    for c in tail:
        if c not in runs.columns:
            runs[c] = None if c in ("error", "same_as") else np.nan
    runs = runs[head + tail].reset_index(drop=True)
    for c in ("seed", "diverged_epoch", "epochs"):
        runs[c] = pd.array([pd.NA if pd.isna(v) else int(v) for v in runs[c]], dtype="Int64")
    for c in results:  # each in its metric's dtype (failed jobs' rows: missing)
        dtype = _result_dtype(c)
        if dtype == "boolean":
            runs[c] = pd.array([pd.NA if pd.isna(v) else bool(v) for v in runs[c]], dtype="boolean")
        elif dtype == "Int64":
            runs[c] = pd.array([pd.NA if pd.isna(v) else int(v) for v in runs[c]], dtype="Int64")
        else:
            runs[c] = runs[c].astype(float)
    runs["run_dir"] = runs["run_dir"].astype(str)
    runs["status"] = runs["status"].astype(str)
    for c in ("error", "same_as"):
        runs[c] = pd.Series([None if is_missing(v) else str(v) for v in runs[c]], dtype=object)
    for c in PROVENANCE_COLUMNS:
        values = [None if is_missing(v) else v for v in runs[c]]
        runs[c] = pd.array(values, dtype="boolean") if c.endswith("_dirty") else pd.Series(values, dtype=object)
    return runs


@dataclass
class Collection:
    """What :func:`gather` read, and what it left out and why."""

    metrics: pd.DataFrame
    runs: pd.DataFrame
    #: ``(folder, reason)``: incomplete or corrupt folders that belong to no sweep job
    skipped: list = field(default_factory=list)
    #: ``(sweep folder, [folders])``: run folders of an earlier sweep, not jobs of the last one
    stale: list = field(default_factory=list)
    #: ``(folder, folder it repeats)``: the same networks (config and seeds) read twice, counted once
    repeats: list = field(default_factory=list)
    #: ``(folder, folder that trained its network, why)``: jobs a sweep did not train (rows with status ``repeat``)
    not_trained: list = field(default_factory=list)

    def notes(self) -> list[str]:
        """One line per kind of folder left out (for logs and ``sweep_summary.txt``)."""
        out = []
        for sweep_dir, folders in self.stale:
            names = ", ".join(_short(f, sweep_dir) for f in folders)
            out.append(f"excluded {len(folders)} run folder{'s' if len(folders) != 1 else ''} of {sweep_dir} that "
                       f"{'are' if len(folders) != 1 else 'is'} not jobs of this sweep (left by an earlier sweep): "
                       f"{names}")
        if self.repeats:
            base = Path(os.path.commonpath([str(f) for pair in self.repeats for f in pair]))
            base = base if base.is_dir() else base.parent
            pairs = ", ".join(f"{_short(a, base)} = {_short(b, base)}" for a, b in self.repeats[:6])
            pairs += ", ..." if len(self.repeats) > 6 else ""
            out.append(f"{len(self.repeats)} run folder{'s' if len(self.repeats) != 1 else ''} repeat networks of "
                       f"another (same config and seeds; an activation without a slope ignores alpha), counted "
                       f"once (in {base}): {pairs}")
        if self.not_trained:
            n = len(self.not_trained)
            base = Path(os.path.commonpath([str(f) for a, b, _ in self.not_trained for f in (a, b) if f]))
            base = base if base.is_dir() else base.parent
            whys = "; ".join(sorted({why for _, _, why in self.not_trained}))
            pairs = ", ".join(f"{_short(a, base)} is {_short(b, base) if b else 'unknown'}"
                              for a, b, _ in self.not_trained[:6]) + (", ..." if n > 6 else "")
            out.append(f"{n} job{'s' if n != 1 else ''} not trained, the same network as another job ({whys}): "
                       f"{'their rows' if n != 1 else 'its rows'} have status 'repeat' and name the folder "
                       f"that trained it in 'same_as' (in {base}): {pairs}")
        out += [f"skipped {folder}: {reason}" for folder, reason in self.skipped]
        return out


def _short(folder, sweep_dir) -> str:
    try:
        return str(Path(folder).relative_to(sweep_dir))
    except ValueError:
        return str(folder)


def _sweep_jobs(root: Path) -> tuple[dict, list]:
    """For every sweep folder with a job list at or under ``root``: ``({job folder:
    (sweep folder, num, overrides)}, [(sweep folder, folders of its jobs that left
    nothing, with their overrides)])``."""
    jobs, missing = {}, []
    manifests = [root / MANIFEST_FILE] if (root / MANIFEST_FILE).is_file() else []
    manifests += [m for m in root.rglob(MANIFEST_FILE) if m.parent != root]
    for path in manifests:
        manifest = read_manifest(path.parent)
        if manifest is None:
            continue
        for num in manifest.nums:
            folder = manifest.folder(num)
            if folder is None:  # never started
                guess = manifest.expected_dirs.get(num, path.parent / str(num))
                missing.append((path.parent, guess, manifest.overrides(num),
                                "not run: the job never started (the sweep was stopped or the job cancelled)"))
            else:
                jobs[folder.resolve()] = (path.parent.resolve(), num, manifest.overrides(num))
    return jobs, missing


def gather(paths, keep_rows=None) -> Collection:
    """Read run folders and/or sweep folders (searched recursively) into a
    :class:`Collection`.  See the module docstring for the columns and for what
    is left out.  ``keep_rows(table) -> boolean mask`` keeps only some rows of each
    run's metrics table, as it is read (the claim report keeps the probed epochs
    of long runs: a 500-epoch sweep would not fit in memory otherwise); it must
    keep every network's last row, which the runs table is built from.

    Failed jobs (``summary.json`` with ``status: failed``), and jobs of a sweep
    that left no result, become one runs row each.  Incomplete or corrupt run
    folders that are no job of a sweep are skipped (``skipped``).  A folder
    reached twice (overlapping paths, symlinks) is read once.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    folders: dict[Path, Path] = {}
    jobs: dict = {}
    missing: list = []
    explicit = set()
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or folder")
        explicit.add(p.resolve())
        root = p.parent if p.is_file() else p
        j, m = _sweep_jobs(root)
        jobs.update(j)
        missing += m
        for folder in _candidate_dirs(p):
            folders.setdefault(folder.resolve(), folder)
    out = Collection(pd.DataFrame(), pd.DataFrame())
    # folders under a sweep folder with a job list that are no job of its last sweep
    sweeps = {sweep for sweep, _, _ in jobs.values()}
    stale: dict = {}
    for resolved in list(folders):
        owner = next((s for s in sweeps if resolved != s and s in resolved.parents), None)
        if owner is not None and resolved not in jobs and resolved not in explicit:
            folders.pop(resolved)
            stale.setdefault(owner, []).append(resolved)
    out.stale = [(sweep, sorted(found, key=_natural_key)) for sweep, found in sorted(stale.items())]
    tables, rows, failed = [], [], []
    for _, folder, overrides, reason in missing:
        if folder.resolve() not in folders:
            failed.append(_no_result_row(folder, overrides, reason))
    for folder, (_, _, overrides) in jobs.items():  # started, and left not even Hydra's record
        if folder not in folders:
            failed.append(_no_result_row(folder, overrides, "no result: the job's folder holds nothing "
                                                            "(it was removed, or the job was killed as it began)"))
    for resolved in sorted(folders, key=_natural_key):
        name = str(resolved)
        job = jobs.get(resolved)
        summary = read_summary(resolved)
        if summary is not None and summary.get("status") == "failed":
            failed.append(_failed_row(name, summary))
            continue
        if summary is not None and summary.get("status") == "repeat":  # not trained: the network is another job's
            failed += _repeat_rows(name, summary, job, jobs)
            continue
        try:
            if summary is None:
                raise ValueError(f"no readable {SUMMARY_FILE} (incomplete or corrupt run)")
            if summary.get("missing"):
                raise ValueError(f"incomplete: {summary.get('write_error') or 'files missing'}")
            table, summary = load_run(resolved)
            if not {"seed", "epoch"} <= set(table.columns) or table.empty:
                raise ValueError(f"{resolved}: {METRICS_FILE} has no seed/epoch rows")
            if keep_rows is not None:
                table = table[keep_rows(table)]
            table = _with_config(table, summary)
            run_rows = _run_rows(name, table, summary)
        except Exception as exc:  # noqa: BLE001 - any problem with a folder means skip it
            reason = str(exc).replace(f"{resolved}: ", "")
            if job is not None:  # a job of the sweep: accounted for, as a failure
                failed.append(_no_result_row(resolved, job[2], f"no result: {reason} (the job is still running, "
                                                                f"or was killed, interrupted or could not write)"))
            else:
                out.skipped.append((folders[resolved], reason))
            continue
        table = table.copy()
        if "epochs" in table.columns:
            table["max_epochs"] = table["epochs"]
        table["run_dir"] = name
        tables.append(table)
        rows.append(run_rows)
    metrics = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame({"run_dir": pd.Series(dtype=str)})
    parts = rows + ([pd.DataFrame(failed)] if failed else [])
    runs = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if len(runs):  # job order (natural order of folders), then seed
        order = sorted(range(len(runs)), key=lambda i: (_natural_key(runs["run_dir"].iloc[i]),
                                                        -1 if pd.isna(runs["seed"].iloc[i]) else runs["seed"].iloc[i]))
        runs = runs.iloc[order]
    out.metrics, out.runs = metrics, _finish_runs(runs)
    out.metrics, out.runs, out.repeats = _drop_repeats(out.metrics, out.runs)
    if len(out.runs):
        untrained = out.runs[out.runs["status"] == "repeat"].drop_duplicates("run_dir")
        out.not_trained = [(d, t, str(why).split(" (", 1)[-1].rstrip(")"))
                           for d, t, why in zip(untrained["run_dir"], untrained["same_as"], untrained["error"])]
    return out


def _with_config(table: pd.DataFrame, summary: dict) -> pd.DataFrame:
    """The run's config columns recomputed from its summary: the same values for a
    current table; for one written before the slope had one name, ``alpha`` becomes
    the slope the network used (and ELU's scale ``activation.scale``)."""
    row = _config_row(summary.get("config"))
    row = {("epochs" if k == "max_epochs" else k): v for k, v in row.items()}
    if not row:
        return table
    table = table.copy()
    for key, value in row.items():
        if key not in table.columns or not table[key].map(lambda v, w=value: _same(v, w)).all():
            table[key] = value
    return table


def _same(a, b) -> bool:
    try:
        return bool(a == b) or (is_missing(a) and is_missing(b))
    except (TypeError, ValueError):
        return False


def _drop_repeats(metrics: pd.DataFrame, runs: pd.DataFrame):
    """Keep one copy of a network found twice: the same config columns and seed,
    and the same results (a repeat that differs is kept: it is not the same run)."""
    if runs.empty:
        return metrics, runs, []
    ok = runs[~runs["status"].isin(["failed", "repeat"])]
    keys = [c for c in ok.columns if c not in RESULT_COLUMNS and not c.startswith("final_")] + ["seed", "task"]
    keys = [k for k in dict.fromkeys(keys) if k in ok.columns]
    results = [c for c in ok.columns if c.startswith("final_")] + ["best_val_loss", "status", "epochs"]
    filled = ok[keys + results].map(lambda v: "\0none" if is_missing(v) else repr(v))
    first: dict = {}
    drop, repeats = [], {}
    for idx, key, result in zip(ok.index, map(tuple, filled[keys].to_numpy()), map(tuple, filled[results].to_numpy())):
        if key in first and first[key][1] == result:
            drop.append(idx)
            repeats.setdefault(runs.at[idx, "run_dir"], runs.at[first[key][0], "run_dir"])
        else:
            first.setdefault(key, (idx, result))
    if not drop:
        return metrics, runs, []
    dropped = set(zip(runs.loc[drop, "run_dir"], runs.loc[drop, "seed"].astype(int)))
    keep = [(d, int(s)) not in dropped for d, s in zip(metrics["run_dir"], metrics["seed"])]
    return (metrics[keep].reset_index(drop=True), runs.drop(index=drop).reset_index(drop=True),
            sorted(repeats.items(), key=lambda kv: _natural_key(kv[0])))


def collect(paths, warn: bool = True, keep_rows=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(metrics, runs)`` from run folders and/or sweep folders (:func:`gather`,
    ``keep_rows`` as there), saying what was left out: one warning per note
    (:class:`IncompleteRunWarning` when ``warn``, else a log warning)."""
    found = gather(paths, keep_rows)
    for note in found.notes():
        if warn:
            warnings.warn(note, IncompleteRunWarning, stacklevel=2)
        else:
            log.warning("%s", note)
    return found.metrics, found.runs


def summary_lines(runs: pd.DataFrame, keys=None) -> list[str]:
    """One line per arm: mean final validation loss, dead fraction and task metric
    over the arm's non-diverged seeds, with counts of diverged and failed jobs."""
    keys = arm_keys(runs) if keys is None else list(keys)
    lines = []
    for values, g in groups(runs, keys):
        ok = g[g["status"] == "ok"]
        n_fail = int((g["status"] == "failed").sum())
        n_div = int((g["status"] == "diverged").sum())
        n_net = len(g) - n_fail
        parts = []
        if len(ok):
            parts.append(f"final val_loss {ok['final_val_loss'].mean():.4g}")
            parts.append(f"dead_frac {ok['final_dead_frac'].mean():.3f}")
            for m in ("val_acc", "val_r2"):
                if ok[f"final_{m}"].notna().any():
                    parts.append(f"{m} {ok[f'final_{m}'].mean():.3f}")
            parts.append(f"mean over {len(ok)} of {n_net} networks")
        elif n_net:
            parts.append(f"all {n_net} networks diverged")
        if n_div and len(ok):
            parts.append(f"{n_div} diverged")
        if n_fail:
            parts.append(f"{n_fail} job{'s' if n_fail != 1 else ''} FAILED")
        lines.append(f"{arm_label(keys, values)}: " + ", ".join(parts))
    return lines


# --------------------------------------------------------------------------- write

def write_sweep(sweep_dir, metrics: pd.DataFrame, runs: pd.DataFrame, by=None, plots: bool = True,
                notes=(), csv: bool = False) -> list[Path]:
    """Write ``sweep_metrics.parquet``, ``sweep_runs.parquet``, ``sweep_summary.txt``
    and (unless ``plots`` is false) the comparison plots and ``sweep_report.html``
    into ``sweep_dir``, each atomically; return the paths written.

    ``by``: the arm keys (default :func:`arm_keys`); ``notes``: lines saying what
    was left out (:meth:`Collection.notes`), kept in the summary; ``csv``: also
    ``sweep_metrics.csv`` and ``sweep_runs.csv`` (the same tables, for readers
    without Parquet; a CSV of an earlier aggregate is removed when false).  Plot
    files of an earlier aggregate that do not apply any more are removed.  While
    they are written, ``sweep_aggregate.unfinished`` says so: an aggregate stopped
    half-way (Ctrl-C, a full disk) is never mistaken for a finished one.
    """
    from ..runs.folders import WriteError, atomic_path

    sweep_dir = Path(sweep_dir)
    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(sweep_dir, exc) from exc
    keys = arm_keys(trained_runs(runs), by) if len(runs) else []
    with atomic_path(sweep_dir / UNFINISHED_FILE) as tmp:  # removed when the last file is in place
        tmp.write_text(f"the aggregate of this folder was stopped while it was written: the sweep_* files may "
                       f"be incomplete or stale; rebuild them with python -m relu_study.compare {sweep_dir}\n")
    written = _write_aggregate(sweep_dir, metrics, runs, keys, plots, notes, csv)
    (sweep_dir / UNFINISHED_FILE).unlink(missing_ok=True)
    return written


def _write_aggregate(sweep_dir: Path, metrics, runs, keys, plots: bool, notes, csv: bool) -> list[Path]:
    from . import plots as sweep_plots
    from ..runs.folders import atomic_path

    written = []
    metrics, runs = _with_provenance(metrics), _with_provenance(runs)
    write_table(sweep_dir / SWEEP_METRICS_FILE, metrics)
    written.append(sweep_dir / SWEEP_METRICS_FILE)
    write_table(sweep_dir / SWEEP_RUNS_FILE, runs)
    written.append(sweep_dir / SWEEP_RUNS_FILE)
    for name, table in zip(SWEEP_CSV_FILES, (metrics, runs)):
        if csv:
            with atomic_path(sweep_dir / name) as tmp:
                table.to_csv(tmp, index=False)
            written.append(sweep_dir / name)
        else:
            (sweep_dir / name).unlink(missing_ok=True)  # an earlier aggregate's table would not match
    text = _summary_text(runs, keys, notes)
    with atomic_path(sweep_dir / SWEEP_SUMMARY_FILE) as tmp:
        tmp.write_text(text)
    written.append(sweep_dir / SWEEP_SUMMARY_FILE)
    if not plots:
        return written
    runs = trained_runs(runs)  # the figures and the page draw each network once
    figures = sweep_plots.plot_sweep(metrics, runs, keys, sweep_dir) if len(runs) else []
    for name in sweep_plots.PLOT_FILES:
        p = sweep_dir / name
        if p not in figures and p.exists():
            p.unlink()
    from .html import write_sweep_report  # sweep_report.html: the same curves, interactive

    return written + figures + [write_sweep_report(sweep_dir, metrics, runs, keys, summary=text)]


def _with_provenance(table: pd.DataFrame) -> pd.DataFrame:
    """A shallow copy whose ``attrs["provenance"]`` is this process's provenance:
    pandas stores ``attrs`` in the Parquet metadata and ``pd.read_parquet`` gives it back."""
    table = table.copy(deep=False)
    table.attrs = {**table.attrs, "provenance": provenance()}
    return table


def trained_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` without the rows of jobs that were not trained because another job
    trains the same network (``status: repeat``): what statistics count, once each."""
    if "status" not in runs.columns:
        return runs
    return runs[runs["status"] != "repeat"]


def _summary_text(runs: pd.DataFrame, keys, notes=()) -> str:
    n_jobs = runs["run_dir"].nunique() if len(runs) else 0
    n_fail = int((runs["status"] == "failed").sum()) if len(runs) else 0
    n_repeat = runs.loc[runs["status"] == "repeat", "run_dir"].nunique() if len(runs) else 0
    runs = trained_runs(runs)
    out = [f"{n_jobs} run folders ({n_fail} failed{f', {n_repeat} not trained (repeats)' if n_repeat else ''}), "
           f"{int((runs['status'] != 'failed').sum()) if len(runs) else 0}"
           f" networks; arms by: {', '.join(keys) or 'none (one arm)'}"]
    if len(runs):
        fixed = fixed_description(runs, keys)
        if fixed:
            out.append(f"fixed: {fixed}")
        out += summary_lines(runs, keys)
        for _, r in runs[runs["status"] == "failed"].iterrows():
            out.append(f"FAILED {r['run_dir']}{_overrides_note(r['run_dir'])}: {r['error']}")
    out += list(notes)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- hydra callback

def _overrides_note(run_dir) -> str:
    """`` (activation=relu lr=-1)`` from a Hydra job folder's overrides, or ""."""
    path = Path(run_dir) / ".hydra" / "overrides.yaml"
    try:
        from omegaconf import OmegaConf

        items = [str(o) for o in OmegaConf.load(path) if not str(o).startswith("hydra.")]
    except Exception:  # noqa: BLE001 - only a label
        return ""
    return f" ({' '.join(items)})" if items else ""


class AggregateCallback:
    """Hydra callback (``hydra.callbacks.aggregate._target_: relu_study.sweeps.aggregate.AggregateCallback``).

    Implements the interface of ``hydra.experimental.callback.Callback`` without
    importing Hydra here.  ``on_multirun_start`` removes the aggregate of an
    earlier sweep into the same folder (so a sweep that is stopped never leaves
    a stale one looking current); ``on_multirun_end`` reads exactly the jobs of
    this sweep (:func:`gather`, from the job list that
    :class:`relu_study.runs.cli.RunCallback` keeps), names what it left out in
    one warning line each, writes the tables and plots (:func:`write_sweep`),
    logs one line per arm, and, if any job failed, logs the failed jobs and
    exits with status 1 after writing the aggregate.

    Options (``++hydra.callbacks.aggregate.<name>=<value>`` on the command line):
    ``by`` the arm keys (a list, default: the swept keys), ``plots`` (default
    true), ``exit_on_failure`` (default true).
    """

    def __init__(self, by=None, plots: bool = True, exit_on_failure: bool = True):
        self.by = list(by) if by is not None and not isinstance(by, str) else by
        self.plots = plots
        self.exit_on_failure = exit_on_failure

    def on_run_start(self, config, **kwargs) -> None: ...

    def on_run_end(self, config, **kwargs) -> None: ...

    def on_job_start(self, config, **kwargs) -> None: ...

    def on_job_end(self, config, **kwargs) -> None: ...

    def on_multirun_start(self, config, **kwargs) -> None:
        from . import plots as sweep_plots

        sweep_dir = Path(str(config.hydra.sweep.dir))
        for name in (SWEEP_METRICS_FILE, SWEEP_RUNS_FILE, SWEEP_SUMMARY_FILE, UNFINISHED_FILE, *SWEEP_CSV_FILES,
                     *sweep_plots.PLOT_FILES):
            try:
                (sweep_dir / name).unlink()
            except FileNotFoundError:
                pass

    def on_multirun_end(self, config, **kwargs) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        found = gather(sweep_dir)
        metrics, runs = found.metrics, found.runs
        for note in found.notes():
            log.warning("%s", note)
        if runs.empty:
            log.error("no run folders found in %s", sweep_dir)
            if self.exit_on_failure:
                sys.exit(1)
            return
        keys = arm_keys(trained_runs(runs), self.by)
        write_sweep(sweep_dir, metrics, runs, by=keys, plots=self.plots, notes=found.notes(),
                    csv=bool(config.get("save_csv", False)))  # the runs' save_csv=true applies here too
        n_folders = runs["run_dir"].nunique()
        log.info("sweep aggregate of %d run folders in %s (%s, %s, %s%s)", n_folders, sweep_dir,
                 SWEEP_RUNS_FILE, SWEEP_METRICS_FILE, SWEEP_SUMMARY_FILE, ", plots" if self.plots else "")
        for line in summary_lines(trained_runs(runs), keys):
            log.info("  %s", line)
        if (sweep_dir / "sweep_report.html").is_file():  # the last line names the page to open
            log.info("open %s", sweep_dir / "sweep_report.html")
        failed = runs[runs["status"] == "failed"]
        if len(failed):
            lines = [f"{len(failed)} of {n_folders} jobs failed:"]
            lines += [f"  {r['run_dir']}{_overrides_note(r['run_dir'])}: {r['error']}" for _, r in failed.iterrows()]
            for line in lines:
                log.error("%s", line)
            for handler in logging.getLogger().handlers:
                handler.flush()
            print("error: " + "\n".join(lines), file=sys.stderr, flush=True)
            if self.exit_on_failure:
                sys.exit(1)
