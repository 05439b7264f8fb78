"""The command line: ``python -m relu_study [overrides]`` (Hydra 1.3).

This is the only module of the runs layer that knows Hydra.  It composes the
configs shipped as the package ``relu_study.conf`` (the checkout's ``conf/``
folder) against the schema :class:`relu_study.runs.config.ExperimentConfig`,
runs :func:`relu_study.runs.experiment.run_experiment` and writes the run folder.

What a user can rely on (the README's "What relu_study guarantees"):

* A bad value stops the command before anything is written, with one line
  ``error: ...`` naming the key and the value given, and exit status 2 -- also
  for the values Hydra itself rejects (``alpha=abc``, ``foo=1``), and in a sweep,
  where every value of every swept key is checked before the first job runs.
* One folder holds one run: :class:`RunCallback` claims the run folder before
  Hydra writes into it (:func:`relu_study.runs.folders.claim_folder`), refuses a
  folder that holds a run unless ``overwrite=true`` (which replaces it only
  after the new run's data checks passed), and removes exactly what it created
  when the run is rejected.  A sweep folder belongs to one sweep at a time
  (:func:`relu_study.runs.locks.lock_sweep`), and a finished job of an earlier
  grid is replaced only with ``overwrite=true``.
* Ctrl-C (SIGINT) and SIGTERM end the command with one line saying what was
  kept, exit status 130 or 143, no traceback and no temporary file.
* A file that cannot be written (a read-only folder, a full disk) ends it with
  one line naming the file and the cause, exit status 1, after writing what can
  be written.

``run(overrides)`` is the same thing for notebooks: it composes the same
configs with Hydra's compose API and returns the metrics table.
"""

from __future__ import annotations

import copy
import difflib
import logging
import math
import os
import re
import shlex
import signal
import sys
import time
from pathlib import Path

import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from ..provenance import provenance
from . import tracking
from .config import ConfigError, ExperimentConfig, default_config, flatten, validate
from .page import RUN_PAGE_FILE, write_run_page
from .experiment import run_experiment
from .folders import (
    LOG_FILE, METRICS_FILE, PARAMS_FILE, SUMMARY_FILE, FolderInUse, IncompleteWrite, WriteError, claim_folder,
    clear_run, is_complete, read_summary, stale_temp_files, write_json, write_run,
)
from .manifest import append_event, read_manifest, relative_dir, start_manifest

__all__ = [
    "Interrupted", "RunCallback", "compose", "completed_run", "execute", "job_config", "main", "run",
    "sweep_jobs", "sweep_objective",
]

log = logging.getLogger("relu_study")

CONFIG_MODULE = "relu_study.conf"
ConfigStore.instance().store(name="base_config", node=ExperimentConfig)

#: run folders claimed by RunCallback.on_run_start, waiting for their run (single runs, this process)
_CLAIMS: dict = {}
#: the sweep this process is running: {"dir": Path, "n_jobs": int | None}
_SWEEP: dict = {}


# --------------------------------------------------------------------------- how the command ends

class Stop(BaseException):
    """End the command with one line on stderr and an exit status.  A BaseException
    because Hydra turns a callback's ordinary exceptions into warnings."""

    def __init__(self, line: str, code: int):
        super().__init__(line, code)
        self.line, self.code = line, code


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C raises KeyboardInterrupt (so
    whatever cleans up after Ctrl-C, ours and the libraries', cleans up after it)."""


class Interrupted(KeyboardInterrupt):
    """A run stopped by SIGINT or SIGTERM; ``what`` says when and what was kept."""

    def __init__(self, signame: str, what: str, job: str = ""):
        super().__init__(signame, what, job)
        self.signame, self.what, self.job = signame, what, job

    @property
    def code(self) -> int:
        return 143 if self.signame == "SIGTERM" else 130


def _signame(exc: BaseException) -> str:
    if isinstance(exc, Interrupted):
        return exc.signame
    if isinstance(exc, Terminated):
        return "SIGTERM"
    return _RECEIVED[-1] if _RECEIVED and not isinstance(exc, KeyboardInterrupt) else "SIGINT"


#: signals received while the command runs (names), so an interrupt that surfaces as
#: another exception (an extension module's import turns KeyboardInterrupt into
#: ImportError) is still reported as the interrupt it is
_RECEIVED: list = []


def _on_signal(signum, frame):
    name = signal.Signals(signum).name
    _RECEIVED.append(name)
    raise Terminated() if name == "SIGTERM" else KeyboardInterrupt()


# --------------------------------------------------------------------------- config errors in one line

def _user_value(key: str, overrides) -> str | None:
    """The text the user gave for ``key`` in ``overrides`` (``+foo=1`` -> ``1``)."""
    for o in overrides or ():
        k, eq, v = str(o).partition("=")
        if eq and k.lstrip("~+").split("@")[0] == key:
            return v
    return None


def _show(value) -> str:
    return value if isinstance(value, str) and value else repr(value)


def _config_error_line(exc: ConfigError, overrides=()) -> str:
    given = _user_value(exc.key, overrides)
    return f"error: invalid configuration: {exc.key}={given if given is not None else _show(exc.value)}: {exc.problem}"


def _known_keys() -> list[str]:
    return [k for k in flatten(default_config()) if not k.startswith("dataset.options")]


def _unknown_key(key: str, value) -> str:
    if key == "activation.alpha":
        return (f"no such key: the negative slope of leaky and prelu is the top-level alpha (write alpha={value}); "
                f"ELU's scale is activation.scale")
    close = difflib.get_close_matches(key, _known_keys(), n=1, cutoff=0.6)
    return "no such key" + (f"; did you mean {close[0]}?" if close else " (python -m relu_study --help lists them)")


_CONVERSION = {"Float": "must be a number", "Integer": "must be an integer", "Boolean": "must be true or false",
               "String": "must be a string"}


def _problem(cause: BaseException) -> str:
    text = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
    m = re.search(r"could not be converted to (\w+)", text)
    if m and m.group(1) in _CONVERSION:
        return _CONVERSION[m.group(1)]
    if "is not Optional" in text or "cannot be assigned None" in text:
        return "must not be null"
    return text


def _error_line(exc: BaseException, overrides=()) -> tuple[str, int]:
    """One line and an exit status for an error from Hydra, OmegaConf or a run."""
    from hydra.errors import HydraException, MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

    if isinstance(exc, ConfigError):
        return _config_error_line(exc, overrides), 2
    if isinstance(exc, FolderInUse):
        return f"error: {exc}", 2
    text = str(exc)
    first = text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, MissingConfigException) and exc.missing_cfg_file:
        group, _, option = exc.missing_cfg_file.rpartition("/")
        choices = ", ".join(exc.options or []) or "none"
        return f"error: invalid configuration: {group}={option}: no such option; choose from {choices}", 2
    if isinstance(exc, OverrideParseException):
        override = str(getattr(exc, "override", "") or "")
        key, eq, value = override.partition("=")
        hint = f"quote the value for Hydra: '{key}=\"{value}\"'" if eq and value else "see Hydra's override grammar"
        return f"error: cannot parse override {override}: {first} ({hint})", 2
    if isinstance(exc, (HydraException, OmegaConfBaseException)):
        cause = exc.__cause__ if isinstance(exc.__cause__, OmegaConfBaseException) else exc
        m = re.search(r"Error merging override (\S+?)=(.*)$", first)
        key = getattr(cause, "full_key", None) or (m.group(1).lstrip("~+") if m else None)
        if key is None:
            m2 = re.search(r"Could not (?:override|append to config\. An item is already at) '([^']+)'", text)
            key = m2.group(1) if m2 else None
        if key is None:
            return f"error: invalid configuration: {first}", 2
        value = m.group(2) if m else _user_value(key, overrides)
        if isinstance(cause, ConfigKeyError) or "not in" in str(cause).splitlines()[0]:
            problem = _unknown_key(key, value)
        elif "An item is already at" in text:
            problem = "already in the config: set it without '+'"
        else:
            problem = _problem(cause)
        return f"error: invalid configuration: {key}={value if value is not None else ''}: {problem}", 2
    if isinstance(exc, (IncompleteWrite, WriteError)):
        return f"error: {exc}", 1
    if isinstance(exc, OSError):
        what = exc.filename or ""
        reason = f"[Errno {exc.errno}] {exc.strerror}" if exc.strerror else str(exc)
        return (f"error: {what}: {reason}" if what else f"error: {reason}"), 1
    return (f"error: {type(exc).__name__}: {first} (for the traceback, run again with HYDRA_FULL_ERROR=1)"), 1


