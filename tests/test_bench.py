"""Smoke test of the benchmark (``python -m relu_study.bench``) at its tiny size.

It checks that every item runs and reports finite figures; it asserts nothing
about speed (timings on a shared test machine mean nothing).
"""

import json
import math

import pytest

from relu_study.tools import bench


def _finite_positive(x):
    return isinstance(x, float) and math.isfinite(x) and x > 0


def test_tiny_benchmark_runs_every_item(tmp_path, capsys):
    out_json, out_md = tmp_path / "bench.json", tmp_path / "bench.md"
    assert bench.main(["--size", "tiny", "--no-torch", "--no-jax", "--pause", "0",
                       "--json", str(out_json), "--markdown", str(out_md)]) == 0
    printed = capsys.readouterr().out
    # thread hygiene: the BLAS library and its thread count are reported
    assert "threadpool: blas" in printed and "threads" in printed
    for heading in ("## 1-3.", "## 4. Seed groups", "## 5. Large layers", "## 6. JAX: not requested",
                    "## Targets"):
        assert heading in printed
    results = json.loads(out_json.read_text())
    fw = results["frameworks"]["dtypes"]
    for dtype in ("float64", "float32"):
        r = fw[dtype]
        assert _finite_positive(r["speedup_sklearn"])
        assert math.isfinite(r["probe_overhead"])
        assert set(r["overheads"]) == set(bench.PROBE_VARIANTS)
        # the cost of every piece of a probe, each a finite share of the run
        for piece in ("forward and backward pass", "sign counts", "derivative range", "zero counts",
                      "magnitudes", "first order contribution", "whole probe", "exact ablation (opt-in)"):
            assert _finite_positive(r["measures"][piece]["seconds"]), piece
        assert "speedup_torch" not in r  # --no-torch
        assert r["sklearn_dtype"] == dtype  # scikit-learn trained in the same precision
    archs = results["groups"]["archs"]
    assert set(archs) == {"width 2, depth 10", "width 32, depth 3"}
    for arch in archs.values():
        assert arch["group_equals_alone"] is True
        for row in arch["no_probes"]["rows"].values():
            assert _finite_positive(row["speedup"]) and _finite_positive(row["group_per_net_s"])
    large = results["large"]
    assert _finite_positive(large["share"]) and _finite_positive(large["numpy_gflops"])
    assert "Command: `python -m relu_study.bench --size tiny`" in out_md.read_text()


def test_jax_missing_is_reported_and_skipped(monkeypatch):
    monkeypatch.setattr(bench, "_import_jax", lambda: None)
    messages = []
    results = bench.run_benchmark("tiny", pause=0.0, only=[6], log=messages.append)
    assert any("JAX is not installed" in m for m in messages)
    assert results["jax"]["jax_available"] is False
    assert "## 6. JAX: not installed, item skipped." in "\n".join(bench.report(results))


@pytest.mark.slow  # JAX compiles for seconds; run with -m slow
def test_jax_item_runs_the_same_loop_when_installed():
    pytest.importorskip("jax")
    results = bench.run_benchmark("tiny", pause=0.0, only=[6], log=lambda m: None)
    for a in results["jax"]["archs"].values():
        assert _finite_positive(a["speedup"]) and _finite_positive(a["compile_s"])
        assert a["final_val_loss_rel_diff"] < 1e-10  # same data, parameters, orders and arithmetic


def test_torch_missing_is_reported_and_skipped(monkeypatch):
    monkeypatch.setattr(bench, "_import_torch", lambda: None)
    messages = []
    results = bench.run_benchmark("tiny", pause=0.0, only=[1, 2], log=messages.append)
    assert any("PyTorch is not installed" in m for m in messages)
    assert results["frameworks"]["torch_available"] is False
    assert "PyTorch not installed" in "\n".join(bench.report(results))


@pytest.mark.slow  # importing torch alone takes seconds; run with -m slow
def test_torch_item_runs_when_installed():
    pytest.importorskip("torch")
    results = bench.run_benchmark("tiny", pause=0.0, only=[1, 2], log=lambda m: None)
    for r in results["frameworks"]["dtypes"].values():
        assert _finite_positive(r["speedup_torch"])


def test_gemm_shapes_count_every_product_of_a_step():
    shapes = bench._gemm_shapes([5, 4, 3, 2], batch=7)
    assert [s[0] for s in shapes].count("fwd") == 3
    assert [s[0] for s in shapes].count("gw") == 3
    assert [s[0] for s in shapes].count("da") == 2  # no input gradient for the first layer
    assert ("fwd", 7, 5, 4) in shapes and ("gw", 5, 7, 4) in shapes and ("da", 7, 3, 4) in shapes
