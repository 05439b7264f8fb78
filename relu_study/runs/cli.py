"""The command line: ``python -m relu_study [overrides]`` (Hydra 1.3).

This is the only module that knows Hydra.  It composes the configs shipped as
the package ``relu_study.conf`` (the checkout's ``conf/`` folder) against the
schema :class:`relu_study.runs.config.ExperimentConfig`, runs
:func:`relu_study.runs.experiment.run_experiment` and writes the run folder.

``run(overrides)`` is the same thing for notebooks: it composes the same
configs with Hydra's compose API and returns the metrics table.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from .config import ConfigError, ExperimentConfig
from .experiment import run_experiment
from .folders import SUMMARY_FILE, is_complete, read_summary, write_json, write_run

__all__ = ["compose", "main", "run"]

log = logging.getLogger("relu_study")

CONFIG_MODULE = "relu_study.conf"
ConfigStore.instance().store(name="base_config", node=ExperimentConfig)


def _container(cfg: DictConfig) -> dict:
    """The resolved config as a plain dict, checked against the schema once more
    (keys added with ``+key=value`` bypass Hydra's struct mode)."""
    from omegaconf.errors import OmegaConfBaseException

    schema = OmegaConf.structured(ExperimentConfig)
    OmegaConf.set_struct(schema, True)
    OmegaConf.set_struct(schema.dataset.options, False)  # free-form loader options
    try:
        checked = OmegaConf.merge(schema, OmegaConf.to_container(cfg, resolve=True))
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "config"
        raise ConfigError(key, getattr(exc, "value", None), str(exc).splitlines()[0]) from None
    return OmegaConf.to_container(checked, resolve=True, throw_on_missing=True)


def _progress_bar(cfg: dict, enabled: bool):
    """A tqdm bar over epochs, or None when not wanted."""
    if not (enabled and cfg.get("progress", True) and sys.stderr.isatty()):
        return None, None
    from tqdm.auto import tqdm

    bar = tqdm(total=cfg["epochs"], desc="training", unit="epoch", leave=False, file=sys.stderr)

    def update(epoch, row):
        if epoch > 0:
            bar.update(1)
            postfix = {"val_loss": float(row["val_loss"][0])}
            if "dead_frac" in row:
                postfix["dead"] = float(row["dead_frac"][0])
            bar.set_postfix(postfix)

    return bar, update


def _final_line(summary: dict) -> str:
    mean = summary.get("final_mean", {})
    n, nd = summary["n_networks"], summary["n_diverged"]
    parts = [f"{k}={v:.4g}" for k, v in mean.items()]
    over = f"mean over {n - nd} of {n} networks" if n > 1 else "final"
    text = f"{over}: " + ", ".join(parts) if parts else "no network finished"
    if nd:
        text += f"; {nd} diverged"
    return text


def execute(cfg: dict, out_dir: Path, multirun: bool = False) -> dict:
    """Run one config into ``out_dir`` and return its summary.

    In a multirun, a job whose folder already holds a complete run of the same
    config is skipped (resume), and an error is recorded as a failed job
    (``summary.json`` with ``status: failed``) instead of stopping the sweep.
    """
    out_dir = Path(out_dir)
    if multirun and is_complete(out_dir):
        previous = read_summary(out_dir)
        if previous.get("config") == cfg:
            log.info("skipping %s: already complete with the same config", out_dir)
            return previous
    start = time.perf_counter()
    bar, update = _progress_bar(cfg, enabled=not multirun)
    try:
        result = run_experiment(cfg, progress=update)
        if multirun:  # inside the try: in a sweep, an error while writing is a failed job too
            _write_result(cfg, out_dir, result)
    except Exception as exc:  # noqa: BLE001 - in a sweep any error is recorded, not raised
        if not multirun:
            raise
        return _record_failure(cfg, out_dir, exc, start)
    finally:
        if bar is not None:
            bar.close()
    if not multirun:
        _write_result(cfg, out_dir, result)
    log.info("%s", _final_line(result.summary))
    return result.summary


def _write_result(cfg: dict, out_dir: Path, result) -> None:
    from .plots import plot_run

    plot = (lambda folder: plot_run(result.table, folder)) if cfg.get("plots", True) else None
    state = result.net.state_dict() if cfg.get("save_params", True) else None
    write_run(out_dir, result.table, result.summary, state=state, plot=plot, csv=cfg.get("save_csv", False),
              units=result.result.units)


def _record_failure(cfg, out_dir: Path, exc: BaseException, start: float) -> dict:
    """Write a failed job's ``summary.json`` (status failed, the error, the config)."""
    if isinstance(exc, (ConfigError, FileNotFoundError)):
        log.error("job failed: %s: %s", type(exc).__name__, exc)
    else:  # unexpected: keep the traceback in the job's log
        log.exception("job failed: %s: %s", type(exc).__name__, exc)
    summary = {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "config": cfg,
               "complete": False, "wall_time_s": round(time.perf_counter() - start, 4)}
    write_json(out_dir / SUMMARY_FILE, summary)
    return summary


@hydra.main(version_base="1.3", config_path="pkg://relu_study.conf", config_name="config")
def _hydra_main(cfg: DictConfig):
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    out_dir = Path(hc.runtime.output_dir)
    if multirun:
        return _multirun_job(cfg, out_dir)
    try:
        container = _container(cfg)
        with _blas_threads(container):
            summary = execute(container, out_dir, multirun=multirun)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        log.debug("invalid configuration: %s", exc)
        print(f"error: invalid configuration: {exc}", file=sys.stderr)
        sys.exit(2)
    if not multirun:
        log.info("outputs in %s", out_dir)
    return summary.get("final_mean", {}).get("val_loss")


def _blas_threads(cfg: dict):
    """A single run of a small network trains on one BLAS thread
    (:mod:`relu_study.engine.process`; ``RELU_STUDY_BLAS_THREADS=keep`` opts out).
    The input width is not known before the data loads: the widest hidden layer
    stands in for it."""
    from contextlib import nullcontext

    from ..engine.process import blas_threads_for, step_macs
    from .config import hidden_widths

    try:  # an invalid config is reported by the run's own validation
        widths = hidden_widths(cfg)
        sizes = [max(widths), *widths]
        step_macs(sizes, int(cfg["batch_size"]))
    except Exception:  # noqa: BLE001
        return nullcontext()
    return blas_threads_for(sizes, int(cfg["batch_size"]))


def _multirun_job(cfg: DictConfig, out_dir: Path):
    """One job of a sweep.  Never raises (a raising job would stop Hydra's sweep
    before the aggregate): errors are recorded in the job's ``summary.json``.
    BLAS runs on one thread, for every launcher alike, so parallel launchers do
    not oversubscribe the cores and tables are bit-identical across launchers."""
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    try:
        container = _container(cfg)
    except Exception as exc:  # noqa: BLE001 - e.g. a missing value or a bad interpolation
        try:
            raw = OmegaConf.to_container(cfg, resolve=False)
        except Exception:  # noqa: BLE001
            raw = None
        _record_failure(raw, out_dir, exc, start)
        return None
    with threadpool_limits(limits=1):
        summary = execute(container, out_dir, multirun=True)
    return summary.get("final_mean", {}).get("val_loss")


def main() -> None:
    """Console entry point (``python -m relu_study`` and ``relu-study``).  Keeps
    freed array memory in the process (:func:`relu_study.engine.process.retain_freed_memory`;
    ``RELU_STUDY_MALLOPT=0`` opts out)."""
    from ..engine.process import retain_freed_memory

    retain_freed_memory()
    _hydra_main()


def compose(overrides=None) -> DictConfig:
    """The composed config for ``overrides`` (a list of Hydra override strings),
    checked against the schema."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        cfg = hydra_compose(config_name="config", overrides=list(overrides or []))
    _container(cfg)
    return cfg


def run(overrides=None, output_dir=None):
    """Run one experiment from a notebook and return its metrics DataFrame.

    ``run(["activation=leaky", "alpha=0.1", "seeds=5"])`` composes the same
    configs as the command line.  With ``output_dir`` the run folder
    (metrics.parquet, summary.json, params.npz, plots) is written there too.
    """
    cfg = _container(compose(overrides))
    if output_dir is None:
        return run_experiment(cfg).table
    execute(cfg, Path(output_dir))
    import pandas as pd

    return pd.read_parquet(Path(output_dir) / "metrics.parquet")