def _container(cfg: DictConfig, overrides=()) -> dict:
    """The resolved config as a plain dict, checked against the schema once more
    (keys added with ``+key=value`` bypass Hydra's struct mode)."""
    from omegaconf.errors import OmegaConfBaseException

    schema = OmegaConf.structured(ExperimentConfig)
    OmegaConf.set_struct(schema, True)
    OmegaConf.set_struct(schema.dataset.options, False)  # free-form loader options
    try:
        checked = OmegaConf.merge(schema, OmegaConf.to_container(cfg, resolve=True))
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "config"
        given = _user_value(key, overrides)
        value = given if given is not None else getattr(exc, "value", None)
        first = str(exc).splitlines()[0]
        problem = _unknown_key(key, value) if "not in" in first else _problem(exc)
        raise ConfigError(key, value, problem) from None
    return OmegaConf.to_container(checked, resolve=True, throw_on_missing=True)


def job_config(cfg: DictConfig, overrides=()) -> dict:
    """The plain config a sweep job runs and records in its ``summary.json``
    (``cfg`` without its ``hydra`` node).  Launchers that submit jobs elsewhere
    (:mod:`relu_study.sweeps.slurm`) pass it to :func:`completed_run` to leave
    finished jobs out, exactly as :func:`execute` skips them."""
    return _container(cfg, overrides)


def _task_config(config: DictConfig) -> DictConfig:
    """``config`` without its ``hydra`` node (what the task function receives)."""
    task = copy.deepcopy(config)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task


def _overrides(config: DictConfig) -> list[str]:
    return [str(o) for o in (OmegaConf.select(config, "hydra.overrides.task") or [])]


# --------------------------------------------------------------------------- one run

def check_data(cfg: dict) -> None:
    """The checks of a run that need its data (a table's target, enough samples
    for the split): raise :class:`ConfigError` as the run itself would.  Run
    before an earlier run in the folder is replaced (``overwrite=true``)."""
    from .experiment import build

    build(cfg)


def _progress_bar(cfg: dict, enabled: bool):
    """A tqdm bar over epochs, or None when not wanted."""
    if not (enabled and cfg.get("progress", True) and sys.stderr.isatty()):
        return None, None
    from tqdm.auto import tqdm

    bar = tqdm(total=cfg["epochs"], desc="training", unit="epoch", leave=False, file=sys.stderr)

    def update(epoch, row):
        if epoch > 0:
            bar.update(1)
            postfix = {"val_loss": float(row["val_loss"][0])}
            if "dead_frac" in row:
                postfix["dead"] = float(row["dead_frac"][0])
            bar.set_postfix(postfix)

    return bar, update


def _final_line(summary: dict) -> str:
    mean = summary.get("final_mean", {})
    n, nd = summary["n_networks"], summary["n_diverged"]
    parts = [f"{k}={v:.4g}" for k, v in mean.items()]
    over = f"mean over {n - nd} of {n} networks" if n > 1 else "final"
    text = f"{over}: " + ", ".join(parts) if parts else "no network finished"
    if nd:
        text += f"; {nd} diverged"
    return text


