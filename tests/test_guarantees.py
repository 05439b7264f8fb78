"""The promises of the README's "What relu_study guarantees", each checked the
way a user meets it: a real ``python -m relu_study`` subprocess with a tiny
config.  Every folder holds one run, every sweep table holds exactly the jobs of
its sweep, every failure is one line with the right exit status, and nothing is
left half-written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FAST = ["epochs=2", "dataset.n_samples=200", "model.width=8", "progress=false"]
TABLE = ["epochs=2", "model.width=8", "progress=false"]  # a table has a fixed size
QUIET = ["plots=false", "save_params=false"]
NO_SWEEP_PLOTS = "++hydra.callbacks.aggregate.plots=false"


def cli(cwd: Path, *args, env=None, timeout=120, prefix=(), **kwargs):
    cmd = [*prefix, sys.executable, "-m", "relu_study", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, **kwargs)


def one_error_line(proc) -> str:
    """The whole of stderr must be one line starting with ``error:``."""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    return lines[0]


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".tmp" in p.name]


# ------------------------------------------------------------------ 1. stale sweep folders
def test_stale_grid_rerun_aggregates_exactly_the_new_jobs(tmp_path):
    sweep_dir = tmp_path / "S"
    first = cli(tmp_path, "-m", "activation=relu,leaky", "seed=0,1,2", *FAST, *QUIET, NO_SWEEP_PLOTS,
                f"hydra.sweep.dir={sweep_dir}")
    assert first.returncode == 0, first.stderr
    # jobs 2 and 3 of the new grid are other configs than the finished 2 and 3: replaced only with overwrite=true
    second = cli(tmp_path, "-m", "activation=relu,leaky", "seed=0,1", *FAST, *QUIET, NO_SWEEP_PLOTS, "overwrite=true",
                 f"hydra.sweep.dir={sweep_dir}")
    assert second.returncode == 0, second.stderr
    runs = pd.read_parquet(sweep_dir / "sweep_runs.parquet")
    metrics = pd.read_parquet(sweep_dir / "sweep_metrics.parquet")
    # jobs of the second grid: 0 relu/0, 1 relu/1, 2 leaky/0, 3 leaky/1; folders 4 and 5 are stale
    assert sorted(Path(d).name for d in runs["run_dir"]) == ["0", "1", "2", "3"]
    assert set(metrics["run_dir"]) == set(runs["run_dir"])
    for act in ("relu", "leaky"):
        arm = runs[runs["activation.name"] == act]
        assert sorted(arm["seed"]) == [0, 1], arm
    out = second.stdout + second.stderr
    warnings = [line for line in out.splitlines() if "not jobs of this sweep" in line]
    assert len(warnings) == 1, out
    assert re.search(r"\b4\b.*\b5\b", warnings[0]), warnings[0]
    summary = (sweep_dir / "sweep_summary.txt").read_text()
    assert summary.startswith("4 run folders") and "not jobs of this sweep" in summary
    assert "mean over 2 of 2 networks" in summary and "over 4" not in summary
    # the manifest names the jobs of the last sweep; compare honours it and records what it skipped
    from relu_study.sweeps.compare import main as compare

    assert compare([str(sweep_dir), "--no-plots", "--out", str(tmp_path / "cmp")]) == 0
    cmp_runs = pd.read_parquet(tmp_path / "cmp" / "sweep_runs.parquet")
    assert sorted(Path(d).name for d in cmp_runs["run_dir"]) == ["0", "1", "2", "3"]
    assert "not jobs of this sweep" in (tmp_path / "cmp" / "sweep_summary.txt").read_text()


# ------------------------------------------------------------------ 2. reused and colliding run folders
def test_reused_run_folder_is_refused_unless_overwrite(tmp_path):
    out = tmp_path / "R"
    first = cli(tmp_path, *FAST, "save_csv=true", "plots=false", f"hydra.run.dir={out}")
    assert first.returncode == 0, first.stderr
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}
    again = cli(tmp_path, *FAST, "epochs=3", "plots=false", f"hydra.run.dir={out}")
    assert again.returncode == 2
    line = one_error_line(again)
    assert str(out) in line and "overwrite=true" in line
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()} == before  # untouched
    forced = cli(tmp_path, *FAST, "epochs=3", *QUIET, "overwrite=true", f"hydra.run.dir={out}")
    assert forced.returncode == 0, forced.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["epochs"] == 3 and summary["complete"]
    assert pd.read_parquet(out / "metrics.parquet")["epoch"].max() == 3
    # nothing of the first run is left beside the second
    assert not (out / "params.npz").exists() and not (out / "metrics.csv").exists()
    assert not temp_files(out)


def test_a_claim_undoes_exactly_what_it_made(tmp_path):
    """In-process: what ``claim_folder`` creates, refuses and removes."""
    import socket

    from relu_study.runs.folders import LOCK_FILE, FolderInUse, claim_folder

    shared = tmp_path / "outputs" / "day"
    (shared / "other-run").mkdir(parents=True)  # another run's folder under the same parent
    claim = claim_folder(shared / "new" / "run")
    (shared / "new" / "run" / "relu_study.log").write_text("log")
    claim.release()
    assert not (shared / "new").exists() and (shared / "other-run").is_dir()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    claim = claim_folder(mine)
    (mine / "metrics.parquet").write_text("x")
    claim.release()
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    # a live run's lock is refused even with overwrite=true; a dead one's only without it
    live = claim_folder(mine)
    for overwrite in (False, True):
        with pytest.raises(FolderInUse, match="in use by a running process"):
            claim_folder(mine, overwrite=overwrite)
    live.finish()
    (mine / LOCK_FILE).write_text(f"pid 999999999 on {socket.gethostname()}\n")
    with pytest.raises(FolderInUse, match="overwrite=true"):
        claim_folder(mine)
    claim_folder(mine, overwrite=True).finish()
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_concurrent_runs_never_share_a_folder(tmp_path):
    args = [sys.executable, "-m", "relu_study", *FAST, *QUIET]
    procs = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        p.communicate(timeout=120)
        assert p.returncode == 0
    folders = sorted(p.parent for p in (tmp_path / "outputs").rglob("summary.json"))
    assert len(folders) == 2, folders  # default names never collide
    # the same explicit folder, twice at once: one run wins, the other stops with one line
    out = tmp_path / "same"
    args = [*args, f"hydra.run.dir={out}"]
    procs = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p, *p.communicate(timeout=120)) for p in procs]
    assert sorted(p.returncode for p, _, _ in results) == [0, 2]
    loser = next(err for p, _, err in results if p.returncode == 2)
    assert len(loser.strip().splitlines()) == 1 and str(out) in loser
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"]


# ------------------------------------------------------------------ 3. meaningless data, 5. ~ paths
def test_single_class_target_is_rejected(tmp_path):
    pd.DataFrame({"a": np.arange(50.0), "y": np.ones(50, int)}).to_csv(tmp_path / "one.csv", index=False)
    out = tmp_path / "R"
    proc = cli(tmp_path, "dataset=table", "dataset.path=one.csv", "dataset.target=y", *TABLE, f"hydra.run.dir={out}")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "dataset.target=y" in line and "single class" in line
    assert not out.exists()


def test_many_integer_target_states_the_inferred_task(tmp_path):
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=200), "y": rng.integers(0, 40, 200)}).to_csv(tmp_path / "many.csv",
                                                                                   index=False)
    out = tmp_path / "R"
    proc = cli(tmp_path, "dataset=table", "dataset.path=many.csv", "dataset.target=y", *TABLE, *QUIET,
               f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr
    said = [line for line in (proc.stdout + proc.stderr).splitlines() if "treated as regression" in line]
    assert len(said) == 1 and "40 distinct integer values" in said[0] and "dataset.task=classification" in said[0]
    assert "treated as regression" in (out / "relu_study.log").read_text()
    dataset = json.loads((out / "summary.json").read_text())["dataset"]
    assert dataset["task"] == "regression" and "40 distinct integer values" in dataset["task_reason"]


def test_too_few_samples_for_a_stratified_split(tmp_path):
    proc = cli(tmp_path, "dataset=blobs", "dataset.n_samples=4", "epochs=1", "progress=false",
               f"hydra.run.dir={tmp_path / 'R'}")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "dataset.n_samples=4" in line and "3 classes" in line
    assert not (tmp_path / "R").exists()


def test_tilde_in_a_table_path(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    pd.DataFrame({"a": np.arange(60.0), "y": np.arange(60) % 2}).to_csv(home / "x.csv", index=False)
    # Hydra reads ~ as a special character: the value is quoted, as on a shell: 'dataset.path="~/x.csv"'
    proc = cli(tmp_path, "dataset=table", 'dataset.path="~/x.csv"', "dataset.target=y", "epochs=1",
               "progress=false", *QUIET, f"hydra.run.dir={tmp_path / 'R'}", env={"HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "R" / "summary.json").is_file()
    # unquoted, Hydra cannot parse it: one line that shows the quoting
    proc = cli(tmp_path, "dataset=table", "dataset.path=~/x.csv", "dataset.target=y", env={"HOME": str(home)})
    assert proc.returncode == 2
    assert """'dataset.path="~/x.csv"'""" in one_error_line(proc)
    # a file that is not there is named as the user wrote it, before anything runs
    proc = cli(tmp_path, "dataset=table", 'dataset.path="~/nope.csv"', "dataset.target=y",
               f"hydra.run.dir={tmp_path / 'N'}", env={"HOME": str(home)})
    assert proc.returncode == 2 and 'dataset.path="~/nope.csv": no such file' in one_error_line(proc)
    assert not (tmp_path / "N").exists()


# ------------------------------------------------------------------ 4. the slope column
def test_slope_column_is_the_slope_used(tmp_path):
    sweep_dir = tmp_path / "S"
    proc = cli(tmp_path, "-m", "activation=relu,leaky,elu", "alpha=0.01,0.3", "activation.scale=0.5", *FAST, *QUIET,
               NO_SWEEP_PLOTS, f"hydra.sweep.dir={sweep_dir}")
    assert proc.returncode == 0, proc.stderr
    runs = pd.read_parquet(sweep_dir / "sweep_runs.parquet")
    by_act = {a: g for a, g in runs.groupby("activation.name")}
    assert sorted(by_act["leaky"]["alpha"]) == [0.01, 0.3]
    assert (by_act["relu"]["alpha"] == 0.0).all() and by_act["elu"]["alpha"].isna().all()
    slope = runs[runs["activation.name"] == "leaky"]
    if "activation.alpha" in runs:
        assert (slope["activation.alpha"] == slope["alpha"]).all()
    # relu and elu ignore alpha: their two jobs are the same network, trained once; the other is listed
    for act in ("relu", "elu"):
        assert list(by_act[act]["status"]) == ["ok", "repeat"]
        assert by_act[act]["same_as"].iloc[1] == by_act[act]["run_dir"].iloc[0]
    summary = (sweep_dir / "sweep_summary.txt").read_text()
    assert "activation=leaky, alpha=0.3:" in summary and "activation=relu, alpha=0:" in summary
    assert "2 jobs not trained, the same network as another job" in summary
    # the slope has one name: a second way to set it stops with one line
    out = tmp_path / "R"
    bad = cli(tmp_path, "activation=leaky", "activation.alpha=0.3", *FAST, f"hydra.run.dir={out}")
    assert bad.returncode == 2
    line = one_error_line(bad)
    assert "activation.alpha=0.3" in line and "alpha=0.3" in line.split("activation.alpha=0.3", 1)[1]
    assert not out.exists()
    # ELU's own alpha is its scale, set without the clash (and ignored by the others)
    elu_dir = by_act["elu"]["run_dir"].iloc[0]
    assert "ELU(alpha=0.5)" in json.loads((Path(elu_dir) / "summary.json").read_text())["network"]
    assert (by_act["elu"]["activation.scale"] == 0.5).all()


# ------------------------------------------------------------------ bad values: one line, exit 2, nothing left
@pytest.mark.parametrize("override, needle", [
    ("alpha=abc", "alpha=abc"),
    ("batch_size=1e9", "batch_size=1e9"),
    ("foo=1", "foo=1"),
    ("+foo=1", "foo=1"),
    ("activation=swishy", "activation=swishy"),
    ("optimizer.lr=-1", "optimizer.lr=-1"),
])
def test_bad_value_is_one_line_and_leaves_no_folder(tmp_path, override, needle):
    out = tmp_path / "outputs" / "R"
    proc = cli(tmp_path, override, *FAST, f"hydra.run.dir={out}")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert needle in line
    assert not (tmp_path / "outputs").exists()  # not even the parents it would have made


def test_rejected_run_keeps_the_users_folder(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    pd.DataFrame({"a": np.arange(50.0), "y": np.ones(50, int)}).to_csv(tmp_path / "one.csv", index=False)
    # rejected by the schema (before the folder is touched) and by the data (after Hydra made its files)
    for args in (["alpha=abc", *FAST], ["dataset=table", "dataset.path=one.csv", "dataset.target=y", *TABLE]):
        proc = cli(tmp_path, *args, f"hydra.run.dir={mine}")
        assert proc.returncode == 2
        one_error_line(proc)
        assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_bad_value_in_a_sweep_runs_nothing(tmp_path):
    sweep_dir = tmp_path / "S"
    proc = cli(tmp_path, "-m", "alpha=0.1,abc", *FAST, *QUIET, f"hydra.sweep.dir={sweep_dir}")
    assert proc.returncode == 2
    assert "alpha=abc" in one_error_line(proc)
    assert not sweep_dir.exists()


# ------------------------------------------------------------------ signals
def _wait_for(path: Path, proc, timeout=60.0):
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _interrupt(cwd: Path, args, started: Path, sig, code) -> str:
    """Run ``python -m relu_study args``, send ``sig`` a second after ``started``
    appears (inside training), and return the one line it ends with."""
    proc = subprocess.Popen([sys.executable, "-m", "relu_study", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(started, proc)
    time.sleep(1.0)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_training(tmp_path, sig, code):
    out = tmp_path / "R"
    line = _interrupt(tmp_path, ["epochs=100000", "dataset.n_samples=200", "model.width=8", "progress=false",
                                 f"hydra.run.dir={out}"], out / "relu_study.log", sig, code)
    assert line.startswith(f"interrupted by {sig.name} during training") and "no results" in line
    assert not {"metrics.parquet", "summary.json", "params.npz"} & {p.name for p in out.iterdir()}
    assert not temp_files(out)


# A real signal, delivered while a file is being written: the child's loss figure
# writes half a file and signals itself before it draws.
_SIGNAL_WHILE_WRITING = """
import os, signal, sys, time
import relu_study.runs.plots as plots
real = plots.plot_loss
def plot_loss(table, path):
    with open(path, "wb") as fh:
        fh.write(b"half a png")
    os.kill(os.getpid(), signal.{sig})
    time.sleep(5)  # the handler raises here
    return real(table, path)
