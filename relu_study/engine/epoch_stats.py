"""Epoch statistics: unit health accumulated from the training passes themselves.

The exact probe (:mod:`relu_study.engine.probes`) is a forward and a backward
pass over the probe set, so it runs on a schedule (epoch 0 and the last by
default).  Yet every epoch's training steps already compute every
pre-activation of every training sample once.  :class:`EpochStats` counts on
those passes, at every epoch, for every network:

=============================  ================================================
``epoch_never_positive_frac``  fraction of hidden units with ``z <= 0`` on every
                               training sample the epoch's minibatches passed
                               forward
``epoch_dormant_frac``         fraction of units whose score ``m_u / mean_v m_v``
                               is at most ``dormant_tau``, ``m_u`` the epoch's
                               running mean of ``|a_u|`` (the score of
                               ``dormant_frac``)
``epoch_exact_zero_frac``      fraction of the epoch's (sample, unit)
                               activations exactly 0
``epoch_active_rate``          mean over units of the fraction of the epoch's
                               samples with ``z > 0``
=============================  ================================================

each over all hidden units (fractions weighted by layer width) and as
``<name>_l<i>`` per hidden layer.  They describe the network *as it moved
through the epoch*: minibatch ``k`` is seen by the parameters after ``k - 1``
steps, so a unit positive on one early minibatch and dead from then on counts
as positive.  At epoch 0 there is no step: the statistics are those of the
initial network on the whole training set (the pass that gives epoch 0's
``train_loss``), the exact probe's quantities on the training set instead of
the probe set.

How they relate to the exact probe at the end of epoch e (the parameters after
its last step, on the probe set P): a unit never positive during the epoch and
dead at its end is counted by both; a unit that died during the epoch is
counted by ``dead_frac`` but not ``epoch_never_positive_frac``; a unit revived
by the epoch's last steps, the other way round.  So ``epoch_never_positive_frac
<= dead_frac`` whenever no unit revives in the epoch's last steps and P covers
the training set.  RReLU's training passes use its drawn slopes (the
probe the evaluation slope).

Cost: the training step's forward pass calls the hooks of :meth:`EpochStats.hooks`
with Z (before the activation overwrites it) and with A and f'(Z), per hidden
layer and block of networks, while the arrays are in the CPU caches.  Each
sum over the minibatch's samples is one matrix-vector product per network
with a vector of ones, added into per-unit sums (float64).  For ReLU
(``Activation.gate``: f'(z) is exactly ``1[z > 0]`` and a is 0 exactly where
z <= 0) on feature-major layers (width <= 256) the workspace keeps A, its row
of ones and f'(Z) as the rows of one array (``Workspace.stacked``), so one
product per layer per step gives both the |a| sums and the positive counts
(the zeros are the non-positives); epoch 0's pass computes f'(Z) too for
that.  Wide (sample-major) ReLU layers take two products, other activations
add a comparison each for the positives and the zeros and an ``abs``.  An
accumulator per (unit, sample position), added to elementwise, was tried
first: for a group it is as large as the group's activations and streams
through memory every step (+25-30% on the seed-group benchmark).  Each
network's product has the same shape alone and in any group, so its numbers
are the same bits.  The epoch's columns are computed for all layers at once
(a deep group has many).  What remains for tiny layers (width 2: 256
products of 5 x 32 per layer and step, one BLAS call each) is the per-call
cost; figures: ``docs/performance.md``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EPOCH_METRICS", "EpochStats"]

#: the columns, over all hidden units and as ``<name>_l<i>``
EPOCH_METRICS = ("epoch_never_positive_frac", "epoch_dormant_frac", "epoch_exact_zero_frac", "epoch_active_rate")


class EpochStats:
    """The epoch statistics of the S networks of ``net``, for minibatches of at
    most ``batch_size`` samples; ``dormant_tau`` is the dormant threshold
    (``probe.dormant_tau``).

    Use: :meth:`hooks` gives the ``(on_pre, on_layer)`` pair of
    :meth:`MLP.forward_aug <relu_study.engine.network.MLP.forward_aug>` for a
    block of networks; every pass between two :meth:`columns` calls counts.
    A pass with more samples than ``batch_size`` (epoch 0's pass over the
    training set) is summed over its samples at once instead of accumulated.
    """

    def __init__(self, net, batch_size: int, dormant_tau: float):
        self.widths, self.tau = list(net.widths), float(dormant_tau)
        self.gate = bool(getattr(net.activation, "gate", False)) and net.slopes is None
        #: epoch 0's pass computes f'(Z) too, into stacked rows (one product per layer instead of a
        #: comparison and two)
        self.derivatives_at_epoch_zero = self.gate and net.feature_major
        S, self.dtype = net.n_networks, net.dtype
        w = np.asarray(self.widths, dtype=np.intp)
        #: per-unit sums over the epoch's samples, one (S, units) array per kind (columns layer by layer)
        #: and (S, h) views per layer: count of z > 0, sum of |a|, count of a == 0; ``stacked``: the
        #: same sums from a workspace's stacked rows [A, 1, f'(Z)] (``Workspace.stacked``), (S, 2h + 1)
        self._flat = {k: np.zeros((S, int(w.sum()))) for k in ("pos", "abs", "zero")}
        self._flat["stacked"] = np.zeros((S, int((2 * w + 1).sum())))
        self._starts = np.concatenate([[0], np.cumsum(w)[:-1]]).astype(np.intp)
        starts2 = np.concatenate([[0], np.cumsum(2 * w + 1)[:-1]]).astype(np.intp)
        #: columns of ``stacked`` holding the |a| sums and the positive counts, unit by unit
        self._a_rows = np.concatenate([s + np.arange(h) for s, h in zip(starts2, w)] or [[]]).astype(np.intp)
        self._d_rows = self._a_rows + np.repeat(w, w) + 1
        self.sums = {k: [a[:, s:s + h] for s, h in zip(self._starts, w)] for k, a in self._flat.items()
                     if k != "stacked"}
        self.sums["stacked"] = [self._flat["stacked"][:, s:s + 2 * h + 1] for s, h in zip(starts2, w)]
        self.n = 0
        self._scratch, self._ones = {}, {}

    # ------------------------------------------------------------ the hooks
    def hooks(self, block: slice):
        """``(on_pre, on_layer)`` for a pass of the networks ``block`` (a slice of
        the group); both take (S_block, h, n) views.  The per-layer targets are
        views made once here: the hooks run per layer per step, so each line
        of Python in them counts (the seed groups' layers are tiny)."""
        gate, sums = self.gate, self._sums
        pos, abs_, zero, stacked = ([t[block] for t in self.sums[k]] for k in ("pos", "abs", "zero", "stacked"))

        def add(target, x):
            np.add(target, sums(x), out=target)

        def on_pre(l, z):
            add(pos[l], np.greater(z, 0, out=self._floats(l, block, z)))

        def on_layer(l, z, a, d):
            if gate:
                full = a.base
                if d is not None and full is d.base and full is not None and full.shape[1] == 2 * a.shape[1] + 1:
                    add(stacked[l], full)  # rows [A, 1, f'(Z)] (``Workspace.stacked``): both sums in one product
                    return
                if d is not None:
                    add(pos[l], d)  # f'(z) = 1[z > 0]
                else:  # a pass without derivatives: a > 0 exactly where z > 0
                    add(pos[l], np.greater(a, 0, out=self._floats(l, block, a)))
                add(abs_[l], a)  # a >= 0 (or -0.0)
            else:
                add(zero[l], np.equal(a, 0, out=self._floats(l, block, a)))
                add(abs_[l], np.abs(a, out=self._floats(l, block, a)))
        return (None if gate else on_pre), on_layer

    def samples(self, n: int) -> None:
        """Count ``n`` more samples seen by every network (once per pass of the group)."""
        self.n += int(n)

    def _floats(self, l, block, x):
        key = (l, block.start, x.shape)
        buf = self._scratch.get(key)
        if buf is None:
            buf = self._scratch[key] = np.empty(x.shape, x.dtype)
        return buf

    def _sums(self, x: np.ndarray) -> np.ndarray:
        """The per-unit sums over the samples of ``x`` (S_block, h, m): one
        matrix-vector product per network with a vector of ones, on the array
        while it is in the CPU caches (the same product alone and in a group)."""
        m = x.shape[2]
        ones = self._ones.get((m, x.dtype))
        if ones is None:
            ones = self._ones[(m, x.dtype)] = np.ones(m, x.dtype)
        if x.strides[2] == x.itemsize or m == 1:
            return np.matmul(x, ones)
        return np.matmul(ones, x.transpose(0, 2, 1))  # a sample-major array seen as (S, h, m): ones @ (S, m, h)

    # ----------------------------------------------------------- the columns
    def columns(self) -> dict[str, np.ndarray]:
        """The epoch's columns (``(S,)`` arrays) from every pass since the last
        call, and the accumulators reset for the next epoch.  All layers at
        once (a deep group has many): per-unit arrays ``(S, units)`` and
        per-layer sums by ``reduceat``; the counts are exact in any order and
        each layer's mean |a| is its own ``mean``, as for one layer."""
        if not self.widths:  # no hidden unit
            self.n = 0
            return dict.fromkeys(EPOCH_METRICS, 0.0)
        n, flat, starts = max(self.n, 1), self._flat, self._starts
        w = np.asarray(self.widths, dtype=float)
        stacked = flat["stacked"]
        pos = flat["pos"] + np.take(stacked, self._d_rows, axis=1)
        mean_abs = (flat["abs"] + np.take(stacked, self._a_rows, axis=1)) / n
        pos_sums = np.add.reduceat(pos, starts, axis=1)  # (S, L), integers
        n_zero = n * w - pos_sums if self.gate else np.add.reduceat(flat["zero"], starts, axis=1)
        thresholds = np.concatenate(
            [np.repeat(self.tau * mean_abs[:, s:s + h].mean(axis=1, keepdims=True), h, axis=1)
             for s, h in zip(starts, self.widths)], axis=1)
        counts = np.add.reduceat(np.stack([pos == 0, mean_abs <= thresholds]), starts, axis=2, dtype=np.intp)
        per_layer = {  # (L, S) each
            "epoch_never_positive_frac": (counts[0] / w).T,
            "epoch_dormant_frac": (counts[1] / w).T,
            "epoch_exact_zero_frac": (n_zero / (n * w)).T,
            "epoch_active_rate": (pos_sums / (n * w)).T,
        }
        for a in flat.values():
            a[...] = 0
        self.n = 0
        units = max(int(w.sum()), 1)
        cols = {}
        for name, v in per_layer.items():
            total = 0.0
            for l, h in enumerate(self.widths):  # layer by layer, the order of one layer's sum
                total = total + v[l] * h
            cols[name] = total / units
        for name, v in per_layer.items():
            for l in range(len(self.widths)):
                cols[f"{name}_l{l + 1}"] = v[l]
        return {**{name: cols[name] for name in EPOCH_METRICS},
                **{f"{name}_l{l + 1}": cols[f"{name}_l{l + 1}"] for l in range(len(self.widths))
                   for name in EPOCH_METRICS}}
