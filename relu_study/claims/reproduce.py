"""Run every claim study and write the report: ``python -m relu_study.reproduce``.

    python -m relu_study.reproduce [--quick] [--out results] [--sweeps DIR] [--jobs 2]

For each preset in ``conf/experiment/`` (:data:`STUDIES`) this runs the Hydra
multirun ``python -m relu_study -m experiment=<study>`` into ``<sweeps>/<study>``
(the raw run folders: large, not meant to be committed; default
``outputs/reproduce/full`` or ``.../quick``), then
:func:`relu_study.report.write_report` into ``--out`` (``REPORT.md``,
``figures/*.png``, ``tables/*.csv``: small), stamped with the command, the date
and the package version.

``--quick`` runs the same presets through the same code with fewer seeds, fewer
epochs and smaller grids (:data:`QUICK`): a smoke test of the whole pipeline in
about a minute, not evidence.  The studies run ``--jobs`` at a time, each as one
process with Hydra's basic launcher.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["FULL", "QUICK", "STUDIES", "main", "reproduce"]

#: the presets, in the order they run
STUDIES = ("born_dead", "lu_collapse", "c1_dying", "c2_gradients", "c3_sensitivity", "c4_sparsity", "c5_convergence")

#: rough relative cost of the full studies (core-seconds), to start the largest first
COST = {"born_dead": 300, "c2_gradients": 170, "c1_dying": 150, "c3_sensitivity": 150, "lu_collapse": 130,
        "c5_convergence": 110, "c4_sparsity": 40}

#: extra overrides of the full run (none: the presets are the full run)
FULL: dict[str, list[str]] = {s: [] for s in STUDIES}

#: overrides of the quick run: fewer seeds and epochs, a smaller born-dead grid
QUICK: dict[str, list[str]] = {
    "born_dead": ["seeds=300", "model.depth=1,4,10", "model.width=2,4"],
    "lu_collapse": ["seeds=40", "epochs=3"],
    "c1_dying": ["seeds=10", "epochs=2", "model.depth=8", "optimizer.lr=1.0"],
    "c2_gradients": ["seeds=10", "epochs=2", "model.depth=8"],
    "c3_sensitivity": ["seeds=10", "epochs=2", "optimizer.lr=0.1,1.0"],
    "c4_sparsity": ["seeds=10", "epochs=2", "dataset=moons"],
    "c5_convergence": ["seeds=10", "epochs=2", "dataset=moons,sine"],
}

#: what was tried before the presets were fixed (pilot runs, 20-200 seeds); see experiments/README.md
PILOT_NOTES = """\
Notes on pilot runs (20-200 seeds) made before the presets were fixed; the tables "Did ReLU units die here?"
in Claims 1 and 2 show, from this run's data, whether ReLUs died in each final setting.

* Claim 1/3, moons, depth 4 x width 16, SGD: with lr 0.1 and zero biases the ReLU dead fraction *fell*
  during training (0.08 at init, 0.05 at the end), and lr 0.5 did not kill units either (0.04): no dying to
  prevent. lr 1.0 did (0.08 -> 0.25), so lr 1.0 is in the grid; a constant bias of -1 leaves about half of
  the units dead at init, and depth 8 doubles the dead fraction at init (0.15). At lr 1.0 Leaky alpha=0.3
  diverged in 17 of 20 pilot networks (ReLU: none), so divergence is counted per arm.
* Deep and narrow (width 2, depth 10, |x|), Adam: lr 0.001 and 0.01 gave the same ReLU collapse rate
  (0.92); lr 0.003 is used.