plots.plot_loss = plot_loss
sys.argv = ["relu_study", *sys.argv[1:]]
from relu_study.runs.cli import main
main()
"""


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_writing(tmp_path, sig, code):
    out = tmp_path / "R"
    script = _SIGNAL_WHILE_WRITING.replace("{sig}", sig.name)
    proc = subprocess.run([sys.executable, "-c", script, *FAST, f"hydra.run.dir={out}"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    line = lines[0]
    assert line.startswith(f"interrupted by {sig.name} while writing {out}")
    assert "kept metrics.parquet" in line and "summary.json" in line.split("not written:", 1)[1]
    assert (out / "metrics.parquet").is_file() and not (out / "summary.json").exists()
    assert not temp_files(out)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_a_sweep_and_resume(tmp_path, sig, code):
    sweep_dir = tmp_path / "S"
    line = _interrupt(tmp_path, ["-m", "seed=0,1", "epochs=100000", "dataset.n_samples=200", "model.width=8", *QUIET,
                                 f"hydra.sweep.dir={sweep_dir}"], sweep_dir / "0" / "relu_study.log", sig, code)
    assert line.startswith(f"interrupted by {sig.name} during job #0")
    assert "0 of 2 jobs" in line and "resume" in line
    assert not temp_files(sweep_dir)
    # a temporary file left by a killed writer is removed when the sweep is resumed
    stale = sweep_dir / "0" / ".metrics.parquet.abc123.tmp.parquet"
    stale.write_bytes(b"half")
    again = cli(tmp_path, "-m", "seed=0,1", *FAST, *QUIET, NO_SWEEP_PLOTS, f"hydra.sweep.dir={sweep_dir}")
    assert again.returncode == 0, again.stderr
    assert not temp_files(sweep_dir)
    assert len(pd.read_parquet(sweep_dir / "sweep_runs.parquet")) == 2


# ------------------------------------------------------------------ write errors
def _unprivileged():
    """A prefix that runs a command without root's right to write anywhere."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be simulated")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]


