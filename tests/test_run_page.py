"""The pages a run and a sweep write, named by their last log line; run.html's
content (the same charts as the PNGs, the summary, the config)."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd

FAST = ["epochs=2", "dataset.n_samples=120", "model.width=4", "progress=false"]


def _last_line(proc) -> str:
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()][-1]


def test_a_run_names_its_page_and_plots_false_writes_none(tmp_path):
    out = tmp_path / "R"
    proc = subprocess.run([sys.executable, "-m", "relu_study", *FAST, f"hydra.run.dir={out}"],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert _last_line(proc).endswith(f"outputs in {out}; open {out / 'run.html'}")
    page = (out / "run.html").read_text()
    data = json.loads(page.split('<script id="rs-data" type="application/json">', 1)[1].split("</script>", 1)[0])
    assert set(data["charts"]) == {"loss", "dead"}
    # the page's unit-health chart is the one dead.png is drawn from
    from relu_study.runs.plots import health_chart

    assert data["charts"]["dead"] == json.loads(json.dumps(health_chart(pd.read_parquet(out / "metrics.parquet"))
                                                           .to_dict()))
    assert json.loads((out / "summary.json").read_text())["complete"] is True
    quiet = tmp_path / "Q"
    proc = subprocess.run([sys.executable, "-m", "relu_study", *FAST, "plots=false", f"hydra.run.dir={quiet}"],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert not (quiet / "run.html").exists() and _last_line(proc).endswith(f"outputs in {quiet}")


def test_a_sweep_names_its_page_last(tmp_path):
    out = tmp_path / "S"
    proc = subprocess.run([sys.executable, "-m", "relu_study", "-m", "activation=relu,leaky", *FAST, "plots=false",
                           f"hydra.sweep.dir={out}"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert _last_line(proc).endswith(f"open {out / 'sweep_report.html'}"), _last_line(proc)
