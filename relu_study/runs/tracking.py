"""Experiment tracking: a finished run into MLflow or TensorBoard (``logger=mlflow``, ``logger=tensorboard``).

The command line's config group ``logger`` (``conf/logger/``, default none, the
convention of lightning-hydra-template) chooses a logger; this module does the
logging and knows nothing of Hydra.  It is called once per run, after the run's
files are written, so a tracker sees exactly what the folder holds:

* MLflow: one MLflow run per relu_study run (per sweep job), in the experiment
  ``logger.experiment_name``; the config as params (dotted keys), every
  per-epoch metric of ``metrics.parquet`` with the epoch as step (one network:
  ``dead_frac``; several: ``dead_frac/seed3``; values not measured at an epoch are
  not logged), the summary's final means as ``final/<metric>``, tags (status,
  run folder, and for a sweep job ``sweep_id`` and ``job``) and every file of the
  run folder as artifacts.  The store is ``logger.tracking_uri`` or, by default, a
  local SQLite store in the run folder (a sweep: in the sweep folder, one store
  for all its jobs): ``mlflow.db`` beside ``mlartifacts/``, read with
  ``mlflow ui --backend-store-uri sqlite:///<folder>/mlflow.db``.
* TensorBoard: event files in ``<run folder>/tensorboard/`` (``logger.save_dir``
  to put them elsewhere), the same scalars with the same tags and steps, the
  config as a text summary; ``tensorboard --logdir <run or sweep folder>``.

Both need the ``tracking`` extra (``pip install "relu_study[tracking]"``);
:func:`check` says so in one line before anything runs.  Writing to a local
store takes a file lock, so parallel sweep jobs do not race on one SQLite file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path

import pandas as pd

from .config import ConfigError, flatten

__all__ = ["LOGGERS", "check", "log_run"]

#: logger name -> (module it needs, what provides it)
LOGGERS = {"mlflow": "mlflow", "tensorboard": "tensorboard"}
_KEYS = {"mlflow": {"name", "tracking_uri", "experiment_name", "run_name", "tags"},
         "tensorboard": {"name", "save_dir"}}
#: files of the run folder not sent as artifacts (the local store itself)
_NOT_ARTIFACTS = ("mlflow.db", "mlartifacts", "mlflow.lock", "tensorboard")
_ID = ("seed", "epoch", "diverged")


def check(logger) -> dict | None:
    """The logger config as a plain dict (None: no logger), checked: a known
    name, known keys, the package importable.  Raises :class:`ConfigError`."""
    if logger is None:
        return None
    if not isinstance(logger, dict) or logger.get("name") not in LOGGERS:
        name = logger.get("name") if isinstance(logger, dict) else logger
        raise ConfigError("logger", name, f"unknown logger; valid choices: {', '.join(LOGGERS)} (or null)")
    unknown = set(logger) - _KEYS[logger["name"]]
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(f"logger.{key}", logger[key], f"no such key for logger={logger['name']}; valid keys: "
                                                        f"{', '.join(sorted(_KEYS[logger['name']] - {'name'}))}")
    try:
        __import__(LOGGERS[logger["name"]])
    except ImportError:
        raise ConfigError("logger", logger["name"], "needs the tracking extra: pip install "
                                                    "\"relu_study[tracking]\"") from None
    return dict(logger)


def _scalars(table: pd.DataFrame):
    """``(tag, value, step)`` of every measured per-epoch metric."""
    seeds = sorted(table["seed"].unique()) if "seed" in table else [None]
    metrics = [c for c in table.columns if c not in _ID and pd.api.types.is_numeric_dtype(table[c])
               and not pd.api.types.is_bool_dtype(table[c])]
    for seed in seeds:
        rows = table if seed is None else table[table["seed"] == seed]
        suffix = "" if len(seeds) == 1 else f"/seed{seed}"
        for name in metrics:
            for epoch, value in zip(rows["epoch"], rows[name]):
                if not pd.isna(value) and math.isfinite(float(value)):
                    yield f"{name}{suffix}", float(value), int(epoch)


def _finals(summary: dict):
    for name, value in (summary.get("final_mean") or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            yield f"final/{name}", float(value)


def _params(cfg: dict) -> dict:
    flat = flatten(cfg) if isinstance(cfg, dict) else {}
    return {k: (json.dumps(v) if isinstance(v, (list, dict)) else str(v)) for k, v in flat.items()
            if not k.startswith("logger")}


@contextlib.contextmanager
def _locked(folder: Path):
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "mlflow.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def log_run(logger: dict, run_dir, cfg: dict, summary: dict, *, store_dir=None, sweep_id: str | None = None,
            job: int | None = None) -> str:
    """Log the finished run in ``run_dir`` (its ``metrics.parquet``, ``summary``,
    ``cfg`` and files) to ``logger`` (a :func:`check`-ed dict).  ``store_dir``:
    where the default local MLflow store goes (default ``run_dir``).  Returns
    where it went, for the log (the MLflow run id and URI, or the event folder)."""
    run_dir = Path(run_dir)
    table = pd.read_parquet(run_dir / "metrics.parquet") if (run_dir / "metrics.parquet").exists() else None
    tags = {"relu_study.status": str(summary.get("status", "")), "relu_study.run_dir": str(run_dir.resolve())}
    if sweep_id is not None:
        tags.update({"sweep_id": sweep_id, "job": str(job)})
    if logger["name"] == "tensorboard":
        return _tensorboard(logger, run_dir, cfg, summary, table)
    return _mlflow(logger, run_dir, cfg, summary, table, tags, Path(store_dir or run_dir))


def _mlflow(logger, run_dir, cfg, summary, table, tags, store_dir) -> str:
    from mlflow.entities import Metric, Param, RunStatus
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    uri = logger.get("tracking_uri")
    local = not uri
    if local:
        store_dir = store_dir.resolve()
        uri = f"sqlite:///{store_dir / 'mlflow.db'}"
    name = logger.get("experiment_name") or "relu_study"
    tags.update({str(k): str(v) for k, v in (logger.get("tags") or {}).items()})
    with _locked(store_dir) if local else contextlib.nullcontext():
        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            try:
                where = (store_dir / "mlartifacts").as_uri() if local else None
                experiment_id = client.create_experiment(name, artifact_location=where)
            except MlflowException:  # created meanwhile by a parallel job
                experiment_id = client.get_experiment_by_name(name).experiment_id
        else:
            experiment_id = experiment.experiment_id
        run = client.create_run(experiment_id, tags=tags, run_name=logger.get("run_name") or run_dir.name)
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        params = [Param(k, v[:6000]) for k, v in _params(cfg).items()]
        for i in range(0, len(params), 100):
            client.log_batch(run_id, params=params[i:i + 100])
        metrics = [Metric(k, v, now, step) for k, v, step in (_scalars(table) if table is not None else [])]
        last = int(table["epoch"].max()) if table is not None and len(table) else 0
        metrics += [Metric(k, v, now, last) for k, v in _finals(summary)]
        for i in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[i:i + 1000])
        for path in sorted(run_dir.iterdir()):
            if path.name in _NOT_ARTIFACTS or path.name.endswith(".tmp"):
                continue
            if path.is_dir():
                client.log_artifacts(run_id, str(path), artifact_path=path.name)
            else:
                client.log_artifact(run_id, str(path))
        ok = summary.get("status") in ("ok", "diverged")
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED if ok else RunStatus.FAILED))
    return f"MLflow run {run_id} in {uri} (experiment {name!r})"


def _tensorboard(logger, run_dir, cfg, summary, table) -> str:
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    folder = Path(logger.get("save_dir") or run_dir / "tensorboard")
    os.makedirs(folder, exist_ok=True)
    writer = EventFileWriter(str(folder))
    now = time.time()

    def scalar(tag, value, step):
        writer.add_event(event_pb2.Event(wall_time=now, step=step, summary=summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])))

    try:
        for tag, value, step in (_scalars(table) if table is not None else []):
            scalar(tag, value, step)
        last = int(table["epoch"].max()) if table is not None and len(table) else 0
        for tag, value in _finals(summary):
            scalar(tag, value, last)
        text = "\n".join(f"    {k}: {v}" for k, v in _params(cfg).items())  # markdown code block
        tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[text.encode()],
                                        tensor_shape=tensor_shape_pb2.TensorShapeProto())
        meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))
        writer.add_event(event_pb2.Event(wall_time=now, step=0, summary=summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag="config", tensor=tensor, metadata=meta)])))
    finally:
        writer.close()
    return f"TensorBoard events in {folder}"
