"""The second fault trial (issue 26): the README's guarantees at their edges.

Each test is a case the trial found broken, checked the way a user meets it (a
real ``python -m relu_study`` subprocess for the command line): a finished run
kept by a rejected ``overwrite=true``, one sweep per sweep folder, an earlier
grid's finished jobs left alone, tables read strictly, locks told as stale, and
the Python API's errors as the command line's one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from test_guarantees import FAST, NO_SWEEP_PLOTS, QUIET, TABLE, cli, one_error_line


def _files(folder: Path) -> dict:
    """Every file under ``folder`` with its content (what a rejected command must not change)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _good_table(path: Path, n=80) -> Path:
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "y": np.arange(n) % 2}).to_csv(path, index=False)
    return path


# ------------------------------------------------------------------ 1. a rejected overwrite keeps the finished run
@pytest.mark.parametrize("bad", [
    ["dataset=table", "dataset.path=good.csv", "dataset.target=zz", *TABLE],
    ["dataset.n_samples=3", *FAST[:1], "model.width=8", "progress=false"],
])
def test_rejected_overwrite_keeps_the_finished_run(tmp_path, bad):
    _good_table(tmp_path / "good.csv")
    out = tmp_path / "ow"
    first = cli(tmp_path, *FAST, *QUIET, f"hydra.run.dir={out}")
    assert first.returncode == 0, first.stderr
    (out / "notes.txt").write_text("mine")
    before = _files(out)
    proc = cli(tmp_path, "overwrite=true", *bad, f"hydra.run.dir={out}")
    assert proc.returncode == 2, proc.stderr
    one_error_line(proc)
    assert _files(out) == before  # the earlier run, its .hydra/ and log, and the user's file
    # the same overwrite with good data does replace it
    good = cli(tmp_path, "overwrite=true", *FAST, "epochs=3", *QUIET, f"hydra.run.dir={out}")
    assert good.returncode == 0, good.stderr
    assert json.loads((out / "summary.json").read_text())["config"]["epochs"] == 3
    assert (out / "notes.txt").read_text() == "mine"



def _wait_for(path, proc, timeout=60.0):
    """Wait until ``path`` exists while ``proc`` is still running (fail if it ends first or time runs out)."""
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, f"{path} did not appear within {timeout} s"
        time.sleep(0.05)

