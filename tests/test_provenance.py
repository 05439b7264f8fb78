"""Provenance: the git state of a checkout, versions, machine and command."""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from relu_study import __version__
from relu_study.provenance import git_state, provenance

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _repo(path):
    def git(*args):
        return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True, text=True).stdout
    git("init", "-q")
    (path / "a.txt").write_text("one\n")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "first")
    return git


@needs_git
def test_git_state_names_the_commit_and_sees_edits(tmp_path):
    git = _repo(tmp_path)
    head = git("rev-parse", "HEAD").strip()
    assert git_state(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "untracked.txt").write_text("outputs do not make a tree dirty\n")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "a.txt").write_text("two\n")
    assert git_state(tmp_path) == {"commit": head, "dirty": True}


def test_git_state_outside_a_repository_is_none(tmp_path):
    assert git_state(tmp_path) is None
    assert git_state(tmp_path / "missing") is None


@needs_git
def test_provenance_records_the_working_directory_repository(tmp_path, monkeypatch):
    git = _repo(tmp_path)
    monkeypatch.chdir(tmp_path)
    p = provenance(["python", "-m", "relu_study", "alpha=0.1"])
    assert p["cwd_git"]["commit"] == git("rev-parse", "HEAD").strip()
    assert p["command"] == "python -m relu_study alpha=0.1"
    assert p["relu_study"] == __version__
    assert p["packages"]["numpy"] and p["packages"]["pandas"]
    assert isinstance(p["cores"], int) and p["cores"] >= 1
    assert p["cpu"]
    assert p["blas"] and all(b["threads"] >= 1 for b in p["blas"])  # NumPy's BLAS, even if not yet loaded


@needs_git
def test_summaries_and_sweep_tables_record_provenance(tmp_path):
    """A sweep run from a researcher's repository (one job ok, one failed): every
    ``summary.json`` holds the provenance record, the runs table its per-run
    columns (which never become arm keys), both tables the whole record as
    Parquet metadata; the commit is the repository's ``git rev-parse HEAD``."""
    import json
    import sys

    import numpy as np
    import pandas as pd

    from relu_study.provenance import TABLE_COLUMNS
    from relu_study.sweeps.arms import arm_keys

    git = _repo(tmp_path)
    head = git("rev-parse", "HEAD").strip()
    (tmp_path / "a.txt").write_text("edited, not committed\n")  # a dirty tree
    sweep_dir = tmp_path / "sweep"
    # job 1's table has a single class, which only loading it tells: every value is valid, so
    # the sweep starts, and that job fails while it runs
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=60), "y": np.arange(60) % 2}).to_csv(tmp_path / "good.csv", index=False)
    pd.DataFrame({"a": rng.normal(size=60), "y": np.ones(60, int)}).to_csv(tmp_path / "one.csv", index=False)
    paths = f"{tmp_path / 'good.csv'},{tmp_path / 'one.csv'}"
    fast = ["dataset=table", "dataset.target=y", "epochs=1", "model.width=4", "plots=false", "save_params=false"]
    proc = subprocess.run([sys.executable, "-m", "relu_study", "-m", f"dataset.path={paths}", *fast,
                           "++hydra.callbacks.aggregate.plots=false", f"hydra.sweep.dir={sweep_dir}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1, proc.stderr[-2000:]  # job 1 failed (a single class)
    for job, name in (("0", "good.csv"), ("1", "one.csv")):
        p = json.loads((sweep_dir / job / "summary.json").read_text())["provenance"]
        assert p["cwd_git"] == {"commit": head, "dirty": True}
        # the command that reruns the job alone (Hydra writes the booleans as False)
        assert p["command"].lower() == f"python -m relu_study dataset.path={tmp_path / name} " + " ".join(fast).lower()
        assert p["relu_study"] == __version__ and p["python"] == platform.python_version()
        assert all(p["packages"][d] for d in ("numpy", "scipy", "scikit-learn", "pandas", "hydra-core"))
        assert p["blas"] and p["cpu"] and p["cores"] >= 1
    runs = pd.read_parquet(sweep_dir / "sweep_runs.parquet")
    assert list(runs.columns[-len(TABLE_COLUMNS):]) == list(TABLE_COLUMNS)
    assert (runs["cwd_git_commit"] == head).all() and runs["cwd_git_dirty"].all()
    assert (runs["relu_study_version"] == __version__).all()
    code = git_state(Path(__import__("relu_study").__file__).resolve().parent.parent)
    assert runs["code_git_commit"].tolist() == [code and code["commit"]] * 2
    assert arm_keys(runs) == ["dataset.path"]
    for name in ("sweep_runs.parquet", "sweep_metrics.parquet"):
        meta = pd.read_parquet(sweep_dir / name).attrs["provenance"]
        assert meta["cwd_git"] == {"commit": head, "dirty": True}
        assert f" -m relu_study -m dataset.path={paths} " in meta["command"]  # the sweep's command line
        assert meta["packages"]["scikit-learn"] and meta["relu_study"] == __version__
