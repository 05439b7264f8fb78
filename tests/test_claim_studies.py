"""Claim studies v2 (issue 13): presets, the tuned comparisons, analyses with
their own settings and rows, arm labels, the born-dead domain, reproduce's progress."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from relu_study.claims import tuning
from relu_study.claims.analysis import Analysis, Effect, Gate, Metric, Study, analyse
from relu_study.claims.tables import Arm, arms_column, fmt_value, setting_label

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf" / "experiment"


# --------------------------------------------------------------------------- presets

def _swept(preset: str) -> dict:
    cfg = OmegaConf.load(CONF / f"{preset}.yaml")
    params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    return {k: [v.strip() for v in str(vals).split(",")] for k, vals in params.items()}


@pytest.mark.parametrize("preset", sorted(p.stem for p in CONF.glob("*.yaml")))
def test_every_preset_composes_with_every_swept_value(preset):
    """Each value of each swept key (every arm config among them) composes with the
    preset and passes validation; the study module of the preset exists."""
    from relu_study.claims.studies import registry
    from relu_study.runs.cli import compose
    from relu_study.runs.config import validate

    assert preset in registry()
    swept = _swept(preset)
    assert swept, preset
    for key, values in swept.items():
        for value in values:
            cfg = OmegaConf.to_container(compose([f"experiment={preset}", f"{key}={value}"]), resolve=True)
            validate(cfg)
            if key == "+experiment/arm":
                arm = OmegaConf.load(CONF / "arm" / f"{value}.yaml")
                assert cfg["activation"]["name"] == OmegaConf.select(arm, "defaults")[0]["override /activation"]


def test_the_arm_configs_set_what_their_names_say():
    from relu_study.runs.cli import compose
    from relu_study.runs.config import slope_used

    for name, alpha in (("leaky_0.05", 0.05), ("leaky_0.18", 1 / 5.5), ("leaky_0.5", 0.5), ("leaky_1.0", 1.0)):
        cfg = OmegaConf.to_container(compose(["experiment=slope_sweep", f"+experiment/arm={name}"]), resolve=True)
        assert cfg["activation"]["name"] == "leaky" and slope_used(cfg) == pytest.approx(alpha)
    prelu = OmegaConf.to_container(compose(["experiment=slope_sweep", "+experiment/arm=prelu"]), resolve=True)
    assert prelu["activation"]["name"] == "prelu" and prelu["alpha"] == 0.25
    rrelu = OmegaConf.to_container(compose(["experiment=slope_sweep", "+experiment/arm=rrelu"]), resolve=True)
    assert (rrelu["activation"]["lower"], rrelu["activation"]["upper"]) == (0.125, pytest.approx(1 / 3))
    for name, output in (("relu_rai", "default"), ("relu_rai_all", "same")):
        cfg = OmegaConf.to_container(compose(["experiment=lu_collapse", f"+experiment/arm={name}"]), resolve=True)
        assert cfg["init"]["weight"] == "rai" and cfg["init"]["output"] == output


def test_the_sparsity_preset_probes_the_study_thresholds():
    from relu_study.claims.studies.c4_sparsity import CURVE
    from relu_study.runs.cli import compose

    cfg = OmegaConf.to_container(compose(["experiment=c4_sparsity"]), resolve=True)
    assert tuple(cfg["probe"]["near_zero_curve"]) == CURVE


def test_registry_order_and_the_quick_runs_cover_every_study():
    from relu_study.claims.reproduce import QUICK
    from relu_study.claims.studies import registry

    reg = registry()
    assert list(reg) == ["c1_dying", "c2_gradients", "c3_sensitivity", "c4_sparsity", "c5_convergence",
                         "slope_sweep", "lu_collapse", "born_dead"]
    assert set(QUICK) == set(reg) and all(QUICK[n] for n in reg)
    for name, study in reg.items():
        assert study.answer is not None or study.analyse is not None, name


# --------------------------------------------------------------------------- tuned comparisons

def _grid_table(best: dict, n_seeds=20, lrs=(0.01, 0.1, 1.0), datasets=("a",)):
    """One row per network of a tiny grid: every arm's validation loss is lowest at
    ``best[arm]`` for every seed; its test loss there is ``0.2`` for ReLU and
    ``0.1`` for Leaky (elsewhere 0.5), so the known answer is a test-loss effect of
    -0.1 at the tuned rates.  Seeds 0-4 tune."""
    rows = []
    for d, (label, lr_best), lr, s in itertools.product(datasets, best.items(), lrs, range(n_seeds)):
        at_best = math.isclose(lr, lr_best)
        good = 0.1 if label != "ReLU" else 0.2
        rows.append({"arm": label, "dataset.name": d, "optimizer.lr": lr, "seed": s, "diverged": 0.0,
                     "val_loss": (0.3 if at_best else 0.6) + 0.001 * s, "test_loss": (good if at_best else 0.5)
                     + 0.001 * s + (0.0005 * (s % 3) if label != "ReLU" else 0.0),
                     "test_acc": 0.9 if at_best else 0.6, "chance": math.log(2), "test_chance": math.log(2),
                     "run_dir": f"{d}/{label}/{lr}", "max_epochs": 5, "failed": 0.0, "dormant_frac": 0.1,
                     "task": "classification"})
    return pd.DataFrame(rows)


def test_tuning_picks_each_arms_best_rate_on_validation_and_scores_the_other_seeds_on_test():
    net = _grid_table({"ReLU": 0.1, "Leaky α=0.1": 1.0})
    tuned, chosen, tuning_seeds, scoring = tuning.tune(net, "optimizer.lr", n_tune=5)
    assert tuning_seeds == set(range(5)) and scoring == set(range(5, 20))
    picks = chosen.set_index("arm")["optimizer.lr"]
    assert picks["ReLU"] == 0.1 and picks["Leaky α=0.1"] == 1.0
    scored = tuned[tuned["scored"] == 1]
    assert set(scored["seed"]) == scoring  # the tuning seeds are never scored
    assert (scored.groupby("arm")["optimizer.lr"].unique().map(lambda v: list(v)).to_dict()
            == {"ReLU": [0.1], "Leaky α=0.1": [1.0]})
    # the validation loss chose; the test loss is what the comparison reads
    np.testing.assert_allclose(scored.loc[scored["arm"] == "ReLU", "test_loss_chance"],
                               0.2 + 0.001 * np.arange(5, 20))
    # a tie goes to the smaller rate; a diverged network scores the chance loss
    tie = _grid_table({"ReLU": 0.1, "Leaky α=0.1": 0.1})
    tie.loc[(tie["arm"] == "ReLU") & (tie["optimizer.lr"] == 1.0), "val_loss"] = 0.3 + 0.001 * tie["seed"]
    assert tuning.tune(tie, "optimizer.lr", 5)[1].set_index("arm").loc["ReLU", "optimizer.lr"] == 0.1
    div = _grid_table({"ReLU": 0.1, "Leaky α=0.1": 1.0})
    div.loc[(div["arm"] == "ReLU") & (div["optimizer.lr"] == 0.1), "diverged"] = 1.0
    assert tuning.tune(div, "optimizer.lr", 5)[1].set_index("arm").loc["ReLU", "optimizer.lr"] != 0.1


def test_c5_compares_the_scored_networks_at_the_tuned_rates_on_test_loss():
    """The C5 study on a tiny grid with a known best: its primary comparison is the
    scoring seeds' test loss at each arm's tuned rate (effect -0.1, supported),
    its stability analysis every network at every rate."""
    from relu_study.claims.studies.c5_convergence import STUDY

    net = _grid_table({"ReLU": 0.1, "Leaky α=0.1": 1.0}, n_seeds=30)
    metrics = pd.DataFrame([{"run_dir": r.run_dir, "seed": r.seed, "epoch": e, "val_loss": r.val_loss * (5 - e + 1)}
                            for r in net.itertuples() for e in range(1, 6)])
    table = tuning.tuned_table(net, metrics, n_tune=10)
    arms = {"ReLU": Arm("relu"), "Leaky α=0.1": Arm("leaky", 0.1)}
    r = analyse(STUDY, table, arms)
    tuned, stability = r.analyses
    j = tuned.judged[tuned.judged["metric"] == "test_loss_chance"].iloc[0]
    assert j["n"] == 20 and j["effect"] == pytest.approx(-0.1, abs=0.002) and j["verdict"] == "supported"
    assert set(stability.judged["setting"]) == {"dataset=a, lr=0.01", "dataset=a, lr=0.1", "dataset=a, lr=1"}
    assert (stability.pairs["pairs"] == 30).all()
    # epochs to the threshold: a network whose loss never reaches it counts as the last epoch
    scored = table[table["scored"] == 1]
    assert scored["epochs_to"].between(1, 5).all() and set(scored["reached"]) <= {0.0, 1.0}


# --------------------------------------------------------------------------- analyses: settings, rows, where

def test_an_analysis_can_restrict_settings_and_rows_and_have_its_own_settings():
    rng = np.random.default_rng(0)
    rows = []
    for bias, lr, s in itertools.product((0.0, -1.0), (0.1, 1.0), range(12)):
        base = rng.uniform(0.2, 0.4)
        for label in ("ReLU", "Leaky α=0.1"):
            eff = -0.15 if (label != "ReLU" and bias == 0.0) else 0.0
            rows.append({"arm": label, "init.bias_value": bias, "optimizer.lr": lr, "seed": s, "diverged": 0.0,
                         "dormant_frac": base + eff + (0.001 * s if label != "ReLU" else 0.0),
                         "keep": float(lr == 1.0)})
    net = pd.DataFrame(rows)
    arms = {"ReLU": Arm("relu"), "Leaky α=0.1": Arm("leaky", 0.1)}
    m = Metric("dormant_frac", "dormant", -1, Effect(0.0, 0.05), if_diverged=1.0)
    study = Study("x", "X", "X. x", "claim", "?", settings=("init.bias_value", "optimizer.lr"), analyses=(
        Analysis("zero", "zero bias", "?", (m,), where=(("init.bias_value", (0.0,)),)),
        Analysis("neg", "negative bias, lr 1 only, per bias", "?", (m,), rows="keep", settings=("init.bias_value",),
                 where=(("init.bias_value", (-1.0,)),)),
        Analysis("gated", "gate on a column", "?", (m,), Gate("g", "dormant_frac", 10.0))))
    r = analyse(study, net, arms)
    zero, neg, gated = r.analyses
    assert set(zero.judged["setting"]) == {"bias=0, lr=0.1", "bias=0, lr=1"}
    assert zero.arm_verdicts == {"Leaky α=0.1": "supported"}
    assert set(neg.judged["setting"]) == {"bias=-1"} and (neg.pairs["pairs"] == 12).all()
    assert neg.arm_verdicts == {"Leaky α=0.1": "not supported"}
    assert gated.eligible_settings() == [] and gated.arm_verdicts == {"Leaky α=0.1": "inconclusive"}
    assert set(r.comparisons["analysis"]) == {"zero", "neg", "gated"}


def test_arm_labels_for_both_rai_scopes_and_slopes_that_do_not_apply():
    table = pd.DataFrame({"activation.name": ["relu", "relu", "relu", "rrelu", "prelu"],
                          "alpha": [0.0, 0.0, 0.0, np.nan, 0.25], "init.name": ["he", "rai", "rai", "he", "he"],
                          "init.output": ["same", "default", "same", "same", "same"],
                          "activation.lower": [0.125] * 5, "activation.upper": [1 / 3] * 5})
    labels, arms = arms_column(table)
    assert list(labels) == ["ReLU", "ReLU + RAI (hidden layers)", "ReLU + RAI (all layers)",
                            "RReLU α~U[0.125, 0.333]", "PReLU α₀=0.25"]
    assert arms["ReLU"].baseline and not arms["ReLU + RAI (hidden layers)"].baseline
    # a table written before init.output existed drew the output layer with RAI too
    old, _ = arms_column(table.drop(columns="init.output"))
    assert old[1] == "ReLU + RAI (all layers)"
    assert setting_label(("optimizer.clip_norm", "optimizer.lr"), (np.nan, 0.1)) == "clip=none, lr=0.1"
    assert fmt_value(None) == "none" and fmt_value(1.0) == "1"


# --------------------------------------------------------------------------- born dead: the domain is two points

def test_a_zero_bias_relu_network_on_a_1d_domain_is_dead_exactly_when_dead_at_minus_one_and_plus_one():
    """Positive homogeneity: with zero biases N(c x) = c N(x) for c > 0, so the
    units positive at x depend only on the sign of x, and a layer dead over the
    domain is a layer dead at both x = -1 and x = +1."""
    from relu_study.claims.stats import dead_networks
    from relu_study.engine.network import MLP
    from relu_study.engine.probes import probe

    net = MLP(1, [2] * 6, 1, seeds=range(400))
    domain = np.linspace(-np.sqrt(3), np.sqrt(3), 101)[:, None]
    two = np.array([[-1.0], [1.0]])
    cols_d, _, _ = probe(net, domain, np.abs(domain), "regression")
    cols_2, _, _ = probe(net, two, np.abs(two), "regression")
    layer = [f"dead_frac_l{i}" for i in range(1, 7)]
    dead_d = dead_networks(pd.DataFrame({c: cols_d[c] for c in layer}))
    dead_2 = dead_networks(pd.DataFrame({c: cols_2[c] for c in layer}))
    np.testing.assert_array_equal(dead_d, dead_2)
    assert 0 < dead_d.mean() < 1
    assert (cols_d["dead_frac_l1"] < 1).all()  # the first layer is alive at one of the two signs


# --------------------------------------------------------------------------- reproduce's progress

def test_progress_reads_the_job_lines_and_speaks_at_least_every_minute(tmp_path):
    from relu_study.claims.reproduce import Progress, job_progress

    log = tmp_path / "c1.log"
    log.write_text("[HYDRA] Launching 4 jobs locally\n")
    assert job_progress(log) == (0, 4)
    log.write_text(log.read_text() + "[relu_study][INFO] - [1 of 4] job #0 done (x=1): val_loss=0.3\n"
                   + "[relu_study][INFO] - [2 of 4] job #1 done (x=2): val_loss=0.3\n")
    assert job_progress(log) == (2, 4)
    assert job_progress(tmp_path / "missing.log") == (0, None)
    lines = []
    p = Progress(lines.append, every=0.0, quiet=1e9)
    p.started("c1", log)
    p.tick()  # the first jobs seen: the rate is measured from here on (no estimate yet)
    assert lines[0] == "c1: started" and lines[1].startswith("c1: 2 of 4 jobs, ") and "left" not in lines[1]
    p.tick()
    assert len(lines) == 2  # nothing new: silent until the next job or the quiet interval
    log.write_text(log.read_text() + "[relu_study][INFO] - [3 of 4] job #2 done (x=3): val_loss=0.3\n")
    p.tick()
    assert len(lines) == 3 and lines[2].startswith("c1: 3 of 4 jobs") and "about" in lines[2]
    p.quiet = 0.0
    p.tick()
    assert len(lines) == 4 and lines[3].startswith("c1: 3 of 4 jobs")


def test_kaplan_meier_curves_are_drawn_as_steps():
    """The fraction reached holds between event times (no line suggests events in
    between) and runs on to the last time observed; the band follows the same steps."""
    from relu_study.claims.studies.c5_convergence import km_steps

    x, y = km_steps([2.0, 5.0], [0.25, 0.75], end=9.0)
    assert x == [0.0, 2.0, 2.0, 5.0, 5.0, 9.0]
    assert y == [0.0, 0.0, 0.25, 0.25, 0.75, 0.75]
    # no censoring after the last event: the curve ends there
    assert km_steps([3.0], [1.0], end=3.0) == ([0.0, 3.0, 3.0], [0.0, 0.0, 1.0])
    # no event at all: flat at 0 up to the last time observed
    assert km_steps([], [], end=4.0) == ([0.0, 4.0], [0.0, 0.0])


def test_an_arm_whose_settings_disagree_is_described_setting_by_setting():
    """C3's first v2 run: "not supported" overall (two settings equivalent, one where
    the arm was clearly worse) must not read as "equivalence shown" everywhere."""
    from collections import namedtuple
    from types import SimpleNamespace as NS

    from relu_study.claims.document import verdict_sentence

    ArmStub = namedtuple("ArmStub", "label short baseline")  # hashable, as the real Arm
    relu = ArmStub("relu", "ReLU", True)
    mixed = ArmStub("leaky_0.01", "α=0.01", False)
    same = ArmStub("leaky_0.1", "α=0.1", False)
    settings = ["init=glorot", "init=he", "init=negative_bias"]
    judged = pd.DataFrame({"metric": "regret", "eligible": True, "setting": settings * 2,
                           "arm": [mixed.label] * 3 + [same.label] * 3,
                           "verdict": ["not supported", "not supported", "contradicted"] + ["not supported"] * 3})
    ar = NS(metric_verdicts={("regret", mixed.label): "not supported", ("regret", same.label): "not supported"},
            judged=judged, eligible_settings=lambda: settings,
            pooled={("regret", a.label): NS(n=90, effect=0.07, lo=0.035, hi=0.11) for a in (mixed, same)})
    text = verdict_sentence(NS(arms=[relu, mixed, same]), ar, NS(column="regret", short="regret"),
                            "lost less", "lost more")
    assert ("α=0.01 lost more at init=negative_bias and did not differ from ReLU by more than the minimal effect "
            "at init=glorot; init=he (overall: not supported;") in text
    assert "α=0.1 did not differ from ReLU by more than the minimal effect (equivalence shown)" in text
    assert text.count("equivalence shown") == 1
