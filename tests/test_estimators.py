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
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from relu_study.engine.activations import ACTIVATIONS
from relu_study.engine.metrics import final_metrics
from relu_study.tools.estimators import PARAMETER_KEYS, DivergenceWarning, MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

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
        warnings.simplefilter("ignore", ConvergenceWarning)  # 200 epochs on the checks' tiny data, as scikit-learn's
        results = check_estimator(estimator, on_fail=None, on_skip=None)
    assert len(results) > 40
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= set(SKIPPED_CHECKS), skipped - set(SKIPPED_CHECKS)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_over_slope_and_activation_on_digits(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=5, hidden_layer_sizes=(32,), random_state=0,
                                                          learning_rate_init=0.01, batch_size=32))
    grid = {"mlpclassifier__activation": ["relu", "leaky"], "mlpclassifier__negative_slope": [0.01, 0.3]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 4 and search.best_score_ > 0.85  # 5 epochs of a 64-32-10 net on 2/3 of digits
    by = {(p["mlpclassifier__activation"], p["mlpclassifier__negative_slope"]): s
          for p, s in zip(search.cv_results_["params"], scores)}
    assert by[("relu", 0.01)] == by[("relu", 0.3)]  # ReLU has no slope
    assert by[("leaky", 0.01)] != by[("leaky", 0.3)]  # ... and Leaky ReLU uses it
    best = search.best_estimator_[-1]
    assert best.negative_slope == search.best_params_["mlpclassifier__negative_slope"]
    assert 0.0 <= best.dead_frac_ <= 1.0


def test_numpy_scalars_from_parameter_grids_are_accepted(digits):
    X, y = digits
    clf = MLPClassifier(max_iter=np.int64(1), batch_size=np.arange(64, 65)[0], learning_rate_init=np.float32(0.1),
                        alpha=np.float64(1e-3), negative_slope=np.float32(0.2), tol=np.float32(1e-4),
                        hidden_layer_sizes=np.array([8]), random_state=np.int64(0)).fit(X[:100] / 16, y[:100])
    assert clf.n_iter_ == 1 and clf.seed_ == 0


def test_cross_val_score_regression():
    X, y = make_regression(300, 6, noise=5.0, random_state=0)
    pipe = make_pipeline(StandardScaler(), MLPRegressor(activation="leaky", max_iter=50, random_state=0,
                                                         learning_rate_init=0.01))
    scores = cross_val_score(pipe, X, y / y.std(), cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8


def test_clone_and_pickle(digits):
    X, y = digits
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier(activation="prelu", negative_slope=0.2, max_iter=3, random_state=4, hidden_layer_sizes=(16, 8))
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
    clf = MLPClassifier(max_iter=2, hidden_layer_sizes=(32, 32), random_state=0).fit(X[:300] / 16, y[:300])
    last = clf.history_.iloc[-1]
    names = [c for c in clf.history_.columns if c not in ("seed", "epoch", "diverged")]
    assert {"dead_frac", "zero_grad_frac", "dead_frac_l1", "train_loss", "train_eval_loss", "train_acc"} <= set(names)
    for name in names:
        measured = clf.history_[name].dropna()
        if measured.empty:  # never measured (e.g. no unit revived): None, not a number
            assert clf.final_metrics_[name] is None, name
            continue
        assert clf.final_metrics_[name] == pytest.approx(measured.iloc[-1])  # the registry's "last"
        if not name.rsplit("_l", 1)[-1].isdigit():
            assert getattr(clf, f"{name}_") == pytest.approx(measured.iloc[-1])
    assert any(pd.isna(last[n]) for n in names)  # the None branch ran (revival_epoch_median: nothing revived)
    assert set(final_metrics()) >= {n for n in names if "_l" not in n} - {"train_eval_loss", "train_acc"}
    assert clf.n_iter_ == 2 and clf.loss_ == last["train_loss"] and len(clf.loss_curve_) == 2
    assert [w.shape for w in clf.coefs_] == [(64, 32), (32, 32), (32, 10)]
    assert [b.shape for b in clf.intercepts_] == [(32,), (32,), (10,)]
    quiet = MLPClassifier(max_iter=2, random_state=0, probes=False).fit(X[:300] / 16, y[:300])
    assert "dead_frac" not in quiet.history_ and not hasattr(quiet, "dead_frac_")


def test_validation_set_passed_or_split_off(digits):
    X, y = digits
    X = X / 16
    clf = MLPClassifier(max_iter=2, random_state=0).fit(X[:1000], y[:1000], X_val=X[1000:], y_val=y[1000:])
    assert clf.val_acc_ == pytest.approx((clf.predict(X[1000:]) == y[1000:]).mean())
    split = MLPClassifier(max_iter=2, random_state=0, early_stopping=True, validation_fraction=0.25).fit(X, y)
    assert "val_loss" in split.history_ and "train_eval_loss" not in split.history_
    assert len(split.validation_scores_) == 2
    # scikit-learn's meaning: the fraction is held out only for early stopping
    plain = MLPClassifier(max_iter=2, random_state=0, validation_fraction=0.25).fit(X, y)
    assert "train_eval_loss" in plain.history_ and plain.validation_scores_ is None
    with pytest.raises(ValueError, match="validation_fraction"):
        MLPClassifier(early_stopping=True, validation_fraction=1.5).fit(X, y)


@pytest.mark.parametrize("params, needle", [
    ({"learning_rate_init": -1.0}, r"^learning_rate_init=-1.0: must be > 0"),
    ({"alpha": -1.0}, r"^alpha=-1.0: must be a number >= 0"),
    ({"solver": "lbfgs"}, r"^solver='lbfgs': must be one of adam, sgd"),
    ({"batch_size": 0}, r"^batch_size=0: must be a positive integer or 'auto'"),
    ({"n_iter_no_change": 0}, r"^n_iter_no_change=0"),
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
        reg = MLPRegressor(solver="sgd", learning_rate_init=50.0, max_iter=5, random_state=0).fit(X, y)
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

    est = MLPClassifier(activation=activation, negative_slope=0.2, hidden_layer_sizes=(16, 8),
                        learning_rate_init=0.05, max_iter=7, alpha=0.0016, random_state=3, solver="adam",
                        weight_init="glorot_normal")
    overrides = [f"activation={activation}", "alpha=0.2", "model.widths=[16,8]", "optimizer=adam",
                 "optimizer.lr=0.05", "optimizer.weight_decay=0.0001", "epochs=7", "batch_size=16", "seed=3",
                 "init.weight=glorot_normal"]
    cli = OmegaConf.to_container(compose(overrides), resolve=True)
    mine = est.to_config(n_samples=16)  # batch_size="auto": min(200, 16); alpha / 16 = 0.0001
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
                 "optimizer=sgd", "optimizer.lr=0.1", "batch_size=32",
                 "seed=5", "dataset.seed=5", "progress=false", "plots=false"]
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "relu_study", *overrides, f"hydra.run.dir={out}"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = pd.read_parquet(out / "metrics.parquet")
    params = np.load(out / "params.npz")

    data = load_dataset("digits", seed=5)  # what the command line trained on
    clf = MLPClassifier(activation="leaky", negative_slope=0.1, hidden_layer_sizes=(16, 8), max_iter=3,
                        solver="sgd", momentum=0.0, learning_rate_init=0.1, alpha=0.0, batch_size=32,
                        random_state=5)
    clf.fit(data.X_train, data.y_train, X_val=data.X_val, y_val=data.y_val)
    for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_), start=1):
        assert np.array_equal(w, params[f"W{i}"][0]) and np.array_equal(b, params[f"b{i}"][0])
    pd.testing.assert_frame_equal(clf.history_, table[clf.history_.columns], check_exact=True)


# ------------------------------------------------------------- scikit-learn's meanings and defaults
def test_the_readme_example_scores_as_scikit_learns_mlp_on_raw_digits(digits):
    """The README's example, on the digits as they come (pixels 0..16, unscaled), scores within one
    point of scikit-learn's own MLPClassifier with its defaults on the same split (issue 28: the
    slope-as-alpha estimator diverged here and scored 0.109)."""
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as SkMLP

    X_train, X_test, y_train, y_test = train_test_split(*digits, test_size=0.2, random_state=0)
    clf = MLPClassifier(activation="leaky", negative_slope=0.1, hidden_layer_sizes=(64, 64), random_state=0)
    mine = clf.fit(X_train, y_train).score(X_test, y_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = SkMLP(random_state=0).fit(X_train, y_train).score(X_test, y_test)
    assert theirs > 0.95 and mine >= theirs - 0.01, (mine, theirs)
    assert not clf.diverged_ and clf.dead_frac_ is not None and 0 <= clf.dead_frac_ < 0.5
    assert clf.n_iter_ < 200 and clf.history_["epoch"].iloc[-1] == clf.n_iter_  # stopped by tol, not max_iter


def test_defaults_are_scikit_learns():
    from sklearn.neural_network import MLPClassifier as SkMLP, MLPRegressor as SkReg

    for ours, theirs in ((MLPClassifier(), SkMLP()), (MLPRegressor(), SkReg())):
        shared = set(ours.get_params()) & set(theirs.get_params())
        assert {"alpha", "solver", "batch_size", "learning_rate_init", "max_iter", "tol", "n_iter_no_change",
                "early_stopping", "validation_fraction", "momentum", "nesterovs_momentum", "beta_1", "beta_2",
                "epsilon", "hidden_layer_sizes", "activation", "random_state"} <= shared
        assert {k: ours.get_params()[k] for k in shared} == {k: theirs.get_params()[k] for k in shared}


def test_alpha_is_the_l2_penalty(digits):
    """``alpha`` reaches the optimiser as scikit-learn's per-batch L2 term, with ReLU too."""
    X, y = digits
    cfg = MLPClassifier(alpha=0.02, batch_size=50).to_config(n_samples=1000)
    assert cfg["optimizer"]["weight_decay"] == pytest.approx(0.02 / 50) and cfg["alpha"] == 0.01  # slope untouched
    assert MLPClassifier(alpha=0.02).to_config(n_samples=120)["optimizer"]["weight_decay"] == pytest.approx(0.02 / 120)
    small, large = (MLPClassifier(alpha=a, max_iter=5, hidden_layer_sizes=(16,), random_state=0).fit(X / 16, y)
                    for a in (0.0, 50.0))
    assert sum(np.square(w).sum() for w in large.coefs_) < sum(np.square(w).sum() for w in small.coefs_)
    with pytest.raises(ValueError, match="pass n_samples"):
        MLPClassifier().to_config()


def test_tol_stops_and_the_stopped_network_is_the_command_lines_k_epochs(digits):
    """Stopping by ``tol``/``n_iter_no_change`` gives the network and history of a
    fixed-length run of that many epochs (the command line's ``epochs=k``)."""
    X, y = digits
    stopped = MLPClassifier(hidden_layer_sizes=(16,), tol=0.05, n_iter_no_change=2, random_state=1).fit(X, y)
    k = stopped.n_iter_
    assert 3 <= k < 200 and len(stopped.loss_curve_) == k and stopped.dead_frac_ is not None
    fixed = MLPClassifier(hidden_layer_sizes=(16,), max_iter=k, tol=0.0, n_iter_no_change=10**6,
                          random_state=1).fit(X, y)
    assert all(np.array_equal(a, b) for a, b in zip(stopped.coefs_, fixed.coefs_))
    pd.testing.assert_frame_equal(stopped.history_, fixed.history_, check_exact=True)
    # scikit-learn's rule: each of the last n_iter_no_change + 1 epochs missed the best loss so far by tol
    losses = stopped.loss_curve_
    assert all(losses[i] > min(losses[:i]) - 0.05 for i in range(k - 3, k))
    assert losses[k - 4] <= min(losses[:k - 4]) - 0.05  # ... and the one before them did not
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X / 16, y)


def test_early_stopping_keeps_the_best_validation_epoch(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(32,), early_stopping=True, n_iter_no_change=3, max_iter=60,
                        learning_rate_init=0.01, random_state=0).fit(X / 16, y)
    scores = clf.validation_scores_
    best = int(np.argmax(scores)) + 1  # first epoch with the best score
    assert clf.n_iter_ == best and clf.best_validation_score_ == max(scores)
    assert clf.history_["val_acc"].iloc[-1] == pytest.approx(max(scores))
    assert len(scores) < 60 or clf.n_iter_ < 60


def test_constant_target_and_one_class_refuse_as_the_command_line(digits):
    """Issue 26, items 9 and 10: nothing to learn, said in plain words."""
    X, _ = digits
    with pytest.raises(ValueError, match="nothing to learn") as info:
        MLPRegressor().fit(X[:50], np.full(50, 3.0))
    assert "constant (3)" in str(info.value)
    with pytest.raises(ValueError, match="1 class") as info:
        MLPClassifier().fit(X[:50], np.zeros(50, dtype=int))
    assert "np." not in str(info.value) and "(0)" in str(info.value)
