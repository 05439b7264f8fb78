"""The training loop: group == alone, determinism, divergence, the metrics table,
and the loop's arithmetic against hand-made reference steps."""


import numpy as np
import pandas as pd
import pytest

from conftest import make_classification, make_regression
from relu_study.engine.activations import make_activation
from relu_study.engine.epoch_stats import EPOCH_METRICS
from relu_study.engine.losses import LOSSES
from relu_study.engine.network import MLP
from relu_study.engine.optim import make_optimizer
from relu_study.engine.probes import LAYER_METRICS, probe
from relu_study.engine.train import COLUMNS, train

PROBE_COLUMNS = ["dead_frac", "zero_grad_frac", "exact_zero_frac", "near_zero_frac",
                 "active_rate", "grad_norm", "revived", "collapsed"]


def numeric(df):
    """Every column as float64 (booleans 0/1, missing values NaN)."""
    return np.column_stack([df[c].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
                            for c in df.columns])


def assert_rows_match(a, b, tol=1e-12):
    """Same columns; equal NaN pattern; max relative difference <= tol."""
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b) and len(a) > 0
    x, y = numeric(a.reset_index(drop=True)), numeric(b.reset_index(drop=True))
    np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
    ok = ~np.isnan(x)
    diff = np.abs(x[ok] - y[ok])
    scale = np.maximum(np.abs(x[ok]), np.abs(y[ok]))
    rel = np.where(diff == 0, 0.0, diff / np.where(scale > 0, scale, 1.0))
    assert rel.max(initial=0.0) <= tol, f"max relative difference {rel.max()}"


def rows(table, seed):
    return table[table["seed"] == seed].reset_index(drop=True)


def _net(data, act="relu", seeds=(4,), widths=(6, 5), **kw):
    return MLP(data.n_features, list(widths), data.n_outputs, activation=act, seeds=list(seeds), **kw)


# ------------------------------------------------------------ group == alone
@pytest.mark.parametrize("opt,act,task", [
    ("sgd", "relu", "classification"),
    ("momentum", "leaky", "regression"),
    ("adam", "relu", "classification"),
    ("sgd", "rrelu", "classification"),
    ("adam", "prelu", "regression"),
    ("momentum", "rrelu", "regression"),
])
def test_group_equals_alone(opt, act, task):
    data = make_classification() if task == "classification" else make_regression()
    options = {"momentum": {"momentum": 0.9, "nesterov": True}, "adam": {}, "sgd": {}}[opt]
    results = {}
    for seeds in ([3, 4, 5], [4]):
        net = _net(data, act, seeds, bias_init="normal", bias_std=0.1)
        optimizer = make_optimizer(opt, 0.05, weight_decay=1e-3, clip_norm=5.0, **options)
        results[len(seeds)] = train(net, data, epochs=3, batch_size=7, optimizer=optimizer,
                                    schedule="cosine", min_lr=0.01)
    group, alone = results[3], results[1]
    assert len(alone.table) == 4
    assert_rows_match(rows(group.table, 4), alone.table)
    for pg, pa in zip(group.net.params(), alone.net.params()):
        np.testing.assert_allclose(pg[1], pa[0], rtol=1e-12, atol=1e-14)
    # the networks of the group are genuinely different
    assert rows(group.table, 3)["val_loss"].iloc[-1] != rows(group.table, 4)["val_loss"].iloc[-1]


def test_same_seed_twice_identical_tables():
    data = make_classification()
    tables = []
    for _ in range(2):
        net = _net(data, "rrelu", seeds=[1, 2])
        tables.append(train(net, data, epochs=3, batch_size=8,
                            optimizer=make_optimizer("adam", 0.01)).table)
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)


def test_different_seeds_give_different_orders():
    data = make_classification()
    a = train(_net(data, seeds=[1]), data, epochs=1, batch_size=8).table
    b = train(_net(data, seeds=[2]), data, epochs=1, batch_size=8).table
    assert a["train_loss"].iloc[1] != b["train_loss"].iloc[1]


