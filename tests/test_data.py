"""Tests for relu_study.data: shapes, determinism, splitting, scaling, the table loader."""

import math

import numpy as np
import pandas as pd
import pytest

from relu_study.data import DATASETS, Dataset, DatasetError, dataset_names, load_dataset, table_path

# name -> (n_samples, n_features, n_classes or None for regression); small n keeps tests fast
SYNTHETIC = {
    "moons": (100, 2, 2),
    "circles": (100, 2, 2),
    "spirals": (100, 2, 2),
    "blobs": (90, 2, 3),
    "abs": (100, 1, None),
    "sine": (100, 1, None),
    "friedman1": (100, 10, None),
    "mnist1d": (100, 40, 10),
}
BUNDLED = {"digits": (1797, 64, 10), "iris": (150, 4, 3), "wine": (178, 13, 3),
           "breast_cancer": (569, 30, 2)}


def _load(name, **kw):
    if name in SYNTHETIC:
        kw.setdefault("n_samples", SYNTHETIC[name][0])
    return load_dataset(name, **kw)


def test_registry_names():
    assert dataset_names() == list(DATASETS)
    assert set(dataset_names()) == set(SYNTHETIC) | set(BUNDLED) | {"table"}


@pytest.mark.parametrize("name", list(SYNTHETIC) + list(BUNDLED))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_shapes_and_dtypes(name, dtype):
    n, n_features, n_classes = {**SYNTHETIC, **BUNDLED}[name]
    d = _load(name, dtype=dtype)
    assert isinstance(d, Dataset) and d.name == name
    assert d.n_train + d.n_val == n
    assert d.n_val == math.ceil(0.2 * n)
    assert d.X_train.shape == (d.n_train, n_features) and d.X_val.shape == (d.n_val, n_features)
    assert d.n_features == n_features == len(d.feature_names)
    assert d.X_train.dtype == dtype and d.X_val.dtype == dtype
    if n_classes is None:
        assert d.task == "regression" and d.n_classes is None and d.classes is None
        assert d.y_train.shape == (d.n_train, 1) and d.y_val.shape == (d.n_val, 1)
        assert d.y_train.dtype == dtype and d.n_outputs == 1
    else:
        assert d.task == "classification"
        assert d.n_classes == d.n_outputs == n_classes
        assert d.classes == tuple(range(n_classes))
        assert d.y_train.dtype == np.int64 and d.y_train.shape == (d.n_train,)
        assert d.y_val.shape == (d.n_val,)
        assert set(np.unique(d.y_train)) == set(range(n_classes))
        # stratified: every class shows up in validation
        assert set(np.unique(d.y_val)) == set(range(n_classes))


@pytest.mark.parametrize("seed", range(5))
def test_split_is_stratified(tmp_path, seed):
    iris = load_dataset("iris", seed=seed)
    np.testing.assert_array_equal(np.bincount(iris.y_val), [10, 10, 10])
    # a rare class keeps its share (1 in 20) of validation for every seed
    f = tmp_path / "rare.csv"
    pd.DataFrame({"x": np.arange(100.0), "y": ["common"] * 95 + ["rare"] * 5}).to_csv(
        f, index=False)
    d = load_dataset("table", path=str(f), target="y", seed=seed)
    assert d.classes == ("common", "rare")
    np.testing.assert_array_equal(np.bincount(d.y_val), [19, 1])
    np.testing.assert_array_equal(np.bincount(d.y_train), [76, 4])


def test_every_class_in_both_parts_or_a_clear_error(tmp_path):
    """A class that cannot have a sample in training and in validation stops the
    load with an error naming the setting that decides the size."""
    f = tmp_path / "one.csv"
    pd.DataFrame({"x": np.arange(10.0), "y": ["a"] * 9 + ["b"]}).to_csv(f, index=False)
    with pytest.raises(DatasetError, match=r"smallest of the 2 classes has 1 of 10 samples") as exc:
        load_dataset("table", path=str(f), target="y")
    assert exc.value.key == "path"
    with pytest.raises(DatasetError, match=r"too few samples for 3 classes: .* at least 11 samples") as exc:
        load_dataset("blobs", n_samples=4)
    assert (exc.value.key, exc.value.value) == ("n_samples", 4)
    with pytest.raises(DatasetError, match=r"3 classes: .*(here 150 samples, 2 for validation)") as exc:
        load_dataset("iris", val_fraction=0.01)
    assert exc.value.key == "val_fraction"
    # a rare class that stratification would round away from validation
    pd.DataFrame({"x": np.arange(100.0), "y": ["a"] * 98 + ["b"] * 2}).to_csv(f, index=False)
    with pytest.raises(DatasetError, match="smallest of the 2 classes has 2 of 100"):
        load_dataset("table", path=str(f), target="y")
    d = load_dataset("blobs", n_samples=11)
    assert set(d.y_val) == set(d.y_train) == {0, 1, 2}


