"""Run folders: their layout, atomic writes, claiming a folder, loading runs back.

A run folder holds (written in this order, each atomically)::

    metrics.parquet   one row per (seed, epoch): metrics and config columns
    units.parquet     one row per (seed, probe epoch, layer, unit), when probe.units is set
    metrics.csv       the same table, when save_csv is set
    params.npz        final parameters of every network (W1, b1, ..., slope1; seeds)
    loss.png          train / validation loss per epoch
    dead.png          unit health per epoch (epoch statistics; exact probes as points)
    run.html          the run's page: its curves (the same charts), summary and config
    summary.json      status per seed, final metrics, wall time, version, config

The table comes first, so an interruption during the slower figures keeps it.
``summary.json`` is written last and carries ``"complete": true`` only when every
other file was written: a folder without it, or whose files do not load, is
incomplete.  A failed run writes only ``summary.json`` with ``"status": "failed"``
and the error.

Every file is first written under a temporary name in the same folder and then
renamed (``os.replace``), so an interrupted run never leaves a half-written
file; when a write fails (a full disk, a read-only folder), :func:`write_run`
still writes what it can and raises :class:`IncompleteWrite` naming what is
missing.

One folder holds one run: :func:`claim_folder` refuses a folder that already
holds one (unless asked to replace it, which removes the earlier run's files
first), marks the folder as taken for the time of the run (``.relu_study.lock``,
created exclusively, so two runs started at once cannot share it), and can undo
exactly what it created when the run is rejected.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "LOCK_FILE", "METRICS_FILE", "PARAMS_FILE", "RESULT_FILES", "SUMMARY_FILE", "UNITS_FILE", "Claim",
    "FolderInUse", "IncompleteWrite", "WriteError", "atomic_path", "claim_folder", "clear_run", "find_run_dirs",
    "is_complete", "load_run", "previous_run_files", "stale_temp_files", "write_json", "write_run", "write_table",
]



def process_umask() -> int:
    """The process's umask, read without changing it: the ``Umask:`` line of
    ``/proc/self/status`` (Linux >= 4.7).  Elsewhere there is no way to read it
    but to set it; then it is set and put back at once, at the moment a file
    needs its mode (not at import), so a library import never changes
    process-wide state."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


METRICS_FILE = "metrics.parquet"
SUMMARY_FILE = "summary.json"
PARAMS_FILE = "params.npz"
UNITS_FILE = "units.parquet"
LOCK_FILE = ".relu_study.lock"
LOG_FILE = "relu_study.log"
#: files a run writes into its folder (the figures' names come from relu_study.runs.plots)
RESULT_FILES = (METRICS_FILE, "metrics.csv", UNITS_FILE, PARAMS_FILE, "loss.png", "dead.png", "run.html",
                SUMMARY_FILE)
#: what the command line adds: Hydra's record of the config, and the log
RECORD_FILES = (".hydra", LOG_FILE)


class WriteError(OSError):
    """Writing ``path`` failed.  The message names the final file (never the
    temporary one) and the operating system's reason."""

    def __init__(self, path, cause: BaseException):
        self.path, self.cause = Path(path), cause
        if isinstance(cause, OSError) and cause.strerror:
            reason = cause.strerror
        else:
            reason = str(cause) if isinstance(cause, OSError) else f"{type(cause).__name__}: {cause}"
        errno = f"[Errno {cause.errno}] " if isinstance(cause, OSError) and cause.errno else ""
        super().__init__(getattr(cause, "errno", None), f"cannot write {self.path}: {errno}{reason}")

    def __str__(self) -> str:
        return self.args[1]


class IncompleteWrite(OSError):
    """Some files of a run folder could not be written; the others were."""

    def __init__(self, folder, errors: list[WriteError], written: list[str], missing: list[str]):
        self.folder, self.errors, self.written, self.missing = Path(folder), errors, written, missing
        super().__init__(errors[0].errno, f"{errors[0]}; written: {', '.join(written) or 'nothing'}; "
                                          f"missing: {', '.join(missing)}")

    def __str__(self) -> str:
        return self.args[1]


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it to ``path`` on success,
    delete it on any error (including KeyboardInterrupt).  An operating-system
    error becomes a :class:`WriteError` naming ``path``."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~process_umask())  # mkstemp makes 0600; give the file the usual mode
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise WriteError(path, exc) from exc
        raise