#: config keys that do not change a run's results: a finished job is reused across them
_NOT_RESULTS = ("overwrite", "progress", "logger")


def _same_run(a: dict | None, b: dict) -> bool:
    if not isinstance(a, dict):
        return False
    strip = lambda c: {k: v for k, v in c.items() if k not in _NOT_RESULTS}  # noqa: E731
    return strip(a) == strip(b)


def completed_run(out_dir, cfg: dict) -> dict | None:
    """The summary of the complete run of ``cfg`` in ``out_dir``, or None: what a
    resumed sweep does not run again (keys that do not change results, such as
    ``progress``, may differ)."""
    previous = read_summary(out_dir) if is_complete(out_dir) else None
    return previous if previous is not None and _same_run(previous.get("config"), cfg) else None


def execute(cfg: dict, out_dir: Path, multirun: bool = False, command: str | None = None) -> dict:
    """Run one config into ``out_dir`` and return its summary.

    In a multirun, a job whose folder already holds a complete run of the same
    config is skipped (resume); a folder holding any other run's files (an
    interrupted or failed job, or, with ``overwrite=true``, a finished job of an
    earlier grid: :meth:`RunCallback.on_multirun_start` refuses that sweep
    otherwise) is cleared first, so no file of it survives beside the new run;
    an error is recorded as a failed job
    (``summary.json`` with ``status: failed``) instead of stopping the sweep.
    A single run's folder is claimed by the caller (:func:`claim_folder`).
    ``summary.json`` records :func:`relu_study.provenance.provenance` with
    ``command`` (default: this process's command line).

    SIGINT and SIGTERM become :class:`Interrupted`, saying what was kept.
    """
    out_dir = Path(out_dir)
    if multirun:
        previous = completed_run(out_dir, cfg)
        if previous is not None:
            log.info("skipping %s: already complete with the same config", out_dir)
            return previous
        replaced = clear_run(out_dir)
        if replaced:
            log.info("replacing an earlier run's files in %s: %s", out_dir, ", ".join(replaced))
    start = time.perf_counter()
    bar, update = _progress_bar(cfg, enabled=not multirun)
    epoch = [None]  # the last epoch measured

    def track(e, row):
        epoch[0] = e
        if update is not None:
            update(e, row)

    try:
        try:
            result = run_experiment(cfg, progress=track)
        except BaseException as exc:
            if not (isinstance(exc, KeyboardInterrupt) or _RECEIVED):
                raise
            kept = f"; the log is in {out_dir / LOG_FILE}" if (out_dir / LOG_FILE).exists() else ""
            when = "before its first epoch" if epoch[0] is None else f"epoch {epoch[0]} of {cfg['epochs']}"
            raise Interrupted(_signame(exc), f"during training ({when}): no results written{kept}") from None
        finally:
            if bar is not None:
                bar.close()
        written: list[str] = []
        try:
            _write_result(cfg, out_dir, result, written, command)
        except BaseException as exc:
            if not (isinstance(exc, KeyboardInterrupt) or _RECEIVED):
                raise
            missing = [n for n in _result_files(cfg, result) if n not in written]
            raise Interrupted(_signame(exc), f"while writing {out_dir}: kept {', '.join(written) or 'nothing'}; "
                                             f"not written: {', '.join(missing)} (the run is incomplete)") from None
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - in a sweep any error is recorded, not raised
        if not multirun:
            raise
        return _record_failure(cfg, out_dir, exc, start, command)
    log.info("%s", _final_line(result.summary))
    return result.summary


def _figures(cfg: dict, result) -> dict:
    from .config import plot_settings
    from .plots import run_figures

    enabled, metrics = plot_settings(cfg)
    if not enabled:
        return {}
    figures = run_figures(result.table, metrics)
    figures[RUN_PAGE_FILE] = lambda path: write_run_page(path, result.table, result.summary, metrics)
    return figures


def _result_files(cfg: dict, result) -> list[str]:
    names = [METRICS_FILE] + (["metrics.csv"] if cfg.get("save_csv", False) else [])
    names += [PARAMS_FILE] if cfg.get("save_params", True) else []
    return names + list(_figures(cfg, result)) + [SUMMARY_FILE]


def _write_result(cfg: dict, out_dir: Path, result, written: list, command=None) -> None:
    result.summary["provenance"] = provenance(command)
    state = result.net.state_dict() if cfg.get("save_params", True) else None
    write_run(out_dir, result.table, result.summary, state=state, figures=_figures(cfg, result),
              csv=cfg.get("save_csv", False), written=written, units=result.result.units)


def _record_failure(cfg, out_dir: Path, exc: BaseException, start: float, command=None) -> dict:
    """Write a failed job's ``summary.json`` (status failed, the error, the config)."""
    if isinstance(exc, (ConfigError, FileNotFoundError, OSError)):
        log.error("job failed: %s: %s", type(exc).__name__, exc)
    else:  # unexpected: keep the traceback in the job's log
        log.exception("job failed: %s: %s", type(exc).__name__, exc)
    summary = {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "config": cfg,
               "complete": False, "wall_time_s": round(time.perf_counter() - start, 4),
               "provenance": provenance(command)}
    try:
        write_json(out_dir / SUMMARY_FILE, summary)
    except WriteError as err:  # the aggregate then reports the job as having no result
        log.error("%s", err)
    return summary


# --------------------------------------------------------------------------- sweeps: the job list

