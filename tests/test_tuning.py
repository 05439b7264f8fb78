"""Tuned comparisons: the Optuna preset (``hparams_search=lr_optuna``) runs a
study whose failed and diverged jobs still give Optuna a value, and the sweep
is aggregated as any other."""

from __future__ import annotations

import math
import subprocess
import sys

import pandas as pd
from omegaconf import OmegaConf

from relu_study.runs.cli import sweep_objective

FAST = ["seeds=1", "epochs=2", "dataset.n_samples=200", "model.width=8"]


def test_sweep_objective_is_always_a_number():
    ok = {"status": "ok", "final_mean": {"val_loss": 0.25}}
    assert sweep_objective(ok) == 0.25
    assert sweep_objective({"status": "diverged", "final_mean": {"val_loss": 0.2}}) == math.inf  # one seed diverged
    assert sweep_objective({"status": "diverged", "final_mean": {}}) == math.inf  # all diverged
    assert sweep_objective({"status": "failed", "error": "ConfigError: ..."}) == math.inf


def test_optuna_study_with_only_failed_and_diverged_jobs_still_writes_the_sweep_tables(tmp_path):
    """Before, such a study ended with Optuna's "No trials are completed yet" and no tables."""
    sweep_dir = tmp_path / "tune"
    # the random sampler with seed 1 draws lr = 50 (diverges), -1 (invalid: a failed job), 100 (diverges)
    cmd = [sys.executable, "-m", "relu_study", "-m", "hparams_search=lr_optuna", "hydra/sweeper/sampler=random",
           "hydra.sweeper.sampler.seed=1", "hydra.sweeper.n_trials=3", "optimizer.lr=choice(-1,50,100)",
           "+experiment/arm=leaky_0.1", *FAST, f"hydra.sweep.dir={sweep_dir}"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    out = proc.stdout + proc.stderr
    assert "No trials are completed" not in out
    assert proc.returncode == 1, out[-3000:]  # a failed job: reported and exit 1, as in any sweep
    assert "1 of 3 jobs failed" in proc.stderr
    runs = pd.read_parquet(sweep_dir / "sweep_runs.parquet")
    assert dict(zip(runs["optimizer.lr"], runs["status"])) == {50.0: "diverged", -1.0: "failed", 100.0: "diverged"}
    assert (runs["activation.name"] == "leaky").all() and (runs["alpha"] == 0.1).all()
    assert len(pd.read_parquet(sweep_dir / "sweep_metrics.parquet"))
    assert "FAILED" in (sweep_dir / "sweep_summary.txt").read_text()
    result = OmegaConf.load(sweep_dir / "optimization_results.yaml")
    assert result.best_value == math.inf and result.best_params["optimizer.lr"] in (50, 100)


def test_the_preset_tunes_the_learning_rate_with_a_failure_rate():
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module="relu_study.conf", version_base="1.3"):
        cfg = compose("config", overrides=["hparams_search=lr_optuna"], return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "minimize"
    assert 0 < sweeper.max_failure_rate < 1 and sweeper.sampler.seed == 0
    assert list(sweeper.params) == ["optimizer.lr"] and sweeper.params["optimizer.lr"].startswith("tag(log")
