"""Wall time of one CPU-bound sweep with Hydra's basic launcher and with joblib.

    python benchmarks/bench_launchers.py                # 24 jobs of ~4 s, 2 joblib workers
    python benchmarks/bench_launchers.py --n-jobs 4 --epochs 20

Runs the same sweep twice as a user would (``python -m relu_study -m ...``, a
fresh process each, aggregate included), first with ``hydra/launcher=basic``,
then with ``hydra/launcher=joblib hydra.launcher.n_jobs=N``; prints both times
and the speed-up, and checks that the two sweep tables are identical (every
multirun job runs BLAS on one thread, whatever the launcher).  "jobs' own time"
adds up the training time each job measured itself: if it grows under joblib,
the jobs slowed each other down (shared cores, other load), not the launcher.

The figure quoted in docs/sweeps.md comes from this script.  Run it on an
otherwise idle machine: other processes competing for the cores lower the ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRID = ["activation=relu,leaky", "alpha=0.01,0.1,0.3", "seed=0,1,2,3"]  # 24 jobs


def run_sweep(sweep_dir: Path, launcher: list[str], args) -> float:
    cmd = [sys.executable, "-m", "relu_study", "-m", *GRID,
           f"epochs={args.epochs}", f"seeds={args.seeds}", f"dataset.n_samples={args.n_samples}",
           f"model.width={args.width}", f"model.depth={args.depth}", "plots=false", "save_params=false",
           *launcher, f"hydra.sweep.dir={sweep_dir}"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"sweep failed ({' '.join(launcher) or 'basic'}), exit {proc.returncode}")
    return elapsed


def job_seconds(sweep_dir: Path) -> float:
    """Sum of the jobs' own wall times (summary.json ``wall_time_s``: training only)."""
    import json

    return sum(json.loads(p.read_text()).get("wall_time_s", 0.0) for p in sweep_dir.glob("*/summary.json"))


def tables_equal(a: Path, b: Path) -> bool:
    import pandas as pd

    for name in ("sweep_runs.parquet", "sweep_metrics.parquet"):
        x, y = (pd.read_parquet(d / name).drop(columns="run_dir") for d in (a, b))
        cols = [c for c in ("activation.name", "alpha", "seed", "epoch") if c in x]
        x, y = (t.sort_values(cols).reset_index(drop=True) for t in (x, y))
        try:
            pd.testing.assert_frame_equal(x, y, check_exact=True)
        except AssertionError:
            return False
    return True


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-jobs", type=int, default=2, help="joblib workers (default 2)")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--seeds", type=int, default=2, help="networks per job")
    p.add_argument("--n-samples", type=int, default=2000)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--repeat", type=int, default=1, help="alternate the two launchers this many times; "
                   "the speed-up uses the fastest time of each (less sensitive to other load)")
    args = p.parse_args(argv)
    print(f"{os.cpu_count()} CPUs; sweep {' '.join(GRID)} (24 jobs), epochs={args.epochs}, seeds={args.seeds}, "
          f"n_samples={args.n_samples}, hidden={args.depth}x{args.width}; load average {_load()}", flush=True)
    basic, joblib = [], []
    with tempfile.TemporaryDirectory(prefix="bench_launchers_") as tmp:
        tmp = Path(tmp)
        for i in range(args.repeat):
            basic.append(run_sweep(tmp / f"basic{i}", ["hydra/launcher=basic"], args))
            print(f"basic launcher:              {basic[-1]:7.1f} s   "
                  f"(jobs' own time {job_seconds(tmp / f'basic{i}'):6.1f} s)", flush=True)
            joblib.append(run_sweep(tmp / f"joblib{i}", ["hydra/launcher=joblib",
                                                         f"hydra.launcher.n_jobs={args.n_jobs}"], args))
            print(f"joblib launcher, {args.n_jobs} workers:   {joblib[-1]:7.1f} s   "
                  f"(jobs' own time {job_seconds(tmp / f'joblib{i}'):6.1f} s)", flush=True)
        same = all(tables_equal(tmp / "basic0", tmp / d) for d in
                   [f"joblib{i}" for i in range(args.repeat)] + [f"basic{i}" for i in range(1, args.repeat)])
    t_basic, t_joblib = min(basic), min(joblib)
    print(f"speed-up: {t_basic:.1f} s / {t_joblib:.1f} s = {t_basic / t_joblib:.2f}x; tables identical: {same}; "
          f"load average {_load()}")
    return 0 if same else 1


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
