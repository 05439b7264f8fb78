"""scikit-learn estimators on relu_study's engine: ``MLPClassifier`` and ``MLPRegressor``.

scikit-learn's own multilayer perceptron has no Leaky ReLU (its maintainers
declined to add activations), so these bring every registered activation, the
dead-unit probes and the metrics table into pipelines, grid searches and
cross-validation::

    from relu_study import MLPClassifier
    clf = MLPClassifier(activation="leaky", negative_slope=0.1, hidden_layer_sizes=(64, 64), random_state=0)
    clf.fit(X_train, y_train).score(X_test, y_test)
    clf.dead_frac_, clf.history_          # final dead fraction, the per-epoch table

The parameters scikit-learn's ``MLPClassifier``/``MLPRegressor`` have keep
their meanings and defaults there (a grid copied from scikit-learn's
documentation means the same here): ``alpha`` is the L2 penalty,
``solver="adam"``, ``learning_rate_init=0.001``, ``batch_size="auto"``
(``min(200, n_samples)``), ``max_iter=200``, ``tol``/``n_iter_no_change``
(stop when the training loss, or with ``early_stopping`` the validation
score, has not improved by ``tol`` for ``n_iter_no_change`` epochs),
``early_stopping``/``validation_fraction``.  The slope of ``leaky`` (the
command line's ``alpha``) is ``negative_slope``, PyTorch's name for it.

Same settings, same numbers: ``fit`` turns the parameters into the command
line's config (``to_config()``; the table in ``docs/estimators.md``),
validates it with the command line's validator and builds the network,
optimiser and training options with the very functions the command line uses
(:mod:`relu_study.runs.experiment`).  Stopping is the estimator's own (the
command line trains a fixed number of epochs): a first pass watches the
stopping rule epoch by epoch; when it stops at epoch k before ``max_iter``,
the network is trained again for exactly k epochs (the best epoch with
``early_stopping``, as scikit-learn restores its best weights), so that
``history_`` and the network are what ``epochs=k`` gives on the command line,
probes of the last epoch included.  The estimator neither standardizes
(scikit-learn scales with ``StandardScaler`` in a ``Pipeline``) nor splits
off validation data unless ``early_stopping`` asks for it; a validation set
can also be passed to ``fit(X, y, X_val=..., y_val=...)``.  Without one, the
history's evaluation columns are measured on the training data and named
``train_eval_loss`` and ``train_acc`` / ``train_r2``.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ..data import Dataset
from ..data import split_indices  # the command line's train/validation split
from ..engine.losses import softmax
from ..engine.metrics import final_metrics
from ..engine.train import train
from ..runs.config import ConfigError, default_config, validate
from ..runs.experiment import build_network, build_optimizer, train_options

__all__ = ["DivergenceWarning", "MLPClassifier", "MLPRegressor", "PARAMETER_KEYS"]

#: estimator parameter -> the command-line config key it sets (``to_config``); None: the
#: estimator's own (stopping rule, validation split), with no command-line counterpart
PARAMETER_KEYS = {
    "hidden_layer_sizes": "model.widths",
    "activation": "activation.name",
    "solver": "optimizer.name",  # adam -> adam; sgd -> momentum (sgd when momentum=0)
    "alpha": "optimizer.weight_decay",  # L2 penalty: weight_decay = alpha / batch size
    "batch_size": "batch_size",  # "auto": min(200, n_samples)
    "learning_rate_init": "optimizer.lr",
    "max_iter": "epochs",
    "tol": None,
    "momentum": "optimizer.momentum",
    "nesterovs_momentum": "optimizer.nesterov",
    "early_stopping": None,
    "validation_fraction": "dataset.val_fraction",
    "beta_1": "optimizer.beta1",
    "beta_2": "optimizer.beta2",
    "epsilon": "optimizer.eps",
    "n_iter_no_change": None,
    "random_state": "seed",  # and dataset.seed
    "negative_slope": "alpha",
    "weight_init": "init.weight",
    "bias_init": "init.bias",
    "bias_value": "init.bias_value",
    "bias_std": "init.bias_std",
    "clip_norm": "optimizer.clip_norm",
    "schedule": "optimizer.schedule",
    "min_lr": "optimizer.min_lr",
    "probes": "probe.enabled",
    "probe_max_samples": "probe.max_samples",
    "near_zero_rel": "probe.near_zero_rel",
    "collapse_tol": "probe.collapse_tol",
    "dtype": "dtype",
}
#: the solvers scikit-learn's MLPs have that the engine has too
SOLVERS = ("adam", "sgd")
_FLOATS = ("alpha", "learning_rate_init", "tol", "momentum", "validation_fraction", "beta_1", "beta_2", "epsilon",
           "negative_slope", "bias_value", "bias_std", "clip_norm", "min_lr", "near_zero_rel", "collapse_tol")
_INTS = ("max_iter", "n_iter_no_change", "probe_max_samples", "batch_size")
#: evaluation columns renamed when there is no validation set
_EVAL_RENAMES = {"val_loss": "train_eval_loss", "val_acc": "train_acc", "val_r2": "train_r2"}


class DivergenceWarning(UserWarning):
    """The network's loss became non-finite; it keeps the parameters of the
    start of that epoch (``diverged_epoch_``)."""


class _Stop(Exception):
    """Raised from the progress callback to end the watching pass."""


def _plain(value, kind):
    """NumPy scalars (from ``np.arange`` / ``np.logspace`` grids) as the plain numbers the config holds."""
    if isinstance(value, (bool, np.bool_)):
        return value
    if kind is float and isinstance(value, numbers.Real):
        return float(value)
    if kind is int and isinstance(value, numbers.Integral):
        return int(value)
    return value


class _MLPBase(BaseEstimator):
    """Shared parameters and ``fit`` of the two estimators (see the module docstring).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        Widths of the hidden layers (``model.widths``).
    activation : str, default "relu"
        Any registered activation (``relu_study.engine.activations.ACTIVATIONS``):
        relu, leaky, prelu, rrelu, elu, gelu, silu, softplus, tanh, identity.
    solver : {"adam", "sgd"}, default "adam"
        scikit-learn's solvers (lbfgs is not offered): ``sgd`` is SGD with
        ``momentum`` (Nesterov's with ``nesterovs_momentum``), plain SGD at momentum 0.
    alpha : float, default 1e-4
        L2 penalty on the weights, as in scikit-learn: each minibatch's gradient
        gets ``alpha * W / batch_size`` (``optimizer.weight_decay = alpha / batch_size``).
    batch_size : int or "auto", default "auto"
        Minibatch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate_init : float, default 0.001
        Learning rate (``optimizer.lr``).
    max_iter : int, default 200
        Most epochs (``epochs``).
    tol, n_iter_no_change : float, int, default 1e-4, 10
        Training stops when the training loss (with ``early_stopping``: the
        validation score) has not improved by ``tol`` for more than
        ``n_iter_no_change`` consecutive epochs, scikit-learn's rule.
    momentum, nesterovs_momentum : float, bool, default 0.9, True
        For ``solver="sgd"``.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of ``X`` (stratified for classes) and
        stop on its score (accuracy, R^2); the network returned is the best
        epoch's.
    validation_fraction : float, default 0.1
        Used only with ``early_stopping`` and no ``X_val``.
    beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
        For ``solver="adam"``.
    random_state : int, RandomState or None
        An int is the network seed (initialisation, minibatch order, RReLU
        noise) and the seed of the validation split and probe subsample,
        like ``seed`` and ``dataset.seed`` on the command line.  None or a
        RandomState draws the seed (kept in ``seed_``).
    negative_slope : float, default 0.01
        Slope of ``leaky``, initial slope of ``prelu`` (the command line's
        ``alpha``); ignored by the other activations.
    activation_options : dict or None
        Other activation parameters: RReLU's ``lower``/``upper``, ELU's
        ``scale`` (its alpha), softplus's ``beta`` (``activation.<key>``).
    weight_init, bias_init, bias_value, bias_std
        Initialisers (``init.weight``: he_normal, he_uniform, glorot_normal,
        glorot_uniform, lecun_normal, rai; ``init.bias``: zeros, constant, normal).
    clip_norm, schedule, min_lr
        Gradient clipping and learning-rate schedule (``optimizer.*``).
    probes : bool, default True
        Measure the dead-unit probes (at epoch 0 and the last epoch by default).
    probe_max_samples, near_zero_rel, collapse_tol
        Probe settings (``probe.*``).
    dtype : {"float64", "float32"}, default "float64"

    Attributes
    ----------
    history_ : DataFrame
        The metrics table, one row per epoch (epoch 0 = initialisation), the
        columns of ``relu_study.engine.train.COLUMNS``.
    final_metrics_ : dict
        Final value of every column with one (``relu_study.engine.metrics.final_metrics()``,
        per-layer columns included): the last value measured; None when never measured.
    dead_frac_, zero_grad_frac_, exact_zero_frac_, ..., train_loss_, val_loss_
        One attribute per final metric of the registry that the history has
        (per-layer columns aside).  Absent when ``probes=False``.
    coefs_, intercepts_ : lists of arrays
        Weights ``(fan_in, fan_out)`` and biases ``(fan_out,)`` per layer, as in
        scikit-learn's MLPs (views of ``network_``'s parameters).
    slopes_ : list of arrays or None
        PReLU's learned slopes per hidden layer.
    network_ : relu_study.engine.network.MLP
        The trained network (one network).
    loss_, loss_curve_, n_iter_, best_loss_, validation_scores_, best_validation_score_
        scikit-learn's names: final and per-epoch training loss (without the L2
        term), epochs the returned network trained, best loss (None with early
        stopping), per-epoch validation scores and the best (None without).
    diverged_, diverged_epoch_
        Whether (and at which epoch) the loss became non-finite.
    seed_ : int
        The network seed used.
    n_features_in_, feature_names_in_
    """

    _task = ""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate_init=0.001, max_iter=200, tol=1e-4, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, random_state=None,
                 negative_slope=0.01, activation_options=None, weight_init="he_normal", bias_init="zeros",
                 bias_value=0.0, bias_std=0.0, clip_norm=None, schedule="constant", min_lr=0.0,
                 probes=True, probe_max_samples=1024, near_zero_rel=1e-3, collapse_tol=1e-3, dtype="float64"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.negative_slope = negative_slope
        self.activation_options = activation_options
        self.weight_init = weight_init
        self.bias_init = bias_init
        self.bias_value = bias_value
        self.bias_std = bias_std
        self.clip_norm = clip_norm
        self.schedule = schedule
        self.min_lr = min_lr
        self.probes = probes
        self.probe_max_samples = probe_max_samples
        self.near_zero_rel = near_zero_rel
        self.collapse_tol = collapse_tol
        self.dtype = dtype

    # ------------------------------------------------------------ config
    def _seed(self) -> int:
        rs = self.random_state
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            if rs < 0:
                raise ValueError(f"random_state must be a non-negative integer, a RandomState or None, got {rs!r}")
            return int(rs)
        return int(check_random_state(rs).randint(np.iinfo(np.int32).max))

    def _batch(self, n_samples: int | None) -> int:
        """scikit-learn's batch size: ``"auto"`` is ``min(200, n_samples)``; larger than
        ``n_samples`` is clipped to it, with scikit-learn's warning."""
        bs = self.batch_size
        if isinstance(bs, str) and bs == "auto":
            if n_samples is None:
                raise ValueError("batch_size='auto' is min(200, n_samples): pass n_samples to to_config")
            return min(200, n_samples)
        if not isinstance(bs, numbers.Integral) or isinstance(bs, (bool, np.bool_)) or bs < 1:
            raise ValueError(f"batch_size={bs!r}: must be a positive integer or 'auto'")
        if n_samples is not None and bs > n_samples:
            warnings.warn(f"Got `batch_size` larger than sample size ({n_samples}); it is clipped", UserWarning,
                          stacklevel=4)
            return n_samples
        return int(bs)

    def to_config(self, n_samples: int | None = None, seed: int | None = None) -> dict:
        """The command-line config these parameters stand for (a plain dict, as
        :func:`relu_study.runs.config.default_config` gives) for training on
        ``n_samples`` samples (needed by ``batch_size="auto"``, and by ``alpha``
        through the batch size); ``dataset`` keeps the defaults except ``seed``
        and ``val_fraction``, since the data come from ``fit``."""
        p = {name: getattr(self, name) for name in PARAMETER_KEYS}
        p.update({k: _plain(p[k], float) for k in _FLOATS})
        p.update({k: _plain(p[k], int) for k in _INTS})
        if p["solver"] not in SOLVERS:
            raise ValueError(f"solver={p['solver']!r}: must be one of {', '.join(SOLVERS)}"
                             + (" (the engine has no L-BFGS)" if p["solver"] == "lbfgs" else ""))
        alpha = p["alpha"]
        if not (isinstance(alpha, float) and np.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"alpha={self.alpha!r}: must be a number >= 0 (the L2 penalty)")
        batch = self._batch(n_samples)
        sizes = p["hidden_layer_sizes"]
        widths = [_plain(w, int) for w in (sizes if isinstance(sizes, (list, tuple, np.ndarray)) else [sizes])]
        name = p["solver"] if p["solver"] == "adam" or p["momentum"] == 0 else "momentum"
        cfg = default_config(**{
            "model.widths": widths, "activation.name": p["activation"], "alpha": p["negative_slope"],
            "optimizer.name": name, "optimizer.lr": p["learning_rate_init"],
            "optimizer.weight_decay": alpha / batch, "batch_size": batch, "epochs": p["max_iter"],
            "seed": self._seed() if seed is None else seed,
            **{PARAMETER_KEYS[k]: p[k] for k in ("momentum", "nesterovs_momentum", "beta_1", "beta_2", "epsilon",
                                                 "weight_init", "bias_init", "bias_value", "bias_std", "clip_norm",
                                                 "schedule", "min_lr", "probes", "probe_max_samples",
                                                 "near_zero_rel", "collapse_tol", "dtype")},
        })
        unused = ("momentum", "nesterov") if name != "momentum" else ()  # the other solver's settings do not
        unused += ("beta1", "beta2", "eps") if name != "adam" else ()  # apply: the schema's defaults, as on the
        for key in unused:  # command line
            cfg["optimizer"][key] = default_config()["optimizer"][key]
        cfg["dataset"]["seed"] = cfg["seed"]
        cfg["dataset"]["val_fraction"] = p["validation_fraction"] if self.early_stopping else None
        act = cfg["activation"]  # the slope is the top-level alpha only (one name, as on the command line)
        options = self.activation_options or {}
        if not isinstance(options, dict):
            raise ValueError(f"activation_options must be a dict or None, got {options!r}")
        for key, value in options.items():
            if key not in act or key == "name":
                raise ValueError(f"activation_options: unknown key {key!r}; valid keys: lower, upper, beta, scale")
            act[key] = value
        return cfg

    def _validated_config(self, n_samples: int) -> dict:
        seed = self._seed()
        cfg = self.to_config(n_samples, seed)
        vf = self.validation_fraction
        if self.early_stopping and not (isinstance(vf, numbers.Real) and not isinstance(vf, bool) and 0 < vf < 1):
            raise ValueError(f"validation_fraction must be strictly between 0 and 1, got {vf!r}")
        for name in ("probes", "early_stopping", "nesterovs_momentum"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        tol, patience = _plain(self.tol, float), _plain(self.n_iter_no_change, int)
        if not (isinstance(tol, float) and tol >= 0):
            raise ValueError(f"tol={self.tol!r}: must be a number >= 0")
        if not (isinstance(patience, int) and not isinstance(patience, bool) and patience >= 1):
            raise ValueError(f"n_iter_no_change={self.n_iter_no_change!r}: must be a positive integer")
        try:
            validate(dict(cfg, dataset=dict(cfg["dataset"], val_fraction=0.2)))  # the validator wants a number
        except ConfigError as exc:
            names = {key: name for name, key in PARAMETER_KEYS.items() if key}
            names["optimizer.weight_decay"] = "alpha"
            key = exc.key if exc.key in names else exc.key.split("[")[0]
            name = names.get(key, f"activation_options[{key.split('.', 1)[1]!r}]" if key.startswith("activation.")
                             else key)
            value = getattr(self, name) if name in ("learning_rate_init", "max_iter", "negative_slope") else exc.value
            raise ValueError(f"{name}={value!r}: {exc.problem}") from None
        return cfg

    # --------------------------------------------------------------- fit
    def _fit(self, X, y, X_val, y_val):
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], multi_output=self._task == "regression",
                             y_numeric=self._task == "regression")
        cfg = self._validated_config(len(X))
        dtype = np.float32 if cfg["dtype"] == "float32" else np.float64
        X = X.astype(dtype, copy=False)
        y = self._encode_targets(y, fitting=True)
        if X_val is not None or y_val is not None:
            if X_val is None or y_val is None:
                raise ValueError("pass both X_val and y_val, or neither")
            X_val = validate_data(self, X_val, reset=False, dtype=[np.float64, np.float32]).astype(dtype, copy=False)
            y_val = self._encode_targets(self._check_y_val(y_val, len(X_val)), fitting=False)
            validated = True
        elif self.early_stopping:
            train_idx, val_idx = split_indices(y, self._task, cfg["dataset"]["val_fraction"],
                                               np.random.default_rng(cfg["dataset"]["seed"]),
                                               ("validation_fraction", self.validation_fraction))
            X, X_val, y, y_val = X[train_idx], X[val_idx], y[train_idx], y[val_idx]
            validated = True
        else:  # no validation set: the engine's evaluation runs on the training data
            X_val, y_val = X, y
            validated = False
        data = Dataset(
            name="estimator", task=self._task, X_train=X, y_train=y, X_val=X_val, y_val=y_val,
            n_classes=len(self.classes_) if self._task == "classification" else None,
            feature_names=tuple(f"x{i}" for i in range(X.shape[1])), target_name="y",
        )
        stop, watch, net, result = self._watch(cfg, data)
        if stop is not None:  # train again for exactly the epochs kept (see the module docstring)
            cfg = dict(cfg, epochs=stop)
            net = build_network(cfg, data)
            result = train(net, data, optimizer=build_optimizer(cfg), **train_options(cfg))
        history = result.table if validated else result.table.rename(columns=_EVAL_RENAMES)
        self._set_fitted(cfg, net, history, int(result.diverged_epoch[0]), watch, validated)
        return self

    def _watch(self, cfg, data):
        """The first pass: train up to ``max_iter`` epochs applying scikit-learn's
        stopping rule after each; returns ``(k, record, net, result)``: k the
        epoch to train again to, or None when the full run is kept (then
        ``net`` and ``result`` are it), and the record of losses and scores."""
        score_key = "val_acc" if self._task == "classification" else "val_r2"
        tol, patience = float(self.tol), int(self.n_iter_no_change)
        record = {"losses": [], "scores": [], "best": None, "best_epoch": 0, "count": 0}

        def progress(epoch, row):
            if epoch == 0:
                return
            loss = float(row["train_loss"][0])
            if not np.isfinite(loss):  # diverged: the run to keep ends here
                raise _Stop(epoch)
            record["losses"].append(loss)
            if self.early_stopping:
                score = float(row[score_key][0])
                record["scores"].append(score)
                better = record["best"] is None or score >= record["best"] + tol
                if record["best"] is None or score > record["best"]:
                    record["best"], record["best_epoch"] = score, epoch
            else:
                better = record["best"] is None or loss <= record["best"] - tol
                if record["best"] is None or loss < record["best"]:
                    record["best"], record["best_epoch"] = loss, epoch
            record["count"] = 0 if better else record["count"] + 1
            if record["count"] > patience:
                raise _Stop(record["best_epoch"] if self.early_stopping else epoch)

        net = build_network(cfg, data)
        try:
            result = train(net, data, optimizer=build_optimizer(cfg), **train_options(cfg), progress=progress)
        except _Stop as stop:
            return int(stop.args[0]), record, None, None
        if self.early_stopping and record["best_epoch"] < cfg["epochs"]:
            return record["best_epoch"], record, None, None
        return None, record, net, result

    def _check_y_val(self, y_val, n):
        y_val = np.asarray(y_val)
        if len(y_val) != n:
            raise ValueError(f"X_val and y_val have different lengths: {n} and {len(y_val)}")
        return y_val

    def _set_fitted(self, cfg, net, history, diverged_epoch, watch, validated):
        self.seed_ = cfg["seed"]
        self.network_ = net
        self.history_ = history
        self.coefs_ = [w[0] for w in net.W]
        self.intercepts_ = [b[0, 0] for b in net.b]
        self.slopes_ = None if net.slopes is None else [s[0, 0] for s in net.slopes]
        self.final_metrics_ = {}
        names = set(final_metrics())
        for column in history.columns:  # the registry's final value: the last one measured
            base = column.rpartition("_l")[0] if column.rpartition("_l")[2].isdigit() else column
            registered = next((k for k, v in _EVAL_RENAMES.items() if v == base), base)
            if registered not in names:
                continue
            measured = history[column].dropna()
            value = measured.iloc[-1] if len(measured) else None
            value = value.item() if hasattr(value, "item") else value
            self.final_metrics_[column] = value
            if base == column:
                setattr(self, f"{column}_", value)
        self.loss_curve_ = history["train_loss"].iloc[1:].tolist()
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else float(history["train_loss"].iloc[0])
        self.n_iter_ = int(history["epoch"].iloc[-1])
        self.best_loss_ = None if self.early_stopping else min(watch["losses"], default=None)
        self.validation_scores_ = watch["scores"] if self.early_stopping else None
        self.best_validation_score_ = watch["best"] if self.early_stopping else None
        self.diverged_ = diverged_epoch >= 0
        self.diverged_epoch_ = diverged_epoch if diverged_epoch >= 0 else None
        if self.diverged_:
            warnings.warn(f"the loss became non-finite at epoch {diverged_epoch} (learning_rate_init="
                          f"{self.learning_rate_init!r}); the network keeps the parameters of the start of that "
                          f"epoch", DivergenceWarning, stacklevel=3)
        elif self.n_iter_ == cfg["epochs"] == self.max_iter and watch["count"] <= int(self.n_iter_no_change):
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                          f"optimization hasn't converged yet.", ConvergenceWarning, stacklevel=3)

    # ----------------------------------------------------------- predict
    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        with np.errstate(over="ignore", invalid="ignore"):
            return self.network_.predict(X.astype(self.network_.dtype, copy=False))[0]

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "network_")


