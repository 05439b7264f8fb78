"""Compare runs from anywhere: ``python -m relu_study.compare PATH [PATH ...] [--by KEY,KEY] [--out DIR] [--no-plots]``.

Builds the tables and plots a sweep's callback writes (``sweep_metrics.parquet``,
``sweep_runs.parquet``, ``sweep_summary.txt``, comparison plots) from existing
run folders and sweep folders (searched recursively), so runs of different
sweeps can be set side by side.  ``--by`` chooses the arm keys (default: the
config keys that differ between the runs, seeds excluded).  The output goes to
``--out``, or to a new folder ``compare/`` (``compare-1/``, ... if taken) in the
current directory; the folder is printed.

Exit status: 0 when tables were written (failed jobs among the inputs are
reported, not fatal), 2 for bad arguments or when no run was found.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

__all__ = ["compare", "main"]


def _new_out_dir(base: Path) -> Path:
    if not base.exists():
        return base
    i = 1
    while (base.parent / f"{base.name}-{i}").exists():
        i += 1
    return base.parent / f"{base.name}-{i}"


def compare(paths, by=None, out=None, plots: bool = True) -> tuple[Path, list[Path]]:
    """Collect ``paths`` and write the comparison into ``out`` (default: a new
    ``compare/`` folder in the current directory).  Returns ``(out, files)``."""
    from .aggregate import collect, write_sweep
    from .arms import arm_keys

    metrics, runs = collect(paths)
    if runs.empty:
        raise ValueError("no run folders found under " + ", ".join(map(str, paths)))
    keys = arm_keys(runs, by)  # validates --by before anything is written
    out = Path(out) if out is not None else _new_out_dir(Path.cwd() / "compare")
    files = write_sweep(out, metrics, runs, by=keys, plots=plots)
    return out, files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m relu_study.compare",
        description="Tables and comparison plots from existing run and sweep folders.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="run folders or sweep folders (searched recursively)")
    parser.add_argument("--by", metavar="KEY,KEY", default=None,
                        help="config keys that define an arm, e.g. activation.name,alpha "
                             "(default: the keys that differ between runs, seed excluded)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="output folder (default: a new folder compare/ in the current directory)")
    parser.add_argument("--no-plots", action="store_true", help="write the tables and summary only")
    args = parser.parse_args(argv)
    from .aggregate import IncompleteRunWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IncompleteRunWarning)
        try:
            out, files = compare(args.paths, by=args.by, out=args.out, plots=not args.no_plots)
        except (FileNotFoundError, ValueError, KeyError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            print(f"error: {msg}", file=sys.stderr)
            return 2
        finally:
            for w in caught:
                if issubclass(w.category, IncompleteRunWarning):
                    print(f"warning: {w.message}", file=sys.stderr)
                else:
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    text = (out / "sweep_summary.txt").read_text()
    print(text, end="")
    print(f"wrote {len(files)} files to {out}:")
    for f in files:
        print(f"  {f.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
