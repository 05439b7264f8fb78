"""Probe settings through the configuration and the command line: every key is
validated with its name, ``probe.units=true`` writes ``units.parquet``, the probe
schedule reaches the run's table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from relu_study.engine.probes import ProbeOptions
from relu_study.runs.cli import compose
from relu_study.runs.config import ConfigError, ProbeConfig, validate

FAST = ["epochs=4", "dataset.n_samples=120", "model.width=6", "progress=false", "plots=false"]


def test_config_keys_are_the_probe_options():
    """The composed ``probe`` section is ``enabled`` and every ProbeOptions field but
    the seed (the dataset's), with its default: one declaration, no copy in
    conf/config.yaml to keep equal."""
    options, config = ProbeOptions(), ProbeConfig()
    names = [n for n in ProbeOptions.__dataclass_fields__ if n != "seed"]
    assert list(ProbeConfig.__dataclass_fields__) == ["enabled", *names]
    cfg = OmegaConf.to_container(compose([]), resolve=True)
    assert list(cfg["probe"]) == ["enabled", *names]
    for name in names:
        assert getattr(config, name) == getattr(options, name) == cfg["probe"][name], name
    assert ProbeOptions.from_config(cfg["probe"]) == options
    yaml = (Path(__file__).resolve().parent.parent / "conf" / "config.yaml").read_text()
    assert "\nprobe:" not in yaml  # the defaults are not written twice
    typed = OmegaConf.to_container(compose(["probe.near_zero_curve=[0.1,1]", "probe.max_samples=null"]))
    assert typed["probe"]["near_zero_curve"] == [0.1, 1.0] and typed["probe"]["max_samples"] is None
    with pytest.raises(ValueError):  # the schema types the keys: relu_study.ConfigError
        compose(["probe.every=often"])


@pytest.mark.parametrize("override, key", [
    ("probe.gain_tol=-1", "probe.gain_tol"), ("probe.dormant_tau=nan", "probe.dormant_tau"),
    ("probe.contribution_tol=2", "probe.contribution_tol"), ("probe.every=0", "probe.every"),
    ("probe.dense=-1", "probe.dense"), ("probe.per_decade=-1", "probe.per_decade"),
    ("probe.max_samples=0", "probe.max_samples"), ("probe.near_zero_rel=-0.1", "probe.near_zero_rel"),
])
def test_validation_names_the_probe_key(override, key):
    cfg = OmegaConf.to_container(compose([override]), resolve=True)
    with pytest.raises(ConfigError) as exc:
        validate(cfg)
    assert exc.value.key == key
    assert str(exc.value).startswith(f"{key}=")


def _run(tmp_path: Path, *overrides):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "relu_study", *overrides, f"hydra.run.dir={out}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    return proc, out


def test_units_parquet_and_schedule_from_the_command_line(tmp_path):
    proc, out = _run(tmp_path, "seeds=2", "probe.units=true", "probe.every=2", *FAST)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_parquet(out / "metrics.parquet")
    assert table.loc[table["dead_frac"].notna(), "epoch"].unique().tolist() == [0, 2, 4]
    assert table["val_loss"].notna().all()
    units = pd.read_parquet(out / "units.parquet")
    assert list(units.columns) == ["seed", "epoch", "layer", "unit", "never_positive", "max_gain",
                                   "mean_abs", "contribution", "ablation"]
    assert len(units) == 2 * 3 * (6 + 6)  # seeds x probes x units
    assert units["ablation"].isna().all()  # probe.ablation is off


def test_bad_probe_value_stops_cleanly(tmp_path):
    proc, out = _run(tmp_path, "probe.every=0", *FAST)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "probe.every=0" in lines[0], proc.stderr
    assert not (out / "metrics.parquet").exists() and not (out / "units.parquet").exists()


def test_every_probe_column_is_documented():
    """Each metric has its one-sentence meaning in train.COLUMNS and a row in the
    README's column table (per-layer columns share their metric's row)."""
    from relu_study.engine.probes import LAYER_METRICS, NETWORK_METRICS, UNIT_COLUMNS
    from relu_study.engine.train import COLUMNS, UNIT_COLUMN_MEANINGS

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = readme[readme.index("### Metrics columns"):readme.index("## Sweeps")]
    for metric in (*LAYER_METRICS, *NETWORK_METRICS):
        assert COLUMNS.get(metric), metric
        assert f"`{metric}`" in table, metric
    assert set(UNIT_COLUMN_MEANINGS) == set(UNIT_COLUMNS)
    for column in UNIT_COLUMNS[4:]:
        assert f"`{column}`" in readme, column


def test_curves_join_the_probed_epochs():
    """Probe columns are NaN on epochs the schedule skips: a run's curve has a point
    at every probed epoch and none elsewhere (never a 0, never a gap)."""
    from relu_study.runs.plots import mean_band

    table = pd.DataFrame({"seed": [0, 0, 0, 1, 1, 1], "epoch": [0, 1, 2] * 2,
                          "dead_frac": [0.1, None, 0.3, 0.2, None, 0.5]})
    band = mean_band(table, "dead_frac")
    assert band.index.tolist() == [0, 2]
    assert band["mean"].tolist() == pytest.approx([0.15, 0.4])