# ------------------------------------------------------------------ 2. one sweep per sweep folder
def test_two_sweeps_never_share_a_sweep_folder(tmp_path):
    sweep_dir = tmp_path / "S"
    args = ["activation=leaky", *FAST[1:], *QUIET, NO_SWEEP_PLOTS, f"hydra.sweep.dir={sweep_dir}"]
    first = subprocess.Popen([sys.executable, "-m", "relu_study", "-m", "alpha=0.1,0.2", "epochs=300", *args],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(sweep_dir / "0" / "relu_study.log", first)
    second = cli(tmp_path, "-m", "alpha=0.7,0.8,0.9", "epochs=2", *args)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 2, second.stderr
    line = one_error_line(second)
    assert str(sweep_dir) in line and "another sweep" in line and f"pid {first.pid}" in line
    runs = pd.read_parquet(sweep_dir / "sweep_runs.parquet")
    assert sorted(runs["alpha"]) == [0.1, 0.2]
    assert not (sweep_dir / "2").exists()
    # the lock is gone with its sweep: a later sweep into the folder runs (and resumes the finished jobs)
    again = cli(tmp_path, "-m", "alpha=0.1,0.2", "epochs=300", *args)
    assert again.returncode == 0, again.stderr


# ------------------------------------------------------------------ 4. an earlier grid's finished jobs are left alone
def test_a_new_grid_leaves_finished_jobs_alone(tmp_path):
    sweep_dir = tmp_path / "S"
    common = ["activation=leaky", *FAST, *QUIET, NO_SWEEP_PLOTS, f"hydra.sweep.dir={sweep_dir}"]
    first = cli(tmp_path, "-m", "alpha=0.01,0.1", *common)
    assert first.returncode == 0, first.stderr
    before = _files(sweep_dir / "0")
    second = cli(tmp_path, "-m", "alpha=0.3", *common)
    assert second.returncode == 2, second.stderr
    line = one_error_line(second)
    assert "alpha=0.01" in line and "left alone" in line and "overwrite=true" in line
    assert _files(sweep_dir / "0") == before
    # overwrite=true replaces only for a job that passes its data checks
    bad = cli(tmp_path, "-m", "alpha=0.3", "overwrite=true", *common, "dataset.n_samples=3")
    assert bad.returncode == 2 and "dataset.n_samples=3" in one_error_line(bad)
    assert _files(sweep_dir / "0") == before
    # resuming the same grid is still a resume, and overwrite=true replaces
    assert cli(tmp_path, "-m", "alpha=0.01,0.1", *common).returncode == 0
    forced = cli(tmp_path, "-m", "alpha=0.3", "overwrite=true", *common)
    assert forced.returncode == 0, forced.stderr
    assert json.loads((sweep_dir / "0" / "summary.json").read_text())["config"]["alpha"] == 0.3


def test_a_new_grid_leaves_finished_jobs_alone_in_named_folders(tmp_path):
    """Job folders named by a subdir of their own (here the job number inside a
    name): the finished job of the earlier grid is found there too."""
    sweep_dir = tmp_path / "S"
    common = ["activation=leaky", *FAST, *QUIET, NO_SWEEP_PLOTS, f"hydra.sweep.dir={sweep_dir}",
              "hydra.sweep.subdir=job-${hydra.job.num}"]
    assert cli(tmp_path, "-m", "alpha=0.01,0.1", *common).returncode == 0
    before = _files(sweep_dir / "job-0")
    second = cli(tmp_path, "-m", "alpha=0.3", *common)
    assert second.returncode == 2, second.stderr
    assert "job-0/ (alpha=0.01)" in one_error_line(second)
    assert _files(sweep_dir / "job-0") == before


# ------------------------------------------------------------------ 3, 6. tables read strictly
def _write_bytes(name, data):
    def make(folder: Path) -> str:
        (folder / name).write_bytes(data)
        return name
    return make


def _write_parquet(name, frame_maker):
    def make(folder: Path) -> str:
        frame_maker().to_parquet(folder / name)
        return name
    return make


def _dup_parquet():
    import pyarrow as pa
    import pyarrow.parquet as pq

    def make(folder: Path) -> str:
        n = 60
        table = pa.table([pa.array(np.arange(n, dtype=float)), pa.array(np.arange(n) % 2),
                          pa.array(np.arange(n) % 2)], names=["a", "y", "y"])
        pq.write_table(table, folder / "dup.parquet")
        return "dup.parquet"
    return make


_ROWS = "".join(f"{i},{i % 2},{(i * 7) % 2}\n" for i in range(60))


@pytest.mark.parametrize("make, target, reason", [
    (_write_bytes("dup.csv", ("a,y,y\n" + _ROWS).encode()), "y", "duplicate column name"),
    (_write_bytes("dupf.csv", ("a,a,y\n" + _ROWS).encode()), "y", "duplicate column name"),
    (_write_bytes("latin.csv", ("a,y,caf\xe9\n" + _ROWS).encode("latin-1")), "y", "UTF-8"),
    (_write_bytes("latinv.csv", ("a,y,b\n" + _ROWS + "1,\xe9,0\n").encode("latin-1")), "y", "UTF-8"),
    (_write_bytes("fake.parquet", b"a,y\n1,0\n2,1\n"), "y", "not a Parquet file"),
    (_dup_parquet(), "y", "duplicate column name"),
    (_write_parquet("nested.parquet", lambda: pd.DataFrame({"a": np.arange(60.0),
                                                            "y": [[i % 2, 1] for i in range(60)]})),
     "y", "nested"),
])
def test_tables_are_read_strictly(tmp_path, make, target, reason):
    name = make(tmp_path)
    out = tmp_path / "R"
    proc = cli(tmp_path, "dataset=table", f"dataset.path={name}", f"dataset.target={target}", *TABLE,
               f"hydra.run.dir={out}")
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc)
    assert f"dataset.path={name}" in line and reason in line, line
    assert not out.exists()


# ------------------------------------------------------------------ 8. stale locks
def _start_ticks(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]