def test_float32_training():
    data = make_regression()
    net = _net(data, "leaky", seeds=[0, 1], dtype=np.float32)
    res = train(net, data, epochs=3, batch_size=8, optimizer=make_optimizer("adam", 0.01))
    assert all(p.dtype == np.float32 for p in res.net.params())
    assert np.all(np.isfinite(res.table["val_loss"]))
    assert not res.table["diverged"].any()
    # it trains: the validation loss goes down, and float32 tracks float64 closely
    ref = train(_net(data, "leaky", seeds=[0, 1]), data, epochs=3, batch_size=8,
                optimizer=make_optimizer("adam", 0.01))
    np.testing.assert_allclose(res.table["val_loss"], ref.table["val_loss"], rtol=1e-4)
    first, last = res.table.groupby("seed")["val_loss"].first(), res.table.groupby("seed")["val_loss"].last()
    assert (last < first).all()


def test_float32_classification():
    data = make_classification()
    res = train(_net(data, "prelu", seeds=[0], dtype=np.float32), data, epochs=2, batch_size=8,
                optimizer=make_optimizer("momentum", 0.05))
    assert all(p.dtype == np.float32 for p in res.net.params())
    assert np.all(np.isfinite(res.table["train_loss"]))


# ------------------------------------------------------------ divergence
def _diverging_group():
    """Seed 3 is scaled up and blows up in epoch 1; seed 5 blows up in epoch 2 on its own;
    seed 4 trains."""
    data = make_regression()
    net = _net(data, make_activation("leaky", alpha=0.5), seeds=[3, 4, 5], widths=(8, 8))
    for w in net.W:
        w[0] *= 2.0
    init = [p.copy() for p in net.params()]
    return data, net, init


def test_divergence_recorded_and_others_match_alone():
    data, net, init = _diverging_group()
    res = train(net, data, epochs=5, batch_size=8, optimizer=make_optimizer("sgd", 0.2))
    t = res.table
    np.testing.assert_array_equal(res.diverged_epoch, [1, -1, 2])
    assert res.status == ["diverged", "ok", "diverged"]
    # seed 3: rows at epochs 0 and 1 only; the last is diverged with NaN metrics
    r3 = rows(t, 3)
    assert r3["epoch"].tolist() == [0, 1]
    assert r3["diverged"].tolist() == [False, True]
    metric_cols = [c for c in t.columns if c not in ("seed", "epoch", "diverged")]
    assert np.all(np.isnan(numeric(r3[metric_cols].iloc[[1]])))
    # (the median revival epoch is NaN until a unit revives; frozen_frac has no epoch before epoch 0)
    assert np.all(np.isfinite(numeric(r3[[c for c in metric_cols
                                          if "revival" not in c and "frozen" not in c]].iloc[[0]])))
    assert rows(t, 5)["epoch"].tolist() == [0, 1, 2]
    assert rows(t, 4)["epoch"].tolist() == list(range(6))
    assert not rows(t, 4)["diverged"].any()
    # the diverged network is restored to the start of its bad epoch (here: its init)
    for p, p0 in zip(res.net.params(), init):
        np.testing.assert_array_equal(p[0], p0[0])
    # the others match their alone runs
    for seed in (4, 5):
        alone = train(_net(data, make_activation("leaky", alpha=0.5), seeds=[seed], widths=(8, 8)),
                      data, epochs=5, batch_size=8, optimizer=make_optimizer("sgd", 0.2))
        assert_rows_match(rows(t, seed), alone.table)
    np.testing.assert_array_equal(alone.diverged_epoch, [2])
    # seed 5 (diverged in epoch 2) is frozen at its parameters after epoch 1
    one = train(_net(data, make_activation("leaky", alpha=0.5), seeds=[5], widths=(8, 8)),
                data, epochs=1, batch_size=8, optimizer=make_optimizer("sgd", 0.2))
    for p, q in zip(res.net.params(), one.net.params()):
        np.testing.assert_allclose(p[2], q[0], rtol=1e-12)


def test_divergence_mid_training_with_momentum_leaves_others_alone():
    data, net, _ = _diverging_group()
    res = train(net, data, epochs=3, batch_size=8, optimizer=make_optimizer("momentum", 0.2))
    assert res.diverged_epoch[0] == 1
    for seed in (4, 5):
        alone = train(_net(data, make_activation("leaky", alpha=0.5), seeds=[seed], widths=(8, 8)),
                      data, epochs=3, batch_size=8, optimizer=make_optimizer("momentum", 0.2))
        assert_rows_match(rows(res.table, seed), alone.table)


