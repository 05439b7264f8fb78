"""The training loop: minibatches, probes, divergence detection, the metrics table.

All S networks of an :class:`~relu_study.engine.network.MLP` train together.  Each one
draws its own minibatch order from its own generator, so a network trained in a
group follows exactly the path it would follow alone.  After every epoch (and at
epoch 0, before any step) the loop measures losses and probes
(:mod:`relu_study.engine.probes`), one row per (network, epoch).

A network whose minibatch loss, validation loss or probe becomes NaN or infinite
is *diverged*: its parameters are restored to the start of that epoch and frozen,
it gets one last row at that epoch with ``diverged = True`` and NaN metrics, and
the other networks go on.

Table columns (see :data:`COLUMNS` for the one-line meanings):
``seed, epoch, diverged, train_loss, val_loss, val_acc | val_r2`` then, with
probes on, the per-network probe columns and ``<metric>_l<i>`` per hidden layer.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data import Dataset
from .losses import LOSSES
from .network import MLP, network_blocks, seed_generator
from .optim import Optimizer, learning_rate, make_optimizer
from .probes import LAYER_METRICS, NETWORK_METRICS, ProbeState, probe, target_spread

__all__ = ["COLUMNS", "TrainResult", "evaluate", "train"]

#: meaning of every column of the metrics table (per-layer ``<name>_l<i>`` columns
#: mean the same as ``<name>`` restricted to hidden layer i)
COLUMNS = {
    "seed": "seed of the network (its initialisation and minibatch order)",
    "epoch": "0 = at initialisation, e = after e epochs",
    "diverged": "True on the row of the epoch where the network's loss became non-finite (its last row)",
    "train_loss": "mean loss over the epoch's minibatches (epoch 0: loss on the whole training set)",
    "val_loss": "loss on the validation set (cross-entropy or mean squared error)",
    "val_acc": "validation accuracy (classification)",
    "val_r2": "validation coefficient of determination R^2 (regression)",
    "dead_frac": "fraction of hidden units with z <= 0 on every probe sample (never positive)",
    "zero_grad_frac": "fraction of hidden units with f'(z) = 0 on every probe sample (truly dead)",
    "exact_zero_frac": "fraction of (sample, unit) hidden activations exactly 0",
    "near_zero_frac": "fraction of hidden activations with |a| < near_zero_rel * std(a) (or exactly 0)",
    "active_rate": "mean over hidden units of the fraction of probe samples with z > 0",
    "grad_norm": "L2 norm of the weight gradient of the probe-set loss (all layers; per layer: incoming weights)",
    "revived": "number of hidden units never positive at an earlier probe and positive somewhere now",
    "grad_norm_out": "L2 norm of the output layer's weight gradient on the probe set",
    "output_spread": "std of the network output over the probe set / std of the targets",
    "collapsed": "output_spread < collapse_tol: the network is a constant function on the probe set",
}


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    table: pd.DataFrame
    net: MLP
    diverged_epoch: np.ndarray  # (S,), -1 where the network did not diverge
    probe_index: np.ndarray | None = None  # training-set rows used as the probe set
    info: dict = field(default_factory=dict)

    @property
    def status(self) -> list[str]:
        return ["diverged" if e >= 0 else "ok" for e in self.diverged_epoch]


def evaluate(net: MLP, X: np.ndarray, y: np.ndarray, task: str) -> dict[str, np.ndarray]:
    """Loss and task metric of every network on ``(X, y)``: ``(S,)`` arrays."""
    out = net.predict(X)
    loss = LOSSES[task](out, y)
    if task == "classification":
        return {"loss": loss, "acc": (out.argmax(axis=-1) == y).mean(axis=-1)}
    ss_res = ((out - y) ** 2).sum(axis=1)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    r2 = 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0)
    return {"loss": loss, "r2": r2.mean(axis=-1)}


_ALLOCATOR_TUNED = False


def retain_freed_memory() -> bool:
    """Stop glibc from handing freed array memory back to the OS (once per process).

    NumPy allocates every temporary with ``malloc``; glibc serves blocks above
    128 KiB (adaptively up to 32 MiB) with fresh ``mmap`` pages and trims the heap
    as soon as more than twice that is free.  The training loop and the probes
    free and re-allocate arrays of 0.1-10 MB many times a second, so each one
    costs page faults (kernel zeroing of every 4 KiB page), which measured
    25-30% of a probe and up to 4x a large-group cross-entropy on the reference
    machine.  Raising the mmap threshold to 32 MiB and the trim threshold to
    512 MiB keeps those pages in the process for reuse.  Only the process's
    resident size after a peak changes (it is kept, not returned); results do
    not.  No-op off glibc; set ``RELU_STUDY_MALLOPT=0`` to skip it.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return False
    _ALLOCATOR_TUNED = True
    if os.environ.get("RELU_STUDY_MALLOPT", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc only (musl has no tunable thresholds)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = mallopt(m_mmap_threshold, 32 << 20) == 1
    ok &= mallopt(m_trim_threshold, 512 << 20) == 1
    return bool(ok)


#: a network whose largest per-network matrix product in a training step has
#: fewer multiply-adds than this trains with one BLAS thread (:func:`blas_threads_for`)
SMALL_STEP_MACS = 1 << 23
_CONTROLLER = None


@contextmanager
def blas_threads_for(net: MLP, batch: int):
    """Run the block with one BLAS thread when ``net``'s products are small.

    A minibatch product of a small network (64 x 128 x 128 is 1 M multiply-adds)
    is no faster on two OpenBLAS threads than on one, and when the machine has
    anything else to run (a second job of a sweep, another process) OpenBLAS's
    spinning threads wait for each other and the same training run becomes
    10-100x slower (measured on the 2-core reference machine).  Results do not
    depend on the thread count (each thread computes whole output blocks).
    Large layers keep the process's setting; ``RELU_STUDY_BLAS_THREADS=keep``
    turns this off.  The limit is process-wide while the block runs.
    """
    global _CONTROLLER
    macs = max(batch * i * o for i, o in zip(net.sizes[:-1], net.sizes[1:]))
    if macs >= SMALL_STEP_MACS or os.environ.get("RELU_STUDY_BLAS_THREADS", "") == "keep":
        yield
        return
    try:
        if _CONTROLLER is None:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER = ThreadpoolController()
        limiter = _CONTROLLER.limit(limits=1, user_api="blas")
    except Exception:  # threadpoolctl could not inspect the libraries: leave them
        yield
        return
    with limiter:
        yield


def _check_positive_int(key, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{key} must be a positive integer, got {value!r}")


def train(net: MLP, data: Dataset, *, epochs: int = 30, batch_size: int = 32,
          optimizer: Optimizer | None = None, schedule: str = "constant", min_lr: float = 0.0,
          probes: bool = True, probe_max_samples: int | None = 1024, probe_seed: int = 0,
          near_zero_rel: float = 1e-3, collapse_tol: float = 1e-3, progress=None) -> TrainResult:
    """Train every network of ``net`` on ``data`` and return the metrics table.

    ``progress(epoch, row)`` is called after each epoch with that epoch's
    ``(S,)`` metric arrays (for progress bars and logs).

    Speed (see ``docs/performance.md``): the group takes one batched step per
    minibatch, in blocks of networks when it is large (every network computes
    exactly what it would alone); small networks train with one BLAS thread
    (:func:`blas_threads_for`); the first call tunes glibc's allocator
    (:func:`retain_freed_memory`).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    _check_positive_int("batch_size", batch_size)
    if probe_max_samples is not None:
        _check_positive_int("probe.max_samples", probe_max_samples)
    for key, v in (("probe.near_zero_rel", near_zero_rel), ("probe.collapse_tol", collapse_tol)):
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{key} must be a finite number >= 0, got {v!r}")
    learning_rate(schedule, 1.0, 0, 1)  # validates the name
    if data.n_features != net.sizes[0] or data.n_outputs != net.sizes[-1]:
        raise ValueError(f"network {net.sizes[0]}->{net.sizes[-1]} does not fit data with "
                         f"{data.n_features} features and {data.n_outputs} outputs")
    optimizer = optimizer or make_optimizer("sgd", 0.1)
    retain_freed_memory()
    task, loss_fn = data.task, LOSSES[data.task]
    dtype = net.dtype
    X, y = data.X_train.astype(dtype, copy=False), data.y_train
    X_val, y_val = data.X_val.astype(dtype, copy=False), data.y_val
    if task == "regression":
        y, y_val = y.astype(dtype, copy=False), y_val.astype(dtype, copy=False)
    n, S = len(X), net.n_networks
    orders = [seed_generator(s, "order") for s in net.seeds]  # = network_rngs(s)["order"]
    noise = [seed_generator(s, "noise") for s in net.seeds] if net.activation.stochastic else None

    probe_index = None
    if probes:
        probe_index = np.arange(n)
        if probe_max_samples is not None and n > probe_max_samples:
            sub = np.random.default_rng(probe_seed).choice(n, probe_max_samples, replace=False)
            probe_index = np.sort(sub)
        X_probe, y_probe = X[probe_index], y[probe_index]
        spread = target_spread(y_probe, task, data.n_outputs)
    state = ProbeState()

    n_batches = math.ceil(n / batch_size)
    total_steps = epochs * n_batches
    decay_mask = net.weight_mask()
    # a large group takes each step in blocks of networks whose activations stay
    # in the CPU caches (network_blocks); every network computes the same numbers
    blocks = network_blocks(S, min(batch_size, n), max(net.sizes[1:]))
    subnets = [net.select(b) for b in blocks]  # views: they see every update
    block_noise = [None if noise is None else noise[b] for b in blocks]
    blocks = blocks if len(blocks) > 1 else None
    active = np.ones(S, dtype=bool)
    diverged_epoch = np.full(S, -1)
    records: list[dict[str, np.ndarray]] = []
    keep_rows: list[np.ndarray] = []

    def measure(epoch, train_loss):
        val = evaluate(net, X_val, y_val, task)
        row = {"train_loss": train_loss, "val_loss": val["loss"]}
        row["val_acc" if task == "classification" else "val_r2"] = val["acc" if task == "classification" else "r2"]
        if probes:
            cols, _, _ = probe(net, X_probe, y_probe, task, near_zero_rel, collapse_tol, state, spread)
            row.update(cols)
        return row

    def record(epoch, row, newly):
        bad = newly | ~np.isfinite(row["train_loss"]) | ~np.isfinite(row["val_loss"])
        if probes:
            bad |= ~np.isfinite(row["grad_norm"])
        bad &= active | newly
        if bad.any():
            diverged_epoch[bad] = epoch
            for key, value in row.items():
                value = np.asarray(value, dtype=float if value.dtype != bool else object).copy()
                if value.dtype == object:
                    value[bad] = None
                else:
                    value[bad] = np.nan
                row[key] = value
        row = {"seed": np.asarray(net.seeds), "epoch": np.full(S, epoch),
               "diverged": bad.copy(), **row}
        records.append(row)
        keep_rows.append(active | bad)
        active[bad] = False
        return bad

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"), \
            blas_threads_for(net, min(batch_size, n)):
        init_loss = loss_fn(net.predict(X), y)
        bad = record(0, measure(0, init_loss), np.zeros(S, dtype=bool))
        if progress is not None:
            progress(0, records[-1])
        step = 0
        for epoch in range(1, epochs + 1):
            snapshot = [p.copy() for p in net.params()]
            order = np.stack([r.permutation(n) for r in orders])
            loss_sum = np.zeros(S)
            newly = np.zeros(S, dtype=bool)
            all_training = bool(active.all())  # no network frozen: unmasked steps
            for start in range(0, n, batch_size):
                idx = order[:, start:start + batch_size]
                XbT = np.take(X, idx, axis=0).transpose(0, 2, 1)  # (S, d, batch) view
                yb = np.take(y, idx, axis=0)
                if blocks is None:
                    out, cache = net.forward_t(XbT, train=True, noise_rngs=noise)
                    loss, dout = loss_fn(out, yb, grad=True)
                else:  # forward and backward block by block into whole-group arrays
                    loss, grads = np.empty(S), [np.empty_like(p) for p in net.params()]
                    for b, sub, sub_noise in zip(blocks, subnets, block_noise):
                        out, cache = sub.forward_t(XbT[b], train=True, noise_rngs=sub_noise)
                        loss[b], dout = loss_fn(out, yb[b], grad=True)
                        for g, g_b in zip(grads, sub.backward(cache, dout)):
                            g[b] = g_b
                finite = np.isfinite(loss)
                if not finite.all():
                    bad = ~finite & active & ~newly
                    if bad.any():
                        newly |= bad
                        all_training = False
                        for p, p0 in zip(net.params(), snapshot):
                            p[bad] = p0[bad]
                        optimizer.reset(bad)
                loss_sum += loss * idx.shape[1]
                if blocks is None:
                    grads = net.backward(cache, dout)
                lr = learning_rate(schedule, optimizer.lr, step, total_steps, min_lr)
                optimizer.step(net.params(), grads, lr, active=None if all_training else active & ~newly,
                               decay_mask=decay_mask)
                step += 1
            for p, p0 in zip(net.params(), snapshot):  # a step may have made params non-finite
                broken = ~np.isfinite(p).reshape(S, -1).all(axis=1) & active
                if broken.any():
                    newly |= broken
            if newly.any():
                for p, p0 in zip(net.params(), snapshot):
                    p[newly] = p0[newly]
            late = record(epoch, measure(epoch, loss_sum / n), newly) & ~newly
            if late.any():  # caught by the validation loss or a probe: restore those too
                for p, p0 in zip(net.params(), snapshot):
                    p[late] = p0[late]
                optimizer.reset(late)
            if progress is not None:
                progress(epoch, records[-1])

    table = _to_table(records, keep_rows, task)
    return TrainResult(table, net, diverged_epoch, probe_index,
                       {"n_train": n, "n_probe": None if probe_index is None else len(probe_index),
                        "n_batches": n_batches})


def _ordered_columns(columns, task) -> list[str]:
    head = ["seed", "epoch", "diverged", "train_loss", "val_loss",
            "val_acc" if task == "classification" else "val_r2"]
    rest = [c for c in (*LAYER_METRICS, *NETWORK_METRICS) if c in columns]
    layers = sorted({int(c.rsplit("_l", 1)[1]) for c in columns if c.rsplit("_l", 1)[-1].isdigit()
                     and c.rsplit("_l", 1)[0] in LAYER_METRICS})
    per_layer = [f"{m}_l{i}" for i in layers for m in LAYER_METRICS if f"{m}_l{i}" in columns]
    return head + rest + per_layer


def _to_table(records, keep_rows, task) -> pd.DataFrame:
    keep = np.concatenate(keep_rows)
    columns = {}
    for key in records[0]:
        values = np.concatenate([np.asarray(r[key]) for r in records])[keep]
        if key in ("seed", "epoch", "revived") or key.startswith("revived_l"):
            values = pd.array(values.astype(float), dtype="Int64") if values.dtype.kind == "f" \
                else values.astype(np.int64)
        elif key in ("diverged",):
            values = values.astype(bool)
        elif key == "collapsed":
            values = pd.array([None if v is None else bool(v) for v in values], dtype="boolean")
        else:
            values = values.astype(np.float64)
        columns[key] = values
    table = pd.DataFrame(columns)
    table = table[_ordered_columns(table.columns, task)]
    return table.sort_values(["seed", "epoch"], kind="stable").reset_index(drop=True)
