"""Lock files that say who holds a folder, and whether that owner still runs.

A run folder (``.relu_study.lock``) and a sweep folder (``.relu_study_sweep.lock``)
belong to one process at a time.  The lock records the owner's pid, host and
start time (``/proc/<pid>/stat``, field 22, in clock ticks since boot), so that
a later command can tell a live owner from a stale lock: an owner that ended
(killed, the machine rebooted) or a pid the system has since given to another
process.  A lock without a start time (written by an older version) counts as
stale when the process now holding its pid started after the lock was written.

A lock of another host cannot be checked from here: it is reported as such and
left to the user (``overwrite=true``).
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SWEEP_LOCK_FILE", "LockOwner", "SweepInUse", "SweepLock", "lock_owner", "lock_sweep", "lock_text",
           "process_start"]

#: seconds of slack between a lock's modification time and its owner's start time
_CLOCK_SLACK = 2.0


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (``/proc``), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the command name may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else None


def _start_epoch(ticks: str) -> float | None:
    """Seconds since the epoch at which a process of ``ticks`` started (None without /proc)."""
    try:
        btime = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                     if line.startswith("btime "))
        return btime + int(ticks) / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def lock_text(pid: int | None = None) -> str:
    """What a lock file holds for ``pid`` (default: this process)."""
    pid = os.getpid() if pid is None else pid
    started = process_start(pid)
    return f"pid {pid} on {socket.gethostname()}" + (f" started {started}" if started else "") + "\n"


@dataclass
class LockOwner:
    """Who a lock names and whether they hold it: ``state`` is ``alive``, ``dead``,
    ``reused`` (the pid belongs to a later process), ``elsewhere`` (another host)
    or ``unreadable``; ``what`` describes it in words."""

    state: str
    what: str
    pid: int | None = None

    @property
    def stale(self) -> bool:
        """True when the lock's owner is known to be gone (the folder may be taken)."""
        return self.state in ("dead", "reused", "unreadable")


def lock_owner(path) -> LockOwner:
    """The owner of the lock file ``path`` and whether it still runs."""
    path = Path(path)
    try:
        text = path.read_text()
        words = text.split()
        pid, host = int(words[1]), words[3]
        started = words[5] if len(words) > 5 and words[4] == "started" else None
    except (OSError, ValueError, IndexError):
        return LockOwner("unreadable", f"{path.name} cannot be read as a lock")
    who = f"pid {pid} on {host}"
    if host != socket.gethostname():
        return LockOwner("elsewhere", f"{who}, another host: whether it still runs cannot be checked from here", pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return LockOwner("dead", f"{who} has ended", pid)
    except PermissionError:
        pass  # a process of another user: it exists
    now = process_start(pid)
    if now is not None:
        if started is not None and started != now:
            return LockOwner("reused", f"{who} has ended; its pid was reused by a later process", pid)
        if started is None:
            begun = _start_epoch(now)
            with contextlib.suppress(OSError):
                if begun is not None and begun > path.stat().st_mtime + _CLOCK_SLACK:
                    return LockOwner("reused", f"{who} has ended; its pid was reused by a process started "
                                               f"after the lock was written", pid)
    return LockOwner("alive", f"{who}, still running", pid)


# --------------------------------------------------------------------------- the sweep lock

SWEEP_LOCK_FILE = ".relu_study_sweep.lock"


class SweepInUse(ValueError):
    """Another sweep that is still running holds the sweep folder."""


@dataclass
class SweepLock:
    """A sweep folder taken for one sweep; ``taken_from`` describes the stale
    lock it replaced ("" when there was none)."""

    path: Path
    taken_from: str = ""

    def release(self) -> None:
        """Free the folder (only if the lock is still this process's)."""
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(self.path.read_text().split()[1]) == os.getpid():
                self.path.unlink()


def lock_sweep(sweep_dir) -> SweepLock:
    """Take ``sweep_dir`` for the sweep of this process.

    Raises :class:`SweepInUse` when a live sweep holds it (a second sweep into
    the same folder would write the same job folders and mix the two).  A stale
    lock (a sweep that was killed) is taken: rerunning a stopped sweep resumes
    it.  An operating-system error is raised as it is.
    """
    sweep_dir = Path(sweep_dir)
    path = sweep_dir / SWEEP_LOCK_FILE
    taken_from = ""
    for _ in range(2):
        try:
            sweep_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = lock_owner(path)
            if owner.pid == os.getpid():  # this process holds it already (a sweep called again in-process)
                return SweepLock(path)
            if owner.state in ("alive", "elsewhere"):
                hint = f" (remove {path} if it does not run)" if owner.state == "elsewhere" else ""
                raise SweepInUse(f"{sweep_dir} is in use by another sweep ({SWEEP_LOCK_FILE}: {owner.what}): "
                                 f"wait for it to end, or choose another hydra.sweep.dir{hint}") from None
            taken_from = owner.what
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(lock_text())
        return SweepLock(path, taken_from)
    raise SweepInUse(f"{sweep_dir} is in use by another sweep ({SWEEP_LOCK_FILE}): choose another hydra.sweep.dir")