@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam"])
def test_nan_network_does_not_leak_into_group(opt):
    """A network with a NaN parameter diverges at epoch 0; its NaN gradients must not
    reach the others through clipping, weight decay or optimiser state."""
    data = make_classification()
    net = _net(data, "relu", seeds=[3, 4])
    net.W[1][0, 0, 0] = np.nan
    kw = dict(weight_decay=1e-2, clip_norm=1.0)
    res = train(net, data, epochs=2, batch_size=8, optimizer=make_optimizer(opt, 0.05, **kw))
    np.testing.assert_array_equal(res.diverged_epoch, [0, -1])
    assert rows(res.table, 3)["diverged"].tolist() == [True]
    alone = train(_net(data, "relu", seeds=[4]), data, epochs=2, batch_size=8,
                  optimizer=make_optimizer(opt, 0.05, **kw))
    assert_rows_match(rows(res.table, 4), alone.table)


def test_huge_learning_rate_diverges():
    data = make_regression()
    res = train(_net(data, seeds=[0, 1]), data, epochs=6, batch_size=8,
                optimizer=make_optimizer("sgd", 1e6))
    assert (res.diverged_epoch >= 1).all()
    assert res.status == ["diverged", "diverged"]
    t = res.table
    for seed, e in zip((0, 1), res.diverged_epoch):
        r = rows(t, seed)
        assert r["epoch"].tolist() == list(range(e + 1))
        assert r["diverged"].tolist() == [False] * e + [True]
        assert np.isnan(r["val_loss"].iloc[-1]) and np.isnan(r["dead_frac"].iloc[-1])
        assert pd.isna(r["collapsed"].iloc[-1]) and pd.isna(r["revived"].iloc[-1])
    assert all(np.all(np.isfinite(p)) for p in res.net.params())


def test_diverged_network_restored_when_detected_by_probe():
    """Full batch, lr 1e6: the epoch-2 minibatch loss is finite (it is computed before the
    step) but the probe's gradient overflows, so divergence is detected at measurement
    time.  The module promises the parameters are then restored to the start of the
    epoch: they must equal those after one epoch."""
    from relu_study.engine.probes import ProbeOptions
    data = make_regression()
    res = train(_net(data, seeds=[0], widths=(6, 5)), data, epochs=3, batch_size=40,
                optimizer=make_optimizer("sgd", 1e6), probes=ProbeOptions(every=1))
    np.testing.assert_array_equal(res.diverged_epoch, [2])
    after_one = train(_net(data, seeds=[0], widths=(6, 5)), data, epochs=1, batch_size=40,
                      optimizer=make_optimizer("sgd", 1e6))
    for p, q in zip(res.net.params(), after_one.net.params()):
        np.testing.assert_array_equal(p, q)


def test_non_finite_at_initialisation_diverges_at_epoch_zero():
    data = make_regression()
    net = _net(data, seeds=[7, 8])
    net.b[-1][0] = 1e300  # squared error overflows
    res = train(net, data, epochs=2, batch_size=8)
    np.testing.assert_array_equal(res.diverged_epoch, [0, -1])
    r7 = rows(res.table, 7)
    assert len(r7) == 1 and r7["diverged"].item() and np.isnan(r7["train_loss"].item())
    alone = train(_net(data, seeds=[8]), data, epochs=2, batch_size=8)
    assert_rows_match(rows(res.table, 8), alone.table)


# ------------------------------------------------------------ the table
def test_table_columns_classification():
    data = make_classification()
    res = train(_net(data, seeds=[0, 1], widths=(4, 3, 2)), data, epochs=2, batch_size=10)
    t = res.table
    head = ["seed", "epoch", "diverged", "train_loss", "val_loss", "val_acc"]
    assert list(t.columns[:6]) == head
    for c in PROBE_COLUMNS + ["grad_norm_out", "output_spread"]:
        assert c in t.columns, c
    for l in (1, 2, 3):
        for m in LAYER_METRICS:
            assert (f"{m}_l{l}" in t.columns) == (m != "low_ablation_frac")  # ablation: opt-in
    assert "dead_frac_l4" not in t.columns and "val_r2" not in t.columns
    assert len(t) == 2 * 3
    assert list(zip(t["seed"], t["epoch"])) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert t["diverged"].dtype == bool
    assert set(t.columns) <= set(COLUMNS) | {f"{m}_l{l}" for m in (*LAYER_METRICS, *EPOCH_METRICS) for l in (1, 2, 3)}
    for l in (1, 2, 3):
        for m in EPOCH_METRICS:
            assert f"{m}_l{l}" in t.columns


