"""CSV where people want it (issue 28, item 3): ``save_csv=true`` writes the sweep
tables as CSV beside the Parquet ones, and ``python -m relu_study.compare --csv``
does the same for a comparison; without the option no CSV is left behind."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

FAST = ["epochs=2", "dataset.n_samples=120", "model.width=4", "plots=false", "save_params=false",
        "++hydra.callbacks.aggregate.plots=false"]


def _same_table(csv_path, parquet_path):
    """The CSV holds the Parquet table: same columns, rows and values (as text round-trips them)."""
    a, b = pd.read_csv(csv_path), pd.read_parquet(parquet_path)
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for col in b.columns:
        if pd.api.types.is_numeric_dtype(b[col]) and not pd.api.types.is_bool_dtype(b[col]):
            # na_value: pandas < 2.2 refuses to turn a nullable column's NA into a float by itself
            np.testing.assert_allclose(a[col].to_numpy(float, na_value=np.nan), b[col].to_numpy(float, na_value=np.nan),
                                       rtol=1e-12, equal_nan=True)


@pytest.fixture(scope="module")
def csv_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("csv")
    out = root / "sweep"
    proc = subprocess.run([sys.executable, "-m", "relu_study", "-m", "alpha=0.1,0.2", "activation=leaky",
                           "save_csv=true", *FAST, f"hydra.sweep.dir={out}"],
                          cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_save_csv_applies_to_the_sweep_tables(csv_sweep):
    for name in ("metrics", "runs"):
        _same_table(csv_sweep / f"sweep_{name}.csv", csv_sweep / f"sweep_{name}.parquet")
    assert (csv_sweep / "0" / "metrics.csv").is_file()  # and, as before, to each run
    assert len(pd.read_csv(csv_sweep / "sweep_runs.csv")) == 2


def test_compare_csv(csv_sweep, tmp_path):
    from relu_study.sweeps.compare import main

    assert main([str(csv_sweep), "--no-plots", "--csv", "--out", str(tmp_path / "with")]) == 0
    for name in ("metrics", "runs"):
        _same_table(tmp_path / "with" / f"sweep_{name}.csv", tmp_path / "with" / f"sweep_{name}.parquet")
    # without --csv: no CSV, and one left by an earlier comparison into the folder is removed (it would not match)
    assert main([str(csv_sweep / "0"), "--no-plots", "--out", str(tmp_path / "with")]) == 0
    assert not (tmp_path / "with" / "sweep_runs.csv").exists()
    assert not (tmp_path / "with" / "sweep_metrics.csv").exists()