def sweep_jobs(config: DictConfig) -> tuple[list[list[str]] | None, str]:
    """``(jobs, sweeper)``: the override list of every job of a multirun, in job
    order (what Hydra's basic sweeper will launch), or ``None`` when the sweeper
    decides its jobs as it goes (Optuna, for one)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    target = str(OmegaConf.select(config, "hydra.sweeper._target_") or "")
    sweeper = target.rsplit(".", 1)[-1]
    if sweeper != "BasicSweeper":
        return None, sweeper
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra

    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    args = [f"{k}={v}" for k, v in params.items()] + _overrides(config)
    loader = GlobalHydra.instance().config_loader() if GlobalHydra.instance().is_initialized() else None
    parsed = OverridesParser.create(config_loader=loader).parse_overrides(args)
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch], sweeper


def _covering(jobs: list[list[str]]) -> list[list[str]]:
    """A few jobs that between them use every swept value once at least."""
    seen, chosen = set(), []
    for job in jobs:
        if not set(job) <= seen:
            chosen.append(job)
            seen |= set(job)
    return chosen


def _preflight(config: DictConfig, jobs: list[list[str]]) -> None:
    """Compose and validate enough jobs of a sweep to check every value of every
    swept key before the first job runs; raise :class:`Stop` at the first bad one."""
    from hydra.core.global_hydra import GlobalHydra

    loader = GlobalHydra.instance().config_loader()
    for job in _covering(jobs):
        try:
            job_cfg = loader.load_sweep_config(config, list(job))
            validate(_container(_task_config(job_cfg), job))
        except Exception as exc:  # noqa: BLE001 - every kind of bad value becomes one line
            line, code = _error_line(exc, job)
            raise Stop(f"{line}; the sweep did not start", 2 if code == 2 else code) from None


def _override_key(override: str) -> str:
    return str(override).partition("=")[0].lstrip("+~")


def repeated_jobs(config: DictConfig, jobs: list[list[str]] | None) -> dict[int, tuple[int, str]]:
    """``{num: (earlier num, why)}``: the jobs of a sweep that would train the same
    network as an earlier job, so they are run once.  Two jobs are the same
    network when their overrides differ in ``alpha`` alone and their activation
    has no negative slope (relu, tanh, ...: ``alpha`` is not used), or when
    their overrides are the same.  Only groups of jobs that differ in ``alpha``
    alone are composed (one job each), so a large grid costs a few compositions."""
    from hydra.core.global_hydra import GlobalHydra

    from .config import SLOPE_ACTIVATIONS

    groups: dict[tuple, list[int]] = {}
    for num, job in enumerate(jobs or []):
        rest = tuple(sorted(o for o in job if _override_key(o) != "alpha"))
        groups.setdefault(rest, []).append(num)
    loader = GlobalHydra.instance().config_loader()
    out: dict[int, tuple[int, str]] = {}
    for nums in groups.values():
        if len(nums) < 2:
            continue
        try:
            cfg = _container(_task_config(loader.load_sweep_config(config, list(jobs[nums[0]]))), jobs[nums[0]])
        except Exception:  # noqa: BLE001 - a job that does not compose fails on its own, trained or not
            continue
        act = cfg["activation"]
        no_slope = act["name"] not in SLOPE_ACTIVATIONS and "alpha" not in act
        first: dict = {}
        for num in nums:
            alpha = next((o.partition("=")[2] for o in jobs[num] if _override_key(o) == "alpha"), None)
            net = None if no_slope else alpha  # the network: which slope it uses, if any
            if net not in first:
                first[net] = (num, alpha)
                continue
            was, was_alpha = first[net]
            why = (f"activation={act['name']} has no negative slope, so alpha={alpha} trains the same network "
                   f"as alpha={was_alpha}" if alpha != was_alpha else "the same overrides")
            out[num] = (was, why)
    return out


def _say_repeats(same_as: dict, n_jobs: int) -> None:
    """One line for the sweep's log: how many jobs are not trained, and why."""
    if not same_as:
        return
    reasons = sorted({why.split(", so ")[0] + (", so alpha changes nothing" if ", so " in why else "")
                      for _, why in same_as.values()})
    pairs = ", ".join(f"#{num} as #{was}" for num, (was, _) in sorted(same_as.items())[:6])
    pairs += ", ..." if len(same_as) > 6 else ""
    n = len(same_as)
    log.info("%d of %d jobs not trained, each the same network as an earlier job (%s): %s; the aggregate "
             "lists every job, these pointing at the job that trained their network", n, n_jobs,
             "; ".join(reasons), pairs)


def take_sweep_lock(sweep_dir: Path):
    """Take ``sweep_dir`` for this sweep (:func:`relu_study.runs.locks.lock_sweep`);
    a live sweep holding it stops this one with one line, exit status 2."""
    from .locks import SweepInUse, lock_sweep

    try:
        lock = lock_sweep(sweep_dir)
    except SweepInUse as exc:
        raise Stop(f"error: {exc}; the sweep did not start", 2) from None
    except OSError as exc:
        raise Stop(f"error: cannot write into {sweep_dir}: {exc.strerror or exc}; nothing was run", 1) from None
    if lock.taken_from:
        log.info("%s: took the stale lock of an earlier sweep (%s)", sweep_dir, lock.taken_from)
    return lock


def _release_sweep() -> None:
    lock = _SWEEP.pop("lock", None)
    if lock is not None:
        lock.release()