def test_table_columns_regression_and_no_probes():
    data = make_regression(n_targets=2)
    res = train(_net(data, seeds=[0]), data, epochs=2, batch_size=10, probes=False, epoch_stats=False)
    t = res.table
    assert list(t.columns) == ["seed", "epoch", "diverged", "train_loss", "val_loss", "val_r2"]
    with_stats = train(_net(data, seeds=[0]), data, epochs=2, batch_size=10, probes=False).table
    assert list(with_stats.columns) == [*t.columns, *EPOCH_METRICS,
                                        *(f"{m}_l{i}" for i in (1, 2) for m in EPOCH_METRICS)]
    assert t["epoch"].tolist() == [0, 1, 2]
    assert res.probe_index is None


def test_epochs_zero_gives_initial_row():
    data = make_classification()
    res = train(_net(data, seeds=[0, 1]), data, epochs=0)
    assert res.table["epoch"].tolist() == [0, 0]


def test_metrics_match_independent_computation():
    data = make_classification(n_train=30, n_val=15)
    net = _net(data, seeds=[2, 9], bias_init="normal", bias_std=0.2)
    init_out = net.predict(data.X_train)
    init_loss = LOSSES["classification"](init_out, data.y_train)
    init_cols, _, _ = probe(net, data.X_train, data.y_train, "classification")
    calls = []
    res = train(net, data, epochs=2, batch_size=8, optimizer=make_optimizer("sgd", 0.1),
                progress=lambda e, row: calls.append(e))
    assert calls == [0, 1, 2]
    t = res.table
    e0 = t[t["epoch"] == 0]
    np.testing.assert_allclose(e0["train_loss"], init_loss, rtol=1e-13)
    np.testing.assert_allclose(e0["dead_frac"], init_cols["dead_frac"], rtol=0)
    np.testing.assert_allclose(e0["grad_norm"], init_cols["grad_norm"], rtol=1e-12)
    # final epoch: validation metrics and probes from the returned network
    last = t[t["epoch"] == 2]
    out = res.net.predict(data.X_val)
    acc = (out.argmax(-1) == data.y_val).mean(-1)
    np.testing.assert_allclose(last["val_acc"], acc, rtol=0)
    from scipy.special import logsumexp
    picked = np.take_along_axis(out, np.broadcast_to(data.y_val, (2, 15))[..., None], -1)[..., 0]
    ce = (logsumexp(out, axis=-1) - picked).mean(-1)
    np.testing.assert_allclose(last["val_loss"], ce, rtol=1e-12)
    cols, _, _ = probe(res.net, data.X_train, data.y_train, "classification")
    for c in ("dead_frac", "active_rate", "exact_zero_frac", "grad_norm", "output_spread", "grad_norm_l2"):
        np.testing.assert_allclose(last[c], cols[c], rtol=1e-12, err_msg=c)


def test_val_r2_matches_sklearn():
    from sklearn.metrics import r2_score
    data = make_regression(n_targets=2)
    res = train(_net(data, seeds=[0, 1]), data, epochs=2, batch_size=8,
                optimizer=make_optimizer("adam", 0.01))
    out = res.net.predict(data.X_val)
    last = res.table[res.table["epoch"] == 2]
    expected = [r2_score(data.y_val, out[s]) for s in range(2)]  # uniform average over outputs
    np.testing.assert_allclose(last["val_r2"], expected, rtol=1e-12)
    mse = ((out - data.y_val) ** 2).mean(axis=(1, 2))
    np.testing.assert_allclose(last["val_loss"], mse, rtol=1e-12)


def test_full_batch_epoch_is_one_gradient_step_with_decay():
    """batch_size = n: one epoch = one SGD step on the whole set; weight decay applies to
    weights only; train_loss of epoch 1 is the loss before the step."""
    data = make_regression(n_train=24)
    net = _net(data, "tanh", seeds=[0, 1], bias_init="normal", bias_std=0.3)
    net.slopes = None
    W0 = [p.copy() for p in net.params()]
    out, cache = net.forward(data.X_train)
    loss, dout = LOSSES["regression"](out, data.y_train, grad=True)
    grads = net.backward(cache, dout)
    lr, wd = 0.1, 0.05
    res = train(net, data, epochs=1, batch_size=24, optimizer=make_optimizer("sgd", lr, weight_decay=wd))
    n_w = len(net.W)
    for i, (p, p0, g) in enumerate(zip(res.net.params(), W0, grads)):
        expected = p0 - lr * (g + wd * p0) if i < n_w else p0 - lr * g
        np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(res.table.loc[res.table["epoch"] == 1, "train_loss"], loss, rtol=1e-12)


