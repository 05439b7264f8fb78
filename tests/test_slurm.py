"""Sweeps on a real SLURM cluster (``hydra/launcher=slurm``).

The cluster is the session fixture ``slurm_cluster`` (``tests/slurm_cluster.py``):
slurmctld, slurmd and munged started on this machine.  Every sweep is a
``python -m relu_study -m hydra/launcher=slurm ...`` subprocess, as a user types
it, with tiny settings.  Where SLURM is not installed (or not root) these tests
skip, unless ``RELU_STUDY_REQUIRE_SLURM=1`` (set by ``.ci/run``).

The tests at the bottom need no cluster: the preset's sbatch script, and how job
states are read from ``sacct`` or ``squeue`` (with fake commands).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FAST = ["epochs=2", "dataset.n_samples=200", "model.width=8", "plots=false", "save_params=false"]
NO_PLOTS = "++hydra.callbacks.aggregate.plots=false"
SLURM = "hydra/launcher=slurm"
SORT = ["activation.name", "optimizer.lr", "seed", "epoch"]


def command(sweep_dir: Path, *overrides) -> list[str]:
    return [sys.executable, "-m", "relu_study", "-m", *overrides, f"hydra.sweep.dir={sweep_dir}"]


def sweep(sweep_dir: Path, *overrides, env=None, timeout=180) -> subprocess.CompletedProcess:
    sweep_dir.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run(command(sweep_dir, *overrides), cwd=sweep_dir.parent, env=env, capture_output=True,
                          text=True, timeout=timeout)


def start_sweep(sweep_dir: Path, *overrides, env=None) -> subprocess.Popen:
    sweep_dir.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(command(sweep_dir, *overrides), cwd=sweep_dir.parent, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen, timeout=180) -> subprocess.CompletedProcess:
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def tables(sweep_dir: Path):
    return pd.read_parquet(sweep_dir / "sweep_metrics.parquet"), pd.read_parquet(sweep_dir / "sweep_runs.parquet")


def canonical(table: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in SORT if c in table.columns]
    return table.drop(columns="run_dir").sort_values(cols, kind="stable").reset_index(drop=True)


def arrays(sweep_dir: Path) -> list[str]:
    """The SLURM job arrays submitted for a sweep, from submitit's log folders (``<array>_<task>``)."""
    folder = sweep_dir / ".submitit"
    found = {p.name.split("_")[0] for p in folder.glob("*_*") if p.is_dir()} if folder.is_dir() else set()
    return sorted(found, key=int)


