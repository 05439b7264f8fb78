"""Compare runs from anywhere: ``python -m relu_study.compare PATH [PATH ...] [--by KEY,KEY] [--out DIR]
[--no-plots] [--csv]``.

Builds the tables and plots a sweep's callback writes (``sweep_metrics.parquet``,
``sweep_runs.parquet``, ``sweep_summary.txt``, comparison plots) from existing
run folders and sweep folders (searched recursively), so runs of different
sweeps can be set side by side.  ``--by`` chooses the arm keys (default: the
config keys that differ between the runs, seeds excluded).  The output goes to
``--out``, or to a new folder ``compare/`` (``compare-1/``, ... if taken) in the
current directory; the folder is printed.

A sweep folder with a job list (``sweep_jobs.jsonl``) contributes exactly the
jobs of its last sweep; what was left out (folders of an earlier sweep,
incomplete folders, networks read twice) is printed as ``warning:`` lines and
recorded in ``sweep_summary.txt``.

Exit status: 0 when tables were written (failed jobs among the inputs are
reported, not fatal), 2 for bad arguments or when no run was found (one line
``error: ...``, nothing written), 1 when the output cannot be written, 130 on
Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["compare", "main"]


def _new_out_dir(base: Path) -> Path:
    if not base.exists():
        return base
    i = 1
    while (base.parent / f"{base.name}-{i}").exists():
        i += 1
    return base.parent / f"{base.name}-{i}"


def compare(paths, by=None, out=None, plots: bool = True, notes: list | None = None,
            csv: bool = False) -> tuple[Path, list[Path]]:
    """Collect ``paths`` and write the comparison into ``out`` (default: a new
    ``compare/`` folder in the current directory); ``csv``: the two tables as
    CSV too (``sweep_metrics.csv``, ``sweep_runs.csv``).  Returns ``(out, files)``;
    ``notes`` (a list) receives the lines saying what was left out."""
    from .aggregate import gather, write_sweep
    from .arms import arm_keys

    found = gather(paths)
    if notes is not None:
        notes += found.notes()
    if found.runs.empty:
        raise ValueError("no run folders found under " + ", ".join(map(str, paths)))
    keys = arm_keys(found.runs, by)  # validates --by before anything is written
    out = Path(out) if out is not None else _new_out_dir(Path.cwd() / "compare")
    files = write_sweep(out, found.metrics, found.runs, by=keys, plots=plots, notes=found.notes(), csv=csv)
    return out, files


class _Parser(argparse.ArgumentParser):
    """Bad arguments end in one line ``error: ...`` and exit status 2."""

    def error(self, message):
        print(f"error: {message} (python -m relu_study.compare --help)", file=sys.stderr)
        sys.exit(2)


def main(argv=None) -> int:
    parser = _Parser(
        prog="python -m relu_study.compare",
        description="Tables and comparison plots from existing run and sweep folders.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="run folders or sweep folders (searched recursively)")
    parser.add_argument("--by", metavar="KEY,KEY", default=None,
                        help="config keys that define an arm, e.g. activation.name,alpha "
                             "(default: the keys that differ between runs, seed excluded)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="output folder (default: a new folder compare/ in the current directory)")
    parser.add_argument("--no-plots", action="store_true", help="write the tables and summary only")
    parser.add_argument("--csv", action="store_true",
                        help="also write the tables as CSV (sweep_metrics.csv, sweep_runs.csv)")
    args = parser.parse_args(argv)
    import signal

    from ..runs.entry import Terminated, check_output_folder, error_line, raise_sigterm

    notes: list[str] = []
    previous = signal.signal(signal.SIGTERM, raise_sigterm)  # the entry point's, for the time of the command
    try:
        if args.out is not None:
            check_output_folder(args.out)  # before the runs are read
        out, files = compare(args.paths, by=args.by, out=args.out, plots=not args.no_plots, notes=notes,
                             csv=args.csv)
    except KeyboardInterrupt as exc:
        name, code = ("SIGTERM", 143) if isinstance(exc, Terminated) else ("SIGINT", 130)
        print(f"interrupted by {name}: the comparison is incomplete (each file written so far is whole); "
              "run the command again", file=sys.stderr)
        return code
    except (FileNotFoundError, ValueError, KeyError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except OSError as exc:  # a write error: one line naming the file, exit 1
        line, code = error_line(exc)
        print(line, file=sys.stderr)
        return code
    finally:
        signal.signal(signal.SIGTERM, previous)
        for note in notes:
            print(f"warning: {note}", file=sys.stderr)
    text = (out / "sweep_summary.txt").read_text()
    print(text, end="")
    print(f"wrote {len(files)} files to {out}:")
    for f in files:
        print(f"  {f.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