class MLPClassifier(ClassifierMixin, _MLPBase):
    __doc__ = ("Multilayer perceptron classifier on relu_study's engine (softmax cross-entropy).\n"
               + _MLPBase.__doc__.split("\n", 1)[1])
    _task = "classification"

    def fit(self, X, y, *, X_val=None, y_val=None):
        """Train on ``(X, y)``; ``X_val, y_val``: an optional validation set for
        the history's ``val_loss`` / ``val_acc``.  Returns ``self``."""
        return self._fit(X, y, X_val, y_val)

    def _encode_targets(self, y, fitting):
        y = column_or_1d(y, warn=True)
        if fitting:
            check_classification_targets(y)
            self._encoder = LabelEncoder().fit(y)
            self.classes_ = self._encoder.classes_
            if len(self.classes_) < 2:
                raise ValueError(f"MLPClassifier needs samples of at least 2 classes, got 1 class "
                                 f"({self.classes_[0].item()!r}): there is nothing to learn")
        else:
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            if len(unknown):
                raise ValueError(f"y_val holds labels not seen in y: {unknown.tolist()}")
        return self._encoder.transform(y).astype(np.int64)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (softmax of the outputs), columns in ``classes_`` order."""
        return softmax(self._outputs(X).astype(np.float64))

    def predict_log_proba(self, X) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        out = self._outputs(X)  # first: it raises NotFittedError before classes_ is read
        return self.classes_[out.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = False
        return tags


class MLPRegressor(RegressorMixin, _MLPBase):
    __doc__ = ("Multilayer perceptron regressor on relu_study's engine (mean squared error).\n"
               + _MLPBase.__doc__.split("\n", 1)[1])
    _task = "regression"

    def fit(self, X, y, *, X_val=None, y_val=None):
        """Train on ``(X, y)`` (``y`` of shape (n,) or (n, n_targets)); ``X_val,
        y_val``: an optional validation set for the history's ``val_loss`` /
        ``val_r2``.  Returns ``self``."""
        return self._fit(X, y, X_val, y_val)

    def _encode_targets(self, y, fitting):
        y = np.asarray(y, dtype=np.float64)
        if fitting:
            self._y_1d = y.ndim == 1
        elif (y.ndim == 1) != self._y_1d and not (y.ndim == 2 and y.shape[1] == 1):
            raise ValueError(f"y_val has shape {y.shape}, unlike y")
        if not np.isfinite(y).all():
            raise ValueError("y_val holds NaN or infinite values")
        y = y.reshape(len(y), -1)
        if fitting and len(y) and np.all(y == y[0]):  # the command line's refusal (relu_study.data)
            raise ValueError(f"the target is constant ({y[0, 0]:g}) in all {len(y)} samples: there is nothing to "
                             f"learn")
        return y.astype(np.float32 if self.dtype == "float32" else np.float64, copy=False)

    def predict(self, X) -> np.ndarray:
        out = self._outputs(X).astype(np.float64)
        return out[:, 0] if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