def _earlier_grid(config: DictConfig, sweep_dir: Path, jobs, numbered: bool) -> None:
    """Stop (exit 2, one line) when a job folder of this sweep holds a finished
    job of another config (an earlier grid) and the job does not say
    ``overwrite=true``: that job is left alone, as a single run's folder is.
    A job that will replace one (``overwrite=true``) must pass its data checks
    first, so nothing finished is removed for a job that cannot run."""
    if not jobs or not sweep_dir.is_dir() or not any(sweep_dir.iterdir()):
        return
    from hydra.core.global_hydra import GlobalHydra

    from .manifest import _overrides_of

    loader = GlobalHydra.instance().config_loader()
    kept = []
    for num, job in enumerate(jobs):
        job_cfg = None if numbered else _job_folder_config(loader, config, job, num)
        folder = sweep_dir / str(num) if numbered else _job_folder(job_cfg, sweep_dir)
        previous = read_summary(folder) if folder is not None and is_complete(folder) else None
        if previous is None:
            continue
        job_cfg = job_cfg if job_cfg is not None else loader.load_sweep_config(config, list(job))
        cfg = _container(_task_config(job_cfg), job)
        if _same_run(previous.get("config"), cfg):
            continue
        if cfg.get("overwrite"):  # replaced by this job: only if its data checks pass, before anything is removed
            try:
                check_data(validate(cfg))
            except ConfigError as exc:
                raise Stop(f"{_config_error_line(exc, job)}; the sweep did not start "
                           f"({relative_dir(folder, sweep_dir)}/ keeps its finished run)", 2) from None
            continue
        ran = sorted(o for o in (_overrides_of(folder) or ()) if not o.startswith("hydra.") and o not in job)
        was = " ".join(ran) or "another config"  # what it ran that this job would not
        kept.append(f"{relative_dir(folder, sweep_dir)}/ ({was})")
    if kept:
        shown = ", ".join(kept[:4]) + (f" and {len(kept) - 4} more" if len(kept) > 4 else "")
        raise Stop(f"error: {sweep_dir} holds finished jobs of an earlier grid where this sweep would run other "
                   f"configs: {shown}; they are left alone: add overwrite=true to replace them, or choose another "
                   f"hydra.sweep.dir; the sweep did not start", 2)


def _job_folder_config(loader, config: DictConfig, job, num: int) -> DictConfig:
    """Job ``num``'s config as the launcher makes it (its number set), so that
    ``hydra.sweep.subdir`` resolves to the job's folder."""
    job_cfg = loader.load_sweep_config(config, list(job))
    with read_write(job_cfg), open_dict(job_cfg):
        job_cfg.hydra.job.num = num
        job_cfg.hydra.job.id = str(num)
    return job_cfg


def _job_folder(job_cfg: DictConfig, sweep_dir: Path) -> Path | None:
    """The folder a job of a sweep with its own ``hydra.sweep.subdir`` writes into (None: not known here)."""
    try:
        return sweep_dir / str(OmegaConf.select(job_cfg, "hydra.sweep.subdir"))
    except Exception:  # noqa: BLE001 - a subdir that needs the running job (a resolver): checked by none
        return None


def _sweep_dir(config: DictConfig) -> Path:
    """The sweep folder, absolute (a job may run in another working directory)."""
    sweep_dir = Path(str(config.hydra.sweep.dir))
    if not sweep_dir.is_absolute():
        sweep_dir = Path(str(OmegaConf.select(config, "hydra.runtime.cwd") or os.getcwd())) / sweep_dir
    return Path(os.path.abspath(sweep_dir))


def _is_multirun(config: DictConfig) -> bool:
    mode = OmegaConf.select(config, "hydra.mode")
    return getattr(mode, "name", str(mode)) == "MULTIRUN"


class RunCallback:
    """Hydra callback (``hydra.callbacks.run``) that keeps the guarantees of this
    module: it checks the config before Hydra writes anything, claims a single
    run's folder, checks every value of a sweep before its first job, and keeps
    the sweep's job list (:mod:`relu_study.runs.manifest`) and its progress lines.

    Implements the interface of ``hydra.experimental.callback.Callback``.
    """

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        overrides = _overrides(config)
        try:
            cfg = validate(_container(_task_config(config), overrides))
        except ConfigError as exc:
            raise Stop(_config_error_line(exc, overrides), 2) from None
        HydraConfig.instance().set_config(config)  # run.dir may use ${hydra:...}
        out = Path(os.path.abspath(str(OmegaConf.select(config, "hydra.run.dir"))))
        try:
            _CLAIMS[str(out)] = claim_folder(out, overwrite=cfg["overwrite"], check=lambda: check_data(cfg))
        except ConfigError as exc:  # the data rejected the run: the earlier run is left as it was
            raise Stop(_config_error_line(exc, overrides), 2) from None
        except FolderInUse as exc:
            raise Stop(f"error: {exc}", 2) from None
        except WriteError as exc:
            raise Stop(f"error: cannot write into {out}: {exc.cause.strerror or exc.cause}; nothing was run", 1) \
                from None

    def on_run_end(self, config: DictConfig, **kwargs) -> None: ...

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        jobs, sweeper = sweep_jobs(config)
        if jobs:
            _preflight(config, jobs)
        sweep_dir = _sweep_dir(config)
        lock = take_sweep_lock(sweep_dir)  # before anything of the folder is touched
        _SWEEP.update(dir=sweep_dir, n_jobs=len(jobs) if jobs else None, lock=lock)
        subdir = OmegaConf.to_container(config.hydra.sweep, resolve=False).get("subdir")
        try:
            _earlier_grid(config, sweep_dir, jobs, numbered=subdir == "${hydra.job.num}")
        except Stop:
            lock.release()
            _SWEEP.clear()
            raise
        try:
            sweep_dir.mkdir(parents=True, exist_ok=True)
            for tmp in stale_temp_files(sweep_dir, recursive=True):  # left by a writer that was killed
                tmp.unlink()
            same_as = repeated_jobs(config, jobs)
            start_manifest(sweep_dir, len(jobs) if jobs else None, sweeper, jobs,
                           numbered=subdir == "${hydra.job.num}", same_as=same_as)
        except OSError as exc:
            cause = exc.cause if isinstance(exc, WriteError) else exc
            raise Stop(f"error: cannot write into {sweep_dir}: {getattr(cause, 'strerror', None) or cause}; "
                       f"nothing was run", 1) from None
        _say_repeats(same_as, len(jobs or []))

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        _release_sweep()

    def on_job_start(self, config: DictConfig, **kwargs) -> None:
        self._job_start = time.time()
        if not _is_multirun(config):
            return
        out_dir = Path(str(config.hydra.runtime.output_dir))
        sweep_dir = _sweep_dir(config)
        append_event(sweep_dir, {"event": "start", "num": OmegaConf.select(config, "hydra.job.num"),
                                 "dir": relative_dir(out_dir, sweep_dir), "overrides": _overrides(config)})

    def on_job_end(self, config: DictConfig, job_return=None, **kwargs) -> None:
        if not _is_multirun(config):
            return
        num = OmegaConf.select(config, "hydra.job.num")
        out_dir = Path(str(config.hydra.runtime.output_dir))
        done = append_event(_sweep_dir(config), {"event": "end", "num": num})
        manifest = read_manifest(_sweep_dir(config))
        n_jobs = manifest.n_jobs if manifest is not None else None
        of = f"{done if done is not None else '?'} of {n_jobs or '?'}"
        overrides = " ".join(o for o in _overrides(config) if not o.startswith("hydra."))
        log.info("[%s] job #%s done (%s): %s", of, num, overrides or "defaults", self._outcome(out_dir, job_return))

    def _outcome(self, out_dir: Path, job_return) -> str:
        summary = read_summary(out_dir) or {}
        failed = job_return is not None and str(getattr(job_return, "status", "")).endswith("FAILED")
        if summary.get("status") == "failed" or failed:
            return f"FAILED: {summary.get('error') or getattr(job_return, '_return_value', '')}"
        if summary.get("status") == "repeat":
            return f"not trained, the same network as job #{summary.get('same_as_job')}: {summary.get('why')}"
        if not summary.get("complete"):
            return "no results written"
        mean = summary.get("final_mean", {})
        what = ", ".join(f"{k}={mean[k]:.4g}" for k in ("val_loss", "dead_frac") if k in mean) or "no finite loss"
        if summary.get("n_diverged"):
            what += f" ({summary['n_diverged']} of {summary.get('n_networks')} diverged)"
        try:
            if (out_dir / SUMMARY_FILE).stat().st_mtime < getattr(self, "_job_start", 0.0):
                what = "skipped, already complete: " + what
        except OSError:
            pass
        return what


