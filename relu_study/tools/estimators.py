"""scikit-learn estimators on relu_study's engine: ``MLPClassifier`` and ``MLPRegressor``.

scikit-learn's own multilayer perceptron has no Leaky ReLU (its maintainers
declined to add activations), so these bring every registered activation, the
dead-unit probes and the metrics table into pipelines, grid searches and
cross-validation::

    from relu_study import MLPClassifier
    clf = MLPClassifier(activation="leaky", alpha=0.1, hidden_layer_sizes=(64, 64), random_state=0)
    clf.fit(X_train, y_train).score(X_test, y_test)
    clf.dead_frac_, clf.history_          # final dead fraction, the per-epoch table

As everywhere in relu_study, ``alpha`` is the *negative slope* of ``leaky``
(and the initial slope of ``prelu``), not scikit-learn's L2 penalty; L2
regularisation is ``weight_decay``.

Same settings, same numbers: ``fit`` turns the parameters into the command
line's config (``to_config()``: ``hidden_layer_sizes`` is
``model.widths``, ``lr`` is ``optimizer.lr``, ``random_state`` is ``seed`` and
``dataset.seed``, ...), validates it with the command line's validator and
builds the network, optimiser and training options with the very functions the
command line uses (:mod:`relu_study.runs.experiment`).  Two differences are
by design: the estimator neither splits off a validation set nor standardizes
(scikit-learn splits with ``train_test_split``/CV and scales with
``StandardScaler`` in a ``Pipeline``).  A validation set is either passed to
``fit(X, y, X_val=..., y_val=...)`` or split off with ``validation_fraction``;
without one, the history's evaluation columns are measured on the training
data and named ``train_eval_loss`` and ``train_acc`` / ``train_r2``.
``docs/estimators.md`` has the full correspondence.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ..data import Dataset
from ..data import split_indices  # the command line's train/validation split
from ..engine.losses import softmax
from ..engine.train import train
from ..runs.config import ConfigError, default_config, validate
from ..runs.experiment import build_network, build_optimizer, train_options

__all__ = ["DivergenceWarning", "MLPClassifier", "MLPRegressor", "PARAMETER_KEYS"]

#: estimator parameter -> command-line config key it sets (``to_config``)
PARAMETER_KEYS = {
    "hidden_layer_sizes": "model.widths",
    "activation": "activation.name",
    "alpha": "alpha",
    "weight_init": "init.weight",
    "bias_init": "init.bias",
    "bias_value": "init.bias_value",
    "bias_std": "init.bias_std",
    "optimizer": "optimizer.name",
    "lr": "optimizer.lr",
    "momentum": "optimizer.momentum",
    "nesterov": "optimizer.nesterov",
    "beta1": "optimizer.beta1",
    "beta2": "optimizer.beta2",
    "eps": "optimizer.eps",
    "weight_decay": "optimizer.weight_decay",
    "clip_norm": "optimizer.clip_norm",
    "schedule": "optimizer.schedule",
    "min_lr": "optimizer.min_lr",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "random_state": "seed",
    "probes": "probe.enabled",
    "probe_max_samples": "probe.max_samples",
    "near_zero_rel": "probe.near_zero_rel",
    "collapse_tol": "probe.collapse_tol",
    "validation_fraction": "dataset.val_fraction",
    "dtype": "dtype",
}
#: history columns that are not final metrics
_ID_COLUMNS = ("seed", "epoch", "diverged")


class DivergenceWarning(UserWarning):
    """The network's loss became non-finite; it keeps the parameters of the
    start of that epoch (``diverged_epoch_``)."""


def _is_layer_column(name: str) -> bool:
    head, _, tail = name.rpartition("_l")
    return bool(head) and tail.isdigit()


class _MLPBase(BaseEstimator):
    """Shared parameters and ``fit`` of the two estimators (see the module docstring).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (32, 32)
        Widths of the hidden layers (``model.widths``).
    activation : str, default "relu"
        Any registered activation (``relu_study.engine.activations.ACTIVATIONS``):
        relu, leaky, prelu, rrelu, elu, gelu, silu, softplus, tanh, identity.
    alpha : float, default 0.01
        Negative slope of ``leaky``, initial slope of ``prelu``; ignored by
        the other activations.  Not an L2 penalty (that is ``weight_decay``).
    activation_options : dict or None
        Other activation parameters: RReLU's ``lower``/``upper``, ELU's
        ``scale`` (its alpha), softplus's ``beta`` (``activation.<key>``).
    weight_init, bias_init, bias_value, bias_std
        Initialisers (``init.weight``: he_normal, he_uniform, glorot_normal,
        glorot_uniform, lecun_normal, rai; ``init.bias``: zeros, constant, normal).
    optimizer : {"sgd", "momentum", "adam"}, default "sgd"
    lr : float, default 0.1
        Learning rate (``optimizer.lr``).
    momentum, nesterov, beta1, beta2, eps, weight_decay, clip_norm, schedule, min_lr
        Optimiser settings, as ``optimizer.<name>`` on the command line.
    epochs : int, default 30
    batch_size : int, default 32
    random_state : int, RandomState or None
        An int is the network seed (initialisation, minibatch order, RReLU
        noise) and the seed of the validation split and probe subsample,
        like ``seed`` and ``dataset.seed`` on the command line.  None or a
        RandomState draws the seed (kept in ``seed_``).
    probes : bool, default True
        Measure the dead-unit probes every epoch (``dead_frac_``, ... after fit).
    probe_max_samples, near_zero_rel, collapse_tol
        Probe settings (``probe.*``).
    validation_fraction : float or None, default None
        Fraction of ``X`` held out (stratified for classes) for the history's
        ``val_*`` columns, when no ``X_val`` is passed to ``fit``.
    dtype : {"float64", "float32"}, default "float64"

    Attributes
    ----------
    history_ : DataFrame
        The metrics table, one row per epoch (epoch 0 = initialisation), the
        columns of ``relu_study.engine.train.COLUMNS``.
    final_metrics_ : dict
        The last row of ``history_`` (per-layer columns included); a value the
        last epoch has not got (NaN in ``history_``: ``revival_epoch_median``
        when no unit revived, a diverged network's metrics) is ``None``.
    dead_frac_, zero_grad_frac_, exact_zero_frac_, ..., train_loss_, val_loss_
        One attribute per column of the last history row (per-layer columns
        and identifiers aside), read by name: new probe columns appear here
        without code changes.  Absent when ``probes=False``.
    coefs_, intercepts_ : lists of arrays
        Weights ``(fan_in, fan_out)`` and biases ``(fan_out,)`` per layer, as in
        scikit-learn's MLPs (views of ``network_``'s parameters).
    slopes_ : list of arrays or None
        PReLU's learned slopes per hidden layer.
    network_ : relu_study.engine.network.MLP
        The trained network (one network).
    loss_, loss_curve_, n_iter_
        Final and per-epoch training loss, epochs trained (scikit-learn's names).
    diverged_, diverged_epoch_
        Whether (and at which epoch) the loss became non-finite.
    seed_ : int
        The network seed used.
    n_features_in_, feature_names_in_
    """

    _task = ""

    def __init__(self, hidden_layer_sizes=(32, 32), activation="relu", alpha=0.01, activation_options=None,
                 weight_init="he_normal", bias_init="zeros", bias_value=0.0, bias_std=0.0,
                 optimizer="sgd", lr=0.1, momentum=0.9, nesterov=False, beta1=0.9, beta2=0.999, eps=1e-8,
                 weight_decay=0.0, clip_norm=None, schedule="constant", min_lr=0.0,
                 epochs=30, batch_size=32, random_state=None, probes=True, probe_max_samples=1024,
                 near_zero_rel=1e-3, collapse_tol=1e-3, validation_fraction=None, dtype="float64"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.alpha = alpha
        self.activation_options = activation_options
        self.weight_init = weight_init
        self.bias_init = bias_init
        self.bias_value = bias_value
        self.bias_std = bias_std
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.nesterov = nesterov
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm
        self.schedule = schedule
        self.min_lr = min_lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.random_state = random_state
        self.probes = probes
        self.probe_max_samples = probe_max_samples
        self.near_zero_rel = near_zero_rel
        self.collapse_tol = collapse_tol
        self.validation_fraction = validation_fraction
        self.dtype = dtype

    # ------------------------------------------------------------ config
    def _seed(self) -> int:
        rs = self.random_state
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            if rs < 0:
                raise ValueError(f"random_state must be a non-negative integer, a RandomState or None, got {rs!r}")
            return int(rs)
        return int(check_random_state(rs).randint(np.iinfo(np.int32).max))

    def to_config(self, seed: int | None = None) -> dict:
        """The command-line config these parameters stand for (a plain dict, as
        :func:`relu_study.runs.config.default_config` gives); ``dataset`` keeps
        the defaults except ``seed`` and ``val_fraction``, since the data come
        from ``fit``."""
        values = {name: getattr(self, name) for name in PARAMETER_KEYS}
        values["random_state"] = self._seed() if seed is None else seed
        sizes = values["hidden_layer_sizes"]
        values["hidden_layer_sizes"] = [int(w) if isinstance(w, numbers.Integral) and not isinstance(w, bool) else w
                                        for w in (sizes if isinstance(sizes, (list, tuple, np.ndarray)) else [sizes])]
        # NumPy scalars (from np.arange / np.logspace grids) as the plain numbers the config holds
        for name in ("alpha", "lr", "momentum", "beta1", "beta2", "eps", "weight_decay", "min_lr",
                     "bias_value", "bias_std", "near_zero_rel", "collapse_tol", "clip_norm"):
            if isinstance(values[name], numbers.Real) and not isinstance(values[name], (bool, np.bool_)):
                values[name] = float(values[name])
        for name in ("epochs", "batch_size", "probe_max_samples"):
            if isinstance(values[name], numbers.Integral) and not isinstance(values[name], (bool, np.bool_)):
                values[name] = int(values[name])
        cfg = default_config(**{PARAMETER_KEYS[k]: v for k, v in values.items() if k != "validation_fraction"})
        cfg["dataset"]["seed"] = cfg["seed"]
        cfg["dataset"]["val_fraction"] = values["validation_fraction"]
        act = cfg["activation"]  # the slope is the top-level alpha only (one name, as on the command line)
        options = self.activation_options or {}
        if not isinstance(options, dict):
            raise ValueError(f"activation_options must be a dict or None, got {options!r}")
        for key, value in options.items():
            if key not in act or key == "name":
                raise ValueError(f"activation_options: unknown key {key!r}; valid keys: lower, upper, beta, scale")
            act[key] = value
        return cfg

    def _validated_config(self) -> dict:
        seed = self._seed()
        cfg = self.to_config(seed)
        vf = cfg["dataset"]["val_fraction"]
        if vf is not None and not (isinstance(vf, numbers.Real) and not isinstance(vf, bool) and 0 < vf < 1):
            raise ValueError(f"validation_fraction must be None or strictly between 0 and 1, got {vf!r}")
        if not isinstance(self.probes, (bool, np.bool_)):
            raise ValueError(f"probes must be True or False, got {self.probes!r}")
        try:
            validate(dict(cfg, dataset=dict(cfg["dataset"], val_fraction=0.2)))  # the validator wants a number
        except ConfigError as exc:
            names = {key: name for name, key in PARAMETER_KEYS.items()}
            key = exc.key if exc.key in names else exc.key.split("[")[0]
            name = names.get(key, f"activation_options[{key.split('.', 1)[1]!r}]" if key.startswith("activation.")
                             else key)
            raise ValueError(f"{name}={exc.value!r}: {exc.problem}") from None
        return cfg

    # --------------------------------------------------------------- fit
    def _fit(self, X, y, X_val, y_val):
        cfg = self._validated_config()
        dtype = np.float32 if cfg["dtype"] == "float32" else np.float64
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], multi_output=self._task == "regression",
                             y_numeric=self._task == "regression")
        X = X.astype(dtype, copy=False)
        y = self._encode_targets(y, fitting=True)
        if X_val is not None or y_val is not None:
            if X_val is None or y_val is None:
                raise ValueError("pass both X_val and y_val, or neither")
            X_val = validate_data(self, X_val, reset=False, dtype=[np.float64, np.float32]).astype(dtype, copy=False)
            y_val = self._encode_targets(self._check_y_val(y_val, len(X_val)), fitting=False)
            named = ("val_loss", "val_acc", "val_r2")
        elif cfg["dataset"]["val_fraction"] is not None:
            train_idx, val_idx = split_indices(y, self._task, cfg["dataset"]["val_fraction"],
                                               np.random.default_rng(cfg["dataset"]["seed"]),
                                               ("validation_fraction", self.validation_fraction))
            X, X_val, y, y_val = X[train_idx], X[val_idx], y[train_idx], y[val_idx]
            named = ("val_loss", "val_acc", "val_r2")
        else:  # no validation set: the engine's evaluation runs on the training data
            X_val, y_val = X, y
            named = ("train_eval_loss", "train_acc", "train_r2")
        data = Dataset(
            name="estimator", task=self._task, X_train=X, y_train=y, X_val=X_val, y_val=y_val,
            n_classes=len(self.classes_) if self._task == "classification" else None,
            feature_names=tuple(f"x{i}" for i in range(X.shape[1])), target_name="y",
        )
        net = build_network(cfg, data)
        result = train(net, data, optimizer=build_optimizer(cfg), **train_options(cfg))
        history = result.table.rename(columns=dict(zip(("val_loss", "val_acc", "val_r2"), named)))
        self._set_fitted(cfg, net, history, int(result.diverged_epoch[0]))
        return self

    def _check_y_val(self, y_val, n):
        y_val = np.asarray(y_val)
        if len(y_val) != n:
            raise ValueError(f"X_val and y_val have different lengths: {n} and {len(y_val)}")
        return y_val

    def _set_fitted(self, cfg, net, history, diverged_epoch):
        self.seed_ = cfg["seed"]
        self.network_ = net
        self.history_ = history
        self.coefs_ = [w[0] for w in net.W]
        self.intercepts_ = [b[0, 0] for b in net.b]
        self.slopes_ = None if net.slopes is None else [s[0, 0] for s in net.slopes]
        last = history.iloc[-1]
        self.final_metrics_ = {c: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
                               for c, v in last.items() if c not in _ID_COLUMNS}
        for name, value in self.final_metrics_.items():
            if not _is_layer_column(name):
                setattr(self, f"{name}_", value)
        self.loss_curve_ = history["train_loss"].iloc[1:].tolist()
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else float(history["train_loss"].iloc[0])
        self.n_iter_ = int(last["epoch"])
        self.diverged_ = diverged_epoch >= 0
        self.diverged_epoch_ = diverged_epoch if diverged_epoch >= 0 else None
        if self.diverged_:
            warnings.warn(f"the loss became non-finite at epoch {diverged_epoch} (lr={self.lr!r}); the network "
                          f"keeps the parameters of the start of that epoch", DivergenceWarning, stacklevel=3)

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
                raise ValueError(f"MLPClassifier needs samples of at least 2 classes, "
                                 f"got 1 class: {self.classes_[0]!r}")
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
        return y.astype(np.float32 if self.dtype == "float32" else np.float64, copy=False)

    def predict(self, X) -> np.ndarray:
        out = self._outputs(X).astype(np.float64)
        return out[:, 0] if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
