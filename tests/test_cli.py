"""The command line end to end: configs compose, runs write their folder, bad
input stops cleanly, the same seed gives the same table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

import relu_study
from relu_study.engine.activations import ACTIVATIONS
from relu_study.runs.cli import compose
from relu_study.runs.config import ConfigError, validate

CONF = Path(relu_study.__file__).resolve().parent.parent / "conf"
try:  # installed non-editable: configs are inside the package
    import relu_study.conf as _conf_pkg

    CONF = Path(_conf_pkg.__file__).resolve().parent
except ImportError:  # pragma: no cover
    pass

FAST = ["epochs=2", "dataset.n_samples=200", "model.width=8", "progress=false"]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def run_cli(tmp_path: Path, *overrides, name="run", timeout=120):
    out = tmp_path / name
    cmd = [sys.executable, "-m", "relu_study", *overrides, f"hydra.run.dir={out}"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=timeout)
    return proc, out


# ----------------------------------------------------------------- composing
def test_every_activation_has_a_config_and_back():
    assert options("activation") == sorted(ACTIVATIONS)


@pytest.mark.parametrize("group", ["activation", "dataset", "model", "init", "optimizer"])
def test_every_option_composes_and_validates(group, tmp_path):
    found = options(group)
    assert found, f"no options in conf/{group}"
    for option in found:
        overrides = [f"{group}={option}"]
        if option == "table":
            csv = tmp_path / "t.csv"
            pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 1, 0, 1]}).to_csv(csv, index=False)
            overrides += [f"dataset.path={csv}", "dataset.target=y"]
        cfg = OmegaConf.to_container(compose(overrides), resolve=True)
        validate(cfg)
        if group == "activation":
            assert cfg["activation"]["name"] == option


def test_every_experiment_preset_composes():
    for option in options("experiment"):
        cfg = OmegaConf.to_container(compose([f"experiment={option}"]), resolve=True)
        validate(cfg)


def test_top_level_alpha_reaches_leaky_and_prelu():
    from relu_study.runs.cli import _container
    from relu_study.runs.config import activation_params, slope_used
    from relu_study.runs.experiment import _activation

    for act in ("leaky", "prelu"):
        cfg = _container(compose([f"activation={act}", "alpha=0.37"]))
        assert activation_params(cfg) == {"alpha": ("alpha", 0.37)} and slope_used(cfg) == 0.37
        assert _activation(cfg).alpha == 0.37
    # the slope used, whatever the config's alpha: relu 0, no slope NaN; ELU's alpha is its scale
    relu = _container(compose(["activation=relu", "alpha=0.37"]))
    assert slope_used(relu) == 0.0
    elu = _container(compose(["activation=elu", "alpha=0.37", "activation.scale=0.5"]))
    assert np.isnan(slope_used(elu)) and activation_params(elu) == {"alpha": ("activation.scale", 0.5)}
    assert _activation(elu).alpha == 0.5


def test_schema_rejects_wrong_types_and_unknown_keys():
    from relu_study import ConfigError

    # the command line's one line, as the ValueError a notebook catches (never Hydra's own exceptions)
    with pytest.raises(ConfigError, match="batch_size=abc: must be an integer"):
        compose(["batch_size=abc"])
    with pytest.raises(ConfigError, match="foo=1: no such key"):
        compose(["+foo=1"])
    with pytest.raises(ConfigError, match="optimizer.learning_rate=0.1: no such key"):
        compose(["optimizer.learning_rate=0.1"])


@pytest.mark.parametrize("override, key", [
    ("alpha=nan", "alpha"), ("optimizer.lr=-1", "optimizer.lr"), ("optimizer.lr=0", "optimizer.lr"),
    ("batch_size=0", "batch_size"), ("model.width=0", "model.width"), ("seeds=0", "seeds"),
    ("init.bias_value=inf", "init.bias_value"), ("dataset.val_fraction=1.5", "dataset.val_fraction"),
    ("dataset.test_fraction=-0.1", "dataset.test_fraction"), ("dataset.test_fraction=0.8", "dataset.test_fraction"),
    ("init.output=hidden", "init.output"), ("probe.near_zero_curve=[0.1,-1]", "probe.near_zero_curve"),
])
def test_validation_names_the_key(override, key):
    cfg = OmegaConf.to_container(compose(["activation=leaky", override]), resolve=True)
    with pytest.raises(ConfigError) as exc:
        validate(cfg)
    assert exc.value.key == key
    assert str(exc.value).startswith(f"{key}=")


def test_notebook_entry_point_returns_the_table(tmp_path):
    table = relu_study.run(["activation=leaky", "alpha=0.1", "seeds=2", *FAST])
    assert isinstance(table, pd.DataFrame)
    assert sorted(table["seed"].unique()) == [0, 1]
    assert len(table) == 2 * 3
    assert (table["activation.name"] == "leaky").all()
    assert (table["activation.alpha"] == 0.1).all()
    # with an output folder the run folder is written too
    table2 = relu_study.run(["activation=leaky", "alpha=0.1", "seeds=2", *FAST], output_dir=tmp_path / "nb")
    pd.testing.assert_frame_equal(table.reset_index(drop=True), table2)
    assert (tmp_path / "nb" / "summary.json").exists()


# ------------------------------------------------------------ end to end runs
def _check_run_folder(out: Path, n_seeds: int, epochs: int, task="classification"):
    for name in ("metrics.parquet", "summary.json", "params.npz", "loss.png", "dead.png"):
        assert (out / name).is_file(), name
    assert not list(out.glob(".*.tmp*")), "temporary files left behind"
    table = pd.read_parquet(out / "metrics.parquet")
    assert len(table) == n_seeds * (epochs + 1)
    metric = "val_acc" if task == "classification" else "val_r2"
    for col in ("seed", "epoch", "train_loss", "val_loss", metric, "dead_frac", "zero_grad_frac",
                "exact_zero_frac", "near_zero_frac", "active_rate", "grad_norm", "revived", "collapsed",
                "dead_frac_l1", "activation.name", "optimizer.lr", "dataset.name"):
        assert col in table, col
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is True
    assert len(summary["seeds"]) == n_seeds
    assert summary["config"]["epochs"] == epochs
    assert summary["version"] == relu_study.__version__
    params = np.load(out / "params.npz")
    assert params["W1"].shape[0] == n_seeds
    return table, summary


def test_default_run(tmp_path):
    proc, out = run_cli(tmp_path, "epochs=3")
    assert proc.returncode == 0, proc.stderr
    table, summary = _check_run_folder(out, 1, 3)
    assert summary["status"] == "ok"
    log = (out / "relu_study.log").read_text()
    assert "dead_frac=" in log and "val_loss=" in log  # the log states the final loss and dead fraction
    assert "training" not in proc.stderr  # no progress bar when stderr is not a terminal


def test_leaky_with_alpha_exactly_as_written(tmp_path):
    proc, out = run_cli(tmp_path, "activation=leaky", "alpha=0.01", *FAST)
    assert proc.returncode == 0, proc.stderr
    table, summary = _check_run_folder(out, 1, 2)
    assert (table["activation.name"] == "leaky").all() and (table["activation.alpha"] == 0.01).all()
    assert summary["network"].startswith("MLP(2-8-8-2, activation=LeakyReLU(alpha=0.01)")


def test_regression_dataset_several_seeds(tmp_path):
    proc, out = run_cli(tmp_path, "dataset=abs", "seeds=3", "model=deep_narrow", "optimizer=adam",
                        "epochs=2", "progress=false")
    assert proc.returncode == 0, proc.stderr
    table, summary = _check_run_folder(out, 3, 2, task="regression")
    assert sorted(table["seed"].unique()) == [0, 1, 2]
    assert "dead_frac_l10" in table
    assert [s["seed"] for s in summary["seeds"]] == [0, 1, 2]


def test_seed_list_and_user_table(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    frame["label"] = np.where(frame["a"] + frame["b"] > 0, "yes", "no")
    path = tmp_path / "mine.parquet"
    frame.to_parquet(path)
    proc, out = run_cli(tmp_path, "dataset=table", f"dataset.path={path}", "dataset.target=label",
                        "seeds=[4,9]", "epochs=2", "progress=false")
    assert proc.returncode == 0, proc.stderr
    table, _ = _check_run_folder(out, 2, 2)
    assert sorted(table["seed"].unique()) == [4, 9]


def test_same_seed_same_table(tmp_path):
    a = run_cli(tmp_path, "activation=leaky", "seeds=2", *FAST, name="a")
    b = run_cli(tmp_path, "activation=leaky", "seeds=2", *FAST, name="b")
    assert a[0].returncode == 0 and b[0].returncode == 0
    ta, tb = pd.read_parquet(a[1] / "metrics.parquet"), pd.read_parquet(b[1] / "metrics.parquet")
    pd.testing.assert_frame_equal(ta, tb, check_exact=True)


@pytest.mark.parametrize("override, needle", [
    (["activation=leaky", "alpha=nan"], "alpha=nan"),
    (["optimizer.lr=-1"], "optimizer.lr=-1"),
    (["batch_size=0"], "batch_size=0"),
    (["dataset=table", "dataset.path=/no/such/file.csv", "dataset.target=y"], "dataset.path="),
])
def test_bad_values_stop_cleanly(tmp_path, override, needle):
    proc, out = run_cli(tmp_path, *override, *FAST)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert not (out / "metrics.parquet").exists()
    assert not (out / "summary.json").exists()


def test_unknown_group_option_lists_choices(tmp_path):
    proc, out = run_cli(tmp_path, "activation=swishy")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: invalid configuration: activation=swishy: no such option; choose from "
        + ", ".join(sorted(ACTIVATIONS))]
    assert not out.exists()


@pytest.mark.skipif(os.name != "posix", reason="uses a POSIX working directory")
def test_runs_from_any_working_directory(tmp_path):
    elsewhere = tmp_path / "some" / "where"
    elsewhere.mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-m", "relu_study", *FAST, "hydra.run.dir=out"],
                          cwd=elsewhere, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (elsewhere / "out" / "metrics.parquet").is_file()


@pytest.mark.skipif(os.name != "posix", reason="needs a pseudo-terminal")
def test_progress_bar_in_a_terminal(tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a real terminal has a size
    out = tmp_path / "tty"
    proc = subprocess.Popen([sys.executable, "-m", "relu_study", "epochs=3", "dataset.n_samples=200",
                             f"hydra.run.dir={out}"], cwd=tmp_path, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(master)
    text = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, text
    assert "training" in text and "epoch" in text  # tqdm's bar: "training: ...| 3/3 [..., epoch/s]"


def test_dataset_loader_options_pass_through():
    from relu_study.runs.cli import _container

    cfg = _container(compose(["dataset=spirals", "+dataset.options.n_classes=3"]))
    assert cfg["dataset"]["options"] == {"n_classes": 3}
    table = relu_study.run(["dataset=spirals", "+dataset.options.n_classes=3", "epochs=0", "progress=false"])
    assert json_options(table) == {"n_classes": 3}


def json_options(table):
    return json.loads(table["dataset.options"].iloc[0])
