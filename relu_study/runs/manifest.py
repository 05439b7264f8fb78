"""The job list of a sweep folder: ``sweep_jobs.jsonl``.

A sweep folder can outlive the sweep that made it: rerun into it with a smaller
grid, and the folders of the dropped jobs are still there.  The manifest says
which folders belong to the *last* sweep run into the folder, so its aggregate
(and ``compare``) read exactly those jobs, name the others, and account for a
job of the sweep that left no result.

One JSON object per line, appended as the sweep goes (by the main process and
by each job, which may run in another process or on another host sharing the
folder)::

    {"event": "sweep", "n_jobs": 8, "sweeper": "BasicSweeper"}   # a new sweep: earlier lines are void
    {"event": "job", "num": 0, "overrides": [...], "dir": "0"}              # expected jobs, when known
    {"event": "job", "num": 2, ..., "same_as": 0, "why": "..."}            # the same network as job 0: not trained
    {"event": "start", "num": 0, "dir": "0", "overrides": [...]}            # a job began (dir: relative)
    {"event": "end", "num": 0}                                             # a job returned

A sweeper that does not know its jobs in advance (Optuna, for one) writes no
``job`` lines: its jobs are the ones that started.  An expected job without a
``start`` line (a launcher that skips a finished job without running it) is
found in its expected folder when that folder's ``.hydra/overrides.yaml`` holds
exactly the job's overrides.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MANIFEST_FILE", "Manifest", "append_event", "read_manifest", "relative_dir", "start_manifest"]

MANIFEST_FILE = "sweep_jobs.jsonl"


@dataclass
class Manifest:
    """The last sweep of a folder: ``expected`` ``{num: overrides}`` (empty when
    the sweeper did not say) and their ``expected_dirs`` ``{num: folder}`` (when
    the folder name is the job number), ``started`` ``{num: (folder, overrides)}``,
    ``ended``, and ``same_as`` ``{num: (num of the job it repeats, why)}``: jobs
    that train the same network as an earlier job, which run once."""

    sweep_dir: Path
    n_jobs: int | None = None
    expected: dict = field(default_factory=dict)
    expected_dirs: dict = field(default_factory=dict)
    started: dict = field(default_factory=dict)
    ended: set = field(default_factory=set)
    same_as: dict = field(default_factory=dict)

    @property
    def nums(self) -> list[int]:
        """Every job of the sweep: expected or started, in job order."""
        return sorted(set(self.expected) | set(self.started))

    def folder(self, num: int) -> Path | None:
        """The job's run folder: where it started, or else its expected folder if
        that holds a run of exactly the job's overrides (None: no sign of the job)."""
        if num in self.started:
            return self.started[num][0]
        folder = self.expected_dirs.get(num)
        if folder is not None and _overrides_of(folder) == set(self.expected.get(num, [])):
            return folder
        return None

    def overrides(self, num: int) -> list[str]:
        return list(self.started[num][1] if num in self.started else self.expected.get(num, []))


@contextlib.contextmanager
def _locked(path: Path, mode: str):
    with open(path, mode) as fh:
        try:
            import fcntl

            fcntl.flock(fh, fcntl.LOCK_EX)
        except (ImportError, OSError):  # no flock (some network file systems): appends are still whole lines
            pass
        yield fh


def _overrides_of(folder: Path) -> set | None:
    """The overrides Hydra recorded for the run in ``folder`` (None: no record)."""
    try:
        import yaml

        return {str(o) for o in yaml.safe_load((Path(folder) / ".hydra" / "overrides.yaml").read_text()) or []}
    except (OSError, ValueError, TypeError, ImportError):
        return None


def start_manifest(sweep_dir, n_jobs: int | None, sweeper: str, jobs: list | None, numbered: bool = True,
                   same_as: dict | None = None) -> Path:
    """Begin the manifest of a new sweep into ``sweep_dir`` (replacing an earlier one);
    ``numbered``: job folders are named by job number (Hydra's default ``hydra.sweep.subdir``);
    ``same_as``: ``{num: (earlier num, why)}``, the jobs that repeat an earlier job's network."""
    from .folders import atomic_path

    sweep_dir = Path(sweep_dir)
    lines = [{"event": "sweep", "n_jobs": n_jobs, "sweeper": sweeper}]
    same_as = same_as or {}
    lines += [{"event": "job", "num": i, "overrides": list(o), **({"dir": str(i)} if numbered else {}),
               **({"same_as": same_as[i][0], "why": same_as[i][1]} if i in same_as else {})}
              for i, o in enumerate(jobs or [])]
    with atomic_path(sweep_dir / MANIFEST_FILE) as tmp:
        tmp.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return sweep_dir / MANIFEST_FILE


def append_event(sweep_dir, event: dict) -> int | None:
    """Append ``event`` and return how many distinct jobs have ended (None when
    the manifest cannot be written)."""
    path = Path(sweep_dir) / MANIFEST_FILE
    try:
        with _locked(path, "a+") as fh:
            fh.write(json.dumps(event) + "\n")
            fh.flush()
            fh.seek(0)
            ended = set()
            for line in fh:
                with contextlib.suppress(ValueError):
                    item = json.loads(line)
                    if item.get("event") == "sweep":
                        ended = set()
                    elif item.get("event") == "end":
                        ended.add(item.get("num"))
            return len(ended)
    except OSError:
        return None


def read_manifest(sweep_dir) -> Manifest | None:
    """The manifest of ``sweep_dir``'s last sweep, or None when it has none."""
    sweep_dir = Path(sweep_dir)
    try:
        text = (sweep_dir / MANIFEST_FILE).read_text()
    except OSError:
        return None
    manifest = None
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:  # a line cut short by a killed writer
            continue
        event = item.get("event")
        if event == "sweep":
            manifest = Manifest(sweep_dir, n_jobs=item.get("n_jobs"))
        elif manifest is None:
            continue
        elif event == "job":
            manifest.expected[int(item["num"])] = list(item.get("overrides") or [])
            if item.get("dir"):
                manifest.expected_dirs[int(item["num"])] = sweep_dir / item["dir"]
            if item.get("same_as") is not None:
                manifest.same_as[int(item["num"])] = (int(item["same_as"]), str(item.get("why") or ""))
        elif event == "start":
            folder = Path(item["dir"])
            manifest.started[int(item["num"])] = (folder if folder.is_absolute() else sweep_dir / folder,
                                                  list(item.get("overrides") or []))
        elif event == "end":
            manifest.ended.add(int(item["num"]))
    return manifest


def relative_dir(folder, sweep_dir) -> str:
    """``folder`` relative to ``sweep_dir`` when inside it (the sweep folder can move), else absolute."""
    folder, sweep_dir = Path(folder).absolute(), Path(sweep_dir).absolute()
    try:
        return str(folder.relative_to(sweep_dir))
    except ValueError:
        return str(folder)