def test_a_dead_owners_lock_is_called_stale(tmp_path):
    import socket

    out = tmp_path / "R"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / ".relu_study.lock").write_text(f"pid {dead.pid} on {socket.gethostname()}\n")
    proc = cli(tmp_path, *FAST, *QUIET, f"hydra.run.dir={out}")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "stale" in line and f"pid {dead.pid}" in line and "overwrite=true" in line
    assert "in use" not in line
    forced = cli(tmp_path, *FAST, *QUIET, "overwrite=true", f"hydra.run.dir={out}")
    assert forced.returncode == 0, forced.stderr


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_lock_whose_pid_was_reused(tmp_path):
    """A lock naming a live process that is not its owner: the pid was reused
    (a different start time recorded, or the process started after the lock)."""
    import socket

    out = tmp_path / "R"
    out.mkdir()
    lock = out / ".relu_study.lock"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        host = socket.gethostname()
        real = _start_ticks(other.pid)
        # a start time that is not the process's: the owner ended and the pid was given again
        lock.write_text(f"pid {other.pid} on {host} started {int(real) - 1000}\n")
        proc = cli(tmp_path, *FAST, *QUIET, f"hydra.run.dir={out}")
        assert proc.returncode == 2
        line = one_error_line(proc)
        assert "stale" in line and "reused" in line and "overwrite=true" in line
        assert cli(tmp_path, *FAST, *QUIET, "overwrite=true", f"hydra.run.dir={out}").returncode == 0
        # an old lock without a start time, older than the process that has its pid now
        shutil_dir = tmp_path / "R2"
        shutil_dir.mkdir()
        (shutil_dir / ".relu_study.lock").write_text(f"pid {other.pid} on {host}\n")
        os.utime(shutil_dir / ".relu_study.lock", (time.time() - 3600, time.time() - 3600))
        proc = cli(tmp_path, *FAST, *QUIET, "overwrite=true", f"hydra.run.dir={shutil_dir}")
        assert proc.returncode == 0, proc.stderr
        # the live owner itself (its own start time) is never taken, overwrite=true or not
        lock.write_text(f"pid {other.pid} on {host} started {real}\n")
        proc = cli(tmp_path, *FAST, *QUIET, "overwrite=true", f"hydra.run.dir={out}")
        assert proc.returncode == 2 and "in use by a running process" in one_error_line(proc)
    finally:
        other.kill()
        other.wait()


def test_a_new_lock_records_the_owners_start_time(tmp_path):
    from relu_study.runs.folders import LOCK_FILE, claim_folder

    claim = claim_folder(tmp_path / "R")
    try:
        words = (tmp_path / "R" / LOCK_FILE).read_text().split()
        assert words[:2] == ["pid", str(os.getpid())]
        if Path("/proc/self/stat").exists():
            assert words[4:6] == ["started", _start_ticks(os.getpid())]
    finally:
        claim.release()


# ------------------------------------------------------------------ 9. the Python API's errors (issue 28 item 5)
@pytest.mark.parametrize("overrides, needle", [
    (["foo=1"], "foo=1: no such key"),
    (["activation=swishy"], "activation=swishy: no such option"),
    (["alpha=abc"], "alpha=abc: must be a number"),
    (["activation=leaky", "activation.alpha=0.3"], "the top-level alpha (write alpha=0.3)"),
    (["optimizer.lr=-1"], "optimizer.lr=-1"),
    (["alpha=[1,"], "cannot parse override"),
])
def test_the_api_raises_the_command_lines_line(tmp_path, overrides, needle):
    import relu_study

    out = tmp_path / "outputs" / "R"
    with pytest.raises(relu_study.ConfigError) as info:
        relu_study.run([*overrides, "epochs=1", "dataset.n_samples=60", "progress=false"], output_dir=out)
    assert isinstance(info.value, ValueError)
    text = str(info.value)
    assert needle in text and "\n" not in text, text
    assert not (tmp_path / "outputs").exists()


def test_the_api_takes_one_override_as_a_string(tmp_path):
    import relu_study

    table = relu_study.run("epochs=1")
    assert table["epoch"].max() == 1
    with pytest.raises(relu_study.ConfigError) as info:
        relu_study.run("foo=1")
    assert "foo=1" in str(info.value)
    with pytest.raises(relu_study.ConfigError, match="a list of override strings"):
        relu_study.run(42)


def test_the_api_rejects_data_without_an_empty_folder(tmp_path):
    import relu_study

    out = tmp_path / "outputs" / "R"
    with pytest.raises(relu_study.ConfigError, match="dataset.n_samples=3"):
        relu_study.run(["dataset.n_samples=3", "epochs=1"], output_dir=out)
    assert not (tmp_path / "outputs").exists()