def test_nothing_to_learn(tmp_path):
    f = tmp_path / "t.csv"
    pd.DataFrame({"x": np.arange(50.0), "y": np.ones(50, int), "z": np.full(50, 2.5)}).to_csv(f, index=False)
    with pytest.raises(DatasetError, match=r"single class \(1\) in all 50 rows") as exc:
        load_dataset("table", path=str(f), target="y")
    assert (exc.value.key, exc.value.value) == ("target", "y")
    with pytest.raises(DatasetError, match=r"constant \(2.5\) in all 50 rows"):
        load_dataset("table", path=str(f), target="z")


def test_tilde_is_expanded_once(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    pd.DataFrame({"x": np.arange(20.0), "y": np.arange(20) % 2}).to_csv(tmp_path / "h.csv", index=False)
    assert table_path("~/h.csv") == tmp_path / "h.csv"
    assert load_dataset("table", path="~/h.csv", target="y").n_train == 16


def test_repr():
    assert repr(_load("moons")) == (
        "Dataset('moons', classification, train=80, val=20, features=2, classes=2)")
    assert repr(_load("abs")) == (
        "Dataset('abs', regression, train=80, val=20, features=1, targets=1)")


@pytest.mark.parametrize("name", list(SYNTHETIC) + ["iris"])
def test_deterministic_for_seed(name):
    a, b, c = _load(name, seed=3), _load(name, seed=3), _load(name, seed=4)
    for field in ("X_train", "y_train", "X_val", "y_val"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes()
    assert not np.array_equal(a.X_train, c.X_train)


def test_standardization_uses_train_statistics():
    d = _load("friedman1", n_samples=200)
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(d.X_train.std(axis=0), 1.0, rtol=1e-12)
    # validation is scaled with the train statistics, so it is not exactly standard
    assert np.abs(d.X_val.mean(axis=0)).max() > 1e-6
    raw = _load("friedman1", n_samples=200, standardize=False)
    mean, std = raw.X_train.mean(axis=0), raw.X_train.std(axis=0)
    np.testing.assert_allclose(d.X_val, (raw.X_val - mean) / std, rtol=1e-10, atol=1e-12)
    # targets are never standardized
    np.testing.assert_array_equal(d.y_train, raw.y_train)
    assert raw.y_train.mean() > 5  # friedman1 targets average ~14


def test_constant_feature_is_not_divided_by_zero(tmp_path):
    f = tmp_path / "c.csv"
    pd.DataFrame({"a": [3.0] * 10, "b": np.arange(10.0), "y": np.arange(10.0) * 1.5}).to_csv(
        f, index=False)
    d = load_dataset("table", path=str(f), target="y")
    assert np.all(np.isfinite(d.X_train))
    np.testing.assert_array_equal(d.X_train[:, 0], 0.0)


def test_abs_targets_are_abs_of_raw_x():
    d = load_dataset("abs", n_samples=500, standardize=False, seed=1)
    for X, y in ((d.X_train, d.y_train), (d.X_val, d.y_val)):
        np.testing.assert_array_equal(y[:, 0], np.abs(X[:, 0]))
        assert X.min() >= -math.sqrt(3) and X.max() <= math.sqrt(3)
    x = np.concatenate([d.X_train, d.X_val])
    assert abs(x.var() - 1.0) < 0.15  # U[-sqrt 3, sqrt 3] has unit variance
    noisy = load_dataset("abs", n_samples=500, standardize=False, seed=1, noise=0.1)
    assert not np.array_equal(noisy.y_train[:, 0], np.abs(noisy.X_train[:, 0]))


def test_sine_targets():
    d = load_dataset("sine", n_samples=200, standardize=False)
    np.testing.assert_allclose(d.y_train[:, 0], np.sin(d.X_train[:, 0]), rtol=0, atol=1e-15)
    assert np.abs(d.X_train).max() <= np.pi


def test_options():
    assert load_dataset("blobs", centers=5, n_features=4, n_samples=100).n_outputs == 5
    assert load_dataset("blobs", centers=5, n_features=4, n_samples=100).n_features == 4
    assert load_dataset("spirals", n_classes=3, n_samples=90).n_classes == 3
    d = load_dataset("moons", n_samples=50, val_fraction=0.5)
    assert (d.n_train, d.n_val) == (25, 25)
    # default noise is what None means
    a = load_dataset("circles", n_samples=60, noise=None)
    b = load_dataset("circles", n_samples=60, noise=0.1)
    np.testing.assert_array_equal(a.X_train, b.X_train)


def test_astype():
    d = _load("abs").astype(np.float32)
    assert d.X_train.dtype == d.y_val.dtype == np.float32
    c = _load("moons").astype(np.float32)
    assert c.X_val.dtype == np.float32 and c.y_train.dtype == np.int64


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "nope"}, r"unknown dataset 'nope'; valid choices: moons, circles, .*table"),
    ({"name": "moons", "n_samples": 1}, "n_samples"),
    ({"name": "moons", "n_samples": 2, "val_fraction": 0.9}, "n_samples"),
    ({"name": "moons", "val_fraction": 0.0}, "val_fraction"),
    ({"name": "moons", "val_fraction": 1.0}, "val_fraction"),
    ({"name": "moons", "noise": -0.1}, "noise"),
    ({"name": "moons", "noise": float("nan")}, "noise"),
    ({"name": "moons", "factor": 0.3}, r"factor.*valid options: n_samples, noise"),
    ({"name": "iris", "n_samples": 100}, "fixed size"),
    ({"name": "iris", "noise": 0.1}, "noise"),
    ({"name": "abs", "task": "regression"}, "task"),
    ({"name": "moons", "dtype": np.int32}, "dtype"),
    ({"name": "spirals", "n_classes": 1}, "n_classes"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(**kwargs)


# ------------------------------------------------------------------ table loader

def _frame(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "a": rng.normal(size=n),
        "b": rng.integers(0, 5, n),
        "flag": rng.random(n) < 0.5,
        "species": np.array(["virginica", "setosa", "versicolor"])[np.arange(n) % 3],
        "price": rng.normal(10, 3, n),
    })


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".pq"])
def test_table_round_trip(tmp_path, suffix):
    df = _frame()
    f = tmp_path / f"data{suffix}"
    df.to_csv(f, index=False) if suffix == ".csv" else df.to_parquet(f, engine="pyarrow")
    d = load_dataset("table", path=str(f), target="species", standardize=False, seed=2)
    assert d.task == "classification" and d.n_classes == 3
    assert d.classes == ("setosa", "versicolor", "virginica")
    assert d.feature_names == ("a", "b", "flag", "price") and d.target_name == "species"
    assert d.n_train + d.n_val == 60 and d.n_val == 12
    # rows survive intact: every (features, label) pair is one of the file's rows
    rows = {tuple(r) for r in df[["a", "b", "flag", "price"]].to_numpy(float).round(9)}
    X = np.concatenate([d.X_train, d.X_val])
    y = np.concatenate([d.y_train, d.y_val])
    assert {tuple(r) for r in X.round(9)} == rows
    lookup = {tuple(r): s for r, s in zip(df[["a", "b", "flag", "price"]].to_numpy(float).round(9),
                                           df["species"])}
    assert [d.classes[k] for k in y] == [lookup[tuple(r)] for r in X.round(9)]


