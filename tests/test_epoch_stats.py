"""Epoch statistics (relu_study.engine.epoch_stats): the training passes' own
counts, against hand-worked answers and an independent minibatch loop."""

import numpy as np
import pandas as pd
import pytest

from conftest import make_classification, make_regression
from relu_study.data import Dataset
from relu_study.engine.activations import make_activation
from relu_study.engine.epoch_stats import EPOCH_METRICS
from relu_study.engine.losses import LOSSES
from relu_study.engine.network import MLP, seed_generator
from relu_study.engine.optim import make_optimizer
from relu_study.engine.train import train

TAU = 0.025


def _columns(widths):
    return [*EPOCH_METRICS, *(f"{m}_l{i}" for i in range(1, len(widths) + 1) for m in EPOCH_METRICS)]


def _fractions(pos, abs_sum, zeros, n, tau=TAU):
    """The four statistics of one layer from per-unit sums over n samples."""
    h = len(pos)
    mean_abs = abs_sum / n
    return {"epoch_never_positive_frac": np.mean(pos == 0),
            "epoch_dormant_frac": np.mean(mean_abs <= tau * mean_abs.mean()),
            "epoch_exact_zero_frac": zeros / (n * h),
            "epoch_active_rate": pos.sum() / (n * h)}


def _overall(layers, widths):
    return {m: sum(l[m] * h for l, h in zip(layers, widths)) / sum(widths) for m in EPOCH_METRICS}


def reference(net, data, epochs, batch, lr):
    """Plain SGD written out step by step (no GroupStep): each minibatch of each
    network's order goes forward with the parameters of that moment, its
    pre-activations and activations are counted per unit in float64, then the
    step.  Returns one dict of columns per epoch (epoch 0: the initial network
    on the whole training set) for network 0, and the final parameters."""
    X, y, n = data.X_train, data.y_train, data.n_train
    widths = net.widths
    rng = seed_generator(net.seeds[0], "order")

    def count(Xs):
        out, cache = net.forward(Xs)
        sums = [(np.sum(z[0] > 0, axis=0), np.abs(a[0].astype(float)).sum(axis=0), np.sum(a[0] == 0))
                for z, a in zip(cache.pre, cache.post)]
        return out, cache, sums

    def add(total, sums):
        return [tuple(t + s for t, s in zip(a, b)) for a, b in zip(total, sums)] if total else sums

    def row(total):
        layers = [_fractions(p, a, z, n) for p, a, z in total]
        cols = _overall(layers, widths)
        for i, l in enumerate(layers, start=1):
            cols.update({f"{m}_l{i}": v for m, v in l.items()})
        return cols

    rows = [row(count(X)[2])]
    for _ in range(epochs):
        order = rng.permutation(n)
        total = None
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            out, cache, sums = count(X[idx])
            total = add(total, sums)
            _, dout = LOSSES[data.task](out, y[idx], grad=True)
            g = np.empty_like(net.flat)
            net.backward(cache, dout, out=g)
            net.flat -= lr * g
        rows.append(row(total))
    return rows, net.flat.copy()


@pytest.mark.parametrize("act,dtype", [("relu", np.float64), ("leaky", np.float64), ("elu", np.float64),
                                       ("relu", np.float32), ("leaky", np.float32)])
def test_statistics_match_an_independent_minibatch_loop(act, dtype):
    """Three epochs of 37 samples in minibatches of 8 (the last one of 5) with a
    rate large enough to move the units between minibatches: every epoch's
    statistics equal those counted by hand over its minibatches."""
    data = make_classification(n_train=37, seed=3)
    kw = dict(activation=act, seeds=[5], dtype=dtype, bias_init="normal", bias_std=0.5)
    lr = 0.5
    res = train(MLP(2, [6, 4], 3, **kw), data, epochs=3, batch_size=8, optimizer=make_optimizer("sgd", lr),
                probes=False)
    expected, flat = reference(MLP(2, [6, 4], 3, **kw), data, 3, 8, lr)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(res.net.flat, flat, rtol=tol, atol=tol)  # the same path
    table = res.table
    assert table[_columns([6, 4])].notna().all().all()
    moved = False
    for epoch, cols in enumerate(expected):
        got = table.loc[table.epoch == epoch].iloc[0]
        for name, value in cols.items():
            assert got[name] == pytest.approx(value, rel=tol, abs=tol), (epoch, name)
        moved |= epoch > 0 and cols["epoch_active_rate"] != expected[0]["epoch_active_rate"]
    assert moved  # the parameters did move the statistics


