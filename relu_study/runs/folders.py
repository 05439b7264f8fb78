"""Run folders: their layout, atomic writes, and loading them back.

A run folder holds (written in this order, each atomically)::

    params.npz        final parameters of every network (W1, b1, ..., slope1; seeds)
    loss.png          train / validation loss per epoch
    dead.png          dead fraction per hidden layer per epoch
    units.parquet     one row per (seed, probe epoch, layer, unit), when probe.units is set
    metrics.parquet   one row per (seed, epoch): metrics and config columns
    metrics.csv       the same table, when save_csv is set
    summary.json      status per seed, final metrics, wall time, version, config

``summary.json`` is written last and carries ``"complete": true``: a folder
without it, or whose files do not load, is incomplete.  A failed run writes
only ``summary.json`` with ``"status": "failed"`` and the error.

Every file is first written under a temporary name in the same folder and then
renamed (``os.replace``), so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "METRICS_FILE", "SUMMARY_FILE", "PARAMS_FILE", "UNITS_FILE", "atomic_path", "find_run_dirs", "is_complete",
    "load_run", "write_json", "write_run", "write_table",
]

_UMASK = os.umask(0o022)
os.umask(_UMASK)

METRICS_FILE = "metrics.parquet"
SUMMARY_FILE = "summary.json"
PARAMS_FILE = "params.npz"
UNITS_FILE = "units.parquet"


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it to ``path`` on success,
    delete it on any error (including KeyboardInterrupt)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual mode
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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
              plot=None, csv: bool = False, units: pd.DataFrame | None = None) -> Path:
    """Write a finished run into ``folder``; ``plot(folder)`` draws its figures;
    ``units`` is the per-unit probe table (``units.parquet``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if state is not None:
        with atomic_path(folder / PARAMS_FILE) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **state)
    if plot is not None:
        plot(folder)
    if units is not None:
        write_table(folder / UNITS_FILE, units)
    write_table(folder / METRICS_FILE, table)
    if csv:
        write_table(folder / "metrics.csv", table)
    write_json(folder / SUMMARY_FILE, summary)
    return folder


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


def find_run_dirs(root) -> list[Path]:
    """Every folder under ``root`` (itself included) that holds a ``summary.json``."""
    root = Path(root)
    found = sorted({p.parent for p in root.rglob(SUMMARY_FILE)})
    return found
