"""Run every claim study and write the report: ``python -m relu_study.reproduce``.

    python -m relu_study.reproduce [--quick] [--out results] [--sweeps DIR] [--jobs 2]

For each study module of :mod:`relu_study.claims.studies` (:data:`STUDIES`)
this runs its preset's Hydra multirun ``python -m relu_study -m
experiment=<study>`` into ``<sweeps>/<study>`` (the raw run folders: large, not
meant to be committed; default ``outputs/reproduce/full`` or ``.../quick``),
then :func:`relu_study.claims.report.write_report` into ``--out``
(``REPORT.md``, ``claims.json``, ``figures/``, ``tables/``: small), stamped
with the command, the date, the package version and the wall times.  When the
folder holding ``--out`` has a README.md with the generated claims block, that
block is refreshed from the new ``claims_table.md``.

``--quick`` runs the same presets through the same code with fewer seeds, fewer
epochs and smaller grids (each study's ``quick`` overrides, :data:`QUICK`): a
smoke test of the whole pipeline in about a minute, not evidence.  The studies
run ``--jobs`` at a time, each as one process with Hydra's basic launcher.
Every bad argument stops with one ``error:`` line (exit 2) before anything is
created.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["FULL", "QUICK", "STUDIES", "main", "reproduce", "update_readme"]


def _studies() -> dict:
    from .studies import registry

    return registry()


#: the presets, in report order (one per study module in relu_study/claims/studies/)
STUDIES = tuple(_studies())

#: rough relative cost of the full studies (core-seconds), to start the largest first
COST = {name: s.cost for name, s in _studies().items()}

#: extra overrides of the full run (none: the presets are the full run)
FULL: dict[str, list[str]] = {s: [] for s in STUDIES}

#: overrides of the quick run: fewer seeds and epochs, smaller grids (each study's ``quick``)
QUICK: dict[str, list[str]] = {name: list(s.quick) for name, s in _studies().items()}


def pilot_notes() -> str:
    """What was tried before the presets were fixed (each study's ``pilot``)."""
    return "\n".join(f"* {s.id} ({name}): {s.pilot}" for name, s in _studies().items() if s.pilot)


#: the sweep-level aggregate callback is left out: the report reads the run folders itself
NO_CALLBACK = "~hydra.callbacks.aggregate"


def run_study(study: str, sweep_dir: Path, overrides, resume: bool = False) -> tuple[int, float, Path]:
    """Run one preset's multirun (Hydra's basic launcher, one process) into
    ``sweep_dir``; return ``(exit status, wall time in s, log file)``."""
    sweep_dir = Path(sweep_dir)
    if sweep_dir.exists() and not resume:
        shutil.rmtree(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "relu_study", "-m", f"experiment={study}", f"hydra.sweep.dir={sweep_dir}",
           NO_CALLBACK, *overrides]
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"  # one BLAS thread per process: the studies are the parallelism
    log_file = sweep_dir.parent / f"{study}.log"
    start = time.perf_counter()
    with open(log_file, "w") as fh:
        fh.write("$ " + shlex.join(cmd) + "\n")
        fh.flush()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=sweep_dir.parent)
        _CHILDREN.add(proc)
        try:
            proc.wait()
        finally:
            _CHILDREN.discard(proc)
    return proc.returncode, time.perf_counter() - start, log_file


#: the studies' processes running now (so a signal to reproduce reaches them too)
_CHILDREN: set = set()


def _pass_on(exc: BaseException) -> None:
    """Send the signal that stopped reproduce (SIGINT, or SIGTERM) to the studies
    still running: each ends as an interrupted sweep does, resumable with ``--resume``."""
    import signal

    sig = signal.SIGINT if type(exc) is KeyboardInterrupt else signal.SIGTERM
    for proc in list(_CHILDREN):
        try:
            proc.send_signal(sig)
        except OSError:
            pass


#: a study's log line when one of its jobs ends (relu_study.runs.cli.RunCallback.on_job_end)
_JOB_DONE = re.compile(r"\[(\d+|\?) of (\d+|\?)\] job #\d+ done")
#: Hydra's line when a multirun starts its jobs
_LAUNCHING = re.compile(r"Launching (\d+) jobs")