def _hand_data(X, y):
    X = np.asarray(X, float)
    return Dataset(name="hand", task="classification", X_train=X, y_train=np.asarray(y), X_val=X[:2],
                   y_val=np.asarray(y[:2]), n_classes=2, feature_names=("x0", "x1"), target_name="label")


@pytest.mark.parametrize("act,alpha", [("relu", 0.0), ("leaky", 0.1)])
def test_hand_built_network_known_answers(act, alpha):
    """Hidden units: u0 = f(-1) on every sample (never positive), u1 = f(1)
    (always positive), u2 = f(x0), positive on 3 of the 8 samples.  A rate of
    1e-300 leaves the parameters as built, so every epoch gives the same
    answers, worked out by hand."""
    x0 = np.array([2.0, -1.0, 0.5, -3.0, 1.0, -0.5, -2.0, 0.0])
    X = np.column_stack([x0, np.zeros(8)])
    data = _hand_data(X, [0, 1] * 4)
    W1 = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    b1 = np.array([-1.0, 1.0, 0.0])
    W2, b2 = np.ones((3, 2)), np.zeros(2)
    net = MLP.from_params([W1, W2], [b1, b2], activation=make_activation(act, **({"alpha": alpha} if alpha else {})))
    res = train(net, data, epochs=2, batch_size=3, optimizer=make_optimizer("sgd", 1e-300), probes=False)
    f = np.where(x0 > 0, x0, alpha * x0)
    mean_abs = np.array([alpha * 1.0, 1.0, np.abs(f).mean()])
    dormant = np.mean(mean_abs <= TAU * mean_abs.mean())
    zeros = (8 if alpha == 0 else 0) + np.sum(f == 0)  # u0 (relu only) and u2 at x0 <= 0 (relu) or x0 == 0
    for _, r in res.table.iterrows():
        assert r["epoch_never_positive_frac"] == pytest.approx(1 / 3)
        assert r["epoch_active_rate"] == pytest.approx((0 + 8 + 3) / 24)
        assert r["epoch_exact_zero_frac"] == pytest.approx(zeros / 24)
        assert r["epoch_dormant_frac"] == pytest.approx(dormant)
        assert r["epoch_never_positive_frac_l1"] == r["epoch_never_positive_frac"]
    assert dormant == (1 / 3 if alpha == 0 else 0)  # leaky's u0 has |a| = 0.1: not dormant


def test_epoch_zero_equals_the_exact_probe_on_the_training_set():
    """No step at epoch 0: the statistics of the initial network on the whole
    training set, which is the probe set here (under probe.max_samples)."""
    data = make_classification(n_train=60)
    for act in ("relu", "leaky", "tanh"):
        res = train(MLP(2, [7, 5], 3, activation=act, seeds=[0, 1], bias_init="normal", bias_std=0.5), data,
                    epochs=1, batch_size=16)
        e0 = res.table[res.table.epoch == 0]
        for name, probe in (("never_positive_frac", "dead_frac"), ("dormant_frac", "dormant_frac"),
                            ("exact_zero_frac", "exact_zero_frac"), ("active_rate", "active_rate")):
            for suffix in ("", "_l1", "_l2"):
                np.testing.assert_allclose(e0[f"epoch_{name}{suffix}"], e0[f"{probe}{suffix}"], rtol=1e-12)


def _same(a, b, columns):
    for c in columns:
        assert np.array_equal(a[c].to_numpy(float), b[c].to_numpy(float), equal_nan=True), c


