"""One run from a configuration: dataset, networks, optimiser, training, summary.

``run_experiment(cfg)`` takes a plain nested dict (see :mod:`relu_study.runs.config`)
and returns a :class:`RunResult`; it writes nothing.  The command line and the
notebook entry point both end here.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._version import __version__
from .config import (
    SLOPE_ACTIVATIONS, ConfigError, activation_params, flatten, hidden_widths, resolve_seeds, slope_used, validate,
)
from ..data import DatasetError, load_dataset
from ..engine.finals import final_values
from ..engine.network import MLP
from ..engine.optim import make_optimizer
from ..engine.probes import ProbeOptions
from ..engine.train import TrainResult, train

__all__ = [
    "CONFIG_COLUMNS_EXCLUDED", "RunResult", "build", "build_network", "build_optimizer", "config_columns",
    "run_experiment", "summarize", "train_options",
]

#: config keys that are not experiment parameters, left out of the table
CONFIG_COLUMNS_EXCLUDED = ("seed", "seeds", "progress", "plots", "save_params", "save_csv", "overwrite",
                           "epoch_stats", "logger")

log = logging.getLogger("relu_study")


@dataclass
class RunResult:
    table: pd.DataFrame  # metrics with config columns
    summary: dict
    result: TrainResult

    @property
    def net(self):
        return self.result.net


def build(cfg: dict):
    """``(dataset, network, optimizer)`` for a validated config."""
    data_cfg = cfg["dataset"]
    try:
        data = load_dataset(
            data_cfg["name"], seed=data_cfg["seed"], n_samples=data_cfg["n_samples"], noise=data_cfg["noise"],
            val_fraction=data_cfg["val_fraction"], standardize=data_cfg["standardize"], path=data_cfg["path"],
            target=data_cfg["target"], task=data_cfg["task"], dtype=_dtype(cfg),
            test_fraction=data_cfg.get("test_fraction", 0.0), **(data_cfg.get("options") or {}),
        )
    except DatasetError as exc:  # name the config key the user wrote
        raise ConfigError(f"dataset.{exc.key}", exc.value, exc.problem) from None
    return data, build_network(cfg, data), build_optimizer(cfg)


def _dtype(cfg: dict):
    return np.float32 if cfg["dtype"] == "float32" else np.float64


def build_network(cfg: dict, data) -> MLP:
    """The config's networks (one per seed) sized for ``data``.  Shared with the
    scikit-learn estimators, so the same settings build the same networks."""
    return MLP(
        data.n_features, hidden_widths(cfg), data.n_outputs,
        activation=_activation(cfg), seeds=resolve_seeds(cfg),
        weight_init=cfg["init"]["weight"], bias_init=cfg["init"]["bias"],
        bias_value=cfg["init"]["bias_value"], bias_std=cfg["init"]["bias_std"], dtype=_dtype(cfg),
        output_init=cfg["init"].get("output", "same"),
    )


def build_optimizer(cfg: dict):
    """The config's optimiser (``optimizer.*`` keys)."""
    opt = cfg["optimizer"]
    return make_optimizer(opt["name"], opt["lr"], **{k: v for k, v in opt.items() if k not in ("name", "lr")})


def train_options(cfg: dict) -> dict:
    """Keyword arguments of :func:`relu_study.engine.train.train` for ``cfg``
    (epochs, batch size, schedule, probes; the probe subsample is drawn from
    ``dataset.seed``)."""
    probe = cfg["probe"]
    probes = ProbeOptions.from_config(probe, seed=cfg["dataset"]["seed"]) if probe["enabled"] else False
    return dict(
        epochs=cfg["epochs"], batch_size=cfg["batch_size"],
        schedule=cfg["optimizer"]["schedule"], min_lr=cfg["optimizer"]["min_lr"], probes=probes,
        epoch_stats=cfg.get("epoch_stats", True), dormant_tau=probe["dormant_tau"],
    )


def _activation(cfg: dict):
    from ..engine.activations import make_activation

    params = {param: value for param, (_, value) in activation_params(cfg).items()}
    return make_activation(cfg["activation"]["name"], strict=True, **params)


