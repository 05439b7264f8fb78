"""Print a pip constraints file that pins every core dependency of pyproject.toml to its floor.

``name>=X`` becomes ``name==X``; an exact pin stays; a dependency with only an upper
bound is left to pip.  CI installs relu_study with these constraints into a second
virtual environment and runs a fast subset of the tests there, so every declared
floor is one that works (.ci/run)."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


def constraints(pyproject: Path) -> list[str]:
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    out = []
    for dep in deps:
        name = re.match(r"[A-Za-z0-9_.\-]+", dep).group(0)
        floor = re.search(r"(>=|==)\s*([^,;\s]+)", dep)
        if floor:
            out.append(f"{name}=={floor.group(2)}")
    return out


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    print("\n".join(constraints(root / "pyproject.toml")))
    sys.exit(0)
