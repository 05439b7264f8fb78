"""relu_study.claims.report on synthetic sweep tables with known answers, on a tiny real
sweep, its command line (one error line, nothing created), and the README's generated
claims table against the committed results."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from relu_study.charts import load_chart
from relu_study.claims import report as R
from relu_study.claims import stats as S
from relu_study.claims.studies import registry
from relu_study.claims.tables import find_sweeps, identify_study

ROOT = Path(__file__).resolve().parent.parent
RUNS_FILE, METRICS_FILE = "sweep_runs.parquet", "sweep_metrics.parquet"
METRIC_KEYS = ("dead_frac", "dormant_frac", "zero_grad_frac", "exact_zero_frac", "near_zero_frac", "val_loss",
               "val_r2", "output_spread", "collapsed", "train_loss")


def _write_sweep(folder, networks, epochs=2):
    """A sweep folder holding ``sweep_runs.parquet`` and ``sweep_metrics.parquet``:
    each network a dict of config columns, ``final`` metrics and optional ``init``
    metrics (epoch 0; default: the final ones)."""
    folder.mkdir(parents=True)
    runs, metrics = [], []
    for i, net in enumerate(networks):
        net = dict(net)
        status, final = net.pop("status", "ok"), net.pop("final")
        init = net.pop("init", final)
        cfg = {"activation.name": "relu", "activation.alpha": 0.01, "alpha": 0.01, "init.name": "he",
               "max_epochs": epochs, "task": "classification", "dataset.name": "moons", **net}
        run_dir = str(folder / str(cfg.pop("job", 0)))
        seed = cfg.pop("seed_", i)
        runs.append({**cfg, "seed": seed, "run_dir": run_dir, "status": status, "error": None, "epochs": epochs,
                     **{f"final_{k}": (np.nan if status == "diverged" else v) for k, v in final.items()
                        if k in METRIC_KEYS}})
        for epoch in range(epochs + 1):
            values = init if epoch == 0 else final
            metrics.append({**cfg, "seed": seed, "run_dir": run_dir, "epoch": epoch,
                            "diverged": status == "diverged" and epoch == epochs, **values})
    pd.DataFrame(runs).to_parquet(folder / RUNS_FILE)
    pd.DataFrame(metrics).to_parquet(folder / METRICS_FILE)
    return folder


def _arm(name, alpha=0.01):
    return {"activation.name": name, "activation.alpha": alpha, "alpha": alpha}


def _c1_networks(relu_collapses, leaky_collapses, n=20, leaky_dormant=0.1):
    """Depth 4, lr 1, bias 0: training makes ReLU units dead and dormant (0.1 -> 0.5);
    Leaky's units end at ``leaky_dormant``."""
    out = []
    for job, (arm, collapses, dead) in enumerate(((_arm("relu"), relu_collapses, 0.5),
                                                  (_arm("leaky", 0.1), leaky_collapses, leaky_dormant))):
        for s in range(n):
            coll = s < collapses * n
            out.append({**arm, "model.depth": 4, "optimizer.lr": 1.0, "init.bias_value": 0.0, "job": job,
                        "seed_": s, "init": {"dead_frac": 0.1, "dormant_frac": 0.1, "collapsed": False,
                                             "val_loss": 0.69},
                        "final": {"dead_frac": dead + 0.01 * (s % 3), "dormant_frac": dead + 0.01 * (s % 3),
                                  "collapsed": coll, "val_loss": 0.69 if coll else 0.3,
                                  "zero_grad_frac": dead if arm["activation.name"] == "relu" else 0.0}})
    return out


def _c4_networks(n=20):
    out = []
    for job, (arm, exact) in enumerate(((_arm("relu"), 0.5), (_arm("leaky", 0.1), 0.0))):
        for s in range(n):
            out.append({**arm, "job": job, "seed_": s,
                        "final": {"exact_zero_frac": exact + 0.01 * (s % 3), "near_zero_frac": exact + 0.01 * (s % 2),
                                  "dead_frac": 0.0, "val_loss": 0.2}})
    return out


def _born_dead_networks(n=400, seed=0):
    rng = np.random.default_rng(seed)
    out, job = [], 0
    for depth in (2, 6):
        for n_samples in (2, 500):
            p = S.born_dead_formula(depth, 2) * (1.0 if n_samples == 2 else 0.6)
            for s in range(n):
                dead = rng.random() < p
                layers = {f"dead_frac_l{i}": (1.0 if dead and i == depth else 0.5) for i in range(1, depth + 1)}
                out.append({"model.depth": depth, "model.width": 2, "dataset.n_samples": n_samples,
                            "dataset.val_fraction": 0.2, "job": job, "seed_": s,
                            "final": {"dead_frac": 0.5, **layers}})
            job += 1
    return out


