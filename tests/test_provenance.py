"""Provenance: the git state of a checkout, versions, machine and command."""

from __future__ import annotations

import shutil
import subprocess

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