def test_train_loss_is_sample_weighted_mean_over_minibatches():
    # 10 samples, batch 4: batches of 4, 4, 2 -> weights 0.4, 0.4, 0.2 (lr tiny: loss of the
    # epoch ~ loss at init)
    data = make_regression(n_train=10)
    net = _net(data, seeds=[0])
    init = LOSSES["regression"](net.predict(data.X_train), data.y_train)
    res = train(net, data, epochs=1, batch_size=4, optimizer=make_optimizer("sgd", 1e-12))
    assert res.info["n_batches"] == 3
    np.testing.assert_allclose(res.table["train_loss"].iloc[1], init[0], rtol=1e-9)


@pytest.mark.parametrize("act", ["relu", "rrelu"])
def test_minibatch_order_and_noise_come_from_each_networks_generators(act):
    """lr = 1e-300 leaves the parameters unchanged (to 1e-250), so the epoch-1 train_loss is
    the sample-weighted mean of minibatch losses in training mode, with each network's
    order and RReLU slopes drawn from network_rngs(seed)['order'] / ['noise']."""
    from relu_study.engine.network import network_rngs
    data = make_classification(n_train=30)
    net = _net(data, act, seeds=[1, 2])
    ref = _net(data, act, seeds=[1, 2])
    res = train(net, data, epochs=1, batch_size=8, optimizer=make_optimizer("sgd", 1e-300))
    for p, q in zip(res.net.params(), ref.params()):  # (zero biases move by ~1e-300)
        np.testing.assert_allclose(p, q, rtol=1e-15, atol=1e-250)
    for s, seed in enumerate([1, 2]):
        g = network_rngs(seed)
        perm = g["order"].permutation(30)
        one = ref.select(np.array([s]))
        total = 0.0
        for start in range(0, 30, 8):
            idx = perm[start:start + 8]
            out, _ = one.forward(data.X_train[idx], train=True, noise_rngs=[g["noise"]])
            total += LOSSES["classification"](out, data.y_train[idx])[0] * len(idx)
        got = rows(res.table, seed)["train_loss"].iloc[1]
        assert got == pytest.approx(total / 30, rel=1e-12)


def test_cosine_schedule_in_loop():
    # full batch, 2 epochs: step 0 uses lr, step 1 uses (min + (lr - min) * (1 + cos(pi/2)) / 2)
    data = make_regression(n_train=16)
    lr, min_lr = 0.2, 0.02
    net = _net(data, "gelu", seeds=[3])
    ref = _net(data, "gelu", seeds=[3])
    train(net, data, epochs=2, batch_size=16, optimizer=make_optimizer("sgd", lr),
          schedule="cosine", min_lr=min_lr)
    for rate in (lr, min_lr + (lr - min_lr) * 0.5):
        out, cache = ref.forward(data.X_train)
        _, dout = LOSSES["regression"](out, data.y_train, grad=True)
        for p, g in zip(ref.params(), ref.backward(cache, dout)):
            p -= rate * g
    for p, q in zip(net.params(), ref.params()):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-15)


def test_probe_subsample():
    data = make_classification(n_train=50)
    res = train(_net(data, seeds=[0]), data, epochs=1, batch_size=25, probe_max_samples=20, probe_seed=3)
    assert res.info["n_probe"] == 20 and len(res.probe_index) == 20
    assert np.all(np.diff(res.probe_index) > 0)
    res2 = train(_net(data, seeds=[0]), data, epochs=1, batch_size=25, probe_max_samples=20, probe_seed=3)
    np.testing.assert_array_equal(res.probe_index, res2.probe_index)
    # epoch-0 probe equals the probe of the initial network on that subsample
    net0 = _net(data, seeds=[0])
    cols, _, _ = probe(net0, data.X_train[res.probe_index], data.y_train[res.probe_index], "classification")
    assert res.table["active_rate"].iloc[0] == pytest.approx(cols["active_rate"][0], rel=1e-14)
    full = train(_net(data, seeds=[0]), data, epochs=0, probe_max_samples=None)
    assert full.info["n_probe"] == 50