# --------------------------------------------------------------------------- the task function

@hydra.main(version_base="1.3", config_path="pkg://relu_study.conf", config_name="config")
def _hydra_main(cfg: DictConfig):
    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    if hc.mode == RunMode.MULTIRUN:
        return _multirun_job(cfg, out_dir, hc)
    return _single_run(cfg, out_dir, list(hc.overrides.task))


def _single_run(cfg: DictConfig, out_dir: Path, overrides: list[str]):
    """One run.  Anything that goes wrong leaves as :class:`Stop` or :class:`Interrupted`
    (BaseExceptions), so Hydra adds no lines of its own to the one we print."""
    claim = _CLAIMS.pop(str(out_dir), None)
    try:
        container = validate(_container(cfg, overrides))
        tracker = tracking.check(container.get("logger"))
        if claim is None:  # RunCallback is not among hydra.callbacks: claim here, Hydra's files already in
            claim = claim_folder(out_dir, overwrite=container["overwrite"], check=lambda: check_data(container))
        with _blas_threads(container):
            summary = execute(container, out_dir)
        if tracker is not None:
            _track(tracker, out_dir, container, summary)
    except KeyboardInterrupt:
        for tmp in stale_temp_files(out_dir):  # a file whose writer the signal stopped before it could clean up
            tmp.unlink(missing_ok=True)
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        if _RECEIVED:  # an interrupt that surfaced as another error (inside an import, for one)
            raise Interrupted(_RECEIVED[-1], "before training: no results written") from None
        if isinstance(exc, ConfigError) and claim is not None:
            claim.release()  # a rejected run leaves nothing behind
        line, code = _error_line(exc, overrides)
        if code == 1 and not isinstance(exc, OSError):  # unexpected: the traceback goes to the log file
            _log_to_files(line, exc)
        raise Stop(line, code) from None
    finally:
        if claim is not None:
            claim.finish()
    page = out_dir / RUN_PAGE_FILE
    if page.is_file():  # the final line names the page to open
        log.info("outputs in %s; open %s", out_dir, page)
    else:
        log.info("outputs in %s", out_dir)
    return summary.get("final_mean", {}).get("val_loss")


def _track(tracker: dict, out_dir: Path, cfg: dict, summary: dict, **where) -> None:
    """Log the finished run to the chosen tracker; a failure is one line naming the logger (the run's files stay)."""
    try:
        log.info("tracked: %s", tracking.log_run(tracker, out_dir, cfg, summary, **where))
    except Exception as exc:  # noqa: BLE001 - the tracker's own errors (a server that is down, ...)
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise WriteError(f"logger={tracker['name']} (the run is complete in {out_dir})",
                         RuntimeError(f"{type(exc).__name__}: {first}")) from None


def _blas_threads(cfg: dict):
    """A single run of a small network trains on one BLAS thread
    (:mod:`relu_study.engine.process`; ``RELU_STUDY_BLAS_THREADS=keep`` opts out).
    The input width is not known before the data loads: the widest hidden layer
    stands in for it."""
    from contextlib import nullcontext

    from ..engine.process import blas_threads_for, step_macs
    from .config import hidden_widths

    try:  # an invalid config is reported by the run's own validation
        widths = hidden_widths(cfg)
        sizes = [max(widths), *widths]
        step_macs(sizes, int(cfg["batch_size"]))
    except Exception:  # noqa: BLE001
        return nullcontext()
    return blas_threads_for(sizes, int(cfg["batch_size"]))


