"""Sweeps on a SLURM cluster: Hydra's submitit launcher, made to reach the aggregate.

``hydra/launcher=slurm`` (``conf/hydra/launcher/slurm.yaml``) selects
:class:`SlurmLauncher`, a subclass of Hydra's ``submitit_slurm`` launcher with
the same keys.  Hydra's launcher waits for every job with ``job.results()``:
the first job that SLURM cancelled or killed at its time limit raises, the
sweep stops there and no aggregate is written.  On a cluster without an
accounting database every status poll prints a ``sacct`` warning, and a job
that ended without a result is never seen to end: the command waits forever.
This one:

* submits only the jobs whose run folder does not already hold a complete run
  of the same config (resume), all of them as one job array
  (``array_parallelism`` tasks at once);
* follows the jobs with ``sacct``, or with ``squeue`` once ``sacct`` has failed
  (no accounting database), quietly, and logs the queued / running / done
  counts whenever they change;
* records a job that ends without a result (cancelled, killed at its time
  limit, out of memory, node failure, ...) as a failed job in its run folder,
  with SLURM's reason, so the sweep goes on to its aggregate and the command
  exits 1 naming it (:class:`relu_study.sweeps.aggregate.AggregateCallback`);
* in the job, turns SLURM's warning signal before the time limit into a
  :class:`SlurmTimeLimit` error, which the job records like any other failure
  (on preemption Hydra's requeue is kept).

Hydra instantiates launchers only from its ``hydra_plugins`` namespace, and
imports every module there whenever a Hydra application starts, so the class
Hydra sees is ``hydra_plugins.relu_study_launcher.slurm_launcher.SlurmLauncher``,
a bare subclass of this one; this module keeps its imports light (the rest of
relu_study is imported when a sweep runs).  Hydra 1.3 finds that class by
scanning the namespace's folders, which an editable install (``pip install -e``)
does not expose, so the preset also installs :class:`RegisterLauncher`, a
callback that registers it before Hydra instantiates the launcher.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra.experimental.callback import Callback
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as _HydraSlurmLauncher
from omegaconf import OmegaConf, open_dict, read_write

from ..provenance import provenance
from ..runs.cli import completed_run, sweep_objective
from ..runs.manifest import append_event, relative_dir

__all__ = ["JobStates", "RegisterLauncher", "SlurmLauncher", "SlurmTimeLimit"]

log = logging.getLogger("relu_study")

#: SLURM states of a job that has not started yet / is running
QUEUED = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "RESV_DEL_HOLD",
                    "SUSPENDED", "RESIZING"})
RUNNING = frozenset({"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT"})
#: why a job that ended in this state left no result
REASONS = {
    "CANCELLED": "was cancelled (scancel)",
    "TIMEOUT": "was killed at its time limit",
    "OUT_OF_MEMORY": "was killed: out of memory",
    "NODE_FAIL": "was lost: its node failed",
    "BOOT_FAIL": "was lost: its node failed to boot",
    "PREEMPTED": "was preempted",
    "DEADLINE": "was killed at its deadline",
    "FAILED": "ended with an error before writing its result",
    "COMPLETED": "ended without writing its result",
    "GONE": "is no longer known to SLURM and left no result",
}
#: seconds to wait for a result file after SLURM reports a job as ended normally
#: (a shared filesystem may show it late)
RESULT_GRACE_S = 10.0


class SlurmTimeLimit(RuntimeError):
    """Raised in a job when SLURM warns that its time limit is near."""


# --------------------------------------------------------------------------- polling

def _run(command: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(command, 1, "", str(exc))


class JobStates:
    """SLURM's state of each job (``{"57_3": "RUNNING", ...}``).

    Asks ``sacct`` (SLURM's accounting database, what submitit uses); after the
    first failure, which is what a cluster without accounting answers
    (``Slurm accounting storage is disabled``), asks ``squeue`` instead.
    ``squeue`` knows ended jobs for ``MinJobAge`` seconds (300 by default), far
    longer than the launcher's polling interval; a job it no longer lists is
    ``GONE``.
    """

    def __init__(self) -> None:
        self.use_squeue = False
        self.states: dict[str, str] = {}

    def update(self, job_ids) -> dict[str, str]:
        job_ids = sorted(set(job_ids))
        arrays = ",".join(sorted({j.split("_")[0] for j in job_ids}))
        if not arrays:
            return self.states
        if not self.use_squeue:
            proc = _run(["sacct", "--parsable2", "--format=JobID,State", f"--jobs={arrays}"])
            if proc.returncode == 0:
                self._read(proc.stdout, job_ids, listed_all=False)
                return self.states
            self.use_squeue = True
            log.debug("sacct failed (%s): following the jobs with squeue", (proc.stderr or proc.stdout).strip())
        proc = _run(["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T", f"--jobs={arrays}"])
        if proc.returncode == 0:
            self._read("JobID|State\n" + proc.stdout, job_ids, listed_all=True)
        elif "Invalid job id" in proc.stderr:  # none of them is known any more
            self._read("JobID|State\n", job_ids, listed_all=True)
        else:  # keep the last known states; the next poll tries again
            log.debug("squeue failed: %s", proc.stderr.strip())
        return self.states

    def _read(self, text: str, job_ids, listed_all: bool) -> None:
        from submitit.slurm.slurm import SlurmInfoWatcher

        info = SlurmInfoWatcher().read_info(text)  # expands array ranges such as 57_[3-9%2]
        for job_id in job_ids:
            state = (info.get(job_id) or {}).get("State", "")
            if state:
                self.states[job_id] = state.split()[0]  # "CANCELLED by 0" -> "CANCELLED"
            elif listed_all:
                self.states[job_id] = "GONE"


# --------------------------------------------------------------------------- launcher

@dataclass
class _Job:
    """One job of the sweep, as planned in the submitting process."""

    idx: int
    overrides: list[str]
    out_dir: Path
    config: Any = None  # the job's config as its summary.json records it (None: not composed yet)
    returned: JobReturn | None = None  # set when the job is done (or was already done)
    failed: bool = False
    slurm: Any = None  # the submitit job
    ended_at: float | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return " ".join(filter_overrides(self.overrides)) or "defaults"


class SlurmLauncher(_HydraSlurmLauncher):
    """Hydra's ``submitit_slurm`` launcher that resumes, reports progress and
    records jobs that SLURM ended without a result (see the module docstring)."""

    #: the longest pause between two questions to SLURM (seconds)
    max_poll_interval_s = 60.0

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.config is not None and self.hydra_context is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
        log.info("Submitit 'slurm' sweep output dir : %s", sweep_dir)
        jobs = [self._plan(list(o), idx) for idx, o in enumerate(job_overrides, start=initial_job_idx)]
        todo = [job for job in jobs if job.returned is None]
        for job in jobs:
            log.info("\t#%d : %s%s", job.idx, job.label, "" if job.returned is None else " (already complete)")
        if len(todo) < len(jobs):
            log.info("%d of %d jobs already complete with the same config: not submitted again",
                     len(jobs) - len(todo), len(jobs))
        if todo:
            self._submit(todo)
            self._follow(todo)
        return [job.returned for job in jobs]

    # ------------------------------------------------------------------ planning
    def _plan(self, overrides: list[str], idx: int) -> _Job:
        """The job, with its result when its run folder already holds a complete
        run of the same config.  Composing a job's config costs about as much as
        Hydra's own check of the sweep, so with the default ``hydra.sweep.subdir``
        a folder without a ``summary.json`` is not composed now (only if the job
        fails, for its record)."""
        from ..runs.folders import SUMMARY_FILE

        sweep = OmegaConf.to_container(self.config.hydra.sweep, resolve=False)
        if sweep.get("subdir") == "${hydra.job.num}":
            out_dir = Path(str(self.config.hydra.sweep.dir)) / str(idx)
            if not (out_dir / SUMMARY_FILE).exists():
                return _Job(idx, overrides, out_dir)
        out_dir, config = self._compose(overrides, idx)
        job = _Job(idx, overrides, out_dir, config)
        summary = completed_run(out_dir, config)
        if summary is not None:  # resume: the same test a job applies to itself
            job.returned = self._job_return(job, sweep_objective(summary))
            self._account(job)
        return job

    def _account(self, job: _Job) -> None:
        """Enter a job that ran no code in this sweep (finished earlier, or failed
        before it could start) in the sweep's job list, as a job that starts and
        ends writes itself there, so the aggregate counts it as this sweep's job."""
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        append_event(sweep_dir, {"event": "start", "num": job.idx, "dir": relative_dir(job.out_dir, sweep_dir),
                                 "overrides": list(job.overrides)})
        append_event(sweep_dir, {"event": "end", "num": job.idx})

    def _compose(self, overrides: list[str], idx: int) -> tuple[Path, Any]:
        """The job's run folder and config (as its ``summary.json`` records it),
        composed as the job will compose them."""
        from ..runs.cli import job_config

        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(sweep_config.hydra.job):
            sweep_config.hydra.job.num = idx
        previous = HydraConfig.instance().cfg
        HydraConfig.instance().set_config(sweep_config)  # for ${hydra:...} in hydra.sweep.subdir
        try:
            out_dir = Path(str(sweep_config.hydra.sweep.dir)) / str(sweep_config.hydra.sweep.subdir)
        finally:
            HydraConfig.instance().cfg = previous
        task = copy.deepcopy(sweep_config)
        with read_write(task), open_dict(task):
            del task["hydra"]
        try:
            return out_dir, job_config(task, overrides)
        except Exception:  # noqa: BLE001 - an invalid config fails in the job, with its message
            return out_dir, OmegaConf.to_container(task, resolve=False)

    @staticmethod
    def _job_return(job: _Job, value: float) -> JobReturn:
        """A completed JobReturn: the sweep never sees a failed one, so one job
        cannot stop it before the aggregate (failures live in the run folders).
        ``value`` is what any sweep job returns (:func:`relu_study.runs.cli.sweep_objective`:
        +inf for a failed job), so a sweeper such as Optuna always gets a number."""
        ret = JobReturn(overrides=job.overrides, working_dir=str(job.out_dir), status=JobStatus.COMPLETED)
        ret.return_value = value
        return ret

    # ------------------------------------------------------------------ submitting
    def _executor(self):
        """submitit's executor for these launcher parameters (as Hydra's launcher builds it)."""
        import submitit

        params = dict(self.params)
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, folder=params.pop("submitit_folder"),
                                         **{f"{self._EXECUTOR}_max_num_timeout": params.pop("max_num_timeout")})
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{k if k in base else f"{self._EXECUTOR}_{k}": v for k, v in params.items()})
        return executor

    def _submit(self, todo: list[_Job]) -> None:
        executor = self._executor()
        state = Singleton.get_state()
        args = [(job.overrides, "hydra.sweep.dir", job.idx, f"job_id_for_{job.idx}", state) for job in todo]
        try:
            submitted = executor.map_array(self, *zip(*args))
        except Exception as exc:  # noqa: BLE001 - sbatch refused (bad partition, account, limits, ...)
            lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
            detail = next((x for x in lines if "error" in x.lower()), lines[-1] if lines else type(exc).__name__)
            print(f"error: SLURM did not accept the sweep's jobs (sbatch): {detail}", file=sys.stderr)
            sys.exit(2)
        for job, slurm_job in zip(todo, submitted):
            job.slurm = slurm_job
        if len(todo) > 1:
            at_once = min(len(todo), int(self.params.get("array_parallelism") or len(todo)))
            log.info("submitted %d jobs as %s (%d at once); logs in %s", len(todo), _slurm_name(todo), at_once,
                     submitted[0].paths.folder.parent)
        else:
            log.info("submitted 1 job as %s; logs in %s", _slurm_name(todo), submitted[0].paths.folder.parent)

    # ------------------------------------------------------------------ waiting
    def _follow(self, todo: list[_Job]) -> None:
        """Wait for every job: result files are checked every second, SLURM is
        asked at growing intervals (2 s, then a quarter of the time waited so
        far, at most :attr:`max_poll_interval_s`).  Ctrl-C leaves the jobs
        running and says how to stop them."""
        states = JobStates()
        waiting = {job.slurm.job_id: job for job in todo}
        name = _slurm_name(todo)
        start = next_poll = time.monotonic()
        shown = None
        try:
            while waiting:
                now = time.monotonic()
                if now >= next_poll:
                    states.update(waiting)
                    next_poll = now + min(self.max_poll_interval_s, max(2.0, (now - start) / 4))
                for job_id, job in list(waiting.items()):
                    if self._finish(job, states.states.get(job_id), now):
                        del waiting[job_id]
                counts = self._counts(todo, states.states)
                if counts != shown:
                    shown = counts
                    queued, running, done, failed = counts
                    log.info("%s: %d queued, %d running, %d done%s of %d", name, queued, running, done,
                             f" ({failed} failed)" if failed else "", len(todo))
                if waiting:
                    time.sleep(1.0)
        except KeyboardInterrupt:
            first = todo[0].slurm.job_id.split("_")[0]
            print(f"interrupted: {len(waiting)} of the sweep's jobs ({name}) are queued or running and go on; "
                  f"scancel {first} stops them, and running the same command again resumes the sweep",
                  file=sys.stderr, flush=True)
            sys.exit(130)

    @staticmethod
    def _counts(todo: list[_Job], states: dict[str, str]) -> tuple[int, int, int, int]:
        done = [job for job in todo if job.returned is not None]
        running = sum(1 for job in todo if job.returned is None and states.get(job.slurm.job_id) in RUNNING)
        failed = sum(1 for job in done if job.failed)
        return len(todo) - len(done) - running, running, len(done), failed

    def _finish(self, job: _Job, state: str | None, now: float) -> bool:
        """Collect ``job`` if it has ended; True when it has."""
        from ..runs.folders import read_summary

        if job.slurm.paths.result_pickle.exists():
            try:
                ret = job.slurm.results()[0]
            except Exception as exc:  # noqa: BLE001 - the job raised outside the run (submitit's trace)
                return self._failed(job, state or "FAILED", _exception_line(str(exc)))
            if ret.status != JobStatus.COMPLETED:
                return self._failed(job, state or "FAILED", f"{type(ret._return_value).__name__}: {ret._return_value}")
            job.returned = ret
            job.failed = (read_summary(job.out_dir) or {}).get("status") == "failed"
            return True
        if state is None or state in QUEUED or state in RUNNING or state == "UNKNOWN":
            return False
        if state in ("COMPLETED", "FAILED"):  # ended normally: its result file may show up late
            job.ended_at = job.ended_at or now
            if now - job.ended_at < RESULT_GRACE_S:
                return False
        return self._failed(job, state)

    def _failed(self, job: _Job, state: str, detail: str | None = None) -> bool:
        """Record ``job`` as failed with SLURM's reason (or ``detail``, the error
        it raised outside the run), unless its run folder already says how it
        ended (complete, or failed with the job's own error)."""
        from ..runs.folders import SUMMARY_FILE, read_summary, write_json

        summary = read_summary(job.out_dir) or {}
        if summary.get("complete") or summary.get("status") in ("failed", "repeat"):  # repeat: not to be trained
            job.returned = self._job_return(job, sweep_objective(summary))
            job.failed = summary.get("status") == "failed"
            return True
        if detail:  # the job raised outside the run
            reason = f"failed: {detail}"
        else:
            reason = REASONS.get(state, f"ended in state {state} without a result")
            if state == "TIMEOUT":
                reason += f" (timeout_min={self.params.get('timeout_min')})"
        error = f"SLURM job {job.slurm.job_id} {reason}"
        log_file = job.slurm.paths.stderr
        if log_file.exists():
            error += f"; log: {log_file}"
        else:
            error += " before it started" if state == "CANCELLED" else "; it wrote no log"
        if job.config is None:
            job.config = self._compose(job.overrides, job.idx)[1]
        command = shlex.join(["python", "-m", "relu_study", *job.overrides])
        write_json(job.out_dir / SUMMARY_FILE, {"status": "failed", "error": error, "config": job.config,
                                                "complete": False, "slurm_job_id": job.slurm.job_id,
                                                "slurm_state": state, "provenance": provenance(command)})
        log.warning("job #%d (%s) failed: %s", job.idx, job.label, error)
        self._account(job)
        job.returned = self._job_return(job, math.inf)
        job.failed = True
        return True

    # ------------------------------------------------------------------ in the job
    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Called in the job by submitit on SLURM's warning signal (USR2),
        ``signal_delay_s`` seconds before the time limit or on preemption.

        A sweep job cannot be checkpointed halfway, so at the time limit it stops
        with :class:`SlurmTimeLimit`, which the job records as its failure (the
        run's ``summary.json``); a preempted job is requeued as Hydra does it."""
        import submitit

        handler = signal.getsignal(getattr(signal, "SIG" + submitit.JobEnvironment.USR_SIG))
        timer = getattr(handler, "__self__", None)  # submitit's SignalHandler
        if timer is not None and hasattr(timer, "has_timed_out") and timer.has_timed_out():
            raise SlurmTimeLimit(f"SLURM job {submitit.JobEnvironment().job_id} reached its time limit "
                                 f"(timeout_min={self.params.get('timeout_min')}) and was stopped")
        return super().checkpoint(*args, **kwargs)


class RegisterLauncher(Callback):
    """Hydra callback (``hydra.callbacks.slurm_launcher`` in the preset) that
    registers the launcher plugin with Hydra.

    Hydra 1.3 discovers plugins with ``pkgutil.walk_packages`` over the
    ``hydra_plugins`` namespace; setuptools' editable installs make the plugin
    importable but invisible to that walk (Hydra issues #2359 and #3252), and
    Hydra then stops with ``Unknown plugin class``.  Callbacks are instantiated
    before the launcher, and registering an already registered class changes
    nothing, so this works for editable and regular installs alike."""

    def __init__(self) -> None:
        from hydra.core.plugins import Plugins
        from hydra_plugins.relu_study_launcher.slurm_launcher import SlurmLauncher as plugin

        Plugins.instance().register(plugin)


def _slurm_name(todo: list[_Job]) -> str:
    """``SLURM job array 57``; ``SLURM job 57`` for a single job (submitit submits
    one job on its own, not as an array)."""
    first = todo[0].slurm.job_id.split("_")[0]
    return f"SLURM job array {first}" if len(todo) > 1 else f"SLURM job {first}"


def _exception_line(text: str) -> str:
    """The exception line (``Type: message``) of submitit's report of a job's traceback."""
    lines = [x.strip() for x in text.split("----------------------")[1 if "------" in text else 0].splitlines()]
    lines = [x for x in lines if x]
    return lines[-1] if lines else "unknown error"
