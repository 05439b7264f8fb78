"""Sweeps end to end: the multirun aggregate (tables, plots, log), launchers
(basic, joblib, submitit_local) giving identical tables (SLURM: test_slurm.py), failed jobs, resume,
comparing sweeps, and skipping broken run folders.

Every sweep is a real ``python -m relu_study -m ...`` subprocess with tiny
settings; the expensive ones are module-scoped fixtures shared by the tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from relu_study.sweeps.aggregate import IncompleteRunWarning, collect
from relu_study.sweeps.arms import arm_keys, swept_keys

FAST = ["epochs=2", "dataset.n_samples=200", "model.width=8", "plots=false", "save_params=false"]
NO_PLOTS = "++hydra.callbacks.aggregate.plots=false"  # sweep plots are checked once, in the basic sweep
GRID = ["activation=relu,leaky", "alpha=0.01,0.3", "optimizer.lr=0.05,0.5", "seeds=2"]  # 8 jobs, 2 networks each
N_JOBS = 8
# relu has no slope: its jobs for alpha=0.3 (#2, #3) are the networks of those for alpha=0.01 (#0, #1),
# so they are not trained; the runs table lists them (status repeat) pointing at #0 and #1
N_KEPT = 6
PLOTS = ["sweep_loss.png", "sweep_dead.png", "sweep_final_vs_alpha.png", "sweep_heatmap.png"]
SORT = ["activation.name", "alpha", "optimizer.lr", "seed", "epoch"]


def sweep(sweep_dir: Path, *overrides, timeout=180):
    cmd = [sys.executable, "-m", "relu_study", "-m", *overrides, f"hydra.sweep.dir={sweep_dir}"]
    proc = subprocess.run(cmd, cwd=sweep_dir.parent, capture_output=True, text=True, timeout=timeout)
    return proc


def tables(sweep_dir: Path):
    return (pd.read_parquet(sweep_dir / "sweep_metrics.parquet"), pd.read_parquet(sweep_dir / "sweep_runs.parquet"))


def canonical(table: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in SORT if c in table.columns]
    table = table.drop(columns=[c for c in ("run_dir", "same_as") if c in table.columns])
    if "error" in table.columns:  # a text column's dtype depends on whether any row of its table has a text
        table["error"] = pd.Series([None if pd.isna(v) else str(v) for v in table["error"]], dtype=object)
    return table.sort_values(cols, kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def basic_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("basic")
    proc = sweep(root / "sweep", *GRID, *FAST)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root / "sweep", proc


@pytest.fixture(scope="module")
def failed_sweep(tmp_path_factory):
    """Two tables declared in config (``hydra.sweeper.params``); the second has a
    single class, which only loading it tells (every value is valid)."""
    root = tmp_path_factory.mktemp("failed")
    conf = root / "conf" / "experiment"
    conf.mkdir(parents=True)
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=60), "y": np.arange(60) % 2}).to_csv(root / "good.csv", index=False)
    pd.DataFrame({"a": rng.normal(size=60), "y": np.ones(60, int)}).to_csv(root / "one.csv", index=False)
    (conf / "tables.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /dataset: table\ndataset:\n  target: y\n"
        f"hydra:\n  sweeper:\n    params:\n      dataset.path: {root / 'good.csv'},{root / 'one.csv'}\n")
    fast = [o for o in FAST if not o.startswith("dataset.n_samples")]
    proc = sweep(root / "sweep", "--config-dir", str(root / "conf"), "experiment=tables", "seed=0,1", *fast, NO_PLOTS)
    return root / "sweep", proc


# ------------------------------------------------------------------ basic launcher
def test_sweep_writes_tables_plots_and_log(basic_sweep):
    sweep_dir, proc = basic_sweep
    metrics, runs = tables(sweep_dir)
    # one row per network (two per job), three epochs (0, 1, 2) per trained network
    assert len(runs) == 2 * N_JOBS and runs["run_dir"].nunique() == N_JOBS
    trained = runs[runs["status"] != "repeat"]
    assert sorted(Path(d).name for d in trained["run_dir"].unique()) == ["0", "1", "4", "5", "6", "7"]
    assert len(metrics) == 3 * 2 * N_KEPT and metrics["run_dir"].nunique() == N_KEPT
    assert (trained["status"] == "ok").all() and trained["error"].isna().all() and trained["same_as"].isna().all()
    # the relu jobs for alpha=0.3 were not trained: rows without results, pointing at the job that trained them
    repeat = runs[runs["status"] == "repeat"]
    assert sorted(Path(d).name for d in repeat["run_dir"]) == ["2", "2", "3", "3"]
    assert {(Path(d).name, Path(t).name) for d, t in zip(repeat["run_dir"], repeat["same_as"])} == {("2", "0"),
                                                                                                  ("3", "1")}
    assert (repeat["activation.name"] == "relu").all() and sorted(repeat["seed"]) == [0, 0, 1, 1]
    assert repeat["final_val_loss"].isna().all() and repeat["error"].str.contains("no negative slope").all()
    for job in ("2", "3"):
        assert not (sweep_dir / job / "metrics.parquet").exists()
    # swept and fixed config values are columns of both tables; alpha is the slope used
    for table in (metrics, runs):
        assert set(table["activation.name"]) == {"relu", "leaky"}
        assert set(table["alpha"]) == {0.0, 0.01, 0.3}
        assert (table.loc[table["activation.name"] == "relu", "alpha"] == 0.0).all()
        assert set(table["optimizer.lr"]) == {0.05, 0.5}
        assert set(table["model.width"]) == {8} and set(table["dataset.n_samples"]) == {200}
        assert set(table["seed"]) == {0, 1}
    leaky = runs[runs["activation.name"] == "leaky"]
    assert (leaky["activation.alpha"] == leaky["alpha"]).all()
    assert set(swept_keys(runs)) == {"alpha", "activation.name", "activation.alpha", "optimizer.lr"}
    assert arm_keys(runs) == ["activation.name", "alpha", "optimizer.lr"]  # seed is not an arm
    # final values are the last row of each network; the aggregate matches the run folders
    for _, row in trained.iterrows():
        own = pd.read_parquet(Path(row["run_dir"]) / "metrics.parquet")
        last = own[own["seed"] == row["seed"]].iloc[-1]
        assert row["epochs"] == last["epoch"] == 2
        assert row["final_val_loss"] == last["val_loss"]
        assert row["final_dead_frac"] == last["dead_frac"]
        assert row["best_val_loss"] == own.loc[own["seed"] == row["seed"], "val_loss"].min()
        mine = metrics[metrics["run_dir"] == row["run_dir"]].drop(columns=["run_dir", "max_epochs"])
        pd.testing.assert_frame_equal(mine.reset_index(drop=True), own)
    for name in PLOTS:
        png = (sweep_dir / name).read_bytes()
        assert png[:4] == b"\x89PNG" and len(png) > 10_000, name
    # log: a progress line per job (n of N) and a summary line per arm
    out = proc.stdout + proc.stderr
    progress = re.findall(r"\[(\d+) of (\d+)\] job #\d+ done .*(?:val_loss=|not trained, the same network as job #)",
                          out)
    assert sorted(int(n) for n, _ in progress) == list(range(1, N_JOBS + 1))
    assert {total for _, total in progress} == {str(N_JOBS)}
    assert len(re.findall(r"job #[23] done .*not trained, the same network as job #[01]", out)) == 2
    arm_lines = re.findall(r"activation=(relu|leaky), alpha=[\d.]+, optimizer.lr=[\d.]+: final val_loss"
                           r" [\d.]+, dead_frac [\d.]+, val_acc [\d.]+, mean over 2 of 2 networks", out)
    assert len(arm_lines) == 6
    summary = (sweep_dir / "sweep_summary.txt").read_text()
    assert "fixed: dataset=moons" in summary and len(summary.splitlines()) == 2 + 6 + 1
    assert summary.splitlines()[0].startswith("8 run folders (0 failed, 2 not trained (repeats)), 12 networks")
    assert summary.splitlines()[-1].startswith("2 jobs not trained, the same network as another job "
                                               "(activation=relu has no negative slope")


def test_jobs_that_are_the_same_network_run_once(tmp_path):
    """relu has no negative slope: swept over alpha, its second job is the first
    job's network.  It is not trained; the sweep says so in words before the first
    job; the runs table still lists it, pointing at the folder that trained it."""
    proc = sweep(tmp_path / "s", "activation=relu,leaky", "alpha=0.1,0.3", *FAST, NO_PLOTS)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    trained = sorted(p.parent.name for p in (tmp_path / "s").glob("*/metrics.parquet"))
    assert trained == ["0", "2", "3"]  # job 1 (relu, alpha=0.3) is job 0's network
    assert ("1 of 4 jobs not trained, each the same network as an earlier job (activation=relu has no negative "
            "slope, so alpha changes nothing): #1 as #0; the aggregate lists every job") in out
    runs = pd.read_parquet(tmp_path / "s" / "sweep_runs.parquet")
    assert sorted(Path(d).name for d in runs["run_dir"]) == ["0", "1", "2", "3"]
    row = runs[runs["status"] == "repeat"].iloc[0]
    assert Path(row["run_dir"]).name == "1" and Path(row["same_as"]).name == "0"
    assert row["activation.name"] == "relu" and row["alpha"] == 0.0 and np.isnan(row["final_val_loss"])
    assert "alpha=0.3 trains the same network as alpha=0.1" in row["error"]
    assert (runs.loc[runs["status"] != "repeat", "status"] == "ok").all()
    metrics = pd.read_parquet(tmp_path / "s" / "sweep_metrics.parquet")
    assert sorted({Path(d).name for d in metrics["run_dir"]}) == ["0", "2", "3"]  # each network's curve once
    summary = (tmp_path / "s" / "sweep_summary.txt").read_text()
    assert "4 run folders (0 failed, 1 not trained (repeats)), 3 networks" in summary
    assert "1 job not trained, the same network as another job" in summary


# ------------------------------------------------------------------ launchers
def test_joblib_launcher_gives_identical_tables(basic_sweep, tmp_path):
    proc = sweep(tmp_path / "joblib", *GRID, *FAST, NO_PLOTS, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for mine, ref in zip(tables(tmp_path / "joblib"), tables(basic_sweep[0])):
        pd.testing.assert_frame_equal(canonical(mine), canonical(ref), check_exact=True)
    progress = re.findall(r"\[(\d+) of 8\] job #\d+ done", proc.stdout + proc.stderr)
    assert sorted(int(n) for n in progress) == list(range(1, N_JOBS + 1))


def test_submitit_local_launcher_runs_the_same_code(basic_sweep, tmp_path):
    proc = sweep(tmp_path / "submitit", "activation=relu,leaky", "alpha=0.3", "optimizer.lr=0.5", "seeds=2", *FAST,
                 NO_PLOTS, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics, runs = tables(tmp_path / "submitit")
    assert len(runs) == 4 and (runs["status"] == "ok").all()
    assert sorted(runs["alpha"]) == [0.0, 0.0, 0.3, 0.3]
    ref_metrics, ref_runs = tables(basic_sweep[0])
    pick = lambda t: t[((t["alpha"] == 0.3) | (t["activation.name"] == "relu")) & (t["optimizer.lr"] == 0.5)  # noqa: E731
                       & (t["status"] != "repeat" if "status" in t else True)]
    pd.testing.assert_frame_equal(canonical(runs), canonical(pick(ref_runs)), check_exact=True)
    pd.testing.assert_frame_equal(canonical(metrics), canonical(pick(ref_metrics)), check_exact=True)
    assert not (tmp_path / "submitit" / "sweep_loss.png").exists()  # plots=false honoured


# ------------------------------------------------------------------ failures
def test_failed_job_is_recorded_and_the_sweep_exits_nonzero(failed_sweep):
    sweep_dir, proc = failed_sweep
    assert proc.returncode == 1
    # jobs: 0 good.csv seed=0, 1 good.csv seed=1, 2 one.csv seed=0, 3 one.csv seed=1
    bad = [sweep_dir / "2", sweep_dir / "3"]
    for folder in bad:
        assert re.search(re.escape(str(folder)) + r" \(.*one\.csv.*\): ConfigError: dataset.target=.*single class",
                         proc.stderr)
    metrics, runs = tables(sweep_dir)  # the aggregate was written before exiting
    assert len(runs) == 4
    failed = runs[runs["status"] == "failed"]
    assert failed["run_dir"].tolist() == [str(b) for b in bad] and failed["seed"].isna().all()
    assert failed["error"].str.contains("single class").all() and failed["dataset.path"].str.endswith("one.csv").all()
    ok = runs[runs["status"] == "ok"]
    assert len(ok) == 2 and ok["dataset.path"].str.endswith("good.csv").all()
    assert np.isfinite(ok["final_val_loss"]).all()
    assert set(metrics["run_dir"]) == {str(sweep_dir / "0"), str(sweep_dir / "1")} and len(metrics) == 6
    assert arm_keys(runs) == ["dataset.path"]  # the swept seed is not an arm
    # the sweep was declared in config: its size is known for the progress lines
    out = proc.stdout + proc.stderr
    assert len(re.findall(r"\[\d of 4\] job #[23] done .*FAILED: ConfigError", out)) == 2
    assert "FAILED" in (sweep_dir / "sweep_summary.txt").read_text()


def test_a_bad_value_in_a_sweep_stops_it_before_the_first_job(tmp_path):
    """Every value of every swept key is checked first: nothing runs, one line, exit 2."""
    proc = sweep(tmp_path / "sweep", "optimizer.lr=0.1,-1", "seed=0,1", *FAST)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: invalid configuration: optimizer.lr=-1: must be > 0; the sweep did not start"]
    assert not (tmp_path / "sweep").exists()


def test_any_exception_in_a_sweep_job_is_a_failed_job(tmp_path, monkeypatch):
    import relu_study.runs.cli as cli
    from relu_study.runs.config import default_config
    from relu_study.runs.folders import read_summary

    def boom(cfg, progress=None):
        raise RuntimeError("out of cheese")

    monkeypatch.setattr(cli, "run_experiment", boom)
    summary = cli.execute(default_config(), tmp_path / "job", multirun=True)
    assert summary["status"] == "failed" and read_summary(tmp_path / "job")["error"] == "RuntimeError: out of cheese"
    with pytest.raises(RuntimeError):  # a single run still raises
        cli.execute(default_config(), tmp_path / "single", multirun=False)
    _, runs = collect(tmp_path, warn=True)
    assert runs["status"].tolist() == ["failed"] and runs["error"].item() == "RuntimeError: out of cheese"


def test_diverged_networks_are_data_not_failures(tmp_path):
    from relu_study.runs.cli import execute
    from relu_study.runs.config import default_config

    cfg = default_config(**{"epochs": 3, "seeds": 2, "dataset.n_samples": 200, "model.width": 8,
                            "activation.name": "leaky", "optimizer.lr": 50.0, "plots": False})
    execute(cfg, tmp_path / "run", multirun=True)
    _, runs = collect(tmp_path)
    assert len(runs) == 2 and set(runs["status"]) <= {"ok", "diverged"}
    div = runs[runs["status"] == "diverged"]
    assert len(div), "lr=50 should make a leaky network diverge"
    assert div["final_val_loss"].isna().all() and div["final_dead_frac"].isna().all()
    assert (div["diverged_epoch"] == div["epochs"]).all()


# ------------------------------------------------------------------ resume
def test_resume_reruns_only_incomplete_jobs(basic_sweep, tmp_path):
    sweep_dir = tmp_path / "sweep"
    shutil.copytree(basic_sweep[0], sweep_dir)
    files = sorted(sweep_dir.glob("*/metrics.parquet")) + sorted(sweep_dir.glob("*/summary.json"))
    before = {f: f.stat().st_mtime_ns for f in files}
    (sweep_dir / "5" / "metrics.parquet").unlink()  # job 5 interrupted
    proc = sweep(sweep_dir, *GRID, *FAST, NO_PLOTS)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    changed = sorted({f.parent.name for f in files if f.stat().st_mtime_ns != before[f]})
    assert changed == ["5"], changed
    assert (sweep_dir / "5" / "metrics.parquet").is_file()
    out = proc.stdout + proc.stderr
    assert out.count("already complete with the same config") == N_KEPT - 1
    assert len(re.findall(r"\[\d of 8\] job #\d done .*: skipped, already complete: val_loss=", out)) == N_KEPT - 1
    assert out.count("already recorded as the same network as job #") == 2  # the untrained jobs stay untrained
    metrics, runs = tables(sweep_dir)
    assert len(runs) == 2 * N_JOBS and len(metrics) == 3 * 2 * N_KEPT  # nothing counted twice
    ref_metrics, ref_runs = tables(basic_sweep[0])
    pd.testing.assert_frame_equal(canonical(runs), canonical(ref_runs), check_exact=True)


# ------------------------------------------------------------------ compare
def test_compare_two_sweeps(basic_sweep, failed_sweep, tmp_path, monkeypatch):
    a, b = basic_sweep[0], failed_sweep[0]
    proc = subprocess.run([sys.executable, "-m", "relu_study.compare", str(a), str(b), str(a / "3"),
                           "--by", "activation.name,optimizer.lr", "--out", str(tmp_path / "cmp")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert str(tmp_path / "cmp") in proc.stdout
    metrics, runs = tables(tmp_path / "cmp")
    assert len(runs) == 2 * N_JOBS + 4  # a/3 given twice, read once (a job not trained: rows); failed jobs are rows
    assert len(metrics) == 3 * (2 * N_KEPT + 2)
    assert set(runs["run_dir"]) == set(tables(a)[1]["run_dir"]) | set(tables(b)[1]["run_dir"])
    arms = re.findall(r"^activation=(\w+), optimizer.lr=([-\d.]+): ", proc.stdout, flags=re.M)
    assert sorted(arms) == sorted([("relu", "0.05"), ("relu", "0.5"), ("leaky", "0.05"), ("leaky", "0.5"),
                                   ("relu", "0.1")])
    assert "2 jobs not trained, the same network as another job" in (tmp_path / "cmp" / "sweep_summary.txt").read_text()
    assert (tmp_path / "cmp" / "sweep_loss.png").is_file()
    # default output: a new compare/ folder in the working directory, never overwritten
    from relu_study.sweeps.compare import main

    monkeypatch.chdir(tmp_path)
    assert main([str(a / "0"), "--no-plots"]) == 0 and main([str(a / "0"), "--no-plots"]) == 0
    assert (tmp_path / "compare" / "sweep_runs.parquet").is_file()
    assert (tmp_path / "compare-1" / "sweep_runs.parquet").is_file()
    assert main([str(a), "--by", "no.such.key"]) == 2
    # a path that is not there: one line, exit 2, nothing created
    nothing = subprocess.run([sys.executable, "-m", "relu_study.compare", str(tmp_path / "nope")], cwd=tmp_path / "cmp",
                             capture_output=True, text=True, timeout=120)
    assert nothing.returncode == 2 and len(nothing.stderr.strip().splitlines()) == 1
    assert nothing.stderr.startswith("error: ") and not (tmp_path / "cmp" / "compare").exists()
    bad_flag = subprocess.run([sys.executable, "-m", "relu_study.compare", str(a), "--bogus"], capture_output=True,
                              text=True, timeout=120)
    assert bad_flag.returncode == 2 and bad_flag.stderr.strip().splitlines() == [
        "error: unrecognized arguments: --bogus (python -m relu_study.compare --help)"]


# ------------------------------------------------------------------ the job list
def test_every_job_of_the_sweep_is_accounted_for(tmp_path):
    """From the job list: a finished job is rows, a job that left no result is a
    failed row with the reason, a folder of an earlier sweep is named and left out."""
    from relu_study.runs.cli import execute
    from relu_study.runs.config import default_config
    from relu_study.runs.manifest import append_event, start_manifest
    from relu_study.sweeps.aggregate import gather

    cfg = default_config(**{"epochs": 1, "dataset.n_samples": 100, "model.width": 4, "plots": False})
    sweep_dir = tmp_path / "S"
    jobs = [[f"seed={i}"] for i in range(5)]
    start_manifest(sweep_dir, 5, "BasicSweeper", jobs)
    execute(cfg, sweep_dir / "0", multirun=True)  # finished
    # 4: finished earlier, and a launcher that skips finished jobs did not start it again
    execute({**cfg, "seed": 4}, sweep_dir / "4", multirun=True)
    (sweep_dir / "4" / ".hydra").mkdir()
    (sweep_dir / "4" / ".hydra" / "overrides.yaml").write_text("- seed=4\n")
    (sweep_dir / "1" / ".hydra").mkdir(parents=True)  # killed while training: only Hydra's record
    (sweep_dir / "1" / ".hydra" / "config.yaml").write_text("seed: 1\nalpha: 0.3\n")
    for num in (0, 1, 3):  # 2 never started; 3 started, and its folder is gone
        append_event(sweep_dir, {"event": "start", "num": num, "dir": str(num), "overrides": jobs[num]})
    execute({**cfg, "seed": 9}, sweep_dir / "9", multirun=True)  # an earlier sweep's job
    found = gather(sweep_dir)
    runs = found.runs.set_index(found.runs["run_dir"].map(lambda d: Path(d).name))
    assert sorted(runs.index) == ["0", "1", "2", "3", "4"]
    assert runs.loc["0", "status"] == "ok" and runs.loc["4", "status"] == "ok" and runs.loc["4", "seed"] == 4
    assert runs.loc["1", "error"].startswith("no result: no readable summary.json")
    assert runs.loc["2", "error"].startswith("not run: the job never started") and runs.loc["2", "seed"] is pd.NA
    assert runs.loc["3", "error"].startswith("no result: the job's folder holds nothing")
    assert found.stale == [(sweep_dir.resolve(), [(sweep_dir / "9").resolve()])]
    assert set(found.metrics["run_dir"]) == {str((sweep_dir / n).resolve()) for n in ("0", "4")}
    assert "not jobs of this sweep (left by an earlier sweep): 9" in found.notes()[0]
    # named on its own, a folder is read whatever the job list says
    assert set(gather(sweep_dir / "9").runs["seed"]) == {9}


# ------------------------------------------------------------------ broken folders
def test_aggregation_skips_corrupt_and_incomplete_folders(basic_sweep, tmp_path):
    for name in ("0", "1", "2", "3"):
        shutil.copytree(basic_sweep[0] / name, tmp_path / name)
    corrupt = tmp_path / "1" / "metrics.parquet"
    corrupt.write_bytes(corrupt.read_bytes()[:100])  # truncated
    (tmp_path / "2" / "summary.json").unlink()  # interrupted before the summary
    (tmp_path / "3" / "summary.json").write_text("{not json")
    with pytest.warns(IncompleteRunWarning) as record:
        metrics, runs = collect(tmp_path)
    messages = [str(w.message) for w in record]
    for name in ("1", "2", "3"):
        assert any(str(tmp_path / name) in m for m in messages), (name, messages)
    assert set(runs["run_dir"]) == {str(tmp_path / "0")} and len(runs) == 2
    assert set(metrics["run_dir"]) == {str(tmp_path / "0")}