def test_revived_column_follows_probe_history():
    """Recompute the probe chain by hand from the networks after e = 0..4 epochs (training
    is deterministic) and compare dead_frac and revived with the table."""
    data = make_classification()

    def run(epochs):
        from relu_study.engine.probes import ProbeOptions
        net = _net(data, seeds=[0], widths=(6, 6), bias_init="constant", bias_value=-0.3)
        return train(net, data, epochs=epochs, batch_size=8, optimizer=make_optimizer("sgd", 0.5),
                     probes=ProbeOptions(every=1))

    table = run(4).table
    assert table["revived"].max() >= 1  # the setting does revive a unit
    state = None
    for e in range(5):
        cols, _, state = probe(run(e).net, data.X_train, data.y_train, "classification", state=state)
        row = table[table["epoch"] == e].iloc[0]
        for c in ("revived", "revived_l1", "revived_l2", "dead_frac", "dead_frac_l2"):
            assert row[c] == cols[c][0], (e, c)


def test_dead_network_is_collapsed_in_table():
    # negative bias kills every hidden unit: born dead, stays dead, zero gradient below
    data = make_regression()
    from relu_study.engine.probes import ProbeOptions
    net = _net(data, seeds=[0], widths=(4, 4), bias_init="constant", bias_value=-50.0)
    res = train(net, data, epochs=2, batch_size=8, probes=ProbeOptions(every=1))
    t = res.table
    assert (t["dead_frac"] == 1.0).all() and (t["zero_grad_frac"] == 1.0).all()
    assert t["collapsed"].tolist() == [True, True, True]
    assert (t["exact_zero_frac"] == 1.0).all() and (t["active_rate"] == 0.0).all()
    assert (t["revived"] == 0).all()
    np.testing.assert_array_equal(res.net.W[0], net.W[0])  # no gradient reaches layer 1


# ------------------------------------------------------------ errors
@pytest.mark.parametrize("kwargs,key", [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": -1}, "batch_size"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"batch_size": True}, "batch_size"),
    ({"epochs": -1}, "epochs"),
    ({"epochs": 1.5}, "epochs"),
    ({"probe_max_samples": 0}, "max_samples"),
    ({"near_zero_rel": -1.0}, "near_zero_rel"),
    ({"collapse_tol": float("nan")}, "collapse_tol"),
    ({"schedule": "linear"}, "schedule"),
])
def test_argument_errors_name_the_key(kwargs, key):
    data = make_classification()
    with pytest.raises(ValueError, match=key):
        train(_net(data), data, **kwargs)


def test_network_data_mismatch():
    data = make_classification()
    with pytest.raises(ValueError, match="features"):
        train(MLP(5, [3], 3), data)
    with pytest.raises(ValueError, match="outputs"):
        train(MLP(2, [3], 2), data)


# ------------------------------------------------------------ probes v2 in the loop
V2_COLUMNS = ["low_gain_frac", "dormant_frac", "low_contribution_frac", "low_ablation_frac", "died",
              "revived", "revival_epoch_median"]


def test_probe_schedule_rows():
    """Default schedule over 20 epochs: probes at 0 and 20 (NaN elsewhere); with
    probe.per_decade=1 also at 2, with probe.dense=3 at 1, 2, 3; losses on every epoch;
    probe.every=1 probes every epoch."""
    from relu_study.engine.probes import ProbeOptions
    data = make_classification()
    res = train(_net(data, seeds=[0, 1]), data, epochs=20, batch_size=8)
    t = res.table
    assert res.info["probe_epochs"] == [0, 20]
    for seed in (0, 1):
        r = rows(t, seed)
        assert r["epoch"].tolist() == list(range(21))
        assert r["val_loss"].notna().all() and r["train_loss"].notna().all()
        for c in ("dead_frac", "grad_norm_l2", "low_gain_frac", "collapsed", "revived", "died_l1"):
            assert r.loc[r[c].notna(), "epoch"].tolist() == [0, 20], c
    for options, epochs in ((ProbeOptions(dense=3), [0, 1, 2, 3, 20]), (ProbeOptions(per_decade=1), [0, 2, 20])):
        other = train(_net(data, seeds=[0]), data, epochs=20, batch_size=8, probes=options).table
        assert other.loc[other["dead_frac"].notna(), "epoch"].tolist() == epochs
    every = train(_net(data, seeds=[0, 1]), data, epochs=20, batch_size=8, probes=ProbeOptions(every=1)).table
    assert every["dead_frac"].notna().all()
    # the schedule never changes training: losses equal, probes equal where both probed
    np.testing.assert_array_equal(every["val_loss"], t["val_loss"])
    probed = t["dead_frac"].notna()
    for c in ("dead_frac", "grad_norm", "low_contribution_frac", "dormant_frac"):
        np.testing.assert_array_equal(every.loc[probed, c], t.loc[probed, c])