def test_table_task_inference(tmp_path):
    df = _frame().drop(columns="species")
    df["level"] = (df["b"] * 2).astype(float)  # float column with few integral values
    f = tmp_path / "t.parquet"
    df.to_parquet(f)
    kw = {"path": str(f)}
    assert load_dataset("table", target="price", **kw).task == "regression"
    assert load_dataset("table", target="b", **kw).task == "classification"
    assert load_dataset("table", target="flag", **kw).classes == (False, True)
    lv = load_dataset("table", target="level", **kw)
    assert lv.task == "classification" and lv.classes == (0.0, 2.0, 4.0, 6.0, 8.0)
    # explicit task overrides inference
    b = load_dataset("table", target="b", task="regression", standardize=False, **kw)
    assert b.task == "regression" and b.y_train.shape == (b.n_train, 1)
    assert b.y_train.dtype == np.float64 and set(np.unique(b.y_train)) <= {0.0, 1, 2, 3, 4}
    with pytest.raises(DatasetError, match="60 classes"):  # 60 distinct prices: 60 classes of one
        load_dataset("table", target="price", task="classification", **kw)
    # the rule that decided is stated in words
    assert "5 distinct integer values (at most 20): treated as classification" in \
        load_dataset("table", target="b", **kw).task_reason
    assert load_dataset("table", target="price", **kw).task_reason.endswith("non-integer values: treated as regression")
    assert load_dataset("table", target="b", task="regression", **kw).task_reason == "dataset.task=regression given"