def test_read_only_output_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        proc = cli(tmp_path, *FAST, f"hydra.run.dir={ro}", prefix=_unprivileged())
    finally:
        ro.chmod(0o755)
    assert proc.returncode == 1
    line = one_error_line(proc)
    assert str(ro) in line and "Permission denied" in line
    assert list(ro.iterdir()) == []


def test_full_disk_writes_what_fits_and_names_what_is_missing(tmp_path):
    """Files larger than 16 kB cannot be written (RLIMIT_FSIZE: EFBIG, as on a
    full disk): the small ones are written, the large ones named."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (16_000, 16_000))

    out = tmp_path / "R"
    proc = cli(tmp_path, *FAST, f"hydra.run.dir={out}", preexec_fn=limit)
    assert proc.returncode == 1
    line = one_error_line(proc)
    assert re.match(rf"error: cannot write {re.escape(str(out))}/\S+: .*File too large", line), line
    assert "missing:" in line and "written:" in line
    missing = line.split("missing:", 1)[1]
    assert "metrics.parquet" in missing and "summary.json" not in missing
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and "metrics.parquet" in summary["missing"]
    assert (out / "params.npz").is_file()  # the small file made it
    assert not temp_files(out)


# ------------------------------------------------------------------ launchers after the README's set-up
def test_readme_setup_installs_the_joblib_launcher():
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    if "hydra/launcher=joblib" not in readme:
        pytest.skip("the README shows no joblib example")
    assert "pip install -e . &&" in readme  # the set-up command: core dependencies only
    import tomllib

    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("hydra-joblib-launcher") for d in deps), deps