# ------------------------------------------------------------------ 5. every entry point: its folder first, one line
def _module(cwd: Path, name: str, *args, prefix=(), timeout=120):
    return subprocess.run([*prefix, sys.executable, "-m", f"relu_study.{name}", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("command", ["reproduce", "report", "compare", "explore"])
def test_entry_points_check_their_folder_first(tmp_path, command):
    from test_guarantees import _unprivileged

    ro = tmp_path / "ro"
    ro.mkdir()
    sweeps = tmp_path / "sweeps"
    args = {"reproduce": ["--quick", "--studies", "c4_sparsity", "--sweeps", str(sweeps), "--no-readme",
                          "--out", str(ro / "out")],
            "report": [str(tmp_path), "--out", str(ro / "out")],
            "compare": [str(tmp_path), "--out", str(ro / "out")],
            "explore": ["--html", str(ro / "x.html")]}[command]
    ro.chmod(0o555)
    try:
        proc = _module(tmp_path, command, *args, prefix=_unprivileged())
    finally:
        ro.chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    line = one_error_line(proc)
    assert str(ro) in line and "Permission denied" in line, line
    assert line.count("cannot write") == 1, line
    assert list(ro.iterdir()) == []
    assert not (sweeps / "c4_sparsity").exists()  # reproduce trained nothing


def test_reproduce_interrupted_is_one_line(tmp_path):
    import signal

    sweeps = tmp_path / "sweeps"
    proc = subprocess.Popen([sys.executable, "-m", "relu_study.reproduce", "--quick", "--studies", "c1_dying",
                             "--sweeps", str(sweeps), "--no-readme", "--out", str(tmp_path / "out")],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(sweeps / "c1_dying" / "sweep_jobs.jsonl", proc)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)  # to reproduce alone: it stops its study too
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted by SIGINT") and "Traceback" not in err, err
    assert "--resume" in lines[0], lines[0]
    log = (sweeps / "c1_dying.log").read_text()
    assert "interrupted by SIGINT" in log  # the study's sweep ended as an interrupted sweep does


# ------------------------------------------------------------------ 10. an interrupted aggregate is marked unfinished
_SIGNAL_IN_AGGREGATE = """
import os, signal, sys, time
import relu_study.sweeps.aggregate as aggregate
real = aggregate._summary_text
def _summary_text(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)  # the handler raises here
    return real(*args, **kwargs)
aggregate._summary_text = _summary_text
sys.argv = ["relu_study", *sys.argv[1:]]
from relu_study.runs.cli import main
main()
"""


def test_an_interrupted_aggregate_is_marked_unfinished(tmp_path):
    sweep_dir = tmp_path / "S"
    args = ["-m", "seed=0,1", *FAST, *QUIET, NO_SWEEP_PLOTS, f"hydra.sweep.dir={sweep_dir}"]
    proc = subprocess.run([sys.executable, "-c", _SIGNAL_IN_AGGREGATE, *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert "while writing the sweep aggregate" in proc.stderr and "unfinished" in proc.stderr
    assert (sweep_dir / "sweep_runs.parquet").exists()  # written before the signal, and marked
    assert "relu_study.compare" in (sweep_dir / "sweep_aggregate.unfinished").read_text()
    again = cli(tmp_path, *args)  # resumed: the aggregate is finished and the mark gone
    assert again.returncode == 0, again.stderr
    assert not (sweep_dir / "sweep_aggregate.unfinished").exists()
    assert len(pd.read_parquet(sweep_dir / "sweep_runs.parquet")) == 2


# ------------------------------------------------------------------ 10. degenerate probe sets
def test_a_one_sample_probe_set_is_refused_and_a_small_one_warned(tmp_path):
    out = tmp_path / "R"
    proc = cli(tmp_path, "probe.max_samples=1", *FAST, f"hydra.run.dir={out}")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "probe.max_samples=1" in line and "collapsed" in line
    assert not out.exists()
    sweep = cli(tmp_path, "-m", "probe.max_samples=1,100", *FAST, f"hydra.sweep.dir={tmp_path / 'S'}")
    assert sweep.returncode == 2 and "probe.max_samples=1" in one_error_line(sweep)
    small = cli(tmp_path, "probe.max_samples=10", *FAST, *QUIET, f"hydra.run.dir={out}")
    assert small.returncode == 0, small.stderr
    said = [x for x in (small.stdout + small.stderr).splitlines() if "probe.max_samples=10" in x]
    assert len(said) == 1 and "10 of 160 training samples" in said[0], said
    # a dataset that is small by itself is not warned about
    whole = cli(tmp_path, "dataset.n_samples=60", *FAST[:1], *FAST[2:], *QUIET, f"hydra.run.dir={tmp_path / 'W'}")
    assert whole.returncode == 0 and "probe set is" not in whole.stdout + whole.stderr


_SIGNAL_IN_ENTRY = """
import os, signal, sys, time
import {module} as m
def stopped(*args, **kwargs):
    os.kill(os.getpid(), signal.{sig})
    time.sleep(5)  # the handler raises here
setattr(m, "{function}", stopped)
sys.exit(m.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("module, function", [("relu_study.sweeps.compare", "compare"),
                                              ("relu_study.claims.report", "write_report")])
@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_to_report_or_compare_is_one_line(tmp_path, module, function, sig, code):
    script = _SIGNAL_IN_ENTRY.format(module=module, function=function, sig=sig)
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path), "--out", str(tmp_path / "out")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"interrupted by {sig}") and "Traceback" not in proc.stderr