* Born dead: `collapsed` at epoch 0 is not used as the born-dead indicator, because with RAI (non-zero
  initial biases, small weights) a third of pilot networks had an output spread below 1e-3 of the target's
  without any dead layer; a network is born dead when some hidden layer is entirely never-positive."""


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
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=sweep_dir.parent)
    return proc.returncode, time.perf_counter() - start, log_file


def run_studies(studies, sweeps: Path, overrides: dict, jobs: int = 2, resume: bool = False, log=print) -> dict:
    """Run the studies, ``jobs`` at a time (largest first); return wall times."""
    from concurrent.futures import ThreadPoolExecutor

    order = sorted(studies, key=lambda s: COST.get(s, 0), reverse=True)
    times, failed = {}, []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {s: pool.submit(run_study, s, sweeps / s, overrides.get(s, []), resume) for s in order}
        for s in order:
            code, wall, log_file = futures[s].result()
            times[s] = wall
            log(f"{s}: {wall:.0f} s" + ("" if code == 0 else f" FAILED (exit status {code}, see {log_file})"))
            if code != 0:
                failed.append(f"{s} (see {log_file})")
    if failed:
        raise RuntimeError("studies failed: " + ", ".join(failed))
    return {s: times[s] for s in studies}


def _clean_results(out: Path) -> None:
    """Remove what an earlier reproduce wrote into ``out`` (only its own files)."""
    (out / "REPORT.md").unlink(missing_ok=True)
    for sub, pattern in (("figures", "*.png"), ("tables", "*.csv")):
        for f in (out / sub).glob(pattern):
            f.unlink()


def reproduce(out="results", quick: bool = False, sweeps=None, jobs: int = 2, studies=STUDIES, resume: bool = False,
              command: str | None = None, log=print) -> Path:
    """Run the studies and the report; return the path of ``REPORT.md``."""
    from .report import write_report

    unknown = [s for s in studies if s not in STUDIES]
    if unknown:
        raise ValueError(f"unknown studies: {', '.join(unknown)}; known: {', '.join(STUDIES)}")
    out = Path(out)
    sweeps = Path(sweeps) if sweeps else Path("outputs") / "reproduce" / ("quick" if quick else "full")
    sweeps = sweeps.resolve()
    overrides = QUICK if quick else FULL
    start = time.perf_counter()
    times = run_studies(studies, sweeps, overrides, jobs=jobs, resume=resume, log=log)
    t_report = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    _clean_results(out)
    total = time.perf_counter() - start
    mode = "quick (fewer seeds and epochs: a smoke test, not evidence)" if quick else "full"
    timing = ", ".join(f"{s} {t:.0f} s" for s, t in times.items())
    preamble = (f"Mode: **{mode}**. Studies ran {jobs} at a time; wall time per study: {timing}; "
                f"studies total {total:.0f} s. Raw sweep folders: `{_display(sweeps)}` (not committed). "
                f"Presets: `conf/experiment/` (documented in `experiments/README.md`).")
    command = command or "python -m relu_study.reproduce " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    report = write_report([sweeps / s for s in studies], out, command=command.strip(), preamble=preamble,
                          notes=PILOT_NOTES)
    log(f"report: {time.perf_counter() - t_report:.0f} s; total {time.perf_counter() - start:.0f} s; wrote {report}")
    return report


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m relu_study.reproduce",
                                     description="Run every claim study (conf/experiment/) and write the report.")
    parser.add_argument("--quick", action="store_true", help="fewer seeds and epochs: a smoke test (~1 min)")
    parser.add_argument("--out", default="results", help="report folder (default: results)")
    parser.add_argument("--sweeps", default=None,
                        help="raw sweep folders (default: outputs/reproduce/full or outputs/reproduce/quick)")
    parser.add_argument("--jobs", type=int, default=2, help="studies run at the same time, one process each (default: 2)")
    parser.add_argument("--studies", default=",".join(STUDIES), help="comma-separated subset of: " + ", ".join(STUDIES))
    parser.add_argument("--resume", action="store_true", help="keep existing sweep folders; finished jobs are skipped")
    args = parser.parse_args(argv)
    studies = [s.strip() for s in args.studies.split(",") if s.strip()]
    argv_text = " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    try:
        reproduce(args.out, quick=args.quick, sweeps=args.sweeps, jobs=args.jobs, studies=studies,
                  resume=args.resume, command=f"python -m relu_study.reproduce {argv_text}".strip())
    except (RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