@pytest.mark.parametrize("act", ["relu", "leaky", "rrelu", "prelu", "elu"])
@pytest.mark.parametrize("widths,S", [((5, 4), 3), ((300,), 12)])
def test_group_equals_alone_bit_for_bit(act, widths, S):
    """Every network's epoch statistics are the same bits alone and in a group,
    feature-major and sample-major (width 300), in one block and in several
    (12 networks of width 300 on minibatches of 10 step in two blocks)."""
    data = make_regression(n_train=33)
    kw = dict(activation=act, dtype=np.float64)
    opt = dict(epochs=2, batch_size=10, probes=False)
    group = train(MLP(2, list(widths), 1, seeds=range(S), **kw), data, optimizer=make_optimizer("adam", 0.01),
                  **opt).table
    cols = _columns(widths)
    for seed in (0, S - 1):
        alone = train(MLP(2, list(widths), 1, seeds=[seed], **kw), data, optimizer=make_optimizer("adam", 0.01),
                      **opt).table
        _same(group[group.seed == seed].reset_index(drop=True), alone, cols)


def test_float32_group_equals_alone():
    data = make_classification(n_train=50)
    kw = dict(activation="relu", dtype=np.float32)
    group = train(MLP(2, [8, 8], 3, seeds=[0, 1, 2], **kw), data, epochs=2, batch_size=16).table
    alone = train(MLP(2, [8, 8], 3, seeds=[1], **kw), data, epochs=2, batch_size=16).table
    _same(group[group.seed == 1].reset_index(drop=True), alone, _columns([8, 8]))


@pytest.mark.parametrize("act", ["relu", "leaky"])
def test_off_leaves_the_table_bit_for_bit(act):
    """epoch_stats=False: the same table as with them, minus their columns, bit
    for bit (the counting changes nothing the loop computes), and no epoch_*
    column at all."""
    data = make_classification(n_train=45)
    kw = dict(activation=act, seeds=[0, 1], bias_init="normal", bias_std=0.3)
    on = train(MLP(2, [6, 5], 3, **kw), data, epochs=3, batch_size=8).table
    off = train(MLP(2, [6, 5], 3, **kw), data, epochs=3, batch_size=8, epoch_stats=False).table
    assert not [c for c in off.columns if c.startswith("epoch_")]
    pd.testing.assert_frame_equal(on.drop(columns=_columns([6, 5])), off, check_exact=True)
    assert list(on.columns[6:10]) == list(EPOCH_METRICS)  # after the losses


def test_diverged_network_has_nan_statistics_and_others_are_untouched():
    data = make_regression(n_train=30)
    kw = dict(activation="relu", seeds=[0, 1], weight_init="he_normal")
    net = MLP(2, [4], 1, **kw)
    net.W[0][1] *= 1e200  # network 1 overflows on its first step
    res = train(net, data, epochs=2, batch_size=10, probes=False)
    t = res.table
    bad = t[t.seed == 1]
    assert bad["diverged"].iloc[-1] and bad[_columns([4])].iloc[-1].isna().all()
    alone = train(MLP(2, [4], 1, activation="relu", seeds=[0]), data, epochs=2, batch_size=10, probes=False).table
    _same(t[t.seed == 0].reset_index(drop=True), alone, _columns([4]))


def test_dormant_threshold_follows_the_probe_setting():
    from relu_study.engine.probes import ProbeOptions

    data = make_classification(n_train=40)
    kw = dict(activation="relu", seeds=[0], bias_init="normal", bias_std=1.0)
    low = train(MLP(2, [16], 3, **kw), data, epochs=1, probes=ProbeOptions(dormant_tau=0.0)).table
    high = train(MLP(2, [16], 3, **kw), data, epochs=1, probes=ProbeOptions(dormant_tau=0.9)).table
    assert (high["epoch_dormant_frac"] > low["epoch_dormant_frac"]).all()
    np.testing.assert_allclose(high["epoch_dormant_frac"].iloc[0], high["dormant_frac"].iloc[0])


def test_config_key_switches_them_and_is_checked():
    from relu_study.runs.config import ConfigError, default_config
    from relu_study.runs.experiment import run_experiment

    cfg = default_config(epochs=2, **{"probe.enabled": False})
    on = run_experiment(cfg).table
    off = run_experiment({**cfg, "epoch_stats": False}).table
    assert "epoch_stats" not in on.columns  # a switch of what is measured, not an experiment setting
    stats = [c for c in on.columns if c.startswith("epoch_") and c != "epoch"]
    assert len(stats) == 4 * 3  # overall and two hidden layers
    pd.testing.assert_frame_equal(on.drop(columns=stats), off, check_exact=True)
    with pytest.raises(ConfigError, match="epoch_stats"):
        run_experiment({**cfg, "epoch_stats": "yes"})