def wait_for(condition, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the sweep ended before {what}:\n{out[-2000:]}\n{err[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {timeout:.0f} s")
        time.sleep(0.2)


def counts(out: str) -> list[tuple[int, int, int]]:
    """(queued, running, done) of every progress line."""
    found = re.findall(r"SLURM job array \d+: (\d+) queued, (\d+) running, (\d+) done", out)
    return [tuple(map(int, m)) for m in found]


def complete(run_dir: Path) -> bool:
    from relu_study.runs.folders import is_complete

    return is_complete(run_dir)


#: epochs of the jobs that must still run when they are cancelled or reach their time limit: far
#: more than a minute of training on any machine (100,000 epochs of 200 samples took under 45 s
#: on an idle machine, so the job ended "ok" before its one-minute limit)
LONG = 50_000_000


# ------------------------------------------------------------------ jobs that fail, are cancelled, time out
@pytest.fixture(scope="module")
def troubled_start(slurm_cluster, tmp_path_factory):
    """Start a sweep of four jobs: #0 fine, #1 failing as it runs (its data), #2 cancelled
    with scancel while it runs, #3 long enough to reach its time limit (one
    minute, SLURM's smallest).

    SLURM checks time limits every 30 s and warns a job at the first check once
    less than ``signal_delay_s`` + 30 s are left: with 15 s, 15 to 45 s after
    it starts (by then the job handles the signal).  So this sweep takes 30 to
    60 s; it is started by the first cluster test and runs beside the others,
    and a thread cancels job #2 once it runs.  :func:`troubled_sweep` waits for
    the end."""
    root = tmp_path_factory.mktemp("troubled")
    sweep_dir = root / "sweep"
    # one config per job (+job=ok,bad,long,limit); bad's table has a single class, which only
    # loading it tells, so the sweep starts (every value is valid) and that job fails as it runs
    jobs = root / "conf" / "job"
    jobs.mkdir(parents=True)
    pd.DataFrame({"a": np.linspace(-1, 1, 60), "y": np.ones(60, int)}).to_csv(root / "one.csv", index=False)
    small = "dataset:\n  n_samples: 200\n"
    for name, text in (("ok", "epochs: 2\n" + small),
                       ("bad", f"defaults:\n  - override /dataset: table\nepochs: 2\n"
                               f"dataset:\n  path: {root / 'one.csv'}\n  target: y\n"),
                       ("long", f"epochs: {LONG}\n" + small), ("limit", f"epochs: {LONG + 1}\n" + small)):
        (jobs / f"{name}.yaml").write_text("# @package _global_\n" + text)
    proc = start_sweep(sweep_dir, "--config-dir", str(root / "conf"), SLURM, "+job=ok,bad,long,limit", *FAST[2:],
                       NO_PLOTS, "hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=15",
                       env=slurm_cluster.env)
    cancelled: dict = {}

    def cancel_job_2():
        try:
            (array,) = wait_for(lambda: arrays(sweep_dir), 90, "job array", proc)
            job = f"{array}_2"
            wait_for(lambda: slurm_cluster.jobs().get(job) == "RUNNING" and (sweep_dir / "2").is_dir(), 90,
                     f"job {job} running", proc)
            slurm_cluster.run("scancel", job)
            cancelled["array"] = array
        except BaseException as exc:  # noqa: BLE001 - reported by the tests
            cancelled["error"] = exc

    thread = threading.Thread(target=cancel_job_2, daemon=True)
    thread.start()
    yield sweep_dir, proc, thread, cancelled
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


@pytest.fixture(scope="module")
def troubled_sweep(troubled_start):
    sweep_dir, proc, thread, cancelled = troubled_start
    result = finish(proc)
    thread.join(timeout=10)
    if "error" in cancelled:
        raise cancelled["error"]
    return sweep_dir, cancelled["array"], result


# ------------------------------------------------------------------ a sweep, as with the basic launcher
GRID = ["activation=relu,leaky", "optimizer.lr=0.05,0.5", "seeds=2"]  # 4 jobs, 2 networks each


def test_slurm_sweep_gives_the_basic_launchers_tables_bit_for_bit(slurm_cluster, troubled_start, tmp_path):
    basic = sweep(tmp_path / "basic", *GRID, *FAST, NO_PLOTS)
    assert basic.returncode == 0, basic.stderr[-3000:]
    proc = sweep(tmp_path / "slurm", SLURM, "hydra.launcher.array_parallelism=2", *GRID, *FAST, NO_PLOTS,
                 env=slurm_cluster.env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    for mine, ref in zip(tables(tmp_path / "slurm"), tables(tmp_path / "basic")):
        assert len(mine) == len(ref) > 0
        pd.testing.assert_frame_equal(canonical(mine), canonical(ref), check_exact=True)
    # one job array of 4 tasks, at most 2 at once (hydra.launcher.array_parallelism)
    (array,) = arrays(tmp_path / "slurm")
    script = (tmp_path / "slurm" / ".submitit" / array / f"{array}_submission.sh").read_text()
    assert "#SBATCH --array=0-3%2" in script and "#SBATCH --partition" not in script
    assert f"submitted 4 jobs as SLURM job array {array} (2 at once)" in out
    # the cluster has no accounting database: no sacct warnings, squeue instead
    assert "sacct" not in out and "Bypassing" not in out
    # progress: queued / running / done counts, from none done to all done
    seen = counts(out)
    assert seen[0][2] == 0 and sum(seen[0]) == 4 and seen[-1] == (0, 0, 4), seen
    assert [d for _, _, d in seen] == sorted(d for _, _, d in seen)
    assert all(running <= 2 for _, running, _ in seen), seen
    # each job's log is in <sweep>/.submitit/<array>_<task>/, with the job's own progress line
    for task in range(4):
        log = (tmp_path / "slurm" / ".submitit" / f"{array}_{task}" / f"{array}_{task}_0_log.out").read_text()
        assert re.search(rf"job #{task} done .*val_loss=", log), log[-2000:]


# ------------------------------------------------------------------ resume
def test_resume_after_cancelling_the_whole_sweep_does_not_resubmit_finished_jobs(slurm_cluster, tmp_path):
    """The jobs are submitted held; the test releases job #0, waits for it, then
    cancels the whole array (#1 and #2 still queued).  Running the command again
    submits only #1 and #2."""
    sweep_dir = tmp_path / "sweep"
    grid = [SLURM, "optimizer.lr=0.05,0.1,0.5", *FAST, NO_PLOTS]
    first = start_sweep(sweep_dir, *grid, "++hydra.launcher.additional_parameters.hold=true", env=slurm_cluster.env)
    (array,) = wait_for(lambda: arrays(sweep_dir), 60, "job array", first)
    slurm_cluster.run("scontrol", "release", f"{array}_0")
    wait_for(lambda: complete(sweep_dir / "0"), 60, "job #0 complete", first)
    slurm_cluster.run("scancel", array)
    first = finish(first)
    assert first.returncode == 1, first.stdout[-3000:] + first.stderr[-3000:]
    for n in (1, 2):
        assert re.search(re.escape(str(sweep_dir / str(n))) + rf"(?: \(.*\))?: SLURM job {array}_{n} "
                         r"was cancelled \(scancel\) before it started", first.stderr), first.stderr[-3000:]
    done = {p: p.stat().st_mtime_ns for p in (sweep_dir / "0").rglob("*") if p.is_file()}

    again = sweep(sweep_dir, *grid, env=slurm_cluster.env)
    out = again.stdout + again.stderr
    assert again.returncode == 0, out[-4000:]
    assert "#0 : optimizer.lr=0.05 " in out and "(already complete)" in out
    assert "1 of 3 jobs already complete with the same config: not submitted again" in out
    new = [a for a in arrays(sweep_dir) if a != array]
    assert len(new) == 1 and sorted(p.name for p in (sweep_dir / ".submitit").glob(f"{new[0]}_*")) == \
        [f"{new[0]}_0", f"{new[0]}_1"]  # two array tasks: jobs #1 and #2
    assert {p: p.stat().st_mtime_ns for p in done} == done  # job #0's folder untouched
    _, runs = tables(sweep_dir)
    assert len(runs) == 3 and (runs["status"] == "ok").all()
    assert sorted(runs["optimizer.lr"]) == [0.05, 0.1, 0.5]


# ------------------------------------------------------------------ two sweeps at once
def test_two_sweeps_queued_at_once_stay_apart(slurm_cluster, tmp_path):
    a = start_sweep(tmp_path / "a", SLURM, "seed=0,1", *FAST, NO_PLOTS, env=slurm_cluster.env)
    b = start_sweep(tmp_path / "b", SLURM, "seed=2,3", *FAST, NO_PLOTS, env=slurm_cluster.env)
    a, b = finish(a), finish(b)
    for proc in (a, b):
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        seen = counts(proc.stdout + proc.stderr)
        assert seen[0][2] == 0 and sum(seen[0]) == 2 and seen[-1] == (0, 0, 2), seen
    assert set(arrays(tmp_path / "a")).isdisjoint(arrays(tmp_path / "b"))
    for name, seeds in (("a", [0, 1]), ("b", [2, 3])):
        metrics, runs = tables(tmp_path / name)
        assert sorted(runs["seed"]) == seeds and (runs["status"] == "ok").all()
        assert set(runs["run_dir"]) == {str(tmp_path / name / str(n)) for n in range(2)}
        assert set(metrics["run_dir"]) == set(runs["run_dir"])


# ------------------------------------------------------------------ the troubled sweep's outcome
def test_failed_job_is_named_and_the_others_are_aggregated(troubled_sweep):
    sweep_dir, _, proc = troubled_sweep
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(re.escape(str(sweep_dir / "1")) + r" \(\+job=bad .*\): ConfigError: dataset.target='y': "
                     r"the target has a single class", proc.stderr), proc.stderr[-3000:]
    metrics, runs = tables(sweep_dir)
    assert len(runs) == 4 and runs["run_dir"].nunique() == 4
    ok = runs[runs["status"] == "ok"]
    assert ok["run_dir"].tolist() == [str(sweep_dir / "0")] and (ok["max_epochs"] == 2).all()
    assert set(metrics["run_dir"]) == {str(sweep_dir / "0")} and len(metrics) == 3


def test_cancelled_job_is_a_failed_job_with_the_reason(troubled_sweep):
    sweep_dir, array, proc = troubled_sweep
    _, runs = tables(sweep_dir)
    row = runs.set_index("run_dir").loc[str(sweep_dir / "2")]
    assert row["status"] == "failed" and pd.isna(row["seed"]) and row["max_epochs"] == LONG
    assert row["error"].startswith(f"SLURM job {array}_2 was cancelled (scancel); log: "), row["error"]
    assert re.search(re.escape(str(sweep_dir / "2")) + r" \(\+job=long .*\): SLURM job \d+_2 was cancelled",
                     proc.stderr)


def test_job_at_its_time_limit_is_a_failed_job_with_the_reason(troubled_sweep):
    sweep_dir, array, proc = troubled_sweep
    _, runs = tables(sweep_dir)
    row = runs.set_index("run_dir").loc[str(sweep_dir / "3")]
    assert row["status"] == "failed" and row["max_epochs"] == LONG + 1
    assert f"SLURM job {array}_3 reached its time limit (timeout_min=1)" in row["error"], row["error"]
    assert re.search(re.escape(str(sweep_dir / "3")) + r" \(\+job=limit .*\): SlurmTimeLimit: ", proc.stderr)
    assert "3 of 4 jobs failed" in proc.stderr


# ------------------------------------------------------------------ without a cluster
def test_slurm_preset_builds_an_sbatch_script(tmp_path, monkeypatch):
    """``hydra/launcher=slurm`` composes onto Hydra's submitit_slurm launcher with
    relu_study's class, and submitit turns it into a valid sbatch script."""
    pytest.importorskip("submitit")
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    import relu_study.runs.cli  # noqa: F401 - registers the schema (base_config)

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="relu_study.conf", version_base="1.3"):
        cfg = compose("config", overrides=["hydra/launcher=slurm", "hydra.launcher.partition=cpu",
                                           "hydra.launcher.array_parallelism=8", f"hydra.sweep.dir={tmp_path}"],
                      return_hydra_config=True)
    GlobalHydra.instance().clear()
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    assert launcher["_target_"] == "hydra_plugins.relu_study_launcher.slurm_launcher.SlurmLauncher"
    assert cfg.hydra.callbacks.slurm_launcher._target_ == "relu_study.sweeps.slurm.RegisterLauncher"
    assert cfg.hydra.callbacks.aggregate._target_.endswith("AggregateCallback")  # still there
    assert launcher["partition"] == "cpu" and launcher["cpus_per_task"] == 1 and launcher["array_parallelism"] == 8
    fake_bin = tmp_path / "bin"  # submitit refuses to build an executor without srun
    fake_bin.mkdir()
    (fake_bin / "srun").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    from relu_study.sweeps.slurm import SlurmLauncher

    launcher.pop("_target_")
    executor = SlurmLauncher(**{**launcher, "submitit_folder": str(tmp_path / ".submitit" / "%j"),
                                "name": "relu_study"})._executor()
    executor._executor.parameters["map_count"] = 20  # what an array of 20 jobs adds
    script = executor._executor._make_submission_file_text("python -u -m submitit.core._submit x", "uid")
    for line in ("#SBATCH --partition=cpu", "#SBATCH --cpus-per-task=1", "#SBATCH --mem=2GB",
                 "#SBATCH --time=60", "#SBATCH --array=0-19%8", "#SBATCH --signal=USR2@120",
                 "export OMP_NUM_THREADS=1"):
        assert line in script, (line, script)


def test_a_typo_in_a_launcher_key_stops_at_composition(tmp_path):
    proc = subprocess.run(command(tmp_path / "sweep", SLURM, "hydra.launcher.partiton=cpu", "epochs=1"),
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "partiton" in proc.stderr
    assert not (tmp_path / "sweep" / ".submitit").exists()


def _fake_commands(folder: Path, sacct: str | None, squeue: str) -> dict:
    """A PATH with ``sacct`` and ``squeue`` scripts: ``sacct`` prints its text or
    fails like a cluster without accounting; ``squeue`` prints its text."""
    folder.mkdir()
    fail = 'echo "Slurm accounting storage is disabled" >&2; exit 1'
    (folder / "sacct").write_text("#!/bin/sh\n" + (fail if sacct is None else f"cat <<'EOF'\n{sacct}EOF\n"))
    (folder / "squeue").write_text(f"#!/bin/sh\necho \"$@\" >> {folder}/squeue.args\ncat <<'EOF'\n{squeue}EOF\n")
    for name in ("sacct", "squeue"):
        (folder / name).chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def test_job_states_come_from_squeue_when_sacct_fails(tmp_path, monkeypatch, caplog):
    pytest.importorskip("submitit")
    from relu_study.sweeps.slurm import JobStates

    env = _fake_commands(tmp_path / "bin", sacct=None,
                         squeue="57_0|COMPLETED\n57_1|CANCELLED\n57_2|RUNNING\n57_[3-4%2]|PENDING\n")
    monkeypatch.setenv("PATH", env["PATH"])
    states = JobStates()
    ids = [f"57_{i}" for i in range(6)]
    with caplog.at_level("DEBUG", logger="relu_study"):
        got = states.update(ids)
    assert states.use_squeue
    assert got == {"57_0": "COMPLETED", "57_1": "CANCELLED", "57_2": "RUNNING", "57_3": "PENDING",
                   "57_4": "PENDING", "57_5": "GONE"}  # 57_5: not listed any more
    assert not [r for r in caplog.records if r.levelno >= 30]  # quiet: nothing above debug
    assert "--jobs=57" in (tmp_path / "bin" / "squeue.args").read_text()


def test_job_states_come_from_sacct_when_it_works(tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    from relu_study.sweeps.slurm import JobStates

    env = _fake_commands(tmp_path / "bin", sacct="JobID|State\n57_0|CANCELLED by 0\n57_0.batch|CANCELLED\n"
                                                 "57_1|TIMEOUT\n", squeue="")
    monkeypatch.setenv("PATH", env["PATH"])
    states = JobStates()
    assert states.update(["57_0", "57_1", "57_2"]) == {"57_0": "CANCELLED", "57_1": "TIMEOUT"}
    assert not states.use_squeue  # 57_2: not yet in the database, still unknown (not GONE)
    assert not (tmp_path / "bin" / "squeue.args").exists()


def _launcher_and_job(tmp_path, job_id="57_1"):
    """The launcher with the preset's parameters and one submitted job, faked:
    its submitit job has an id and log paths and no result file."""
    from types import SimpleNamespace

    from relu_study.sweeps.slurm import SlurmLauncher, _Job

    from omegaconf import OmegaConf

    from relu_study.runs.manifest import start_manifest

    launcher = SlurmLauncher(submitit_folder=str(tmp_path / ".submitit" / "%j"), timeout_min=1, max_num_timeout=0)
    launcher.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})  # as Hydra's setup() gives it
    start_manifest(tmp_path, 2, "BasicSweeper", [["optimizer.lr=0.1"], ["optimizer.lr=0.5"]])  # the sweep's job list
    logs = tmp_path / ".submitit" / job_id
    paths = SimpleNamespace(result_pickle=logs / f"{job_id}_0_result.pkl", stderr=logs / f"{job_id}_0_log.err")
    job = _Job(1, ["optimizer.lr=0.5"], tmp_path / "1", config={"optimizer": {"lr": 0.5}})
    job.slurm = SimpleNamespace(job_id=job_id, paths=paths)
    return launcher, job


@pytest.mark.parametrize("state, reason", [
    ("TIMEOUT", "was killed at its time limit (timeout_min=1); log: "),
    ("OUT_OF_MEMORY", "was killed: out of memory; log: "),
    ("NODE_FAIL", "was lost: its node failed; log: "),
    ("CANCELLED", "was cancelled (scancel); log: "),
])
def test_a_job_slurm_ended_without_a_result_is_recorded_as_failed(tmp_path, state, reason):
    """What the launcher writes when SLURM reports a job ended and it left no
    result (the cluster tests reach TIMEOUT only through the warning signal)."""
    pytest.importorskip("submitit")
    from relu_study.runs.folders import read_summary

    launcher, job = _launcher_and_job(tmp_path)
    job.slurm.paths.stderr.parent.mkdir(parents=True)
    job.slurm.paths.stderr.write_text("slurmstepd: error: *** JOB 57 ON vm CANCELLED ***\n")
    assert launcher._finish(job, "RUNNING", now=0.0) is False
    assert launcher._finish(job, state, now=0.0) is True
    summary = read_summary(tmp_path / "1")
    assert summary["status"] == "failed" and summary["complete"] is False and summary["slurm_state"] == state
    assert summary["error"] == f"SLURM job 57_1 {reason}{job.slurm.paths.stderr}"
    assert summary["config"] == {"optimizer": {"lr": 0.5}}  # the failed row keeps its config columns
    # a completed JobReturn, so the sweep goes on, whose value is what every failed sweep job returns
    assert job.failed and job.returned.status.name == "COMPLETED" and job.returned.return_value == math.inf
    assert summary["provenance"]["command"] == "python -m relu_study optimizer.lr=0.5"
    # entered in the sweep's job list as a job of this sweep that ended, so the aggregate counts it
    from relu_study.runs.manifest import read_manifest

    manifest = read_manifest(tmp_path)
    assert manifest.folder(1) == tmp_path / "1" and 1 in manifest.ended


def test_a_job_that_ended_normally_gets_time_for_its_result_file(tmp_path):
    pytest.importorskip("submitit")
    from relu_study.runs.folders import read_summary
    from relu_study.sweeps.slurm import RESULT_GRACE_S

    launcher, job = _launcher_and_job(tmp_path)
    assert launcher._finish(job, "COMPLETED", now=100.0) is False  # a shared filesystem may show it late
    assert launcher._finish(job, "COMPLETED", now=100.0 + RESULT_GRACE_S / 2) is False
    assert launcher._finish(job, "COMPLETED", now=100.0 + RESULT_GRACE_S) is True
    assert read_summary(tmp_path / "1")["error"] == "SLURM job 57_1 ended without writing its result; it wrote no log"


def test_a_run_folder_that_says_how_it_ended_is_left_alone(tmp_path):
    """A job cancelled after it wrote its results, or one that recorded its own
    failure, keeps its summary."""
    pytest.importorskip("submitit")
    from relu_study.runs.folders import SUMMARY_FILE, read_summary, write_json

    launcher, job = _launcher_and_job(tmp_path)
    own = {"status": "failed", "error": "ConfigError: optimizer.lr=-1.0: must be > 0", "complete": False}
    write_json(tmp_path / "1" / SUMMARY_FILE, own)
    assert launcher._finish(job, "CANCELLED", now=0.0) is True
    assert read_summary(tmp_path / "1") == own and job.failed