def config_columns(cfg: dict) -> dict:
    """The run's config as table columns: dotted keys, scalars only (lists as JSON).

    ``alpha`` is the negative slope the network used (:func:`~relu_study.runs.config.slope_used`:
    0.0 for relu, NaN without a slope), not the config value an activation may
    ignore; ``activation.alpha`` repeats it for readers of tables written before
    the slope had one name.  ELU's scale is ``activation.scale``.
    """
    cols = {}
    for key, value in flatten(cfg).items():
        if key.split(".")[0] in CONFIG_COLUMNS_EXCLUDED:  # "plots.metrics" too
            continue
        if isinstance(value, (list, tuple, dict)):
            value = json.dumps(value, sort_keys=True)
        cols[key] = value
    if "activation.alpha" in cols and cfg["activation"]["name"] not in SLOPE_ACTIVATIONS:
        cols.setdefault("activation.scale", cols["activation.alpha"])  # an older config: ELU's scale
    cols["alpha"] = cols["activation.alpha"] = slope_used(cfg)
    return cols


def _finals(table: pd.DataFrame) -> dict:
    """``{seed: final metrics}`` from the table: each network's last epoch, then
    its final and best values as the metric registry takes them
    (:func:`relu_study.engine.finals.final_values`: every final-valued metric the
    run recorded, None where missing or diverged; ``best_val_loss`` and the other
    ``best_<name>``)."""
    values = final_values(table)
    epochs = table.groupby("seed", sort=False)["epoch"].max().reindex(values.index)
    columns = {"epoch": [int(e) for e in epochs]}
    for name in values.columns:
        col = values[name]
        convert = {"boolean": bool, "Int64": int}.get(str(col.dtype), float)
        columns[name] = [None if pd.isna(v) else convert(v) for v in col.to_numpy(dtype=object)]
    names = list(columns)
    return {seed: dict(zip(names, row)) for seed, row in zip(values.index, zip(*columns.values()))}


def summarize(cfg: dict, result: TrainResult, wall_time: float) -> dict:
    """The run's ``summary.json`` content."""
    finals = _finals(result.table)
    per_seed = []
    for seed, status, epoch in zip(result.net.seeds, result.status, result.diverged_epoch):
        per_seed.append({"seed": int(seed), "status": status,
                         "diverged_epoch": int(epoch) if epoch >= 0 else None,
                         "final": finals[seed]})
    ok = [p["final"] for p in per_seed if p["status"] == "ok"]
    mean = {}
    for key in ("train_loss", "val_loss", "val_acc", "val_r2", "dead_frac"):
        vals = [f[key] for f in ok if f.get(key) is not None]
        if vals:
            mean[key] = float(np.mean(vals))
    return {
        "status": "ok" if all(p["status"] == "ok" for p in per_seed) else "diverged",
        "n_networks": len(per_seed),
        "n_diverged": sum(p["status"] == "diverged" for p in per_seed),
        "seeds": per_seed,
        "final_mean": mean,
        "wall_time_s": round(wall_time, 4),
        "version": __version__,
        "config": cfg,
        "complete": True,
    }


def run_experiment(cfg: dict, progress=None) -> RunResult:
    """Validate ``cfg``, train, and return the table (with config columns) and summary."""
    validate(cfg)
    start = time.perf_counter()
    data, net, optimizer = build(cfg)
    if cfg["dataset"]["name"] == "table":  # the task of a user's table is inferred: say how
        log.info("dataset %s: %s", cfg["dataset"]["path"], data.task_reason)
    result = train(net, data, optimizer=optimizer, progress=progress, **train_options(cfg))
    _warn_small_probe_set(cfg, result.info.get("n_probe"), data.n_train)
    table = result.table
    for key, value in config_columns(cfg).items():
        table[key] = value
    table["task"] = data.task
    summary = summarize(cfg, result, time.perf_counter() - start)
    summary["dataset"] = {"task": data.task, "task_reason": data.task_reason, "n_train": data.n_train,
                          "n_val": data.n_val, "n_test": data.n_test, "n_features": data.n_features,
                          "n_outputs": data.n_outputs, "n_probe": result.info.get("n_probe")}
    summary["network"] = repr(net)
    return RunResult(table, summary, result)


#: a probe set chosen smaller than this (probe.max_samples below the training set) is warned about
SMALL_PROBE_SET = 100


def _warn_small_probe_set(cfg: dict, n_probe, n_train: int) -> None:
    """Say once when ``probe.max_samples`` cut the probe set to a few samples: the
    probe statistics then describe those samples, not the data (dead_frac 0.42 on
    one sample against 0.016 on the full set, in the fault trial)."""
    cap = cfg["probe"].get("max_samples")
    if n_probe is None or cap is None or n_probe >= min(n_train, SMALL_PROBE_SET):
        return
    log.warning("probe.max_samples=%s: the probe set is %d of %d training samples; dead_frac and the other "
                "probe statistics count units over these %d samples only and overstate dying at this size "
                "(%d or more, or null for the whole training set)", cap, n_probe, n_train, n_probe,
                SMALL_PROBE_SET)


def is_finite_number(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