def job_progress(log_file: Path) -> tuple[int, int | None]:
    """``(jobs done, jobs in the sweep or None)`` from a study's log so far."""
    try:
        text = Path(log_file).read_text(errors="replace")
    except OSError:
        return 0, None
    done = _JOB_DONE.findall(text)
    total = _LAUNCHING.search(text)
    n = int(total.group(1)) if total else None
    if done and done[-1][1].isdigit():
        n = int(done[-1][1])
    return len(done), n


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    """Prints, while the studies run, one line per study whenever some of its
    jobs have finished (at most every ``every`` seconds) and at least every
    ``quiet`` seconds even when none has, so a long study is never silent:
    ``c1_dying: 37 of 240 jobs, 1m12s, about 6m left``."""

    def __init__(self, log=print, every: float = 15.0, quiet: float = 60.0):
        self.every, self.quiet = every, quiet
        self.running: dict[str, tuple[Path, float]] = {}
        self.last: dict[str, tuple[int, float]] = {}
        self.first: dict[str, tuple[int, float]] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self._say = threading.Lock()
        self._log = log

    def log(self, line: str) -> None:
        """One whole line at a time, whichever thread speaks."""
        with self._say:
            self._log(line)

    def started(self, study: str, log_file: Path) -> None:
        with self.lock:
            self.running[study] = (log_file, time.perf_counter())
            self.last[study] = (0, time.perf_counter())
        self.log(f"{study}: started")

    def finished(self, study: str) -> None:
        with self.lock:
            self.running.pop(study, None)

    def tick(self) -> None:
        now = time.perf_counter()
        with self.lock:
            items = list(self.running.items())
        for study, (log_file, start) in items:
            done, total = job_progress(log_file)
            if done and study not in self.first:  # the rate is measured from the first finished job (after the
                self.first[study] = (done, now)   # start-up: composing and checking every job of the sweep)
            seen, when = self.last[study]
            if (done > seen and now - when >= self.every) or now - when >= self.quiet:
                left = ""
                d0, t0 = self.first.get(study, (0, now))
                if total and done > d0 and now > t0:
                    left = f", about {_clock((now - t0) / (done - d0) * (total - done))} left"
                self.log(f"{study}: {done} of {total or '?'} jobs, {_clock(now - start)}{left}")
                self.last[study] = (done, now)

    def run(self, interval: float = 2.0) -> None:
        while not self.stop.wait(interval):
            self.tick()