@pytest.mark.parametrize("act", ["relu", "leaky", "tanh"])
def test_group_equals_alone_for_every_probe_column_and_units(monkeypatch, act):
    """Blocks of one network (tiny BLOCK_CELLS) so the group is probed block by block."""
    import relu_study.engine.network as network
    from relu_study.engine.probes import ProbeOptions
    data = make_classification()
    options = ProbeOptions(units=True, ablation=True, every=1)
    kw = dict(epochs=4, batch_size=8, optimizer=make_optimizer("sgd", 0.5), probes=options)
    monkeypatch.setattr(network, "BLOCK_CELLS", 8)
    group = train(_net(data, act, seeds=[3, 4, 5], bias_init="constant", bias_value=-0.3), data, **kw)
    monkeypatch.undo()
    alone = train(_net(data, act, seeds=[4], bias_init="constant", bias_value=-0.3), data, **kw)
    for c in V2_COLUMNS:
        assert c in alone.table.columns and f"{c}_l2" in alone.table.columns
    assert_rows_match(rows(group.table, 4), alone.table, tol=1e-12)
    u_group = group.units[group.units["seed"] == 4].reset_index(drop=True)
    assert_rows_match(u_group, alone.units, tol=1e-12)
    assert len(alone.units) == 5 * (6 + 5)  # probes x units
    assert list(alone.units.columns) == ["seed", "epoch", "layer", "unit", "never_positive", "max_gain",
                                         "mean_abs", "contribution", "ablation"]


def test_units_table_matches_the_probe_and_ablation_only_at_the_last_epoch():
    from relu_study.engine.probes import ProbeOptions
    data = make_classification()
    res = train(_net(data, seeds=[0, 1]), data, epochs=3, batch_size=8,
                probes=ProbeOptions(units=True, ablation=True))
    t, u = res.table, res.units
    assert t.loc[t["low_ablation_frac"].notna(), "epoch"].unique().tolist() == [3]
    assert u.loc[u["ablation"].notna(), "epoch"].unique().tolist() == [3]
    for (seed, epoch), g in u.groupby(["seed", "epoch"]):
        row = t[(t["seed"] == seed) & (t["epoch"] == epoch)].iloc[0]
        for l, width in ((1, 6), (2, 5)):
            layer = g[g["layer"] == l]
            assert len(layer) == width and layer["unit"].tolist() == list(range(width))
            assert layer["never_positive"].mean() == pytest.approx(row[f"dead_frac_l{l}"])
            assert layer["contribution"].sum() == pytest.approx(1.0)
            assert (layer["max_gain"] <= 0.05).mean() == pytest.approx(row[f"low_gain_frac_l{l}"])
    # without units=True there is no per-unit table
    assert train(_net(data, seeds=[0]), data, epochs=1, batch_size=8).units is None


def test_died_and_revived_follow_the_never_positive_masks():
    from relu_study.engine.probes import ProbeOptions
    data = make_classification()
    net = _net(data, seeds=[0], widths=(6, 6), bias_init="constant", bias_value=-0.3)
    res = train(net, data, epochs=6, batch_size=8, optimizer=make_optimizer("sgd", 0.5),
                probes=ProbeOptions(units=True, every=1))
    t, u = res.table, res.units
    assert t["revived"].sum() + t["died"].sum() > 0  # the setting moves units
    prev = None
    for e in range(7):
        mask = u[u["epoch"] == e].sort_values(["layer", "unit"])["never_positive"].to_numpy()
        row = t[t["epoch"] == e].iloc[0]
        if prev is None:
            assert row["died"] == 0 and row["revived"] == 0
        else:
            assert row["died"] == (~prev & mask).sum() and row["revived"] == (prev & ~mask).sum()
        prev = mask



