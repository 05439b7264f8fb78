"""Datasets: a registry of loaders and one function that splits and scales them.

Choosing a dataset is a dictionary lookup in :data:`DATASETS`; adding one is a
function and a line in that table.  A loader has the signature
``loader(rng, **options) -> (X, y, task, feature_names, target_name)`` where
``rng`` is a :class:`numpy.random.Generator` and the options (with their
defaults) are the loader's keyword parameters; ``task`` may also be a pair
``(task, reason)`` saying in words how the task was decided (the ``table``
loader infers it: see :func:`_infer_task`).  Loaders return raw data: any
label type for classification (encoded to ``0..K-1`` by :func:`load_dataset`),
numbers for regression.

Nothing is downloaded: the synthetic sets are drawn from the seed, the bundled
ones are the small tables that ship with scikit-learn, and ``table`` reads the
user's CSV or Parquet file.

=================  ==============  ========================================
name               task            defaults and options
=================  ==============  ========================================
``moons``          classification  n_samples=1000, noise=0.2
``circles``        classification  n_samples=1000, noise=0.1, factor=0.5
``spirals``        classification  n_samples=1000, noise=0.2, n_classes=2
``blobs``          classification  n_samples=1000, noise=1.0 (cluster std),
                                   centers=3, n_features=2
``digits``         classification  fixed size 1797, 64 features, 10 classes
``iris``           classification  fixed size 150, 4 features, 3 classes
``wine``           classification  fixed size 178, 13 features, 3 classes
``breast_cancer``  classification  fixed size 569, 30 features, 2 classes
``abs``            regression      n_samples=1000, noise=0.0; y = |x|,
                                   x ~ U[-sqrt(3), sqrt(3)] (Lu et al. 2019)
``sine``           regression      n_samples=1000, noise=0.0; y = sin(x),
                                   x ~ U[-pi, pi]
``friedman1``      regression      n_samples=1000, noise=0.0, 10 features
``table``          either          path, target, task (inferred if None)
=================  ==============  ========================================
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["DATASETS", "Dataset", "DatasetError", "dataset_names", "load_dataset", "split_indices", "table_path"]

TASKS = ("classification", "regression")
#: a target with at most this many distinct (integral) values is inferred to be classes
MAX_INFERRED_CLASSES = 20
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


class DatasetError(ValueError):
    """Data that cannot make a meaningful run: ``key`` (a :func:`load_dataset`
    argument), the ``value`` given for it, and what is wrong.  The command line
    reports it as ``dataset.<key>=<value>: <problem>``."""

    def __init__(self, key: str, value, problem: str):
        self.key, self.value, self.problem = key, value, problem
        super().__init__(f"{key}={value!r}: {problem}")


class TableNotFound(DatasetError, FileNotFoundError):
    """The table file does not exist (a :class:`DatasetError` and a ``FileNotFoundError``)."""


def table_path(path) -> Path:
    """The file a ``table`` dataset reads: ``path`` with ``~`` expanded.  The one
    place a user path is interpreted, so validation and loading agree."""
    return Path(path).expanduser()


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/validation split, features standardized with train statistics.

    Classification labels are int64 ``(n,)`` in ``0..n_classes-1``, where label
    ``i`` stands for ``classes[i]``; regression targets are float ``(n, n_targets)``.
    """

    name: str
    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    n_classes: int | None
    feature_names: tuple[str, ...]
    target_name: str
    #: original class values (classification only), in label order
    classes: tuple | None = None
    #: why the task is what it is, in words (for a table: the inference rule that decided it)
    task_reason: str = ""

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.n_classes if self.task == "classification" else self.y_train.shape[1]

    @property
    def n_train(self) -> int:
        return len(self.X_train)

    @property
    def n_val(self) -> int:
        return len(self.X_val)

    def astype(self, dtype) -> Dataset:
        """A copy with features (and regression targets) cast to ``dtype``."""
        cast = {"X_train": self.X_train.astype(dtype), "X_val": self.X_val.astype(dtype)}
        if self.task == "regression":
            cast.update(y_train=self.y_train.astype(dtype), y_val=self.y_val.astype(dtype))
        return replace(self, **cast)

    def __repr__(self) -> str:
        out = (f"classes={self.n_classes}" if self.task == "classification"
               else f"targets={self.n_outputs}")
        return (f"Dataset({self.name!r}, {self.task}, train={self.n_train}, val={self.n_val}, "
                f"features={self.n_features}, {out})")