@pytest.fixture
def sweeps(tmp_path):
    return {
        "c1": _write_sweep(tmp_path / "c1_dying", _c1_networks(0.6, 0.0)),
        "c1_rev": _write_sweep(tmp_path / "rev" / "c1_dying", _c1_networks(0.0, 0.6, leaky_dormant=0.9)),
        "c4": _write_sweep(tmp_path / "c4_sparsity", _c4_networks()),
        "bd": _write_sweep(tmp_path / "born_dead", _born_dead_networks(), epochs=0),
    }


def test_report_answers_first_then_evidence_with_figures_as_charts(tmp_path, sweeps):
    out = tmp_path / "out"
    path = R.write_report([sweeps["c1"], sweeps["c4"], sweeps["bd"]], out, command="test", date="today")
    text = path.read_text()
    assert "Generated by `test` on today with relu_study" in text
    heads = re.findall(r"^## (.+)$", text, flags=re.M)
    assert heads[:2] == ["Answers", "How verdicts are computed"]
    for h in ("Limitations", "Literature", "Provenance"):
        assert h in heads
    # training made ReLU units dormant (0.1 -> 0.5), Leaky's stayed at 0.1: supported; the answer leads
    assert "**C1. Leaky ReLU prevents dying units: supported.** Where training made ReLU units dormant" in text
    assert "*Detail.*" in text
    # C4 is decided by construction, and the summary says so in the answer itself
    assert re.search(r"\*\*C4\. [^*]+: contradicted \(by construction\)", text)
    assert "McNemar" in text and "Wilcoxon" in text and "Newcombe" in text
    comp = pd.read_csv(out / "tables" / "c1_dying_training_verdicts.csv")
    failed = comp[comp["metric"] == "failed"].iloc[0]
    assert failed["verdict"] == "supported" and failed["effect"] == pytest.approx(-0.6)
    assert failed["paired"] and failed["n"] == 20 and failed["n10"] == 0 and failed["n01"] == 12
    # every figure linked exists as PNG and as the same chart in JSON
    links = re.findall(r"\]\((figures/[^)]+\.png)\)", text)
    assert len(links) >= 5
    for link in links:
        assert (out / link).stat().st_size > 1000, link
        chart = load_chart((out / link).with_suffix(".json"))
        assert chart.panels and chart.title
    claims = json.loads((out / "claims.json").read_text())
    assert set(claims) == {"generated", "command", "version", "claims"}
    c1 = next(c for c in claims["claims"] if c["id"] == "C1")
    assert set(c1) == {"id", "study", "title", "claim", "verdict", "by_construction", "summary", "anchor", "arms"}
    assert c1["verdict"] == "supported" and not c1["by_construction"] and f"(#{c1['anchor']})" in text
    assert c1["arms"] == [{"arm": "Leaky α=0.1", "verdict": "supported", "metric": c1["arms"][0]["metric"],
                           "effect": pytest.approx(-0.4), "lo": c1["arms"][0]["lo"], "hi": c1["arms"][0]["hi"],
                           "n": 20}]
    assert c1["arms"][0]["metric"].startswith("dormant fraction")
    assert next(c for c in claims["claims"] if c["id"] == "C4")["by_construction"] is True
    assert c1["summary"] in text


def test_reversed_arms_are_contradicted(tmp_path, sweeps):
    text = R.write_report([sweeps["c1_rev"]], tmp_path / "rev").read_text()
    assert "**C1. Leaky ReLU prevents dying units: contradicted" in text


def test_born_dead_table_sets_estimates_beside_the_formula(tmp_path, sweeps):
    out = tmp_path / "bd"
    text = R.write_report([sweeps["bd"]], out).read_text()
    tab = pd.read_csv(out / "tables" / "born_dead.csv")
    assert set(tab["probe_set"]) == {"point", "domain"} and len(tab) == 4
    np.testing.assert_allclose(tab["formula"], S.born_dead_formula(tab["depth"], tab["width"]), rtol=1e-5)
    point = tab[tab["probe_set"] == "point"]
    assert ((point["lo"] <= point["formula"]) & (point["formula"] <= point["hi"])).all()
    assert (tab.loc[tab["probe_set"] == "domain", "estimate"].to_numpy() < point["estimate"].to_numpy()).all()
    assert "formula 1−(1−2^−N)^L" in text and "in 2 of 2 cells" in text


def test_study_from_multirun_yaml(tmp_path):
    folder = _write_sweep(tmp_path / "some_name", _c4_networks())
    (folder / "multirun.yaml").write_text("hydra:\n  runtime:\n    choices:\n      experiment: c4_sparsity\n")
    names = list(registry())
    assert identify_study(folder, names) == "c4_sparsity"
    assert folder in find_sweeps([tmp_path], names)["c4_sparsity"]


