"""The metric registry as Markdown: the column table of the README (and of any
document holding the block's markers), generated, never written by hand.

``python -m relu_study.engine.metric_docs [FILE ...]`` (default ``README.md``)
rewrites the block between :data:`BEGIN` and :data:`END` in each file;
``tests/test_metric_docs.py`` fails when a file's block differs from
:func:`readme_block`, as the claims table's test does for ``results/claims.json``.
So adding a metric to :data:`~relu_study.engine.metrics.METRICS` documents it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .metrics import METRICS, Metric

__all__ = ["BEGIN", "END", "column_table", "readme_block", "update"]

BEGIN = ("<!-- metrics columns: generated from relu_study/engine/metrics.py by "
         "`python -m relu_study.engine.metric_docs`; do not edit by hand -->")
END = "<!-- end of the generated metrics columns -->"

_FINAL = {"last": "last", "sum": "sum over epochs"}


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def _name(m: Metric) -> str:
    name = f"`{m.name}`"
    return f"{name}, `{m.name}_l<i>`" if m.scope == "layer" else name


def _final(m: Metric) -> str:
    parts = [_FINAL.get(m.final, m.final)] if m.final else []
    if m.best:
        parts.append(f"best: {m.best}")
    return ", ".join(parts) or "none"


def _by_construction(m: Metric) -> str:
    return "; ".join(f"{who}: {what}" for who, what in m.by_construction.items())


def column_table() -> str:
    """One row per registry entry, in table order: the column (and its per-layer
    variant), its meaning with formula, unit, how its final value is taken
    (``final_<name>`` in ``summary.json`` and ``sweep_runs.parquet``; ``best_<name>``
    too where the best over epochs means something), what switches it on, and
    the value it takes by construction for some activations."""
    rows = ["| column | meaning | unit | final value | on | by construction |", "|---|---|---|---|---|---|"]
    for m in METRICS.values():
        on = f"`{m.opt_in}`" if m.opt_in else (m.task or "always")
        rows.append("| " + " | ".join(_cell(c) for c in (_name(m), m.meaning, m.unit, _final(m), on,
                                                           _by_construction(m))) + " |")
    return "\n".join(rows) + "\n"


def readme_block() -> str:
    """The block between the markers, markers included."""
    return f"{BEGIN}\n{column_table()}{END}\n"


def update(path) -> bool:
    """Rewrite the block in ``path`` (atomically); True when it changed.  A file
    without both markers is an error (the block's place is chosen by hand)."""
    path = Path(path)
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{path}: no generated metrics-columns block (add the two marker lines where it belongs)")
    start, end = text.index(BEGIN), text.index(END) + len(END) + 1
    new = text[:start] + readme_block() + text[end:]
    if new == text:
        return False
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(new)
    os.replace(tmp, path)
    return True


def main(argv=None) -> int:
    files = (sys.argv[1:] if argv is None else argv) or ["README.md"]
    for f in files:
        try:
            changed = update(f)
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{f}: {'updated' if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