# --------------------------------------------------------------------- helpers

def _random_state(rng: np.random.Generator) -> int:
    """An int seed for scikit-learn's generators, drawn from ``rng``."""
    return int(rng.integers(2**31 - 1))


def _check_int(key: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DatasetError(key, value, f"must be an integer >= {minimum}")
    return int(value)


def _xy_names(n: int) -> tuple[str, ...]:
    return tuple(f"x{i + 1}" for i in range(n))


# --------------------------------------------------------------------- loaders

def _moons(rng, n_samples=1000, noise=0.2):
    from sklearn.datasets import make_moons
    X, y = make_moons(n_samples, noise=noise, random_state=_random_state(rng))
    return X, y, "classification", _xy_names(2), "moon"


def _circles(rng, n_samples=1000, noise=0.1, factor=0.5):
    from sklearn.datasets import make_circles
    X, y = make_circles(n_samples, noise=noise, factor=factor, random_state=_random_state(rng))
    return X, y, "classification", _xy_names(2), "circle"


def _spirals(rng, n_samples=1000, noise=0.2, n_classes=2):
    """Interleaved arms of the Archimedean spiral ``r = theta / pi``, 1.5 turns each.

    Arm ``k`` is rotated by ``2 pi k / n_classes``; classes are balanced.
    """
    n_classes = _check_int("n_classes", n_classes, 2)
    y = np.arange(n_samples) % n_classes
    theta = rng.uniform(0.0, 3.0 * np.pi, n_samples)
    angle = theta + 2.0 * np.pi * y / n_classes
    X = (theta / np.pi)[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
    X += noise * rng.standard_normal(X.shape)
    return X, y, "classification", _xy_names(2), "arm"


def _blobs(rng, n_samples=1000, noise=1.0, centers=3, n_features=2):
    from sklearn.datasets import make_blobs
    centers = _check_int("centers", centers, 2)
    n_features = _check_int("n_features", n_features, 1)
    X, y = make_blobs(n_samples, n_features=n_features, centers=centers, cluster_std=noise,
                      random_state=_random_state(rng))
    return X, y, "classification", _xy_names(n_features), "blob"


def _bundled(loader_name: str, target_name: str) -> Callable:
    def load(rng):
        import sklearn.datasets
        bunch = getattr(sklearn.datasets, loader_name)()
        names = tuple(str(f) for f in bunch.feature_names)
        return bunch.data, bunch.target, "classification", names, target_name
    load.__name__ = f"_{loader_name}"
    load.__doc__ = f"``sklearn.datasets.{loader_name}()`` (bundled, fixed size)."
    return load


def _abs(rng, n_samples=1000, noise=0.0):
    """``y = |x| + noise * N(0, 1)``, ``x ~ U[-sqrt(3), sqrt(3)]`` (unit variance)."""
    x = rng.uniform(-math.sqrt(3.0), math.sqrt(3.0), (n_samples, 1))
    y = np.abs(x)
    if noise:
        y = y + noise * rng.standard_normal(y.shape)
    return x, y, "regression", ("x",), "abs(x)"


def _sine(rng, n_samples=1000, noise=0.0):
    """``y = sin(x) + noise * N(0, 1)``, ``x ~ U[-pi, pi]``."""
    x = rng.uniform(-np.pi, np.pi, (n_samples, 1))
    y = np.sin(x)
    if noise:
        y = y + noise * rng.standard_normal(y.shape)
    return x, y, "regression", ("x",), "sin(x)"


def _friedman1(rng, n_samples=1000, noise=0.0):
    from sklearn.datasets import make_friedman1
    X, y = make_friedman1(n_samples, n_features=10, noise=noise, random_state=_random_state(rng))
    return X, y[:, None], "regression", _xy_names(10), "y"


def _infer_task(s) -> tuple[str, str]:
    """``(task, reason)``: classes if the column is non-numeric or boolean, or has
    at most :data:`MAX_INFERRED_CLASSES` distinct integral values; numbers otherwise."""
    import pandas as pd
    name = f"target {s.name!r}"
    if pd.api.types.is_bool_dtype(s):
        return "classification", f"{name} is boolean: treated as classification"
    if not pd.api.types.is_numeric_dtype(s):
        return "classification", f"{name} is not numeric: treated as classification"
    values = s.to_numpy(dtype=np.float64)
    if not np.all(values == np.round(values)):
        return "regression", f"{name} has non-integer values: treated as regression"
    k = s.nunique()
    if k <= MAX_INFERRED_CLASSES:
        return "classification", (f"{name} has {k} distinct integer values (at most {MAX_INFERRED_CLASSES}): "
                                  f"treated as classification; set dataset.task=regression to treat them as numbers")
    return "regression", (f"{name} has {k} distinct integer values (more than {MAX_INFERRED_CLASSES}): "
                          f"treated as regression; set dataset.task=classification to treat them as classes")


def _table(rng, path=None, target=None, task=None):
    """The user's CSV or Parquet file: ``target`` is one column, the rest are features."""
    import pandas as pd
    for key, value in (("path", path), ("target", target)):
        if value is None:
            raise DatasetError(key, value, f"dataset 'table' needs option {key!r}")
    if task is not None and task not in TASKS:
        raise DatasetError("task", task, f"must be None or one of {', '.join(TASKS)}")
    path = table_path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DatasetError("path", str(path), f"cannot read {str(path)!r}: supported suffixes are "
                                              f"{', '.join(TABLE_SUFFIXES)}")
    if not path.is_file():
        raise TableNotFound("path", str(path), f"table file not found: {str(path)!r}")
    try:
        df = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DatasetError("path", str(path), f"table file {str(path)!r} is empty") from None
    if len(df) == 0:
        raise DatasetError("path", str(path), f"table file {str(path)!r} has no rows")
    if target not in df.columns:
        raise DatasetError("target", target, f"target column {target!r} not found in {path}; columns: "
                                             f"{', '.join(map(str, df.columns))}")
    features = [c for c in df.columns if c != target]
    if not features:
        raise DatasetError("path", str(path), f"table {path} has no feature columns besides target {target!r}")
    bad = [str(c) for c in features if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise DatasetError("path", str(path), f"non-numeric feature columns in {path}: {', '.join(bad)}; "
                                              f"encode them as numbers or drop them")
    missing = [str(c) for c in df.columns if df[c].isna().any()]
    if missing:
        raise DatasetError("path", str(path), f"missing values (NaN) in {path}, columns: {', '.join(missing)}")
    X = df[features].to_numpy(dtype=np.float64)
    infinite = [str(c) for c, ok in zip(features, np.isfinite(X).all(axis=0)) if not ok]
    if infinite:
        raise DatasetError("path", str(path), f"infinite values in {path}, columns: {', '.join(infinite)}")
    s = df[target]
    if task is None:
        task, reason = _infer_task(s)
    else:
        reason = f"dataset.task={task} given"
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(s):
            raise DatasetError("target", target, f"target column {target!r} in {path} is not numeric; "
                                                 f"it cannot be a regression target")
        y = s.to_numpy(dtype=np.float64)[:, None]
    else:
        y = s.to_numpy()
    return X, y, (task, reason), tuple(map(str, features)), str(target)


#: name -> loader(rng, **options) -> (X, y, task, feature_names, target_name)
DATASETS: dict[str, Callable] = {
    "moons": _moons,
    "circles": _circles,
    "spirals": _spirals,
    "blobs": _blobs,
    "digits": _bundled("load_digits", "digit"),
    "iris": _bundled("load_iris", "species"),
    "wine": _bundled("load_wine", "cultivar"),
    "breast_cancer": _bundled("load_breast_cancer", "diagnosis"),
    "abs": _abs,
    "sine": _sine,
    "friedman1": _friedman1,
    "table": _table,
}


def dataset_names() -> list[str]:
    """Registered dataset names, in table order."""
    return list(DATASETS)


# --------------------------------------------------------------------- loading

#: load_dataset's own arguments a loader may take; every other loader parameter is an option
_ARGUMENTS = ("n_samples", "noise", "path", "target", "task")


def _loader_options(name: str, loader: Callable, options: dict) -> dict:
    """Check the options that are not ``None`` (= default) against the loader's parameters."""
    valid = [p for p in inspect.signature(loader).parameters if p != "rng"]
    given = {k: v for k, v in options.items() if v is not None}
    if "n_samples" in given and "n_samples" not in valid:
        raise DatasetError("n_samples", given["n_samples"], f"dataset {name!r} has a fixed size; "
                                                            f"leave n_samples unset")
    unknown = [k for k in given if k not in valid]
    if unknown:
        key = unknown[0] if unknown[0] in _ARGUMENTS else f"options.{unknown[0]}"
        raise DatasetError(key, given[unknown[0]], f"dataset {name!r} does not take option(s) {', '.join(unknown)}; "
                                                   f"valid options: {', '.join(valid) or '(none)'}")
    return given


def split_indices(y: np.ndarray, task: str, val_fraction: float, rng: np.random.Generator,
                  size_key: tuple = ("val_fraction", None)):
    """Shuffled train/validation indices; ``ceil(val_fraction * n)`` go to validation.

    Classification splits are stratified, and both parts must hold at least one
    sample of every class (a class missing from validation cannot be scored, one
    missing from training cannot be learned): otherwise a :class:`DatasetError`
    names ``size_key`` = ``(key, value)``, the setting that decides the size.
    The one split of the library: the command line and the scikit-learn
    estimators both use it, so the same seed gives the same split.
    """
    from sklearn.model_selection import train_test_split
    n = len(y)
    n_val = _n_val(n, val_fraction)
    if n - n_val < 1:
        raise DatasetError(*size_key, f"{n} samples are too few to split with val_fraction={val_fraction} "
                                      f"(need >= 1 train and >= 1 validation sample)")
    stratify = None
    if task == "classification":
        counts = np.bincount(y)
        k = len(counts)
        if counts.min() >= 2 and min(n_val, n - n_val) >= k:
            stratify = y
        else:
            raise DatasetError(*size_key, _too_few(counts, n, n_val, val_fraction))
    train, val = train_test_split(np.arange(n), test_size=n_val, stratify=stratify,
                                  random_state=_random_state(rng))
    if task == "classification":
        k = len(np.bincount(y))
        for part in (train, val):
            if len(np.unique(y[part])) < k:  # a rare class rounded away by stratification
                raise DatasetError(*size_key, _too_few(np.bincount(y), n, n_val, val_fraction))
    return train, val


def _n_val(n: int, val_fraction: float) -> int:
    return math.ceil(round(val_fraction * n, 9))


def _too_few(counts: np.ndarray, n: int, n_val: int, val_fraction: float) -> str:
    """Why ``n`` samples in classes of ``counts`` give no split with every class
    in both parts, and how many samples would."""
    k = len(counts)
    need = max(2 * k, math.floor((k - 1) / val_fraction) - 1)  # below this, validation is too small
    while min(_n_val(need, val_fraction), need - _n_val(need, val_fraction)) < k:
        need += 1
    if n < need:
        return (f"too few samples for {k} classes: a split with one validation sample of every class "
                f"needs at least {need} samples at val_fraction={val_fraction:g} "
                f"(here {n} samples, {n_val} for validation)")
    small = int(counts.min())
    return (f"the smallest of the {k} classes has {small} of {n} samples, too few to put one in training "
            f"and one in validation at val_fraction={val_fraction:g}")


def load_dataset(name: str, *, seed: int = 0, n_samples: int | None = None,
                 noise: float | None = None, val_fraction: float = 0.2,
                 standardize: bool = True, path: str | None = None,
                 target: str | None = None, task: str | None = None,
                 dtype=np.float64, **options) -> Dataset:
    """Load ``name``, draw it from ``seed``, split it and standardize its features.

    ``None`` for any option means the dataset's default.  Features are scaled
    with the mean and standard deviation of the training part (a constant
    feature is only centred); regression targets are left as they are.
    """
    try:
        loader = DATASETS[name]
    except (KeyError, TypeError):
        raise DatasetError("name", name, f"unknown dataset {name!r}; valid choices: "
                                         f"{', '.join(DATASETS)}") from None
    if n_samples is not None:
        _check_int("n_samples", n_samples, 2)
    if noise is not None:
        try:
            ok = math.isfinite(noise) and noise >= 0
        except TypeError:
            ok = False
        if not ok:
            raise DatasetError("noise", noise, "must be a finite number >= 0")
    try:
        ok = 0.0 < val_fraction < 1.0
    except TypeError:
        ok = False
    if not ok:
        raise DatasetError("val_fraction", val_fraction, "must be a number in (0, 1)")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise DatasetError("dtype", str(dtype), "must be a floating dtype")

    options = _loader_options(name, loader, dict(
        n_samples=n_samples, noise=noise, path=path, target=target, task=task, **options))
    rng = np.random.default_rng(seed)
    try:
        X, y, task, feature_names, target_name = loader(rng, **options)
    except DatasetError as exc:  # a loader's own option: the user sets it as options.<name>
        if exc.key in options and exc.key not in _ARGUMENTS:
            raise DatasetError(f"options.{exc.key}", exc.value, exc.problem) from None
        raise
    task, reason = task if isinstance(task, tuple) else (task, f"{name} is a {task} dataset")
    X = np.asarray(X, dtype=np.float64)
    target_key = ("target", target) if name == "table" else ("name", name)
    classes = n_classes = None
    if task == "classification":
        classes, y = np.unique(np.asarray(y), return_inverse=True)
        y = y.astype(np.int64).ravel()
        classes, n_classes = tuple(classes.tolist()), len(classes)
        if n_classes < 2:
            raise DatasetError(*target_key, f"the target has a single class ({classes[0]!r}) in all {len(y)} "
                                            f"rows: there is nothing to learn")
    else:
        y = np.asarray(y, dtype=np.float64).reshape(len(X), -1)
        if len(y) and np.all(y == y[0]):
            raise DatasetError(*target_key, f"the target is constant ({y[0, 0]:g}) in all {len(y)} rows: "
                                            f"there is nothing to learn")

    if "n_samples" in inspect.signature(loader).parameters:
        size_key = ("n_samples", len(X))
    elif name == "table":
        size_key = ("path", path)
    else:
        size_key = ("val_fraction", val_fraction)
    train, val = split_indices(y, task, val_fraction, rng, size_key)
    X_train, X_val = X[train], X[val]
    if standardize:
        mean, std = X_train.mean(axis=0), X_train.std(axis=0)
        std[np.ptp(X_train, axis=0) == 0] = 1.0
        X_train, X_val = (X_train - mean) / std, (X_val - mean) / std
    y_dtype = np.int64 if task == "classification" else dtype
    return Dataset(
        name=name, task=task,
        X_train=X_train.astype(dtype), y_train=y[train].astype(y_dtype),
        X_val=X_val.astype(dtype), y_val=y[val].astype(y_dtype),
        n_classes=n_classes, feature_names=tuple(feature_names),
        target_name=target_name, classes=classes, task_reason=reason,
    )
