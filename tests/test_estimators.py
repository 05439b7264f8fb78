"""The scikit-learn estimators: scikit-learn's own contract checks, pipelines,
grid search and cross-validation, clone and pickle, probe finals read by name,
clear errors, and the same numbers as the command line for the same settings."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from sklearn.base import clone
from sklearn.datasets import load_digits, make_regression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from relu_study.engine.activations import ACTIVATIONS
from relu_study.tools.estimators import PARAMETER_KEYS, DivergenceWarning, MLPClassifier, MLPRegressor

#: checks that do not run here, with the reason (none fails)
SKIPPED_CHECKS = {
    "check_array_api_input": "needs SCIPY_ARRAY_API=1 in the environment; the engine is NumPy-only "
                             "(array_api_support is False) and passes the check when the variable is set",
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X, y


@pytest.mark.parametrize("estimator", [MLPClassifier(), MLPRegressor()], ids=lambda e: type(e).__name__)
def test_passes_scikit_learns_estimator_checks(estimator):
    with warnings.catch_warnings():
        # some regression checks use unscaled targets (|y| ~ 100), where SGD at lr 0.1 diverges:
        # the network keeps finite parameters and says so, which is what the checks need
        warnings.simplefilter("ignore", DivergenceWarning)
        results = check_estimator(estimator, on_fail=None, on_skip=None)
    assert len(results) > 40
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= set(SKIPPED_CHECKS), skipped - set(SKIPPED_CHECKS)


def test_grid_search_over_slope_and_activation_on_digits(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(epochs=5, hidden_layer_sizes=(32,), random_state=0))
    grid = {"mlpclassifier__activation": ["relu", "leaky"], "mlpclassifier__alpha": [0.01, 0.3]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 4 and search.best_score_ > 0.85  # 5 epochs of a 64-32-10 net on 2/3 of digits
    by = {(p["mlpclassifier__activation"], p["mlpclassifier__alpha"]): s
          for p, s in zip(search.cv_results_["params"], scores)}
    assert by[("relu", 0.01)] == by[("relu", 0.3)]  # alpha is the negative slope: ReLU ignores it
    assert by[("leaky", 0.01)] != by[("leaky", 0.3)]  # ... and Leaky ReLU uses it
    best = search.best_estimator_[-1]
    assert best.alpha == search.best_params_["mlpclassifier__alpha"] and 0.0 <= best.dead_frac_ <= 1.0


def test_numpy_scalars_from_parameter_grids_are_accepted(digits):
    X, y = digits
    clf = MLPClassifier(epochs=np.int64(1), batch_size=np.arange(64, 65)[0], lr=np.float32(0.1),
                        hidden_layer_sizes=np.array([8]), random_state=np.int64(0)).fit(X[:100] / 16, y[:100])
    assert clf.n_iter_ == 1 and clf.seed_ == 0


def test_cross_val_score_regression():
    X, y = make_regression(300, 6, noise=5.0, random_state=0)
    pipe = make_pipeline(StandardScaler(), MLPRegressor(activation="leaky", epochs=20, random_state=0, lr=0.01))
    scores = cross_val_score(pipe, X, y / y.std(), cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8


def test_clone_and_pickle(digits):
    X, y = digits
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier(activation="prelu", alpha=0.2, epochs=3, random_state=4, hidden_layer_sizes=(16, 8))
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params() and not hasattr(fresh, "history_")
    clf.fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(back.predict_proba(X), clf.predict_proba(X))
    pd.testing.assert_frame_equal(back.history_, clf.history_)
    assert len(back.slopes_) == 2 and back.slopes_[0].shape == (16,)
    # refitting a clone gives the same numbers (random_state fixes everything)
    again = clone(clf).fit(X, y)
    assert all(np.array_equal(a, b) for a, b in zip(again.coefs_, clf.coefs_))


def test_final_probe_values_are_read_by_name_from_the_history(digits):
    X, y = digits
    clf = MLPClassifier(epochs=2, random_state=0).fit(X[:300] / 16, y[:300])
    last = clf.history_.iloc[-1]
    names = [c for c in clf.history_.columns if c not in ("seed", "epoch", "diverged")]
    assert {"dead_frac", "zero_grad_frac", "dead_frac_l1", "train_loss", "train_eval_loss", "train_acc"} <= set(names)
    for name in names:
        if pd.isna(last[name]):  # not measured at the last epoch (e.g. no unit revived): None, not a number
            assert clf.final_metrics_[name] is None, name
            continue
        assert clf.final_metrics_[name] == pytest.approx(last[name])
        if not name.rsplit("_l", 1)[-1].isdigit():
            assert getattr(clf, f"{name}_") == pytest.approx(last[name])
    assert any(pd.isna(last[n]) for n in names)  # the None branch ran (revival_epoch_median: nothing revived)
    assert clf.n_iter_ == 2 and clf.loss_ == last["train_loss"] and len(clf.loss_curve_) == 2
    assert [w.shape for w in clf.coefs_] == [(64, 32), (32, 32), (32, 10)]
    assert [b.shape for b in clf.intercepts_] == [(32,), (32,), (10,)]
    quiet = MLPClassifier(epochs=2, random_state=0, probes=False).fit(X[:300] / 16, y[:300])
    assert "dead_frac" not in quiet.history_ and not hasattr(quiet, "dead_frac_")


def test_validation_set_passed_or_split_off(digits):
    X, y = digits
    X = X / 16
    clf = MLPClassifier(epochs=2, random_state=0).fit(X[:1000], y[:1000], X_val=X[1000:], y_val=y[1000:])
    assert clf.val_acc_ == pytest.approx((clf.predict(X[1000:]) == y[1000:]).mean())
    split = MLPClassifier(epochs=2, random_state=0, validation_fraction=0.25).fit(X, y)
    assert "val_loss" in split.history_ and "train_eval_loss" not in split.history_
    with pytest.raises(ValueError, match="validation_fraction"):
        MLPClassifier(validation_fraction=1.5).fit(X, y)


@pytest.mark.parametrize("params, needle", [
    ({"lr": -1.0}, r"^lr=-1.0: must be > 0"),
    ({"activation": "swishy"}, r"^activation='swishy': unknown choice"),
    ({"hidden_layer_sizes": (8, 0)}, r"^hidden_layer_sizes=0: must be a positive integer"),
    ({"activation": "rrelu", "activation_options": {"lower": float("nan")}}, r"activation_options\['lower'\]"),
    ({"random_state": -3}, r"random_state must be"),
    ({"probes": "yes"}, r"probes must be True or False"),
])
def test_bad_parameters_name_the_parameter_in_fit(params, needle, digits):
    X, y = digits
    est = MLPClassifier(**params)  # __init__ stores, never checks
    with pytest.raises(ValueError, match=needle):
        est.fit(X[:50], y[:50])


def test_divergence_is_data_with_a_warning():
    X, y = make_regression(100, 3, random_state=0)
    with pytest.warns(DivergenceWarning, match="non-finite"):
        reg = MLPRegressor(lr=50.0, epochs=5, random_state=0).fit(X, y)
    assert reg.diverged_ and reg.diverged_epoch_ >= 1 and np.isfinite(reg.predict(X)).all()


def test_import_relu_study_stays_light():
    code = ("import sys, relu_study; assert 'sklearn' not in sys.modules and 'hydra' not in sys.modules; "
            "relu_study.MLPClassifier; assert 'hydra' not in sys.modules; print(relu_study.MLPRegressor.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "relu_study.tools.estimators"


# ------------------------------------------------------------- same settings as the command line
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_parameters_make_the_command_lines_config(activation):
    """``to_config`` equals what Hydra composes from the matching overrides
    (the data aside: they come from ``fit``)."""
    from relu_study.runs.cli import compose

    est = MLPClassifier(activation=activation, alpha=0.2, hidden_layer_sizes=(16, 8), lr=0.05, epochs=7,
                        batch_size=16, random_state=3, optimizer="adam", weight_init="glorot_normal")
    overrides = [f"activation={activation}", "alpha=0.2", "model.widths=[16,8]", "optimizer=adam",
                 "optimizer.lr=0.05", "epochs=7", "batch_size=16", "seed=3", "init.weight=glorot_normal"]
    cli = OmegaConf.to_container(compose(overrides), resolve=True)
    mine = est.to_config()
    for cfg in (cli, mine):
        cfg.pop("dataset")
        cfg["model"].pop("name"), cfg["init"].pop("name")
    assert mine == cli
    assert set(PARAMETER_KEYS) == set(est.get_params()) - {"activation_options"}


def test_same_settings_same_numbers_as_the_command_line(tmp_path, digits):
    """The command line trains on digits with its split and scaling; the estimator,
    given that very split, trains the same network to the same bits."""
    from relu_study.data import load_dataset

    overrides = ["dataset=digits", "activation=leaky", "alpha=0.1", "model.widths=[16,8]", "epochs=3",
                 "seed=5", "dataset.seed=5", "progress=false", "plots=false"]
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "relu_study", *overrides, f"hydra.run.dir={out}"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = pd.read_parquet(out / "metrics.parquet")
    params = np.load(out / "params.npz")

    data = load_dataset("digits", seed=5)  # what the command line trained on
    clf = MLPClassifier(activation="leaky", alpha=0.1, hidden_layer_sizes=(16, 8), epochs=3, random_state=5)
    clf.fit(data.X_train, data.y_train, X_val=data.X_val, y_val=data.y_val)
    for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_), start=1):
        assert np.array_equal(w, params[f"W{i}"][0]) and np.array_equal(b, params[f"b{i}"][0])
    pd.testing.assert_frame_equal(clf.history_, table[clf.history_.columns], check_exact=True)
