"""The package's layers, read from its imports: no cycle, no import from a layer
above one's own, Hydra only in the command-line layer.

Every ``import`` counts, also those inside functions (a lazy import is still a
dependency).  A new module or subpackage must be placed in :data:`LAYERS`, so
nothing lands outside the layering unnoticed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "relu_study"

#: module or subpackage (relative to relu_study) -> layer rank; a module may
#: import from its own rank or below, never above
LAYERS = {
    "_version": 0, "data": 0, "charts": 0, "provenance": 0, "web": 0,
    "engine": 1,
    "runs": 2,
    "sweeps": 3,
    "claims": 4,
    "tools": 5,
    # thin entry points for `python -m relu_study[.<name>]`, and the package itself
    "__init__": 6, "__main__": 6, "report": 6, "compare": 6, "reproduce": 6, "explore": 6, "bench": 6,
}
ENTRY_MODULES = ("__main__", "report", "compare", "reproduce", "explore", "bench")
#: the only modules allowed to import Hydra: the command line, the multirun callback
#: and the SLURM launcher plugin
HYDRA_IMPORTERS = {"relu_study.runs.cli", "relu_study.sweeps.aggregate", "relu_study.sweeps.slurm"}


def _modules() -> dict[str, Path]:
    """``{dotted name: path}`` of every Python module of the package (configs aside)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[1:2] == ["conf"]:
            continue
        if parts[-1] == "__init__" and len(parts) > 2:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rsplit(".", 1)[0]


def _imports(name: str, path: Path) -> set[str]:
    """The package modules ``name`` imports (resolved; submodules named in
    ``from pkg import mod`` count as that module)."""
    found = set()
    package = _package_of(name, path) if name != "relu_study.__init__" else "relu_study"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in MODULES else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in MODULES and "." in t:  # an attribute of a module: the module
                t = t.rsplit(".", 1)[0]
            if t == "relu_study":
                t = "relu_study.__init__"
            if t in MODULES and t != name:
                found.add(t)
    return found


def _rank(name: str) -> int:
    key = name.split(".")[1]
    assert key in LAYERS, (f"{name} is in no layer: add '{key}' to tests/test_layout.py LAYERS "
                           f"(and to the Layout section of the README)")
    return LAYERS[key]


GRAPH = {name: _imports(name, path) for name, path in MODULES.items() if name != "relu_study.conf"}


def test_every_module_has_a_layer():
    for name in GRAPH:
        _rank(name)


def test_no_module_imports_from_a_layer_above_its_own():
    upward = [f"{a} (layer {_rank(a)}) imports {b} (layer {_rank(b)})"
              for a, targets in GRAPH.items() for b in sorted(targets) if _rank(b) > _rank(a)]
    assert not upward, "\n".join(upward)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle():
    assert _cycles(GRAPH) == []


def test_cycle_finder_finds_a_cycle():
    """The check above can fail: a two-module cycle and a three-module one are found."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_walker_sees_lazy_and_relative_imports():
    """A function-local relative import is an arrow too (sweeps.aggregate imports its plots lazily)."""
    assert "relu_study.sweeps.plots" in GRAPH["relu_study.sweeps.aggregate"]
    assert "relu_study.engine.network" in GRAPH["relu_study.engine.train"]
    assert "relu_study.runs.cli" in GRAPH["relu_study.__init__"]


def test_entry_modules_are_thin():
    """``python -m relu_study.<name>`` modules only import a ``main`` and call it."""
    for name in ENTRY_MODULES:
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        defs = [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        assert not defs, f"relu_study/{name}.py defines {defs}: put code in its layer, keep the entry thin"


def test_hydra_is_imported_only_by_the_command_line_layer():
    importers = set()
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            if any(m == "hydra" or m.startswith("hydra.") for m in mods):
                importers.add(name)
    assert importers <= HYDRA_IMPORTERS, sorted(importers - HYDRA_IMPORTERS)


@pytest.mark.parametrize("module", ["relu_study.engine.train", "relu_study.runs.experiment",
                                    "relu_study.sweeps.aggregate", "relu_study.claims.stats"])
def test_library_modules_load_without_hydra(module):
    code = f"import sys, {module}; print('hydra' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _conflict_markers(root: Path) -> list[str]:
    """``file:line`` of every merge-conflict marker in the files git tracks under ``root``."""
    files = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True).stdout
    found = []
    for name in filter(None, files.decode().split("\0")):
        try:
            lines = (root / name).read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, OSError):  # binary files (figures) and files deleted in the work tree
            continue
        found += [f"{name}:{i}" for i, line in enumerate(lines, 1)
                  if line.startswith(("<<<<<<< ", ">>>>>>> ")) or line == "======="]
    return found


def test_no_merge_conflict_markers_in_tracked_files():
    root = PACKAGE.parent
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    assert _conflict_markers(root) == []


def test_conflict_marker_finder_finds_one(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "a.md").write_text("ok\n<<<<<<< HEAD\nmine\n=======\ntheirs\n>>>>>>> branch\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "a.md"], check=True)
    assert _conflict_markers(tmp_path) == ["a.md:2", "a.md:4", "a.md:6"]
