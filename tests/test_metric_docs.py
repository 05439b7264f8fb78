"""The README's metrics-columns table is generated from the metric registry
(:mod:`relu_study.engine.metric_docs`), checked as the claims table is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from relu_study.engine import metric_docs as D
from relu_study.engine.metrics import METRICS

ROOT = Path(__file__).resolve().parent.parent


def _block(text: str) -> str:
    assert text.count(D.BEGIN) == 1 and text.count(D.END) == 1
    return text[text.index(D.BEGIN):text.index(D.END) + len(D.END)] + "\n"


def test_readme_block_is_the_registry():
    block = _block((ROOT / "README.md").read_text())
    assert block == D.readme_block(), ("README's metrics-columns table differs from the registry: run "
                                       "python -m relu_study.engine.metric_docs README.md")


def test_every_metric_has_a_row():
    rows = D.column_table().splitlines()[2:]
    assert len(rows) == len(METRICS)
    for row, (name, m) in zip(rows, METRICS.items()):
        assert row.startswith(f"| `{name}`") and m.unit in row, name
        for who in m.by_construction:
            assert who.replace("|", "\\|") in row, (name, who)


def test_command_rewrites_the_block_and_refuses_a_file_without_it(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(f"# title\n\n{D.BEGIN}\nstale\n{D.END}\n\nafter\n")
    cmd = [sys.executable, "-m", "relu_study.engine.metric_docs"]
    proc = subprocess.run([*cmd, str(doc)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert doc.read_text() == f"# title\n\n{D.readme_block()}\nafter\n"
    plain = tmp_path / "plain.md"
    plain.write_text("no block\n")
    proc = subprocess.run([*cmd, str(plain)], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and str(plain) in proc.stderr
    assert plain.read_text() == "no block\n" and sorted(p.name for p in tmp_path.iterdir()) == ["doc.md", "plain.md"]
