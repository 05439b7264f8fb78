"""How the side commands end: ``reproduce``, ``report``, ``compare``, ``explore``.

They keep the main command's contract (the README's "What relu_study
guarantees"): the output folder is checked before any work (a read-only
``--out`` is found before an hour of training, not after), and whatever stops
them is one line on stderr with the main command's exit status: 2 for a bad
value, 1 for a file that cannot be written, 130 for Ctrl-C and 143 for SIGTERM,
never a traceback.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

__all__ = ["Terminated", "check_output_folder", "ends_in_one_line", "error_line", "raise_sigterm"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C raises KeyboardInterrupt."""


def raise_sigterm(signum, frame):
    """A SIGTERM handler: raise :class:`Terminated` (install it only in an entry point)."""
    raise Terminated()


def check_output_folder(folder, option: str = "--out") -> Path:
    """Prove that ``folder`` can be written (or made), without leaving anything.

    A file is created and removed in ``folder``, or, when it does not exist yet,
    in its nearest existing parent (where it would be made).  Raises
    ``ValueError`` (exit 2) when ``folder`` or that parent is not a folder, and
    :class:`relu_study.runs.folders.WriteError` (exit 1) when it cannot be
    written.  Nothing is created: a command rejected later leaves no trace.
    """
    from .folders import WriteError

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{option} {folder}: exists and is not a folder")
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{option} {folder}: {existing} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-check.", suffix=".tmp", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise WriteError(existing, exc) from exc
    return folder


_AGAIN = "every file written so far is whole; run the command again"


def error_line(exc: BaseException, again: str = _AGAIN) -> tuple[str, int]:
    """One line and an exit status for what stopped a side command (``again``:
    what an interrupted one kept and how to go on)."""
    from .folders import IncompleteWrite, WriteError

    if isinstance(exc, KeyboardInterrupt):
        name, code = ("SIGTERM", 143) if isinstance(exc, Terminated) else ("SIGINT", 130)
        return f"interrupted by {name}: stopped; {again}", code
    if isinstance(exc, (WriteError, IncompleteWrite)):
        return f"error: {exc}", 1
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
        what = f"cannot write {exc.filename}: " if exc.filename else ""
        reason = f"[Errno {exc.errno}] {exc.strerror}" if exc.strerror else str(exc)
        return f"error: {what}{reason}", 1
    if isinstance(exc, (ValueError, FileNotFoundError, KeyError)):
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        return f"error: {str(text).splitlines()[0] if str(text) else type(exc).__name__}", 2
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"error: {type(exc).__name__}: {first}", 1


def ends_in_one_line(work, again: str = _AGAIN) -> int:
    """Run ``work()`` (returning an exit status) with SIGTERM raised as
    :class:`Terminated`; whatever stops it is printed as one line and its exit
    status returned.  The signal handler is the entry point's for the time of
    the command and restored after."""
    previous = signal.signal(signal.SIGTERM, raise_sigterm) if _main_thread() else None
    try:
        return work()
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - every end is one line
        line, code = error_line(exc, again)
        sys.stdout.flush()
        print(line, file=sys.stderr, flush=True)
        return code
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