def stale_temp_files(folder, recursive: bool = False) -> list[Path]:
    """Temporary files :func:`atomic_path` left behind (a process killed while writing)."""
    folder = Path(folder)
    pattern = ".*.tmp*"
    return sorted(folder.rglob(pattern) if recursive else folder.glob(pattern))


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path, data) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")


def write_table(path, table: pd.DataFrame) -> None:
    """Parquet or CSV by suffix, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            table.to_csv(tmp, index=False)
        else:
            table.to_parquet(tmp, index=False)


def write_run(folder, table: pd.DataFrame, summary: dict, state: dict | None = None,
              figures: dict | None = None, csv: bool = False, written: list | None = None,
              units: pd.DataFrame | None = None) -> Path:
    """Write a finished run into ``folder``.

    ``figures`` maps a file name to ``draw(path)``; every file is written
    atomically, in the order of the module docstring.  A file that cannot be
    written does not stop the others: the summary then says ``"complete": false``
    and lists ``"missing"``, and :class:`IncompleteWrite` is raised at the end.
    ``written`` (a list) receives each file name as soon as it is in place, so a
    caller interrupted half-way knows what was kept.  ``units`` is the per-unit
    probe table (``units.parquet``, written after the metrics table when given).
    """
    folder = Path(folder)
    written = [] if written is None else written
    jobs = [(METRICS_FILE, lambda tmp: table.to_parquet(tmp, index=False))]
    if units is not None:
        jobs.append((UNITS_FILE, lambda tmp: units.to_parquet(tmp, index=False)))
    if csv:
        jobs.append(("metrics.csv", lambda tmp: table.to_csv(tmp, index=False)))
    if state is not None:
        jobs.append((PARAMS_FILE, lambda tmp: _save_npz(tmp, state)))
    jobs += list((figures or {}).items())
    errors, missing = [], []
    for name, write in jobs:
        try:
            with atomic_path(folder / name) as tmp:
                write(tmp)
        except Exception as exc:  # noqa: BLE001 - one bad file (a full disk, a figure's bug) spares the others
            errors.append(exc if isinstance(exc, WriteError) else WriteError(folder / name, exc))
            missing.append(name)
            continue
        written.append(name)
    if missing:  # summary.json itself is written below, if it can be
        summary = {**summary, "complete": False, "missing": missing, "write_error": str(errors[0])}
    try:
        write_json(folder / SUMMARY_FILE, summary)
        written.append(SUMMARY_FILE)
    except WriteError as exc:
        errors.append(exc)
        missing.append(SUMMARY_FILE)
    if errors:
        raise IncompleteWrite(folder, errors, list(written), missing)
    return folder


def _save_npz(path, state: dict) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **state)


def read_summary(folder) -> dict | None:
    try:
        return json.loads((Path(folder) / SUMMARY_FILE).read_text())
    except (OSError, ValueError):
        return None


def is_complete(folder) -> bool:
    """True when the run finished: summary says complete and the table loads."""
    summary = read_summary(folder)
    if not summary or not summary.get("complete"):
        return False
    try:
        pd.read_parquet(Path(folder) / METRICS_FILE, columns=["seed", "epoch"])
    except Exception:
        return False
    return True


def load_run(folder) -> tuple[pd.DataFrame, dict]:
    """``(metrics table, summary)`` of a complete run folder; raises ``ValueError``
    naming the folder when it is incomplete or corrupt."""
    folder = Path(folder)
    summary = read_summary(folder)
    if summary is None:
        raise ValueError(f"{folder}: no readable {SUMMARY_FILE}")
    if not summary.get("complete"):
        raise ValueError(f"{folder}: run is not complete (status {summary.get('status')!r})")
    try:
        table = pd.read_parquet(folder / METRICS_FILE)
    except Exception as exc:  # noqa: BLE001 - any reader error means a corrupt file
        raise ValueError(f"{folder}: cannot read {METRICS_FILE}: {exc}") from None
    return table, summary


# --------------------------------------------------------------------------- claiming a folder

class FolderInUse(ValueError):
    """The folder already holds a run, or another run is writing into it."""


def previous_run_files(folder) -> list[str]:
    """Names of an earlier run's files in ``folder`` (results, the lock of a run
    in progress or killed, temporary files); ``[]`` for a fresh folder."""
    folder = Path(folder)
    names = [n for n in (*RESULT_FILES, LOCK_FILE) if (folder / n).exists()]
    return names + [p.name for p in stale_temp_files(folder)]


def clear_run(folder, records: bool = False) -> list[str]:
    """Remove an earlier run's files from ``folder`` (and, with ``records``, its
    ``.hydra/`` and log); other files are left alone.  Returns what was removed."""
    folder = Path(folder)
    removed = previous_run_files(folder) + ([n for n in RECORD_FILES if (folder / n).exists()] if records else [])
    for name in removed:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    return removed


@dataclass
class Claim:
    """A run folder taken for one run: what existed before, so a rejected run
    can remove exactly what it created and nothing the user had."""

    folder: Path
    before: frozenset  # names in the folder before the run (empty when it did not exist)
    created: Path | None  # the topmost folder the claim created, None if the folder existed

    def finish(self) -> None:
        """The run is over (written, failed or interrupted): free the folder."""
        with contextlib.suppress(FileNotFoundError):
            (self.folder / LOCK_FILE).unlink()

    def release(self) -> None:
        """Undo the claim: remove what was created in and for the folder since."""
        self.finish()
        for name in (*RESULT_FILES, *RECORD_FILES):
            path = self.folder / name
            if name in self.before or not path.exists():
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        for tmp in stale_temp_files(self.folder):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        if self.created is None:
            return
        folder = self.folder
        while True:  # empty folders only: a parent shared with another run stays
            try:
                folder.rmdir()
            except OSError:
                return
            if folder == self.created:
                return
            folder = folder.parent


def claim_folder(folder, overwrite: bool = False, check=None) -> Claim:
    """Take ``folder`` for a new run.

    Raises :class:`FolderInUse` when it holds an earlier run (unless
    ``overwrite``) or when a live process holds its lock (even with
    ``overwrite``); a stale lock (its owner ended, or its pid was reused:
    :mod:`relu_study.runs.locks`) is said to be stale, and ``overwrite`` takes
    it.  Raises :class:`WriteError` when the folder cannot be written.

    ``check`` (a callable) runs before anything of an earlier run is removed:
    the data-dependent checks of the new run, so that a run rejected by its data
    leaves the earlier run exactly as it was.  Only then does ``overwrite``
    remove that run's files, ``.hydra/`` and log.
    """
    from .locks import lock_owner, lock_text

    folder = Path(folder).absolute()
    created = None
    top = folder
    while not top.exists():
        created, top = top, top.parent
    before = frozenset(os.listdir(folder)) if created is None and folder.is_dir() else frozenset()
    previous = previous_run_files(folder) if created is None else []
    lock = folder / LOCK_FILE
    if LOCK_FILE in previous:
        owner = lock_owner(lock)
        if owner.state == "alive":  # not even overwrite=true takes it
            raise FolderInUse(f"{folder} is in use by a running process ({owner.what}): wait for it to end, "
                              f"or choose another hydra.run.dir")
        if not overwrite:
            left = [n for n in previous if n != LOCK_FILE]
            kind, why = ("stale lock", ": a run that was killed") if owner.stale else ("lock", "")
            raise FolderInUse(f"{folder} has a {kind} ({LOCK_FILE}: {owner.what}{why})"
                              + (f" and holds {', '.join(left)}" if left else "")
                              + ": add overwrite=true to take the folder" + (" and replace them" if left else "")
                              + ", or choose another hydra.run.dir")
    elif previous and not overwrite:
        raise FolderInUse(f"{folder} already holds a run ({', '.join(previous)}): choose another "
                          f"hydra.run.dir, or add overwrite=true to replace it")
    if previous and check is not None:
        check()  # nothing is removed until the new run passed every check
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if previous:
            clear_run(folder, records=True)
            before = frozenset(os.listdir(folder))
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise FolderInUse(f"{folder} is in use by another run ({LOCK_FILE})") from None
    except OSError as exc:
        if created is not None:
            Claim(folder, frozenset(), created).release()
        raise WriteError(folder, exc) from exc
    with os.fdopen(fd, "w") as fh:
        fh.write(lock_text())
    return Claim(folder, before, created)


def find_run_dirs(root) -> list[Path]:
    """Every folder under ``root`` (itself included) that holds a ``summary.json``."""
    root = Path(root)
    found = sorted({p.parent for p in root.rglob(SUMMARY_FILE)})
    return found
