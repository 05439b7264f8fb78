"""The training loop: minibatches, probes, divergence detection, the metrics table.

All S networks of an :class:`~relu_study.engine.network.MLP` train together.  Each one
draws its own minibatch order from its own generator, so a network trained in a
group follows exactly the path it would follow alone.  After every epoch (and at
epoch 0, before any step) the loop measures the losses, and on the probe
schedule the probes (:mod:`relu_study.engine.probes`): one row per (network,
epoch), with NaN probe columns on epochs that were not probed.

A network whose minibatch loss, parameters, validation loss or probe become NaN
or infinite is *diverged*: its parameters are restored to the start of that
epoch and frozen, it gets one last row at that epoch with ``diverged = True``
and NaN metrics, and the other networks go on (:class:`Divergence`).

The pieces, in the order :func:`train` uses them: :class:`GroupStep` (one
minibatch step of every network), :func:`run_epoch` (one pass over the data),
:class:`Divergence` (freezing diverged networks), :func:`measure` (losses and
probes after an epoch) and :class:`MetricsTable` (the rows and the table).

Table columns (see :data:`COLUMNS` for the one-line meanings):
``seed, epoch, diverged, train_loss, val_loss, val_acc | val_r2`` (and
``test_loss, test_acc | test_r2`` with a held-out test part), the epoch
statistics (``epoch_*``, every epoch, :mod:`relu_study.engine.epoch_stats`;
``epoch_stats=False`` leaves them out) then, with probes on, the probe columns
over all hidden units, the per-network ones, and ``<metric>_l<i>`` per hidden
layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from ..data import Dataset
from .losses import LOSSES
from .metrics import METRICS
from .network import MLP, Workspaces, augment, network_blocks, seed_generator
from .optim import Optimizer, learning_rate, make_optimizer
from .epoch_stats import EPOCH_METRICS, EpochStats
from .probes import INT_METRICS, LAYER_METRICS, NETWORK_METRICS, UNIT_COLUMNS, ProbeOptions, Prober

__all__ = ["COLUMNS", "UNIT_COLUMN_MEANINGS", "Divergence", "GroupStep", "MetricsTable", "TrainResult",
           "evaluate", "measure", "run_epoch", "train"]

#: meaning of every column of the metrics table, each with its formula (per-layer
#: ``<name>_l<i>`` columns mean the same as ``<name>`` restricted to hidden layer
#: i), generated from the metric registry (:data:`relu_study.engine.metrics.METRICS`).
#: P is the probe set, z a unit's pre-activation, a = f(z) its activation,
#: L the mean loss over P, l_i sample i's loss.
COLUMNS = {name: m.meaning for name, m in METRICS.items()}

#: meaning of every column of the per-unit table (``TrainResult.units``, ``units.parquet``)
UNIT_COLUMN_MEANINGS = {
    "seed": "seed of the network",
    "epoch": "probe epoch",
    "layer": "hidden layer, 1-based",
    "unit": "unit within its layer, 0-based",
    "never_positive": "z <= 0 on every sample of P",
    "max_gain": "max over P of |f'(z)|",
    "mean_abs": "mean over P of |a|",
    "contribution": "first-order contribution c (see low_contribution_frac) as a share of its layer's total "
                    "(0 when the total is 0)",
    "ablation": "exact mean-ablation effect as a share of its layer's total (probe.ablation, last epoch; "
                "else NaN)",
}


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    table: pd.DataFrame
    net: MLP
    diverged_epoch: np.ndarray  # (S,), -1 where the network did not diverge
    probe_index: np.ndarray | None = None  # training-set rows used as the probe set
    info: dict = field(default_factory=dict)
    units: pd.DataFrame | None = None  # per-unit probe table (probe units=True)

    @property
    def status(self) -> list[str]:
        return ["diverged" if e >= 0 else "ok" for e in self.diverged_epoch]


def _scores(out: np.ndarray, y: np.ndarray, task: str) -> dict[str, np.ndarray]:
    loss = LOSSES[task](out, y)
    if task == "classification":
        return {"loss": loss, "acc": (out.argmax(axis=-1) == y).mean(axis=-1)}
    ss_res = ((out - y) ** 2).sum(axis=1)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    r2 = 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0)
    return {"loss": loss, "r2": r2.mean(axis=-1)}


def evaluate(net: MLP, X: np.ndarray, y: np.ndarray, task: str) -> dict[str, np.ndarray]:
    """Loss and task metric of every network on ``(X, y)``: ``(S,)`` arrays."""
    return _scores(net.predict(X), y, task)


# ------------------------------------------------------------------ one step
class GroupStep:
    """One minibatch step of every network: forward, loss, backward, update.

    A large group steps in blocks of networks whose arrays stay in the CPU
    caches (:func:`~relu_study.engine.network.network_blocks`); each block
    writes into work arrays allocated once, and the gradients of the whole
    group into one ``(S, P)`` array that the optimiser applies to
    :attr:`MLP.flat` in a few operations.  Every network computes exactly what
    it would compute alone.
    """

    def __init__(self, net: MLP, x_aug: np.ndarray, y: np.ndarray, task: str, optimizer: Optimizer,
                 batch_size: int, noise=None, stats: EpochStats | None = None):
        self.net, self.x_aug, self.y, self.loss_fn, self.optimizer = net, x_aug, y, LOSSES[task], optimizer
        S = net.n_networks
        blocks = network_blocks(S, min(batch_size, len(x_aug)), max(net.sizes[1:]))
        subnets = [net] if len(blocks) == 1 else [net.select(b) for b in blocks]
        self.grads = np.empty_like(net.flat)
        self.decay_mask = [net.flat_weight_mask()]
        self.loss = np.empty(S)
        self.blocks = [(b, sub, self.grads[b], None if noise is None else noise[b],
                        stats.hooks(b) if stats is not None else (None, None)) for b, sub in zip(blocks, subnets)]
        self.stats = stats
        self.work = Workspaces()

    def gradients(self, idx: np.ndarray) -> np.ndarray:
        """Loss of every network on its minibatch (rows ``idx[s]`` of the
        training set), and its gradients in :attr:`grads`; returns the ``(S,)``
        losses."""
        n = idx.shape[1]
        for block, sub, grads, noise, (on_pre, on_layer) in self.blocks:
            ws = self.work.get(sub, sub.n_networks, n, True)
            batch = np.take(self.x_aug, idx[block], axis=0, out=ws.batch_array(), mode="clip")
            out, cache = sub.forward_aug(batch, ws, train=True, noise_rngs=noise, keep_pre=False,
                                         on_pre=on_pre, on_layer=on_layer)
            self.loss[block], dout = self.loss_fn(out, np.take(self.y, idx[block], axis=0), grad=True)
            sub.backward(cache, dout, out=grads)
        if self.stats is not None:
            self.stats.samples(n)
        return self.loss

    def update(self, lr: float, active: np.ndarray | None) -> None:
        """The optimiser's step on every network (``active``: only those)."""
        self.optimizer.step([self.net.flat], [self.grads], lr, active=active, decay_mask=self.decay_mask)


