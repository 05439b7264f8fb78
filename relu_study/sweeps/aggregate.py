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
    epoch reached), ``final_<metric>`` (the seed's last row; NaN when diverged),
    ``best_val_loss`` and the run's provenance (``relu_study_version``,
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

Nothing here imports Hydra at module level: notebooks can use :func:`collect`
without it.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..provenance import provenance, table_columns
from ..runs.folders import METRICS_FILE, SUMMARY_FILE, load_run, read_summary, write_table
from .arms import PROVENANCE_COLUMNS, RESULT_COLUMNS, arm_keys, arm_label, fixed_description, groups, is_missing

__all__ = [
    "FINAL_METRICS", "AggregateCallback", "IncompleteRunWarning", "collect", "summary_lines", "write_sweep",
]

log = logging.getLogger("relu_study")

#: metrics reported as ``final_<name>`` in the runs table
FINAL_METRICS = ("train_loss", "val_loss", "val_acc", "val_r2", "dead_frac", "zero_grad_frac",
                 "exact_zero_frac", "near_zero_frac", "active_rate", "grad_norm", "output_spread", "collapsed")


SWEEP_METRICS_FILE = "sweep_metrics.parquet"
SWEEP_RUNS_FILE = "sweep_runs.parquet"
SWEEP_SUMMARY_FILE = "sweep_summary.txt"
PROGRESS_FILE = ".sweep_progress"


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


def _skip(folder, reason, warn):
    msg = f"skipping run folder {folder}: {reason}"
    if warn:
        warnings.warn(msg, IncompleteRunWarning, stacklevel=3)
    else:
        log.warning("%s", msg)


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
    bad = rows["status"].to_numpy() == "diverged"
    for m in FINAL_METRICS:
        if m in last.columns:
            col = last[m].astype("boolean") if m == "collapsed" else last[m].astype(float)
            col = col.copy()
            col[bad] = pd.NA if m == "collapsed" else np.nan
            rows[f"final_{m}"] = col.to_numpy()
        else:
            rows[f"final_{m}"] = pd.NA if m == "collapsed" else np.nan
    best = table.groupby("seed")["val_loss"].min() if "val_loss" in table else pd.Series(dtype=float)
    rows["best_val_loss"] = [float(best.get(s, np.nan)) for s in rows["seed"]]
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
    from ..runs.experiment import config_columns

    cfg = summary.get("config")
    row = {}
    if isinstance(cfg, dict):
        try:
            row = config_columns(cfg)
        except Exception:  # noqa: BLE001 - a malformed config still makes a failed row
            row = {}
    if "epochs" in row:
        row["max_epochs"] = row.pop("epochs")
    row.update(seed=pd.NA, run_dir=folder, status="failed", error=str(summary.get("error") or "unknown error"))
    row.update(_provenance_columns(summary))
    return row


def _finish_runs(runs: pd.DataFrame) -> pd.DataFrame:
    head = [c for c in runs.columns if c not in RESULT_COLUMNS and not c.startswith("final_")]
    tail = ["seed", "run_dir", "status", "error", "diverged_epoch", "epochs",
            *[f"final_{m}" for m in FINAL_METRICS], "best_val_loss", *PROVENANCE_COLUMNS]
    if "task" in runs.columns:
        head.append("task")
    for c in tail:
        if c not in runs.columns:
            runs[c] = pd.NA if c == "final_collapsed" else (None if c == "error" else np.nan)
    runs = runs[head + tail].reset_index(drop=True)
    for c in ("seed", "diverged_epoch", "epochs"):
        runs[c] = pd.array([pd.NA if pd.isna(v) else int(v) for v in runs[c]], dtype="Int64")
    runs["final_collapsed"] = pd.array([pd.NA if pd.isna(v) else bool(v) for v in runs["final_collapsed"]],
                                       dtype="boolean")
    for m in FINAL_METRICS:
        if m != "collapsed":
            runs[f"final_{m}"] = runs[f"final_{m}"].astype(float)
    runs["best_val_loss"] = runs["best_val_loss"].astype(float)
    runs["run_dir"] = runs["run_dir"].astype(str)
    runs["status"] = runs["status"].astype(str)
    runs["error"] = pd.Series([None if pd.isna(v) else str(v) for v in runs["error"]], dtype=object)
    for c in PROVENANCE_COLUMNS:
        values = [None if is_missing(v) else v for v in runs[c]]
        runs[c] = pd.array(values, dtype="boolean") if c.endswith("_dirty") else pd.Series(values, dtype=object)
    return runs


def collect(paths, warn: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(metrics, runs)`` from run folders and/or sweep folders (searched
    recursively).  See the module docstring for the columns.

    Failed jobs (``summary.json`` with ``status: failed``) become one runs row
    each.  Incomplete or corrupt run folders are skipped with a warning naming
    the folder (:class:`IncompleteRunWarning` when ``warn``, else a log warning).
    A folder reached twice (overlapping paths, symlinks) is read once.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    folders: dict[Path, Path] = {}
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or folder")
        for folder in _candidate_dirs(p):
            folders.setdefault(folder.resolve(), folder)
    tables, rows, failed = [], [], []
    for resolved in sorted(folders, key=_natural_key):
        name = str(resolved)
        summary = read_summary(resolved)
        if summary is None:
            _skip(folders[resolved], f"no readable {SUMMARY_FILE} (incomplete or corrupt run)", warn)
            continue
        if summary.get("status") == "failed":
            failed.append(_failed_row(name, summary))
            continue
        try:
            table, summary = load_run(resolved)
            if not {"seed", "epoch"} <= set(table.columns) or table.empty:
                raise ValueError(f"{resolved}: {METRICS_FILE} has no seed/epoch rows")
            run_rows = _run_rows(name, table, summary)
        except Exception as exc:  # noqa: BLE001 - any problem with a folder means skip it
            reason = str(exc).replace(f"{resolved}: ", "")
            _skip(folders[resolved], reason, warn)
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
    return metrics, _finish_runs(runs)


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

def write_sweep(sweep_dir, metrics: pd.DataFrame, runs: pd.DataFrame, by=None, plots: bool = True) -> list[Path]:
    """Write ``sweep_metrics.parquet``, ``sweep_runs.parquet``, ``sweep_summary.txt``
    and (unless ``plots`` is false) the comparison plots and ``sweep_report.html``
    into ``sweep_dir``, each atomically; return the paths written.

    ``by``: the arm keys (default :func:`arm_keys`).  Plot files of an earlier
    aggregate that do not apply any more are removed.
    """
    from . import plots as sweep_plots
    from ..runs.folders import atomic_path

    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    keys = arm_keys(runs, by) if len(runs) else []
    written = []
    metrics, runs = _with_provenance(metrics), _with_provenance(runs)
    write_table(sweep_dir / SWEEP_METRICS_FILE, metrics)
    written.append(sweep_dir / SWEEP_METRICS_FILE)
    write_table(sweep_dir / SWEEP_RUNS_FILE, runs)
    written.append(sweep_dir / SWEEP_RUNS_FILE)
    text = _summary_text(runs, keys)
    with atomic_path(sweep_dir / SWEEP_SUMMARY_FILE) as tmp:
        tmp.write_text(text)
    written.append(sweep_dir / SWEEP_SUMMARY_FILE)
    if not plots:
        return written
    figures = sweep_plots.plot_sweep(metrics, runs, keys, sweep_dir) if len(metrics) else []
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


def _summary_text(runs: pd.DataFrame, keys) -> str:
    n_jobs = runs["run_dir"].nunique() if len(runs) else 0
    n_fail = int((runs["status"] == "failed").sum()) if len(runs) else 0
    out = [f"{n_jobs} run folders ({n_fail} failed), {int((runs['status'] != 'failed').sum()) if len(runs) else 0}"
           f" networks; arms by: {', '.join(keys) or 'none (one arm)'}"]
    if len(runs):
        fixed = fixed_description(runs, keys)
        if fixed:
            out.append(f"fixed: {fixed}")
        out += summary_lines(runs, keys)
        for _, r in runs[runs["status"] == "failed"].iterrows():
            out.append(f"FAILED {r['run_dir']}{_overrides_note(r['run_dir'])}: {r['error']}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- hydra callback

def _sweep_size(config) -> int | None:
    """Number of jobs of a basic-sweeper multirun (None when unknown)."""
    try:
        from hydra.core.override_parser.overrides_parser import OverridesParser
        from omegaconf import OmegaConf

        target = str(OmegaConf.select(config, "hydra.sweeper._target_") or "")
        if not target.endswith("BasicSweeper"):
            return None
        params = OmegaConf.select(config, "hydra.sweeper.params") or {}
        args = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
        sizes = {}
        for o in OverridesParser.create().parse_overrides(args):
            sizes[o.get_key_element()] = len(list(o.sweep_string_iterator())) if o.is_sweep_override() else 1
        return math.prod(sizes.values())
    except Exception:  # noqa: BLE001 - progress is best effort
        return None


def _count_finished(progress: Path, job) -> int | None:
    """Append ``job`` to the sweep's progress file and return how many distinct
    jobs have finished (works across processes and hosts sharing the folder)."""
    try:
        with open(progress, "a+") as fh:
            try:
                import fcntl

                fcntl.flock(fh, fcntl.LOCK_EX)
            except (ImportError, OSError):
                pass
            fh.write(f"{job}\n")
            fh.flush()
            fh.seek(0)
            return len({line.strip() for line in fh if line.strip()})
    except OSError:
        return None


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
    importing Hydra here.  ``on_job_end`` logs one progress line per finished job;
    ``on_multirun_end`` collects the sweep folder, writes the tables and plots
    (:func:`write_sweep`), logs one line per arm, and, if any job failed, logs the
    failed jobs and exits with status 1 after writing the aggregate.

    Options (``++hydra.callbacks.aggregate.<name>=<value>`` on the command line):
    ``by`` the arm keys (a list, default: the swept keys), ``plots`` (default
    true), ``exit_on_failure`` (default true).
    """

    def __init__(self, by=None, plots: bool = True, exit_on_failure: bool = True):
        self.by = list(by) if by is not None and not isinstance(by, str) else by
        self.plots = plots
        self.exit_on_failure = exit_on_failure
        self.n_jobs: int | None = None

    def on_run_start(self, config, **kwargs) -> None: ...

    def on_run_end(self, config, **kwargs) -> None: ...

    def on_job_start(self, config, **kwargs) -> None:
        import time

        self._job_start = time.time()

    def on_multirun_start(self, config, **kwargs) -> None:
        self.n_jobs = _sweep_size(config)
        sweep_dir = Path(str(config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        try:
            (sweep_dir / PROGRESS_FILE).unlink()
        except FileNotFoundError:
            pass

    def on_job_end(self, config, job_return=None, **kwargs) -> None:
        from omegaconf import OmegaConf

        mode = OmegaConf.select(config, "hydra.mode")
        if getattr(mode, "name", str(mode)) != "MULTIRUN":
            return
        num = OmegaConf.select(config, "hydra.job.num")
        out_dir = Path(str(config.hydra.runtime.output_dir))
        sweep_dir = Path(str(config.hydra.sweep.dir))
        if not sweep_dir.is_absolute():  # the job may have changed directory (hydra.job.chdir)
            sweep_dir = Path(str(OmegaConf.select(config, "hydra.runtime.cwd") or ".")) / sweep_dir
        done = _count_finished(sweep_dir / PROGRESS_FILE, num)
        of = f"{done if done is not None else '?'} of {self.n_jobs if self.n_jobs else '?'}"
        overrides = " ".join(o for o in (OmegaConf.select(config, "hydra.overrides.task") or [])
                             if not str(o).startswith("hydra."))
        summary = read_summary(out_dir) or {}
        status = summary.get("status")
        if status == "failed" or (job_return is not None and str(getattr(job_return, "status", "")).endswith("FAILED")):
            what = f"FAILED: {summary.get('error') or getattr(job_return, '_return_value', '')}"
        elif summary.get("complete"):
            mean = summary.get("final_mean", {})
            what = ", ".join(f"{k}={mean[k]:.4g}" for k in ("val_loss", "dead_frac") if k in mean) or "no finite loss"
            if summary.get("n_diverged"):
                what += f" ({summary['n_diverged']} of {summary.get('n_networks')} diverged)"
            try:
                if (out_dir / SUMMARY_FILE).stat().st_mtime < getattr(self, "_job_start", 0.0):
                    what = "skipped, already complete: " + what
            except OSError:
                pass
        else:
            what = "no results written"
        log.info("[%s] job #%s done (%s): %s", of, num, overrides or "defaults", what)

    def on_multirun_end(self, config, **kwargs) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            (sweep_dir / PROGRESS_FILE).unlink()
        except FileNotFoundError:
            pass
        metrics, runs = collect(sweep_dir, warn=False)
        if runs.empty:
            log.error("no run folders found in %s", sweep_dir)
            if self.exit_on_failure:
                sys.exit(1)
            return
        keys = arm_keys(runs, self.by)
        write_sweep(sweep_dir, metrics, runs, by=keys, plots=self.plots)
        n_folders = runs["run_dir"].nunique()
        log.info("sweep aggregate of %d run folders in %s (%s, %s, %s%s)", n_folders, sweep_dir,
                 SWEEP_RUNS_FILE, SWEEP_METRICS_FILE, SWEEP_SUMMARY_FILE, ", plots" if self.plots else "")
        for line in summary_lines(runs, keys):
            log.info("  %s", line)
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
