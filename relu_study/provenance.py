"""Where a result came from: code version, packages, machine, command.

Every ``summary.json``, sweep table and report carries :func:`provenance`, so
a number found months later can be traced to the commit, the library versions
and the machine that produced it.

``code_git`` describes relu_study's own source tree when it runs from a git
checkout (an editable install); ``cwd_git`` the git repository holding the
working directory (the researcher's project), when there is one.  Each is
``{"commit": <sha>, "dirty": <bool>}`` or ``None``.  ``dirty`` means tracked
files differ from the commit (untracked files, such as outputs, do not count).

Sweep tables carry the per-run essentials as columns (:func:`table_columns`:
``relu_study_version``, ``code_git_commit``/``code_git_dirty``,
``cwd_git_commit``/``cwd_git_dirty``), which are never arm keys, and the
aggregating process's whole :func:`provenance` as Parquet metadata.

Nothing here changes state: it reads package metadata, ``/proc/cpuinfo`` and
asks git; it never imports Hydra (its version comes from package metadata).
"""

from __future__ import annotations

import functools
import os
import platform
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from ._version import __version__

__all__ = ["PACKAGES", "TABLE_COLUMNS", "git_state", "provenance", "table_columns"]

#: distributions whose versions are recorded (absent ones are recorded as None)
PACKAGES = ("numpy", "scipy", "scikit-learn", "pandas", "pyarrow", "matplotlib", "hydra-core", "omegaconf")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def git_state(folder) -> dict | None:
    """``{"commit", "dirty"}`` of the git work tree holding ``folder``, or None
    when it is not in one (or git is not installed)."""
    folder = Path(folder)
    if not folder.is_dir():
        return None

    def git(*args):
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None
        status = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _usable_cores() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


def _blas() -> list[dict]:
    """The BLAS libraries NumPy and SciPy load, with their thread counts (threadpoolctl)."""
    import numpy  # noqa: F401 - threadpoolctl sees only libraries already loaded

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{"library": i.get("internal_api"), "version": i.get("version"), "threads": i.get("num_threads")}
            for i in threadpool_info() if i.get("user_api") == "blas"]


@functools.lru_cache(maxsize=1)
def _static() -> dict:
    """What cannot change while the process runs (computed once)."""
    return {
        "relu_study": __version__,
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": _usable_cores(),
        "code_git": git_state(Path(__file__).resolve().parent.parent),
    }


def provenance(command: list[str] | str | None = None) -> dict:
    """Versions, machine, git state and the command line.

    ``command`` defaults to this process's ``sys.argv``; the BLAS threads and
    the working directory's git state are read at each call (they can change).
    """
    if command is None:  # sys.orig_argv keeps `-m relu_study`, which sys.argv turns into a file path
        argv = getattr(sys, "orig_argv", None)
        if argv:
            command = [Path(argv[0]).name, *argv[1:]]
        else:
            command = [Path(sys.executable).name, *sys.argv] if sys.argv and sys.argv[0] else [sys.executable]
    if not isinstance(command, str):
        command = shlex.join(str(c) for c in command)
    return {**_static(), "blas": _blas(), "cwd_git": git_state(Path.cwd()), "command": command}


#: per-run provenance columns of the sweep runs table (results, not config: never arm keys)
TABLE_COLUMNS = ("relu_study_version", "code_git_commit", "code_git_dirty", "cwd_git_commit", "cwd_git_dirty")


def table_columns(prov: dict | None) -> dict:
    """The :data:`TABLE_COLUMNS` values of one :func:`provenance` record (None where unknown)."""
    prov = prov or {}
    out = {"relu_study_version": prov.get("relu_study")}
    for where in ("code", "cwd"):
        git = prov.get(f"{where}_git") or {}
        out[f"{where}_git_commit"] = git.get("commit")
        out[f"{where}_git_dirty"] = git.get("dirty")
    return out
