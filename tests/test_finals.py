"""Final and best values come from the metric registry: the run summary and the
sweep table carry one of every metric the runs recorded (test metrics and epoch
statistics included), taken as :mod:`relu_study.engine.finals` says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relu_study.engine.finals import final_values
from relu_study.engine.metrics import METRICS, best_metrics, final_metrics

#: every optional column on: a test part, the exact ablation, the near-zero curve, epoch statistics
EVERYTHING = ["epochs=3", "dataset.n_samples=120", "dataset.test_fraction=0.25", "model.width=6",
              "probe.ablation=true", "probe.near_zero_curve=[0.1,1.0]", "epoch_stats=true", "seeds=2",
              "plots=false", "save_params=false", "progress=false"]
RUNS = {"classification": ["dataset=moons"], "regression": ["dataset=sine"]}


def _applies(name: str, task: str) -> bool:
    m = METRICS[name]
    return m.task in (None, task)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One classification and one regression run folder, every column recorded."""
    import relu_study

    root = tmp_path_factory.mktemp("finals")
    out = {}
    for task, overrides in RUNS.items():
        relu_study.run([*overrides, *EVERYTHING], output_dir=root / task)
        out[task] = root / task
    return out


def test_hand_built_table():
    """last row, sum over rows, best over rows, missing for a diverged network, registry dtypes."""
    table = pd.DataFrame({
        "seed": [0, 0, 0, 1, 1], "epoch": [0, 1, 2, 0, 1], "diverged": [False, False, False, False, True],
        "val_loss": [1.0, 0.4, 0.6, 0.9, np.nan], "val_acc": [0.5, 0.9, 0.8, 0.6, np.nan],
        "died": pd.array([pd.NA, 2, 1, pd.NA, pd.NA], dtype="Int64"),
        "collapsed": pd.array([False, False, True, False, pd.NA], dtype="boolean"),
        "near_zero_frac_t0.5": [0.1, 0.2, 0.3, 0.4, np.nan],
    })
    f = final_values(table)
    assert f.index.tolist() == [0, 1]
    assert f.at[0, "val_loss"] == 0.6 and f.at[0, "best_val_loss"] == 0.4 and f.at[0, "best_val_acc"] == 0.9
    assert f.at[0, "died"] == 3 and str(f["died"].dtype) == "Int64"  # every unit that died, not the last probe's
    assert bool(f.at[0, "collapsed"]) is True and str(f["collapsed"].dtype) == "boolean"
    assert f.at[0, "near_zero_frac_t0.5"] == 0.3
    assert np.isnan(f.at[1, "val_loss"]) and pd.isna(f.at[1, "died"]) and pd.isna(f.at[1, "collapsed"])
    assert f.at[1, "best_val_loss"] == 0.9  # the epochs before it diverged
    assert "test_loss" not in f  # not recorded: not invented


def test_every_final_metric_in_the_run_summary(runs):
    """Walk the registry: every metric with a final value (best value) that applies
    to the run's task is in every network's summary, equal to the table's value."""
    from relu_study.runs.folders import load_run

    for task, folder in runs.items():
        table, summary = load_run(folder)
        for net in summary["seeds"]:
            final = net["final"]
            own = table[table["seed"] == net["seed"]]
            for name in final_metrics():
                if _applies(name, task):
                    assert name in final, (task, name)
            for name in best_metrics():
                if _applies(name, task):
                    assert f"best_{name}" in final, (task, name)
                    assert final[f"best_{name}"] == pytest.approx(getattr(own[name], METRICS[name].best)())
            assert final["test_loss"] == pytest.approx(own["test_loss"].iloc[-1])
            assert final["near_zero_frac_t0.1"] == pytest.approx(own["near_zero_frac_t0.1"].iloc[-1])
            assert final["died"] == int(own["died"].sum())


def test_every_final_metric_in_the_sweep_table(runs):
    """Walk the registry: the runs table has ``final_<m>`` for every metric with a
    final value and ``best_<m>`` for every one with a best, and they are the run
    summary's numbers."""
    from relu_study.runs.folders import read_summary
    from relu_study.sweeps.aggregate import collect

    _, table = collect(list(runs.values()))
    for name in final_metrics():
        assert f"final_{name}" in table.columns, name
    for name in best_metrics():
        assert f"best_{name}" in table.columns, name
    assert {"final_near_zero_frac_t0.1", "final_near_zero_frac_t1"} <= set(table.columns)
    for _, row in table.iterrows():
        final = next(p["final"] for p in read_summary(row["run_dir"])["seeds"] if p["seed"] == row["seed"])
        for name, value in final.items():
            if name == "epoch":
                continue
            column = name if name.startswith("best_") else f"final_{name}"
            if value is None:
                assert pd.isna(row[column]), (row["task"], name)
            else:
                assert row[column] == pytest.approx(value), (row["task"], name)
        for name in final_metrics():  # the other task's metrics: missing, not zero
            if not _applies(name, row["task"]):
                assert pd.isna(row[f"final_{name}"]), name
    assert str(table["final_died"].dtype) == "Int64" and str(table["final_collapsed"].dtype) == "boolean"