def test_report_on_a_tiny_real_sweep(tmp_path):
    """A real multirun of the C4 preset (3 seeds, 1 epoch, one dataset), read back from its run folders."""
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "relu_study", "-m", "experiment=c4_sparsity", "seeds=3", "epochs=1",
           "dataset=moons", "dataset.n_samples=200", "+experiment/arm=relu,leaky_0.1",
           f"hydra.sweep.dir={sweep}", "~hydra.callbacks.aggregate"]
    subprocess.run(cmd, check=True, capture_output=True, cwd=tmp_path)
    out = tmp_path / "out"
    text = R.write_report([sweep], out, recollect=True).read_text()
    assert "## C4." in text and "fewer than 10 pairs" in text  # 3 seeds resolve nothing
    lev = pd.read_csv(out / "tables" / "c4_sparsity_levels.csv")
    relu = lev[(lev["arm"] == "ReLU") & (lev["metric"] == "exact_zero_frac")].iloc[0]
    leaky = lev[(lev["arm"] == "Leaky α=0.1") & (lev["metric"] == "exact_zero_frac")].iloc[0]
    assert relu["level"] > 0.1 and leaky["level"] == 0.0 and relu["n"] == 3
    assert leaky["hi"] > 0  # a constant 0 in three networks is not known to be 0 everywhere


def test_a_network_in_two_sweep_folders_counts_once(tmp_path, sweeps):
    import shutil

    copy = tmp_path / "again" / "c1_dying"
    shutil.copytree(sweeps["c1"], copy)
    with pytest.warns(UserWarning, match="counted once"):
        R.write_report([sweeps["c1"], copy], tmp_path / "twice")
    lev = pd.read_csv(tmp_path / "twice" / "tables" / "c1_dying_levels.csv")
    assert set(lev["n_networks"]) == {20}


# ------------------------------------------------------------------ command lines: one error line, nothing created

def _run(args, cwd):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("args, names", [
    (["relu_study.report", "/nonexistent", "--out", "r"], ["/nonexistent"]),
    (["relu_study.report", "--out", "r"], ["PATH"]),
    (["relu_study.report", "."], ["--out"]),
    (["relu_study.report", "mystery", "--out", "r"], ["mystery"]),
    (["relu_study.report", ".", "--out", "r", "--bogus"], ["--bogus"]),
    (["relu_study.reproduce", "--jobs", "0"], ["--jobs", "0"]),
    (["relu_study.reproduce", "--jobs", "two"], ["--jobs", "two"]),
    (["relu_study.reproduce", "--studies", "c1_dying,nope"], ["--studies", "nope"]),
    (["relu_study.reproduce", "--out", "afile"], ["--out", "afile"]),
])
def test_bad_arguments_exit_2_with_one_error_line_and_create_nothing(tmp_path, args, names):
    (tmp_path / "mystery").mkdir()
    (tmp_path / "afile").write_text("x")
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = _run(args, tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no r/, no outputs/, no results/
    assert proc.stdout == ""


def test_report_cli_writes_the_report(tmp_path, sweeps):
    assert R.main([str(sweeps["c4"]), "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "REPORT.md").is_file() and (tmp_path / "cli" / "claims.json").is_file()
    assert not (tmp_path / "cli" / "REPORT.html").exists()  # only when asked for


def test_report_html_draws_every_figure_from_its_chart_data(tmp_path, sweeps):
    """``--html``: REPORT.html beside REPORT.md, one chart per linked figure,
    carrying that figure's JSON (the browser tests check how the page draws it)."""
    out = tmp_path / "html"
    assert R.main([str(sweeps["c1"]), str(sweeps["c4"]), "--out", str(out), "--html"]) == 0
    page = (out / "REPORT.html").read_text()
    names = [Path(link).stem for link in re.findall(r"\]\((figures/[^)]+\.png)\)", (out / "REPORT.md").read_text())]
    assert names
    for name in names:
        assert f"data-chart='{name}'" in page or f'data-chart="{name}"' in page, name
    assert "<script src=" not in page and "<link rel=\"stylesheet\" href=" not in page  # one offline file


# ------------------------------------------------------------------ the README's claims table is generated

def test_readme_claims_table_is_what_the_committed_results_generate():
    readme = (ROOT / "README.md").read_text()
    assert readme.count(R.README_BEGIN) == 1 and readme.count(R.README_END) == 1
    block = readme[readme.index(R.README_BEGIN):readme.index(R.README_END) + len(R.README_END)] + "\n"
    generated = (ROOT / "results" / "claims_table.md").read_text()
    assert block == generated, "README's claims table differs from results/claims_table.md: rerun reproduce"
    claims = json.loads((ROOT / "results" / "claims.json").read_text())
    assert R.claims_table(claims) in generated, "results/claims_table.md differs from results/claims.json"
    assert [c["id"] for c in claims["claims"]] == [s.id for s in registry().values()]