# ------------------------------------------------------ divergence handling
class Divergence:
    """Which networks still train, and the freezing of those that diverge.

    A network diverges in an epoch when a minibatch loss, its parameters after
    the epoch, its validation loss or (on probed epochs) its probe gradient
    norm is not finite.  It is restored to its parameters at the start of that
    epoch, its optimiser state is reset, and it is frozen: no more updates, no
    more rows after that epoch's (``diverged = True``).  The other networks are
    untouched.
    """

    def __init__(self, net: MLP, optimizer: Optimizer):
        self.net, self.optimizer = net, optimizer
        S = net.n_networks
        self.active = np.ones(S, dtype=bool)
        self.newly = np.zeros(S, dtype=bool)  # diverged during the current epoch
        self.epoch = np.full(S, -1)
        self.snapshot = None

    def start_epoch(self) -> None:
        self.snapshot = self.net.flat.copy()
        self.newly[:] = False

    def updating(self) -> np.ndarray | None:
        """Networks the next step updates; None for all (the fast path)."""
        if self.active.all() and not self.newly.any():
            return None
        return self.active & ~self.newly

    def check_step(self, loss: np.ndarray) -> None:
        """Freeze networks whose minibatch loss is not finite (before the update)."""
        if np.isfinite(loss).all():
            return
        bad = ~np.isfinite(loss) & self.active & ~self.newly
        if bad.any():
            self.newly |= bad
            self._restore(bad)

    def end_epoch(self) -> None:
        """Freeze networks whose parameters a step made non-finite."""
        self.newly |= ~np.isfinite(self.net.flat).all(axis=1) & self.active
        if self.newly.any():
            self._restore(self.newly)

    def judge(self, epoch: int, row: dict, probed: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(bad, keep)`` for an epoch's row: the networks diverged at this epoch
        (caught during it, or now by the validation loss or the probe) and the
        networks that get a row.  Networks caught now are restored too."""
        bad = self.newly | ~np.isfinite(row["train_loss"]) | ~np.isfinite(row["val_loss"])
        if probed:
            bad |= ~np.isfinite(row["grad_norm"])
        bad &= self.active | self.newly
        keep = self.active | bad
        late = bad & ~self.newly
        if late.any() and self.snapshot is not None:
            self._restore(late)
        self.epoch[bad] = epoch
        self.active &= ~bad
        return bad, keep

    def _restore(self, mask: np.ndarray) -> None:
        self.net.flat[mask] = self.snapshot[mask]
        self.optimizer.reset(mask)


# ------------------------------------------------------------- one epoch
def run_epoch(step: GroupStep, guard: Divergence, order: np.ndarray, batch_size: int, lr_at) -> np.ndarray:
    """One pass over the training set in each network's ``order`` (S, n):
    minibatch steps, divergence checks; returns the sample-weighted mean
    minibatch loss of every network.  ``lr_at()`` gives the next step's rate."""
    n = order.shape[1]
    loss_sum = np.zeros(order.shape[0])
    for start in range(0, n, batch_size):
        idx = order[:, start:start + batch_size]
        loss = step.gradients(idx)
        guard.check_step(loss)
        loss_sum += loss * idx.shape[1]
        step.update(lr_at(), guard.updating())
    return loss_sum / n


# ----------------------------------------------------------- measurement
def measure(net: MLP, train_loss: np.ndarray, val: tuple, task: str, work: Workspaces,
            prober: Prober | None = None, epoch: int = 0, ablation: bool = False,
            test: tuple | None = None, start: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """An epoch's row: ``train_loss``, the validation loss and metric on
    ``val = (augment(X_val), y_val)``, the test loss and metric on ``test``
    (same form) when given, and the probe columns when ``prober`` is given (a
    probed epoch; ``start``: the parameters at the start of the epoch)."""
    scores = _scores(net.predict_aug(val[0], work), val[1], task)
    metric = "acc" if task == "classification" else "r2"
    row = {"train_loss": train_loss, "val_loss": scores["loss"], f"val_{metric}": scores[metric]}
    if test is not None:
        scores = _scores(net.predict_aug(test[0], work), test[1], task)
        row.update({"test_loss": scores["loss"], f"test_{metric}": scores[metric]})
    if prober is not None:
        row.update(prober(net, epoch, ablation, start))
    return row


# -------------------------------------------------------------- the table
def _missing(key: str, size: int) -> np.ndarray:
    if key == "collapsed":
        return np.full(size, None, dtype=object)
    if key in ("seed", "epoch"):
        return np.zeros(size, dtype=np.int64)
    if key == "diverged":
        return np.zeros(size, dtype=bool)
    return np.full(size, np.nan)


class MetricsTable:
    """The rows of a run, one ``(S,)`` array per column per epoch, and the table.

    A diverged network's row has NaN metrics (``<NA>`` in integer and boolean
    columns); columns an epoch did not measure (probes off the schedule) are
    NaN too.
    """

    def __init__(self, seeds, task: str):
        self.seeds, self.task = np.asarray(seeds), task
        self.rows: list[dict] = []
        self.keep: list[np.ndarray] = []
        self.unit_rows: list[dict] = []

    def add(self, epoch: int, row: dict, bad: np.ndarray, keep: np.ndarray) -> dict:
        """Record ``row`` (metric -> (S,) array) for ``epoch``; ``bad`` networks
        diverged here (their values become NaN), only ``keep`` ones get a row.
        Returns the recorded row."""
        if bad.any():
            for key, value in row.items():
                value = np.asarray(value)
                value = value.astype(object if value.dtype == bool else float)
                value[bad] = None if value.dtype == object else np.nan
                row[key] = value
        S = len(self.seeds)
        row = {"seed": self.seeds, "epoch": np.full(S, epoch), "diverged": bad.copy(), **row}
        self.rows.append(row)
        self.keep.append(keep.copy())
        return row

    def add_units(self, epoch: int, units: dict, networks: np.ndarray) -> None:
        """Per-unit arrays of a probe (name -> one (S, h) array per layer), for ``networks``."""
        idx = np.flatnonzero(networks)
        for l, never_positive in enumerate(units["never_positive"]):
            h = never_positive.shape[1]
            part = {"seed": np.repeat(self.seeds[idx], h), "epoch": np.full(len(idx) * h, epoch),
                    "layer": np.full(len(idx) * h, l + 1), "unit": np.tile(np.arange(h), len(idx))}
            for name in UNIT_COLUMNS[4:]:
                part[name] = units[name][l][idx].reshape(-1)
            self.unit_rows.append(part)

    def frame(self) -> pd.DataFrame:
        keep = np.concatenate(self.keep)
        keys = list(dict.fromkeys(k for row in self.rows for k in row))
        S = len(self.seeds)

        def values(key):  # the epochs' arrays end to end; NaN (None) where not measured
            out = _missing(key, S * len(self.rows))
            for i, row in enumerate(self.rows):
                if key in row:
                    out[i * S:(i + 1) * S] = row[key]
            return out[keep]

        table = pd.DataFrame({key: _column(key, values(key)) for key in _ordered_columns(keys, self.task)})
        if S > 1:  # rows were recorded epoch by epoch
            table = table.sort_values(["seed", "epoch"], kind="stable")
        return table.reset_index(drop=True)

    def units_frame(self) -> pd.DataFrame:
        if not self.unit_rows:
            return pd.DataFrame({c: [] for c in UNIT_COLUMNS})
        table = pd.DataFrame({c: np.concatenate([p[c] for p in self.unit_rows]) for c in UNIT_COLUMNS})
        table["never_positive"] = table["never_positive"].astype(bool)
        for c in ("seed", "epoch", "layer", "unit"):
            table[c] = table[c].astype(np.int64)
        return table.sort_values(["seed", "epoch", "layer", "unit"], kind="stable").reset_index(drop=True)


def _base_metric(key: str) -> str:
    name, _, layer = key.rpartition("_l")
    return name if layer.isdigit() and (name in LAYER_METRICS or name in EPOCH_METRICS) else key


def _column(key: str, values: np.ndarray):
    base = _base_metric(key)
    if key in ("seed", "epoch"):
        return values.astype(np.int64)
    if key == "diverged":
        return values.astype(bool)
    if base in INT_METRICS:  # counts, <NA> where not measured
        values = values.astype(float)
        missing = np.isnan(values)
        return pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing)
    if key == "collapsed":  # True/False, <NA> where not measured
        missing = np.array([v is None for v in values], dtype=bool)
        return pd.arrays.BooleanArray(np.where(missing, False, values).astype(bool), missing)
    return values.astype(np.float64)


def _ordered_columns(columns, task) -> list[str]:
    metric = "acc" if task == "classification" else "r2"
    head = ["seed", "epoch", "diverged", "train_loss", "val_loss", f"val_{metric}"]
    head += [c for c in ("test_loss", f"test_{metric}") if c in columns]
    rest = [c for c in (*EPOCH_METRICS, *LAYER_METRICS, *NETWORK_METRICS) if c in columns]
    layers = sorted({int(c.rpartition("_l")[2]) for c in columns if _base_metric(c) != c})
    per_layer = [f"{m}_l{i}" for i in layers for m in (*LAYER_METRICS, *EPOCH_METRICS) if f"{m}_l{i}" in columns]
    known = set(head) | set(rest) | set(per_layer)
    extra = [c for c in columns if c not in known]  # the near-zero curve (probe.near_zero_curve)
    return head + rest + extra + per_layer


# ------------------------------------------------------------------ train
_UNSET = object()


def _probe_options(probes, max_samples, seed, near_zero_rel, collapse_tol) -> ProbeOptions | None:
    """The run's probe settings: ``probes`` (False, True or a :class:`ProbeOptions`)
    with the keyword shorthands applied."""
    if probes is False or probes is None:
        return None
    options = probes if isinstance(probes, ProbeOptions) else ProbeOptions()
    given = {k: v for k, v in (("max_samples", max_samples), ("seed", seed), ("near_zero_rel", near_zero_rel),
                               ("collapse_tol", collapse_tol)) if v is not _UNSET}
    if given:
        options = ProbeOptions(**{**{f.name: getattr(options, f.name) for f in fields(options)}, **given})
    return options


def _check_arguments(net: MLP, data: Dataset, epochs, batch_size, schedule) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    learning_rate(schedule, 1.0, 0, 1)  # validates the name
    if data.n_features != net.sizes[0] or data.n_outputs != net.sizes[-1]:
        raise ValueError(f"network {net.sizes[0]}->{net.sizes[-1]} does not fit data with "
                         f"{data.n_features} features and {data.n_outputs} outputs")


def _probe_set(n: int, options: ProbeOptions) -> np.ndarray:
    """Training-set rows of the probe set: all, or a seeded sorted subsample."""
    if options.max_samples is None or n <= options.max_samples:
        return np.arange(n)
    return np.sort(np.random.default_rng(options.seed).choice(n, options.max_samples, replace=False))


def train(net: MLP, data: Dataset, *, epochs: int = 30, batch_size: int = 32,
          optimizer: Optimizer | None = None, schedule: str = "constant", min_lr: float = 0.0,
          probes: bool | ProbeOptions = True, probe_max_samples=_UNSET, probe_seed=_UNSET,
          near_zero_rel=_UNSET, collapse_tol=_UNSET, progress=None, epoch_stats: bool = True,
          dormant_tau: float | None = None) -> TrainResult:
    """Train every network of ``net`` on ``data`` and return the metrics table.

    With a held-out test part in ``data`` (``X_test``), its loss and metric are
    recorded at epoch 0, on probed epochs and at the last epoch; they never
    decide anything here (divergence is judged on the training and validation
    losses).

    ``probes``: True (the default :class:`ProbeOptions`), False, or a
    :class:`ProbeOptions`; ``probe_max_samples``, ``probe_seed``,
    ``near_zero_rel`` and ``collapse_tol`` are shorthands for its fields.
    ``progress(epoch, row)`` is called after each epoch with that epoch's
    ``(S,)`` metric arrays (for progress bars and logs).

    ``epoch_stats``: record the epoch statistics (``epoch_*`` columns, every
    epoch, :mod:`relu_study.engine.epoch_stats`), counted on the training passes
    themselves; their dormant threshold is ``dormant_tau``, by default the
    probes' (:attr:`ProbeOptions.dormant_tau`).  False leaves the table as
    without them, bit for bit.

    Nothing here changes process-wide state: BLAS threads and the allocator are
    the caller's (see :mod:`relu_study.engine.process` for the entry points'
    policy).  Speed: ``docs/performance.md``.
    """
    _check_arguments(net, data, epochs, batch_size, schedule)
    options = _probe_options(probes, probe_max_samples, probe_seed, near_zero_rel, collapse_tol)
    optimizer = optimizer or make_optimizer("sgd", 0.1)
    task, dtype = data.task, net.dtype
    y, y_val = data.y_train, data.y_val
    if task == "regression":
        y, y_val = y.astype(dtype, copy=False), y_val.astype(dtype, copy=False)
    x_aug, val = augment(data.X_train, dtype), (augment(data.X_val, dtype), y_val)
    test = None
    if data.X_test is not None:
        y_test = data.y_test.astype(dtype, copy=False) if task == "regression" else data.y_test
        test = (augment(data.X_test, dtype), y_test)
    n = len(x_aug)
    orders = [seed_generator(s, "order") for s in net.seeds]  # = network_rngs(s)["order"]
    noise = [seed_generator(s, "noise") for s in net.seeds] if net.activation.stochastic else None

    probe_index, prober, probed = None, None, set()
    if options is not None:
        probe_index = _probe_set(n, options)
        prober = Prober(data.X_train[probe_index], y[probe_index], task, data.n_outputs, options)
        probed = set(options.schedule(epochs))

    stats = None
    if epoch_stats:
        tau = dormant_tau if dormant_tau is not None else (options or ProbeOptions()).dormant_tau
        stats = EpochStats(net, batch_size, tau)
    step = GroupStep(net, x_aug, y, task, optimizer, batch_size, noise, stats)
    guard = Divergence(net, optimizer)
    table = MetricsTable(net.seeds, task)
    work = Workspaces()
    n_batches = math.ceil(n / batch_size)
    steps = iter(range(epochs * n_batches))

    def lr_at():
        return learning_rate(schedule, optimizer.lr, next(steps), epochs * n_batches, min_lr)

    def finish_epoch(epoch, train_loss):
        on_schedule = epoch in probed
        tested = test if (on_schedule or epoch in (0, epochs)) else None
        row = measure(net, train_loss, val, task, work, prober if on_schedule else None, epoch,
                      ablation=on_schedule and options.ablation and epoch == epochs, test=tested,
                      start=guard.snapshot)
        if stats is not None:
            row.update(stats.columns())
        bad, keep = guard.judge(epoch, row, on_schedule)
        row = table.add(epoch, row, bad, keep)
        if on_schedule and options.units:
            table.add_units(epoch, prober.state.units, keep & ~bad)
        if progress is not None:
            progress(epoch, row)

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        if stats is not None:
            stats.samples(n)
        if stats is not None and stats.derivatives_at_epoch_zero:  # its own arrays, freed after the pass
            out0 = net.predict_aug(x_aug, Workspaces(), stats.hooks, derivatives=True)
        else:
            out0 = net.predict_aug(x_aug, work, None if stats is None else stats.hooks)
        finish_epoch(0, LOSSES[task](out0, y))
        for epoch in range(1, epochs + 1):
            guard.start_epoch()
            order = np.stack([r.permutation(n) for r in orders])
            train_loss = run_epoch(step, guard, order, batch_size, lr_at)
            guard.end_epoch()
            finish_epoch(epoch, train_loss)

    return TrainResult(table.frame(), net, guard.epoch, probe_index,
                       {"n_train": n, "n_probe": None if probe_index is None else len(probe_index),
                        "n_batches": n_batches, "probe_epochs": sorted(probed)},
                       units=table.units_frame() if options is not None and options.units else None)
