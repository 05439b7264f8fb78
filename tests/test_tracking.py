"""Experiment tracking (issue 28, item 2): ``logger=tensorboard`` read back with
TensorBoard's own reader, ``logger=mlflow`` into its default local store and, for
a sweep, into a real ``mlflow server`` on 127.0.0.1, read back with MLflow's client.
Needs the tracking extra; ``RELU_STUDY_REQUIRE_TRACKING=1`` (CI) makes its absence
a failure instead of a skip."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

REQUIRED = os.environ.get("RELU_STUDY_REQUIRE_TRACKING") == "1"
FAST = ["epochs=3", "dataset.n_samples=100", "model.width=4", "plots=false", "progress=false"]


def _need(module):
    try:
        __import__(module)
    except ImportError:
        if REQUIRED:
            pytest.fail(f"{module} is not installed (pip install -e '.[tracking]')")
        pytest.skip(f"{module} is not installed (the tracking extra)")


def run(cwd, *overrides, multirun=False):
    cmd = [sys.executable, "-m", "relu_study", *(["-m"] if multirun else []), *overrides]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_tensorboard_events_in_the_run_folder(tmp_path):
    _need("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    proc = run(tmp_path, *FAST, "logger=tensorboard", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    acc = EventAccumulator(str(out / "tensorboard"))
    acc.Reload()
    table = pd.read_parquet(out / "metrics.parquet")
    loss = acc.Scalars("train_loss")
    assert [e.step for e in loss] == table["epoch"].tolist()
    assert [e.value for e in loss] == pytest.approx(table["train_loss"].tolist(), rel=1e-6)  # float32 in events
    assert [e.step for e in acc.Scalars("dead_frac")] == [0, 3]  # probed epochs only: nothing invented
    assert "final/val_loss" in acc.Tags()["scalars"]


def test_mlflow_default_store_is_in_the_run_folder(tmp_path):
    _need("mlflow")
    from mlflow.tracking import MlflowClient

    out = tmp_path / "run"
    proc = run(tmp_path, *FAST, "activation=leaky", "alpha=0.2", "logger=mlflow", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    (r,) = client.search_runs([client.get_experiment_by_name("relu_study").experiment_id])
    assert r.data.params["alpha"] == "0.2" and r.data.params["activation.name"] == "leaky"
    history = client.get_metric_history(r.info.run_id, "val_loss")
    table = pd.read_parquet(out / "metrics.parquet")
    assert sorted((m.step, m.value) for m in history) == list(zip(table["epoch"], table["val_loss"]))
    assert r.info.status == "FINISHED" and "final/dead_frac" in r.data.metrics
    names = {a.path for a in client.list_artifacts(r.info.run_id)}
    assert {"metrics.parquet", "summary.json", "relu_study.log"} <= names and "mlflow.db" not in names


def test_a_bad_logger_stops_with_one_line_and_nothing_left(tmp_path):
    out = tmp_path / "run"
    proc = run(tmp_path, *FAST, "+logger.name=wandb", f"hydra.run.dir={out}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].endswith("logger=wandb: unknown logger; valid choices: mlflow, "
                                                          "tensorboard (or null)")
    assert not (out / "metrics.parquet").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real MLflow tracking server on 127.0.0.1 (a free port: safe under pytest-xdist)."""
    _need("mlflow")
    root = tmp_path_factory.mktemp("mlflow_server")
    port = _free_port()
    exe = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    proc = subprocess.Popen([exe, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                             "--backend-store-uri", f"sqlite:///{root / 'server.db'}",
                             "--artifacts-destination", str(root / "artifacts")],
                            stdout=open(root / "server.log", "w"), stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(uri + "/health", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("mlflow server did not start: " + (root / "server.log").read_text()[-2000:])
            time.sleep(0.5)
    yield uri
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_a_sweep_logs_one_run_per_job_to_a_server(tmp_path, mlflow_server):
    from mlflow.tracking import MlflowClient

    sweep_dir = tmp_path / "sweep"
    proc = run(tmp_path, *FAST, "activation=leaky", "alpha=0.1,0.3", "logger=mlflow",
               f"logger.tracking_uri={mlflow_server}", "logger.experiment_name=sweep_test",
               "++hydra.callbacks.aggregate.plots=false", f"hydra.sweep.dir={sweep_dir}", multirun=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    client = MlflowClient(tracking_uri=mlflow_server)
    runs = client.search_runs([client.get_experiment_by_name("sweep_test").experiment_id])
    assert len(runs) == 2
    assert {r.data.tags["sweep_id"] for r in runs} == {str(sweep_dir.resolve())}
    assert sorted(r.data.params["alpha"] for r in runs) == ["0.1", "0.3"]
    assert sorted(r.data.tags["job"] for r in runs) == ["0", "1"]
    for r in runs:
        job = sweep_dir / r.data.tags["job"]
        table = pd.read_parquet(job / "metrics.parquet")
        history = client.get_metric_history(r.info.run_id, "train_loss")
        assert sorted((m.step, m.value) for m in history) == list(zip(table["epoch"], table["train_loss"]))
        assert "summary.json" in {a.path for a in client.list_artifacts(r.info.run_id)}
    assert not (sweep_dir / "mlflow.db").exists()  # a tracking URI: no local store
