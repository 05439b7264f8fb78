"""The configs ship with the package, so a regular `pip install .` works."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _build_wheel(dest: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dest), str(ROOT)], check=True, capture_output=True, text=True, timeout=300)
    (wheel,) = dest.glob("relu_study-*.whl")
    return wheel


def test_wheel_contains_every_config_and_module(tmp_path):
    if not (ROOT / "pyproject.toml").exists():
        pytest.skip("not a source checkout")
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {"relu_study/conf/" + p.relative_to(ROOT / "conf").as_posix()
                for p in (ROOT / "conf").rglob("*.yaml")}
    assert expected, "no configs found in conf/"
    assert expected <= names, sorted(expected - names)
    assert "relu_study/conf/config.yaml" in names
    assert "relu_study/py.typed" in names  # PEP 561 marker
    modules = {p.relative_to(ROOT).as_posix() for top in ("relu_study", "hydra_plugins")
               for p in (ROOT / top).rglob("*.py")}
    assert "relu_study/runs/cli.py" in modules
    assert "hydra_plugins/relu_study_launcher/slurm_launcher.py" in modules  # hydra/launcher=slurm
    assert "hydra_plugins/__init__.py" not in names  # a namespace shared with Hydra's own plugins
    assert modules <= names, f"modules missing from the wheel (list their package in pyproject.toml): " \
                             f"{sorted(modules - names)}"
    assets = {p.relative_to(ROOT).as_posix() for p in (ROOT / "relu_study" / "web" / "assets").iterdir()}
    assert {"relu_study/web/assets/chart.js", "relu_study/web/assets/page.css"} <= assets
    assert assets <= names, f"page assets missing from the wheel (pyproject package-data): {sorted(assets - names)}"


@pytest.mark.slow
def test_regular_install_in_fresh_venv_runs_from_elsewhere(tmp_path):
    """`pip install .` (not editable) into a new virtual environment, then run
    the default experiment from an unrelated folder."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(ROOT)], check=True, timeout=1200)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run([str(py), "-m", "relu_study", "epochs=2", "hydra.run.dir=out"], cwd=elsewhere,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (elsewhere / "out" / "metrics.parquet").is_file()
    where = subprocess.run([str(py), "-c", "import relu_study; print(relu_study.__file__)"], cwd=elsewhere,
                           capture_output=True, text=True, check=True).stdout
    assert str(env_dir) in where  # the installed copy, not the checkout