# ------------------------------------------------------------ issue 13: test part, weight change, curve
def test_test_metrics_on_probed_epochs_match_an_independent_evaluation():
    """With a held-out test part, test_loss / test_acc are recorded at epoch 0, on
    probed epochs and at the last epoch (NaN elsewhere) and equal the network's
    loss on X_test; without one there are no test columns."""
    from relu_study.data import load_dataset
    from relu_study.engine.probes import ProbeOptions
    from relu_study.engine.train import evaluate

    data = load_dataset("moons", n_samples=120, test_fraction=0.25)
    res = train(_net(data, seeds=[0, 1]), data, epochs=6, batch_size=16, probes=ProbeOptions(dense=2))
    t = res.table
    for seed in (0, 1):
        r = rows(t, seed)
        assert r.loc[r["test_loss"].notna(), "epoch"].tolist() == [0, 1, 2, 6]
        assert r.loc[r["test_acc"].notna(), "epoch"].tolist() == [0, 1, 2, 6]
    final = evaluate(res.net, data.X_test, data.y_test, "classification")
    last = t[t["epoch"] == 6].set_index("seed")
    np.testing.assert_allclose(last.loc[[0, 1], "test_loss"], final["loss"], rtol=1e-12)
    np.testing.assert_allclose(last.loc[[0, 1], "test_acc"], final["acc"])
    # the test part never changes training: the same run without it has the same losses
    plain = load_dataset("moons", n_samples=120, test_fraction=0.25)
    plain = type(plain)(**{**plain.__dict__, "X_test": None, "y_test": None})
    other = train(_net(plain, seeds=[0, 1]), plain, epochs=6, batch_size=16, probes=ProbeOptions(dense=2)).table
    np.testing.assert_array_equal(other["val_loss"], t["val_loss"])
    assert "test_loss" not in other.columns
    reg = load_dataset("sine", n_samples=80, test_fraction=0.25)
    rt = train(_net(reg, seeds=[0]), reg, epochs=2, batch_size=16).table
    assert {"test_loss", "test_r2"} <= set(rt.columns) and "test_acc" not in rt.columns


def test_group_equals_alone_for_weight_change_curve_and_test_metrics(monkeypatch):
    import relu_study.engine.network as network
    from relu_study.data import load_dataset
    from relu_study.engine.probes import ProbeOptions

    data = load_dataset("spirals", n_samples=100, test_fraction=0.2)
    options = ProbeOptions(every=2, near_zero_curve=(1e-3, 0.1, 1.0))
    kw = dict(epochs=4, batch_size=8, probes=options)
    monkeypatch.setattr(network, "BLOCK_CELLS", 8)
    group = train(_net(data, "leaky", seeds=[3, 4, 5]), data, optimizer=make_optimizer("momentum", 0.1), **kw)
    monkeypatch.undo()
    alone = train(_net(data, "leaky", seeds=[4]), data, optimizer=make_optimizer("momentum", 0.1), **kw)
    for c in ("w_change", "w_change_l1", "w_change_l2", "w_change_out", "near_zero_frac_t0.1", "test_loss"):
        assert c in alone.table.columns, c
    assert_rows_match(rows(group.table, 4), alone.table, tol=1e-12)
    t = alone.table
    assert t.loc[t["epoch"] == 0, "w_change"].item() == 0
    assert (t.loc[t["epoch"] == 4, ["w_change_l1", "w_change_out"]] > 0).all(axis=None)
    np.testing.assert_array_equal(t["near_zero_frac_t0.001"].dropna(), t["near_zero_frac"].dropna())


def test_train_changes_nothing_process_wide(monkeypatch):
    """``train()`` is a library function: it must not set BLAS threads or tune the
    allocator (those are the entry points' choice, relu_study.engine.process).
    Calling either from inside train() fails the test, and the thread limits seen
    by threadpoolctl are the same before and after."""
    from threadpoolctl import threadpool_info

    import relu_study.engine.process as process

    def forbidden(*args, **kwargs):
        raise AssertionError("train() applied a process-wide setting")

    monkeypatch.setattr(process, "blas_threads_for", forbidden)
    monkeypatch.setattr(process, "retain_freed_memory", forbidden)
    before = [(i["internal_api"], i["num_threads"]) for i in threadpool_info()]
    data = make_classification()
    train(_net(data, seeds=[0, 1]), data, epochs=2, batch_size=8)
    assert [(i["internal_api"], i["num_threads"]) for i in threadpool_info()] == before