def _multirun_job(cfg: DictConfig, out_dir: Path, hc):
    """One job of a sweep.  Never raises (a raising job would stop Hydra's sweep
    before the aggregate): errors are recorded in the job's ``summary.json``;
    only SIGINT and SIGTERM stop the sweep.  BLAS runs on one thread, for every
    launcher alike, so parallel launchers do not oversubscribe the cores and
    tables are bit-identical across launchers."""
    from threadpoolctl import threadpool_limits

    overrides = list(hc.overrides.task)
    start = time.perf_counter()
    try:
        container = _container(cfg, overrides)
    except Exception as exc:  # noqa: BLE001 - e.g. a missing value or a bad interpolation
        try:
            raw = OmegaConf.to_container(cfg, resolve=False)
        except Exception:  # noqa: BLE001
            raw = None
        _record_failure(raw, out_dir, exc, start, command=_job_command(overrides))
        return math.inf
    repeat = _repeat_of(hc, container, out_dir)
    if repeat is not None:
        return repeat
    try:
        with threadpool_limits(limits=1):
            summary = execute(container, out_dir, multirun=True, command=_job_command(overrides))
    except Interrupted as exc:
        named = " ".join(o for o in overrides if not o.startswith("hydra."))
        raise Interrupted(exc.signame, exc.what, f"job #{hc.job.num}" + (f" ({named})" if named else "")) from None
    if container.get("logger") is not None:  # one tracked run per job, all in the sweep's store and experiment
        try:
            _track(tracking.check(container["logger"]), out_dir, container, summary,
                   store_dir=Path(hc.sweep.dir), sweep_id=str(Path(hc.sweep.dir).resolve()), job=hc.job.num)
        except Exception as exc:  # noqa: BLE001 - the job's result stands; the log says what was not tracked
            log.error("%s", exc)
    return sweep_objective(summary)


def _repeat_of(hc, cfg: dict, out_dir: Path) -> float | None:
    """A job the sweep's manifest names as the same network as an earlier job
    (:func:`repeated_jobs`) is not trained: its ``summary.json`` says
    ``status: repeat`` and which job's folder holds the network; return its
    objective (the trained job's, when that has finished).  None: train it.
    A folder that already holds this job's complete run keeps it."""
    sweep_dir = Path(str(hc.sweep.dir)).absolute()
    manifest = read_manifest(sweep_dir)
    if manifest is None or hc.job.num not in manifest.same_as or completed_run(out_dir, cfg) is not None:
        return None
    was, why = manifest.same_as[hc.job.num]
    folder = manifest.folder(was) or manifest.expected_dirs.get(was)
    where = relative_dir(folder, sweep_dir) if folder is not None else None
    trained = read_summary(folder) if folder is not None else None
    previous = read_summary(out_dir) or {}
    if (previous.get("status") == "repeat" and previous.get("same_as_job") == was
            and _same_run(previous.get("config"), cfg)):  # a resumed sweep: already recorded
        log.info("skipping %s: already recorded as the same network as job #%s", out_dir, was)
        return sweep_objective(trained) if trained else math.inf
    clear_run(out_dir)
    summary = {"status": "repeat", "same_as_job": was, "same_as": where, "why": why, "config": cfg,
               "complete": False, "provenance": provenance(_job_command(list(hc.overrides.task)))}
    write_json(out_dir / SUMMARY_FILE, summary)
    log.info("not trained: the same network as job #%s (%s/): %s", was, where, why)
    return sweep_objective(trained) if trained else math.inf


def sweep_objective(summary: dict) -> float:
    """What a sweep job returns to Hydra's sweeper (Optuna minimises it): the
    mean final validation loss of the job's networks, or +inf when the job
    failed or any of its networks diverged (every network counts: a setting at
    which a seed diverges is not a usable one).  Always a float, so a sweeper
    never sees a job without a value and the sweep goes on to its aggregate."""
    value = summary.get("final_mean", {}).get("val_loss")
    if summary.get("status") != "ok" or value is None or not math.isfinite(value):
        return math.inf
    return float(value)


def _job_command(overrides) -> str:
    """The command that reruns this sweep job alone: ``python -m relu_study`` and the job's overrides."""
    return shlex.join(["python", "-m", "relu_study", *overrides])


# --------------------------------------------------------------------------- the entry point

def _interrupted_line(exc: BaseException) -> str:
    """What an interrupted command kept, in one line."""
    name = _signame(exc)
    what = exc.what if isinstance(exc, Interrupted) else ""
    if not _SWEEP:
        return f"interrupted by {name} {what or 'before training: no results written'}"
    sweep_dir = _SWEEP["dir"]
    for tmp in stale_temp_files(sweep_dir, recursive=True):  # a killed worker's half-written file
        tmp.unlink(missing_ok=True)
    manifest = read_manifest(sweep_dir)
    nums = manifest.nums if manifest else []
    n_jobs = (manifest.n_jobs if manifest else None) or _SWEEP.get("n_jobs") or len(nums)
    finished = sum(1 for n in nums if manifest.folder(n) is not None and (
        is_complete(manifest.folder(n)) or (read_summary(manifest.folder(n)) or {}).get("status") == "repeat"))
    job = exc.job if isinstance(exc, Interrupted) else ""
    if job:
        where = f"during {job}, {what.split(':')[0].strip().removeprefix('during ')}"
    elif n_jobs and finished >= n_jobs:
        return (f"interrupted by {name} while writing the sweep aggregate: all {n_jobs} jobs finished, kept in "
                f"{sweep_dir}; the aggregate is incomplete (marked by sweep_aggregate.unfinished): rebuild it with "
                f"python -m relu_study.compare {sweep_dir}")
    else:
        where = "during the sweep"
    return (f"interrupted by {name} {where}: {finished} of {n_jobs} jobs finished, kept in {sweep_dir}; "
            f"no aggregate written (run the same command again to resume)")


