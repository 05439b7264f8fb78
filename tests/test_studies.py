"""The comparison machinery (relu_study.claims.analysis) on synthetic studies with a
known truth: an effect at every slope, no effect, an effect only for large slopes,
an effect confounded by divergence; gates; pairing; the sensitivity table; and the
registry of study modules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relu_study.claims import stats as S
from relu_study.claims.analysis import Analysis, Effect, Gate, Metric, Study, analyse
from relu_study.claims.tables import Arm

RELU = Arm("relu")
SLOPES = (0.01, 0.1, 0.3)
ARMS = {a.label: a for a in (RELU, *(Arm("leaky", s) for s in SLOPES))}

DEAD = Metric("dead_frac", "dead fraction", -1, Effect(0.25, 0.05), if_diverged=1.0)
FAILED = Metric("failed", "failed networks", -1, Effect(0.2, 0.05), binary=True, if_diverged=1.0)
DEAD_SURV = Metric("dead_frac", "dead fraction at the end", -1, Effect(0.25, 0.05))


def _study(*metrics, gate=None, settings=("optimizer.lr",)):
    return Study("synthetic", "S1", "S1. synthetic", "Leaky ReLU lowers the dead fraction", "?", settings=settings,
                 analyses=(Analysis("main", "Main", "?", metrics, gate),))


def _table(effect_of_slope, n=40, lrs=(0.1, 1.0), seed=0, relu_level=0.4):
    """One row per network: ReLU's dead fraction varies by seed (shared by every arm
    of that seed); an arm's value is ReLU's plus ``effect_of_slope(alpha, lr)`` plus
    a little noise of its own."""
    rng = np.random.default_rng(seed)
    rows = []
    for lr in lrs:
        base = np.clip(relu_level + rng.normal(0, 0.1, n), 0, 1)
        for label, arm in ARMS.items():
            eff = 0.0 if arm.baseline else effect_of_slope(arm.slope, lr)
            noise = np.zeros(n) if arm.baseline else rng.normal(0, 0.01, n)
            for s in range(n):
                rows.append({"arm": label, "optimizer.lr": lr, "seed": s, "diverged": 0.0,
                             "dead_frac": float(np.clip(base[s] + eff + noise[s], 0, 1)),
                             "change_dead_frac": 0.1 if lr == 1.0 else 0.0})
    return pd.DataFrame(rows)


def test_an_effect_at_every_slope_is_supported_for_every_arm():
    r = analyse(_study(DEAD), _table(lambda a, lr: -0.2), ARMS)
    assert r.main.arm_verdicts == {ARMS[k].label: "supported" for k in ARMS if k != "ReLU"}
    assert r.verdict == "supported" and r.conditions == ""
    assert (r.pairs["pairs"] == 40).all() and (r.pairs["only_arm"] == 0).all()
    j = r.main.judged
    assert (j["paired"]).all() and (j["test"] == "Wilcoxon signed-rank").all()
    assert j["effect"].to_numpy() == pytest.approx(-0.2, abs=0.02)


def test_no_effect_is_not_supported():
    r = analyse(_study(DEAD), _table(lambda a, lr: 0.0), ARMS)
    assert set(r.main.arm_verdicts.values()) == {"not supported"}
    assert r.verdict == "not supported"
    assert r.main.judged["equivalence"].all()


def test_an_effect_only_for_large_slopes_depends_on_the_slope():
    r = analyse(_study(DEAD), _table(lambda a, lr: -0.2 if a >= 0.1 else 0.0), ARMS)
    assert r.main.arm_verdicts == {"Leaky α=0.01": "not supported", "Leaky α=0.1": "supported",
                                   "Leaky α=0.3": "supported"}
    assert r.verdict == S.DEPENDS
    assert r.conditions == "holds for α ≥ 0.1, not for α=0.01"


def test_an_effect_in_one_setting_only_depends_on_the_setting():
    r = analyse(_study(DEAD), _table(lambda a, lr: -0.2 if lr == 1.0 else 0.0), ARMS)
    assert set(r.main.arm_verdicts.values()) == {S.DEPENDS}
    j = r.main.judged.set_index(["setting", "arm"])["verdict"]
    assert j[("lr=1", "Leaky α=0.1")] == "supported" and j[("lr=0.1", "Leaky α=0.1")] == "not supported"


def test_the_gate_keeps_only_settings_where_relu_shows_the_problem():
    gate = Gate("training killed ReLU units", "change_dead_frac", 0.05)
    r = analyse(_study(DEAD, gate=gate), _table(lambda a, lr: -0.2 if lr == 1.0 else 0.0), ARMS)
    assert r.main.eligible_settings() == ["lr=1"]
    assert r.verdict == "supported"  # the lr=0.1 setting, with no dying, does not count against the claim
    j = r.main.judged
    assert (j.loc[~j["eligible"], "verdict"] == "n/a").all() and j.loc[~j["eligible"], "p_adj"].isna().all()
    # Holm runs over the eligible comparisons only: 3 arms, not 6
    e = j[j["eligible"]]
    assert (e["p_adj"] <= np.minimum(1, 3 * e["p"]) + 1e-12).all()


def test_survivor_bias_divergence_confounds_the_survivors_but_not_the_primary_outcome():
    """ReLU collapses in half its networks; the large slope diverges in the same half and
    its survivors have few dead units.  Survivors say 'supported'; counting every
    network (failed = diverged or collapsed) shows no gain."""
    n = 40
    rows = []
    for label, arm in ARMS.items():
        if arm.label not in ("ReLU", "Leaky α=0.3"):
            continue
        for s in range(n):
            bad = s < n // 2
            relu = arm.baseline
            rows.append({"arm": label, "seed": s, "diverged": float(bad and not relu),
                         "collapsed": float(bad and relu) if relu or not bad else np.nan,
                         "failed": float(bad), "dead_frac": 0.5 + 0.01 * (s % 5) if relu else
                         (np.nan if bad else 0.05 + 0.01 * (s % 3))})
    table = pd.DataFrame(rows)
    arms = {k: v for k, v in ARMS.items() if k in ("ReLU", "Leaky α=0.3")}
    r = analyse(_study(FAILED, DEAD_SURV, settings=()), table, arms)
    assert r.main.metric_verdicts[("failed", "Leaky α=0.3")] == "not supported"
    assert r.main.metric_verdicts[("dead_frac", "Leaky α=0.3")] == "supported"
    assert r.verdict == "not supported"
    sec = r.main.judged[r.main.judged["metric"] == "dead_frac"].iloc[0]
    assert sec["n"] == n // 2 and sec["excluded"] == n // 2  # only pairs where neither diverged
    assert DEAD_SURV.population == "among the pairs where neither network diverged"
    with pytest.raises(ValueError, match="must count every network"):
        Analysis("x", "x", "?", (DEAD_SURV,))


def test_sensitivity_flags_a_verdict_that_flips():
    # an effect of -0.07 with a tight interval: beyond m = 0.05, inside a doubled m = 0.10
    r = analyse(_study(Metric("dead_frac", "dead fraction", -1, Effect(0.0, 0.05), if_diverged=1.0)),
                _table(lambda a, lr: -0.07, lrs=(0.1,)), ARMS)
    assert r.verdict == "supported"
    sens = r.sensitivity.set_index("variant")
    assert sens.loc["m × 2", "verdict"] == "not supported" and sens.loc["m × 2", "flips"]
    assert not sens.loc["m × ½", "flips"] and not sens.loc["as stated", "flips"]
    assert sens.loc["n ≥ 20", "verdict"] == "supported"
    assert "minimal effects doubled" in set(sens["detail"])


def test_seeds_that_do_not_match_fall_back_to_unpaired_tests_and_a_seed_twice_is_an_error():
    t = _table(lambda a, lr: -0.2, lrs=(0.1,))
    t.loc[t["arm"] != "ReLU", "seed"] += 1000
    r = analyse(_study(DEAD), t, ARMS)
    j = r.main.judged
    assert not j["paired"].any() and (j["test"] == "Mann-Whitney U").all()
    assert (r.pairs["pairs"] == 0).all() and (r.pairs["only_arm"] == 40).all()
    t = _table(lambda a, lr: -0.2, lrs=(0.1,))
    t.loc[t["seed"] == 1, "seed"] = 0
    with pytest.raises(ValueError, match="appears twice"):
        analyse(_study(DEAD), t, ARMS)


def test_a_new_metric_plugs_in_by_name():
    t = _table(lambda a, lr: -0.2)
    t["dormant_frac"] = t["dead_frac"] / 2  # a probe column a later issue adds
    r = analyse(_study(Metric("dormant_frac", "dormant fraction", -1, Effect(0.25, 0.02), if_diverged=1.0)), t, ARMS)
    assert r.verdict == "supported"


def test_registry_holds_every_study_module_and_each_has_a_preset():
    from pathlib import Path

    from relu_study.claims.studies import registry

    reg = registry()
    assert list(reg) == ["c1_dying", "c2_gradients", "c3_sensitivity", "c4_sparsity", "c5_convergence",
                         "slope_sweep", "lu_collapse", "born_dead"]
    conf = Path(__file__).resolve().parent.parent / "conf" / "experiment"
    for name, study in reg.items():
        assert (conf / f"{name}.yaml").is_file(), name
        assert study.analyse is not None or study.analyses[0].primary.if_diverged is not None or \
            study.analyses[0].primary.counts
    assert reg["c2_gradients"].by_construction and reg["c4_sparsity"].by_construction
    assert not reg["c1_dying"].by_construction and not reg["c5_convergence"].by_construction