def test_table_many_integer_values_is_regression(tmp_path):
    f = tmp_path / "r.csv"
    pd.DataFrame({"x": np.arange(50.0), "y": np.arange(50) * 3}).to_csv(f, index=False)
    d = load_dataset("table", path=str(f), target="y", standardize=False)
    assert d.task == "regression"
    assert d.task_reason == ("target 'y' has 50 distinct integer values (more than 20): treated as regression; "
                             "set dataset.task=classification to treat them as classes")
    np.testing.assert_array_equal(d.y_train[:, 0], d.X_train[:, 0] * 3)


def _write(tmp_path, df, name="bad.csv"):
    f = tmp_path / name
    df.to_csv(f, index=False)
    return str(f)


def test_table_bad_files(tmp_path):
    good = _write(tmp_path, _frame(), "good.csv")
    with pytest.raises(ValueError, match="'path'"):
        load_dataset("table", target="species")
    with pytest.raises(ValueError, match="'target'"):
        load_dataset("table", path=good)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        load_dataset("table", path=str(tmp_path / "missing.csv"), target="y")
    txt = tmp_path / "data.txt"
    txt.write_text("a,y\n1,2\n")
    with pytest.raises(ValueError, match=r"data\.txt.*\.csv, \.parquet, \.pq"):
        load_dataset("table", path=str(txt), target="y")
    with pytest.raises(ValueError, match=r"target column 'nope' not found in .*good\.csv; "
                                         r"columns: a, b, flag, species, price"):
        load_dataset("table", path=good, target="nope")
    with pytest.raises(ValueError, match=r"non-numeric feature columns .*: species"):
        load_dataset("table", path=good, target="price")
    with pytest.raises(ValueError, match="task"):
        load_dataset("table", path=good, target="species", task="ranking")
    with pytest.raises(ValueError, match="species"):
        load_dataset("table", path=good, target="species", task="regression")
    nan = _write(tmp_path, pd.DataFrame({"a": [1.0, np.nan, 3], "b": [1, 2, 3],
                                         "y": [1.0, 2, np.nan]}), "nan.csv")
    with pytest.raises(ValueError, match=r"NaN.*columns: a, y"):
        load_dataset("table", path=nan, target="y")
    header_only = _write(tmp_path, pd.DataFrame({"a": [], "y": []}), "header.csv")
    with pytest.raises(ValueError, match=r"header\.csv.*no rows"):
        load_dataset("table", path=header_only, target="y")
    blank = tmp_path / "blank.csv"
    blank.write_text("")
    with pytest.raises(ValueError, match=r"blank\.csv.*empty"):
        load_dataset("table", path=str(blank), target="y")
    with pytest.raises(ValueError, match="fixed size"):
        load_dataset("table", path=good, target="species", n_samples=10)


# --------------------------------------------------------------------------- held-out test part