def _log_to_files(line: str, exc: BaseException | None = None) -> None:
    """Put ``line`` (and ``exc``'s traceback) into the run's log file only: the
    terminal gets the line once, on stderr."""
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    record = logging.LogRecord("relu_study", logging.ERROR, __file__, 0, line, None, exc_info)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            try:
                handler.handle(record)
            except Exception:  # noqa: BLE001 - the log is a courtesy
                pass


def main() -> None:
    """Console entry point (``python -m relu_study`` and ``relu-study``).

    Hydra prints its own errors over several lines and exits 1; with
    ``HYDRA_FULL_ERROR`` set it raises them instead, and they are told here in
    one line with the right exit status.  A user who sets ``HYDRA_FULL_ERROR``
    gets Hydra's full traceback, as Hydra documents.  SIGTERM is turned into an
    exception for the time of the command, so it cleans up as Ctrl-C does.
    The process keeps freed array memory (:func:`relu_study.engine.process.retain_freed_memory`;
    ``RELU_STUDY_MALLOPT=0`` opts out): settings of the process belong to its entry point.
    """
    from ..engine.process import retain_freed_memory

    retain_freed_memory()
    full_error = bool(os.environ.get("HYDRA_FULL_ERROR"))
    _RECEIVED.clear()
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    os.environ["HYDRA_FULL_ERROR"] = "1"
    argv = [a for a in sys.argv[1:] if "=" in a and not a.startswith("-")]
    try:
        _hydra_main()
        return
    except Stop as exc:
        line, code = exc.line, exc.code
    except KeyboardInterrupt as exc:
        line, code = _interrupted_line(exc), 143 if _signame(exc) == "SIGTERM" else 130
    except Exception as exc:  # noqa: BLE001 - every failure ends in one line
        if _RECEIVED:
            line, code = _interrupted_line(exc), 143 if _RECEIVED[-1] == "SIGTERM" else 130
        elif full_error:
            raise
        else:
            line, code = _error_line(exc, argv)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if not full_error:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        _release_sweep()  # a sweep that ended (or stopped) frees its folder
        for claim in _CLAIMS.values():  # a run stopped before its task function started
            claim.release()
        _CLAIMS.clear()
    _log_to_files(line)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    print(line, file=sys.stderr, flush=True)
    if code in (130, 143):
        _exit_interrupted(code)
    sys.exit(code)


def _exit_interrupted(code: int) -> None:
    """Exit with ``code`` after an interrupt, without Python's last word.

    CPython remembers a KeyboardInterrupt that ever escaped a C-level run of
    Python code (an extension module's initialisation, for one) and, at the very
    end of the interpreter, kills the process with SIGINT instead of returning
    the exit status: a Ctrl-C during an import would end as "killed by SIGINT",
    not 130.  So the exit handlers run here, the log is closed, and the process
    leaves with ``os._exit``.
    """
    import atexit
    import gc

    gc.collect()  # closes what is still open (a suspended writer removes its temporary file)
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# --------------------------------------------------------------------------- notebooks

def _override_list(overrides) -> list[str]:
    """``overrides`` as a list of strings: one string is one override (never its characters)."""
    if overrides is None:
        return []
    if isinstance(overrides, str):
        return [overrides]
    if isinstance(overrides, (list, tuple)) and all(isinstance(o, str) for o in overrides):
        return list(overrides)
    raise _api_error(ConfigError("overrides", overrides, "must be a list of override strings such as "
                                                         "['epochs=2', 'activation=leaky']"))


def _api_error(exc: BaseException, overrides=()) -> ConfigError:
    """``exc`` as the :class:`ConfigError` a notebook catches, its text the command line's one line
    (without ``error: ``)."""
    if getattr(exc, "one_line", False):  # told already
        return exc
    line, _ = _error_line(exc, overrides)
    text = line.removeprefix("error: ")
    if isinstance(exc, ConfigError):
        err = exc
    else:
        m = re.match(r"invalid configuration: ([^=\s]+)=(.*?): ", text)
        err = ConfigError(m.group(1), m.group(2), text[m.end():]) if m else ConfigError("overrides", overrides, text)
    err.args, err.one_line = (text,), True
    return err


def compose(overrides=None) -> DictConfig:
    """The composed config for ``overrides`` (a list of Hydra override strings,
    or one string), checked against the schema.  A bad override raises
    :class:`ConfigError` with the command line's one line."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    overrides = _override_list(overrides)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            cfg = hydra_compose(config_name="config", overrides=overrides)
        _container(cfg, overrides)
    except (ConfigError, HydraException, OmegaConfBaseException) as exc:
        raise _api_error(exc, overrides) from None
    return cfg


def run(overrides=None, output_dir=None):
    """Run one experiment from a notebook and return its metrics DataFrame.

    ``run(["activation=leaky", "alpha=0.1", "seeds=5"])`` composes the same
    configs as the command line (one string is one override).  A bad value
    raises :class:`ConfigError` (a ``ValueError``; ``relu_study.ConfigError``)
    whose text is the command line's one line, before anything is written.
    With ``output_dir`` the run folder (metrics.parquet, summary.json,
    params.npz, plots) is written there too; a folder that already holds a run
    is refused unless ``overwrite=true``, and is replaced only after the new
    run passed its data checks.
    """
    overrides = _override_list(overrides)
    try:
        cfg = validate(_container(compose(overrides), overrides))
        if output_dir is None:
            return run_experiment(cfg).table
        check_data(cfg)  # before the folder is made or an earlier run in it replaced
    except ConfigError as exc:
        raise _api_error(exc, overrides) from None
    claim = claim_folder(output_dir, overwrite=cfg["overwrite"])
    try:
        execute(cfg, Path(output_dir))
    except ConfigError as exc:
        claim.release()
        raise _api_error(exc, overrides) from None
    finally:
        claim.finish()
    import pandas as pd

    return pd.read_parquet(Path(output_dir) / "metrics.parquet")
