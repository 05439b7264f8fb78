"""Shared helpers: tiny hand-made datasets, finite-difference gradients, and a
local SLURM cluster for the SLURM tests."""

import os

import numpy as np
import pytest


def make_classification(n_train=40, n_val=20, n_features=2, n_classes=3, seed=0):
    """Gaussian blobs, one per class, built by hand (no loader involved)."""
    from relu_study.data import Dataset

    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2.0, size=(n_classes, n_features))
    n = n_train + n_val
    y = rng.integers(0, n_classes, size=n)
    X = centers[y] + rng.normal(0, 1.0, size=(n, n_features))
    return Dataset(
        name="tiny_cls", task="classification",
        X_train=X[:n_train], y_train=y[:n_train].astype(np.int64),
        X_val=X[n_train:], y_val=y[n_train:].astype(np.int64),
        n_classes=n_classes, feature_names=tuple(f"x{i}" for i in range(n_features)),
        target_name="label",
    )


def make_regression(n_train=40, n_val=20, n_features=2, n_targets=1, seed=0):
    """A smooth nonlinear target of Gaussian inputs, built by hand."""
    from relu_study.data import Dataset

    rng = np.random.default_rng(seed)
    n = n_train + n_val
    X = rng.normal(size=(n, n_features))
    A = rng.normal(size=(n_features, n_targets))
    y = np.sin(X @ A) + 0.1 * rng.normal(size=(n, n_targets))
    return Dataset(
        name="tiny_reg", task="regression",
        X_train=X[:n_train], y_train=y[:n_train], X_val=X[n_train:], y_val=y[n_train:],
        n_classes=None, feature_names=tuple(f"x{i}" for i in range(n_features)),
        target_name="y",
    )


def fd_gradients(net, loss_of_net, h=1e-6):
    """Central differences of ``loss_of_net(net) -> (S,)`` for every entry of every
    array of ``net.params()``.

    Returns ``(grads, max_cross)``: ``grads[i][s, ...]`` is d L_s / d p_i[s, ...],
    and ``max_cross`` the largest |d L_t / d p_i[s, ...]| over t != s (0 when the
    networks do not interact).
    """
    grads, cross = [], 0.0
    for p in net.params():
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + h
            up = loss_of_net(net)
            p[idx] = old - h
            down = loss_of_net(net)
            p[idx] = old
            d = (up - down) / (2 * h)
            g[idx] = d[idx[0]]
            others = np.delete(d, idx[0])
            if others.size:
                cross = max(cross, float(np.abs(others).max()))
        grads.append(g)
    return grads, cross


@pytest.fixture(scope="session")
def slurm_cluster():
    """A real single-node SLURM cluster (``tests/slurm_cluster.py``) for the whole
    session, stopped and removed at the end.  Skips where SLURM is not installed
    or the tests do not run as root, unless ``RELU_STUDY_REQUIRE_SLURM=1`` (CI)
    makes that a failure."""
    from slurm_cluster import LocalSlurm, missing_requirements

    why = missing_requirements()
    if why:
        if os.environ.get("RELU_STUDY_REQUIRE_SLURM") == "1":
            pytest.fail(f"RELU_STUDY_REQUIRE_SLURM=1, but {why}", pytrace=False)
        pytest.skip(why)
    cluster = LocalSlurm().start()
    yield cluster
    cluster.stop()