@pytest.mark.parametrize("name", ["iris", "moons", "sine", "digits"])
def test_test_part_is_held_out_stratified_and_seeded(name):
    full = _load(name, test_fraction=0.2)
    n = {**SYNTHETIC, **BUNDLED}[name][0]
    assert full.n_test == math.ceil(0.2 * n) and full.n_val == math.ceil(0.2 * n)
    assert full.n_train + full.n_val + full.n_test == n
    assert full.X_test.shape == (full.n_test, full.n_features) and full.X_test.dtype == full.X_train.dtype
    # the three parts split the same rows as the two-part split
    raw3, raw2 = _load(name, test_fraction=0.2, standardize=False), _load(name, standardize=False)
    rows3 = np.concatenate([raw3.X_train, raw3.X_val, raw3.X_test])
    rows2 = np.concatenate([raw2.X_train, raw2.X_val])
    np.testing.assert_array_equal(rows3[np.lexsort(rows3.T)], rows2[np.lexsort(rows2.T)])
    # scaled with the training part's statistics
    np.testing.assert_allclose(full.X_train.mean(axis=0), 0, atol=1e-9)
    scale = raw3.X_train.std(axis=0)
    np.testing.assert_allclose(full.X_test * np.where(scale > 0, scale, 1) + raw3.X_train.mean(axis=0), raw3.X_test,
                               atol=1e-9)
    again = _load(name, test_fraction=0.2)
    np.testing.assert_array_equal(full.X_test, again.X_test)
    np.testing.assert_array_equal(full.y_test, again.y_test)
    other = _load(name, test_fraction=0.2, seed=1)
    assert not np.array_equal(full.X_test, other.X_test)
    if full.task == "classification":  # stratified: every class in every part, in proportion
        counts = np.bincount(_load(name).y_train.tolist() + _load(name).y_val.tolist())
        np.testing.assert_allclose(np.bincount(full.y_test, minlength=len(counts)) / full.n_test,
                                   counts / n, atol=0.05)
        for part in (full.y_train, full.y_val, full.y_test):
            assert set(np.unique(part)) == set(range(full.n_classes))
    else:
        assert full.y_test.shape == (full.n_test, 1)


def test_without_a_test_part_the_split_is_unchanged():
    """test_fraction=0 draws exactly the two-part split of before (no test arrays)."""
    from relu_study.data import split_indices, split_parts

    d0, d1 = load_dataset("moons", n_samples=200), load_dataset("moons", n_samples=200, test_fraction=0.0)
    np.testing.assert_array_equal(d0.X_train, d1.X_train)
    np.testing.assert_array_equal(d0.y_val, d1.y_val)
    assert d1.X_test is None and d1.n_test == 0 and "test=" not in repr(d1)
    y = np.arange(60) % 3
    a = split_indices(y, "classification", 0.25, np.random.default_rng(7))
    b = split_parts(y, "classification", 0.25, 0.0, np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert len(b[2]) == 0


@pytest.mark.parametrize("bad", [-0.1, 1.0, 0.8, "x"])
def test_a_bad_test_fraction_names_the_key(bad):
    with pytest.raises(DatasetError) as exc:
        load_dataset("moons", n_samples=100, test_fraction=bad)
    assert exc.value.key == "test_fraction"


def test_a_test_part_too_small_for_the_classes_names_test_fraction():
    with pytest.raises(DatasetError, match="test") as exc:
        load_dataset("iris", test_fraction=0.01)
    assert exc.value.key == "val_fraction" and "test_fraction=0.01" in str(exc.value)


# --------------------------------------------------------------------------- MNIST-1D

def test_mnist1d_is_the_package_dataset_and_leaves_the_global_generators_alone():
    """The loader returns the package's own samples (its default generation,
    seed 42) and restores NumPy's and Python's global generators, which the
    package seeds while it works."""
    import random

    from mnist1d.data import get_dataset_args, make_dataset

    np.random.seed(123)
    random.seed(123)
    before_np, before_py = np.random.get_state()[1].copy(), random.getstate()
    d = load_dataset("mnist1d", n_samples=200, val_fraction=0.2, standardize=False)
    np.testing.assert_array_equal(np.random.get_state()[1], before_np)
    assert random.getstate() == before_py
    args = get_dataset_args()
    args.num_samples, args.train_split = 200, 1.0
    ref = make_dataset(args)
    X = np.concatenate([d.X_train, d.X_val])
    y = np.concatenate([d.y_train, d.y_val])
    order = np.lexsort(X.T)
    ref_order = np.lexsort(ref["x"].T)
    np.testing.assert_allclose(X[order], ref["x"][ref_order])
    np.testing.assert_array_equal(y[order], ref["y"][ref_order])
    assert d.n_features == 40 and d.n_classes == 10 and d.feature_names[0] == "t0"
    np.random.seed(None)