def run_studies(studies, sweeps: Path, overrides: dict, jobs: int = 2, resume: bool = False, log=print) -> dict:
    """Run the studies, ``jobs`` at a time (largest first); return wall times.
    Progress goes to ``log``: a line when a study starts, its jobs done at least
    every minute while it runs (:class:`Progress`), and its wall time when it ends."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    order = sorted(studies, key=lambda s: COST.get(s, 0), reverse=True)
    times, failed = {}, []
    progress = Progress(log)
    log = progress.log
    watcher = threading.Thread(target=progress.run, daemon=True)
    watcher.start()

    def one(study):
        progress.started(study, sweeps / f"{study}.log")
        try:
            return run_study(study, sweeps / study, overrides.get(study, []), resume)
        finally:
            progress.finished(study)

    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(one, s): s for s in order}
            try:
                for future in as_completed(futures):
                    s = futures[future]
                    code, wall, log_file = future.result()
                    times[s] = wall
                    done, total = job_progress(log_file)
                    log(f"{s}: done, {done} of {total or '?'} jobs in {wall:.0f} s"
                        + ("" if code == 0 else f" FAILED (exit status {code}, see {log_file})"))
                    if code != 0:
                        failed.append(f"{s} (see {log_file})")
            except KeyboardInterrupt as exc:  # no study starts any more; the running ones stop too
                for future in futures:
                    future.cancel()
                _pass_on(exc)
                raise
    finally:
        progress.stop.set()
        watcher.join()
    if failed:
        raise RuntimeError("studies failed: " + ", ".join(failed))
    return {s: times[s] for s in studies}


def _clean_results(out: Path) -> None:
    """Remove what an earlier reproduce wrote into ``out`` (only its own files)."""
    for name in ("REPORT.md", "REPORT.html", "claims.json", "claims_table.md"):
        (out / name).unlink(missing_ok=True)
    for sub, pattern in (("figures", "*.png"), ("figures", "*.json"), ("tables", "*.csv")):
        for f in (out / sub).glob(pattern):
            f.unlink()


def update_readme(readme: Path, block: str) -> bool:
    """Replace the generated claims block of ``readme`` (between the report's
    markers) with ``block``; False when the file has no such block."""
    from ..runs.folders import atomic_path
    from .report import README_BEGIN, README_END

    text = readme.read_text()
    if README_BEGIN not in text or README_END not in text:
        return False
    start, end = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    new = text[:start] + block.rstrip("\n") + text[end:]
    if new != text:
        with atomic_path(readme) as tmp:
            tmp.write_text(new)
    return True


def reproduce(out="results", quick: bool = False, sweeps=None, jobs: int = 2, studies=STUDIES, resume: bool = False,
              command: str | None = None, log=print, readme=None) -> Path:
    """Run the studies and the report; return the path of ``REPORT.md``.
    ``readme``: a README.md whose generated claims block is refreshed (default:
    the README.md beside ``out`` when it has the block; False: none)."""
    from ..provenance import provenance
    from .report import write_report

    unknown = [s for s in studies if s not in STUDIES]
    if unknown:
        raise ValueError(f"--studies {','.join(unknown)}: unknown; known: {', '.join(STUDIES)}")
    if jobs < 1:
        raise ValueError(f"--jobs {jobs}: must be at least 1")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder")
    sweeps = Path(sweeps) if sweeps else Path("outputs") / "reproduce" / ("quick" if quick else "full")
    sweeps = sweeps.resolve()
    overrides = QUICK if quick else FULL
    command = command or "python -m relu_study.reproduce " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    record = provenance(command.strip())  # the code as it ran, before results/ and README.md change
    start = time.perf_counter()
    times = run_studies(studies, sweeps, overrides, jobs=jobs, resume=resume, log=log)
    t_report = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    _clean_results(out)
    total = time.perf_counter() - start
    mode = "quick (fewer seeds and epochs: a smoke test, not evidence)" if quick else "full"
    timing = ", ".join(f"{s} {t:.0f} s" for s, t in times.items())
    preamble = (f"Mode: **{mode}**. Studies ran {jobs} at a time; wall time per study: {timing}; all studies "
                f"{total:.0f} s of wall time (the whole run with the report: see Provenance). Raw sweep folders: "
                f"`{_display(sweeps)}` (not committed). "
                f"Presets: `conf/experiment/` (documented in `experiments/README.md`; the analysis in "
                f"`docs/claims.md`).")
    log(f"report: reading {len(studies)} sweeps")
    report = write_report([sweeps / s for s in studies], out, command=command.strip(), preamble=preamble,
                          notes=pilot_notes(), wall_times=times, provenance=record, html=True, log=log,
                          run_started=start)
    if readme is None:
        readme = out.resolve().parent / "README.md"
        readme = readme if readme.is_file() else False
    if readme and update_readme(Path(readme), (out / "claims_table.md").read_text()):
        log(f"updated the claims table in {readme}")
    log(f"report: {time.perf_counter() - t_report:.0f} s; total {time.perf_counter() - start:.0f} s; wrote {report}")
    return report


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv=None) -> int:
    from .report import ArgumentParser

    parser = ArgumentParser(prog="python -m relu_study.reproduce",
                            description="Run every claim study (conf/experiment/) and write the report.")
    parser.add_argument("--quick", action="store_true", help="fewer seeds and epochs: a smoke test (~1 min)")
    parser.add_argument("--out", default="results", help="report folder (default: results)")
    parser.add_argument("--sweeps", default=None,
                        help="raw sweep folders (default: outputs/reproduce/full or outputs/reproduce/quick)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="studies run at the same time, one process each (default: 2)")
    parser.add_argument("--studies", default=",".join(STUDIES), help="comma-separated subset of: " + ", ".join(STUDIES))
    parser.add_argument("--resume", action="store_true", help="keep existing sweep folders; finished jobs are skipped")
    parser.add_argument("--no-readme", action="store_true",
                        help="do not refresh the claims table of the README.md beside --out")
    args = parser.parse_args(argv)
    studies = [s.strip() for s in args.studies.split(",") if s.strip()]
    argv_text = " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    # bad arguments: one line, exit 2, before anything is created
    unknown = [s for s in studies if s not in STUDIES]
    problem = (f"--studies {','.join(unknown)}: unknown study; known: {', '.join(STUDIES)}" if unknown else
               "--studies: no study given" if not studies else
               f"--jobs {args.jobs}: must be at least 1" if args.jobs < 1 else
               f"--out {args.out}: exists and is not a folder" if Path(args.out).exists() and
               not Path(args.out).is_dir() else
               f"--sweeps {args.sweeps}: exists and is not a folder" if args.sweeps and Path(args.sweeps).exists()
               and not Path(args.sweeps).is_dir() else None)
    if problem:
        parser.error(problem)
    from ..runs.entry import check_output_folder, ends_in_one_line

    sweeps = args.sweeps or Path("outputs") / "reproduce" / ("quick" if args.quick else "full")

    def work() -> int:
        check_output_folder(args.out)  # before the studies train, not after
        check_output_folder(sweeps, "--sweeps")
        try:
            reproduce(args.out, quick=args.quick, sweeps=args.sweeps, jobs=args.jobs, studies=studies,
                      resume=args.resume, command=f"python -m relu_study.reproduce {argv_text}".strip(),
                      readme=False if args.no_readme else None)
        except (RuntimeError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0

    return ends_in_one_line(work, again=f"the studies' finished jobs are kept in {sweeps}: the same command "
                                        f"with --resume goes on from them")


if __name__ == "__main__":
    sys.exit(main())
