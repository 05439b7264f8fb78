"""Probes of hidden units: the quantities of the design notes, per network.

What each column means is the metric registry's
(:data:`relu_study.engine.metrics.METRICS`, entries of source ``"probe"``):
:data:`LAYER_METRICS`, :data:`NETWORK_METRICS` and :data:`INT_METRICS` are read
from it, so a new probe column is its registry entry, its computation in
:meth:`Prober._columns` and its test.  The table below says how each is computed.

For hidden layer ``l`` with pre-activations ``Z`` (probe samples x units),
activations ``A = f(Z)``, local derivatives ``D = f'(Z)`` and the gradient
``G = dL/dA`` of the mean loss ``L`` over the probe set P (n samples):

=========================  ====================================================
``dead_frac``              fraction of units with ``z <= 0`` for every sample
                           in P ("never positive"; truly dead for ReLU, stuck
                           for leaky).
``zero_grad_frac``         fraction of units with ``f'(z) == 0`` for every
                           sample (truly dead for any activation).
``low_gain_frac``          fraction of units with ``|f'(z)| <= gain_tol`` for
                           every sample ("effectively dead", one meaning for
                           every activation).  A leaky unit whose ``|alpha|``
                           exceeds ``gain_tol`` can never be low-gain.
``dormant_frac``           fraction of units whose score
                           ``s_u = mean_P |a_u| / mean_v mean_P |a_v|`` is at
                           most ``dormant_tau`` (Sokar et al. 2023); every unit
                           when the layer's activations are all 0.
``low_contribution_frac``  fraction of units whose first-order contribution
                           ``c_u = sum_P |G_u (a_u - mean_P a_u)|`` is at most
                           ``contribution_tol`` of the layer's total
                           ``sum_v c_v``.
``low_ablation_frac``      the same with the exact mean-ablation effect
                           ``e_u = mean_P |l_i(a_u -> mean_P a_u) - l_i|``
                           (``l_i`` sample i's loss); opt-in, last epoch only.
``exact_zero_frac``        fraction of (sample, unit) activations exactly 0.
``near_zero_frac``         fraction of activations with ``|a| < eps`` or
                           ``a == 0``, ``eps = near_zero_rel * std(A)`` (the
                           layer's, per network).
``active_rate``            mean over units of the fraction of samples with
                           ``z > 0``.
``grad_norm``              L2 norm of the layer's incoming weight gradient of
                           ``L`` (``grad_norm_out``: the output layer's).
``died``                   units positive somewhere at the previous probe and
                           never positive now.
``revived``                units never positive at the previous probe and
                           positive somewhere now.
``revival_epoch_median``   median of the epochs of every revival so far (a
                           unit reviving twice counts twice); NaN before any.
``w_change``               relative change of the layer's incoming weight
                           matrix since the first probe (initialisation):
                           ``||W(t) - W(0)||_F / ||W(0)||_F`` (biases left
                           out: they often start at 0); ``w_change_out`` for
                           the output layer.
``frozen_frac``            fraction of units whose incoming column of the
                           augmented weight matrix (weights and bias) equals,
                           bit for bit, its value at the start of the epoch
                           (``start``, given by the training loop; NaN without).
``near_zero_frac_t<t>``    opt-in (``near_zero_curve``): for each ``t`` in the
                           list, the fraction of activations with ``|a| <
                           t * std(A)`` (or ``a == 0``), as ``near_zero_frac``
                           with ``near_zero_rel = t``; over all hidden units.
=========================  ====================================================

The first-order contribution is the linearisation of the exact ablation effect:
``l_i(a_u -> m) - l_i = dl_i/da_iu (m - a_iu) + O((m - a_iu)^2)`` and
``dL/da_iu = dl_i/da_iu / n``, so ``c_u = mean_i |dl_i/da_iu (a_iu - m)|`` equals
``e_u`` up to second-order terms.

Per network: ``output_spread`` is the standard deviation of the output over P
(class probabilities for classification; the maximum over outputs) divided by
that of the targets (one-hot for classification), and ``collapsed`` is
``output_spread < collapse_tol``: the network computes a constant function on P.

Columns ``<name>`` aggregate over all hidden units (fractions weighted by layer
width, counts summed, ``grad_norm`` the norm over every weight matrix,
``revival_epoch_median`` over every layer's revivals); ``<name>_l<i>`` is
hidden layer ``i`` (1-based).  Transitions (``died``, ``revived``) compare
consecutive probes, so with a probe schedule that skips epochs they count the
net change between the probed epochs.

Probes run on a schedule (:func:`probe_schedule`): always at epoch 0 and at
the last epoch (the default), optionally every epoch at first, log-spaced back
from the end, or every k-th epoch.  Each probe is one forward
and one backward pass over P plus counting passes; every quantity above comes
from those two passes (the contribution from the gradient the backward pass
propagates anyway), except the opt-in ablation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from .losses import LOSSES, SAMPLE_LOSSES, softmax
from .metrics import METRICS, metrics_of
from .network import MLP, Workspaces, augment, network_blocks

__all__ = ["LAYER_METRICS", "NETWORK_METRICS", "INT_METRICS", "UNIT_COLUMNS", "ProbeOptionError", "ProbeOptions",
           "ProbeState",
           "FORWARD_MEASURES", "ProbeLayer", "Prober", "curve_column", "first_order_contribution", "mean_ablation",
           "probe", "probe_schedule", "target_spread"]

#: per-layer metrics, reported as ``<name>`` (all hidden units) and ``<name>_l<i>`` (from the registry)
LAYER_METRICS = tuple(metrics_of(source="probe", scope="layer"))
#: per-network metrics (the patterned ``near_zero_frac_t<t>`` aside: one column per threshold)
NETWORK_METRICS = tuple(n for n in metrics_of(source="probe", scope="network") if "<" not in n)
#: metrics that count units (integer columns)
INT_METRICS = tuple(n for n in LAYER_METRICS if METRICS[n].dtype == "Int64")
#: columns of the per-unit table (``units.parquet``)
UNIT_COLUMNS = ("seed", "epoch", "layer", "unit", "never_positive", "max_gain", "mean_abs", "contribution",
                "ablation")

#: at most this many floats in one block of the exact ablation's arrays
_ABLATION_CELLS = 1 << 22


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


class ProbeOptionError(ValueError):
    """A bad probe setting: ``key`` (without the ``probe.`` prefix), ``value``, ``problem``."""

    def __init__(self, key: str, value, problem: str):
        self.key, self.value, self.problem = key, value, problem
        super().__init__(f"probe.{key} {problem}, got {value!r}")


@dataclass(frozen=True)
class ProbeOptions:
    """Every probe setting (the config's ``probe.*`` keys but ``enabled``).

    The schedule (:func:`probe_schedule`): probes at epoch 0 and the last epoch
    E, every epoch up to ``dense``, and at ``round(E * 10 ** (-k / per_decade))``
    (k = 1, 2, ...: log-spaced back from the end; none with ``per_decade=0``);
    or, when ``every`` is set, at every ``every``-th epoch and the last
    (``every=1``: every epoch).  The default probes at 0 and E only.

    These fields are also the config's ``probe`` section
    (:data:`relu_study.runs.config.ProbeConfig` is generated from them, with
    ``enabled``; ``seed`` is the dataset's), so an option is declared here once:

    ``max_samples``       probe set: the training set, or a seeded subsample of this size (null: all)
    ``near_zero_rel``     near-zero threshold, relative to the layer's activation std
    ``collapse_tol``      output spread / target spread below this: a collapsed network
    ``gain_tol``          low gain: ``|f'(z)|`` at most this on every probe sample
    ``dormant_tau``       dormant: mean ``|a|`` at most this times the layer's mean
    ``contribution_tol``  low contribution: at most this share of the layer's total
    ``ablation``          exact mean ablation of every unit at the last epoch (slow)
    ``units``             also the per-unit table (``units.parquet``)
    ``near_zero_curve``   thresholds t: columns ``near_zero_frac_t<t>``, ``|a| < t`` x the layer's std
    """

    max_samples: int | None = 1024
    seed: int = 0
    near_zero_rel: float = 1e-3
    collapse_tol: float = 1e-3
    gain_tol: float = 0.05
    dormant_tau: float = 0.025
    contribution_tol: float = 1e-3
    ablation: bool = False
    units: bool = False
    every: int | None = None
    dense: int = 0
    per_decade: int = 0
    near_zero_curve: tuple[float, ...] | None = None

    def __post_init__(self):
        if self.max_samples is not None and not (_is_int(self.max_samples) and self.max_samples >= 2):
            # one sample cannot tell a dead unit from one that is off there, and its output has no spread
            raise ProbeOptionError("max_samples", self.max_samples, "must be an integer >= 2 or null: on a single "
                                   "sample every unit that is off there counts as dead and every network as "
                                   "collapsed")
        if not (_is_int(self.seed) and self.seed >= 0):
            raise ProbeOptionError("seed", self.seed, "must be a non-negative integer")
        for key in ("near_zero_rel", "collapse_tol", "gain_tol", "dormant_tau", "contribution_tol"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v >= 0):
                raise ProbeOptionError(key, v, "must be a finite number >= 0")
        if self.contribution_tol > 1:
            raise ProbeOptionError("contribution_tol", self.contribution_tol,
                                   "must be at most 1 (a share of the layer's total)")
        for key in ("ablation", "units"):
            if not isinstance(getattr(self, key), bool):
                raise ProbeOptionError(key, getattr(self, key), "must be true or false")
        if self.every is not None and not (_is_int(self.every) and self.every > 0):
            raise ProbeOptionError("every", self.every, "must be a positive integer or null")
        if not (_is_int(self.dense) and self.dense >= 0):
            raise ProbeOptionError("dense", self.dense, "must be a non-negative integer")
        if not (_is_int(self.per_decade) and self.per_decade >= 0):
            raise ProbeOptionError("per_decade", self.per_decade, "must be a non-negative integer")
        curve = self.near_zero_curve
        if curve is not None:
            if isinstance(curve, (str, bytes)) or not hasattr(curve, "__iter__"):
                raise ProbeOptionError("near_zero_curve", curve, "must be a list of positive numbers or null")
            values = tuple(curve)
            if not values or not all(isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t)
                                     and t > 0 for t in values) or len(set(values)) != len(values):
                raise ProbeOptionError("near_zero_curve", curve,
                                       "must be a non-empty list of distinct positive numbers or null")
            object.__setattr__(self, "near_zero_curve", tuple(float(t) for t in values))

    @classmethod
    def from_config(cls, probe: dict, **overrides) -> "ProbeOptions":
        """From a config's ``probe`` section (keys that are not options, such as
        ``enabled``, are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in probe.items() if k in names}, **overrides})

    def schedule(self, epochs: int) -> list[int]:
        return probe_schedule(epochs, every=self.every, dense=self.dense, per_decade=self.per_decade)


def probe_schedule(epochs: int, every: int | None = None, dense: int = 0, per_decade: int = 0) -> list[int]:
    """The epochs a run of ``epochs`` epochs probes (see :class:`ProbeOptions`):
    epoch 0 and the last epoch E always; every epoch up to ``dense``; and,
    counting back from the last, ``per_decade`` log-spaced epochs per decade,
    ``round(E * 10 ** (-k / per_decade))`` (k = 1, 2, ... while at least 1).  Or,
    with ``every``, every ``every``-th epoch and the last.

    The default (0 and E) is what a 10% probe budget allows on the benchmark's
    20-epoch run (``docs/performance.md``).  ``per_decade=1`` adds E/10, E/100,
    ... (a 20-epoch run: 0, 2, 20; 100 epochs: 0, 1, 10, 100), the same
    fractions of training whatever its length; ``dense=3`` adds 1, 2, 3."""
    if every is not None:
        marks = set(range(0, epochs + 1, every))
    else:
        marks = set(range(0, min(dense, epochs) + 1))
        k = 1
        while per_decade and (e := math.floor(epochs * 10 ** (-k / per_decade) + 0.5)) >= 1:
            marks.add(e)
            k += 1
    marks |= {0, epochs}
    return sorted(marks)


@dataclass
class ProbeState:
    """What transitions need from earlier probes: the never-positive mask of each
    hidden layer at the previous probe (``(S, width)``, empty before the first
    probe) and the revivals counted so far (the epoch of each probe and, per
    probe, an ``(n_hidden, S)`` array of counts).  ``units`` holds the per-unit
    arrays of the latest probe (name -> one ``(S, width)`` array per layer)."""

    never_positive: list = field(default_factory=list)
    revival_epochs: list = field(default_factory=list)
    revival_counts: list = field(default_factory=list)
    units: dict | None = None
    initial: np.ndarray | None = None


def curve_column(t: float) -> str:
    """The column of threshold ``t`` of the near-zero curve: ``near_zero_frac_t0.001``."""
    return f"near_zero_frac_t{t:g}"


def target_spread(y: np.ndarray, task: str, n_outputs: int) -> float:
    """Standard deviation of the targets over the probe set (max over outputs)."""
    if task == "classification":
        y = np.eye(n_outputs)[y]
    return float(np.max(np.std(y, axis=0)))


def _count(mask: np.ndarray, axis) -> np.ndarray:
    """Number of True along ``axis`` (bytes summed in int32 or int64: about
    twice as fast as ``count_nonzero`` with an axis)."""
    dtype = np.int32 if mask.size < 2**31 else np.int64
    return np.add.reduce(mask.view(np.uint8), axis=axis, dtype=dtype)


def _median_epoch(epochs: list[int], counts: np.ndarray) -> np.ndarray:
    """Per column of ``counts`` (probes x S): the median of the multiset holding
    ``epochs[i]`` ``counts[i, s]`` times; NaN where it is empty."""
    S = counts.shape[1] if counts.ndim == 2 else 0
    out = np.full(S, np.nan)
    if not len(epochs):
        return out
    cum = np.cumsum(counts, axis=0)  # (probes, S)
    total = cum[-1]
    e = np.asarray(epochs, dtype=float)
    for s in np.flatnonzero(total > 0):
        lo = np.searchsorted(cum[:, s], (total[s] - 1) // 2, side="right")
        hi = np.searchsorted(cum[:, s], total[s] // 2, side="right")
        out[s] = 0.5 * (e[lo] + e[hi])
    return out


class ProbeLayer:
    """One hidden layer of a probe: its ``z``, ``a = f(z)`` and ``d = f'(z)`` as
    ``(S, h, n)``, scratch arrays of that shape (floats and booleans), and the
    per-unit results the measures below write into :attr:`results`."""

    def __init__(self, z, a, d, floats, bools, options: ProbeOptions):
        self.z, self.a, self.d, self.floats, self.bools, self.options = z, a, d, floats, bools, options
        self.n, self.cells = z.shape[2], z.shape[1] * z.shape[2]
        self.results: dict[str, np.ndarray] = {}
        self._abs = None

    def abs_a(self) -> np.ndarray:
        """``|a|`` (computed once, in the float scratch array)."""
        if self._abs is None:
            self._abs = np.abs(self.a, out=self.floats)
        return self._abs


def sign_counts(layer: ProbeLayer) -> None:
    """``n_pos``: samples with ``z > 0`` per unit (dead_frac, active_rate, the transitions)."""
    n_pos = _count(np.greater(layer.z, 0, out=layer.bools), axis=2)
    layer.results.update(n_pos=n_pos, never_positive=n_pos == 0)


def derivative_range(layer: ProbeLayer) -> None:
    """``max_gain = max_P |f'(z)|`` per unit (zero_grad_frac, low_gain_frac)."""
    d = layer.d
    layer.results["max_gain"] = np.maximum(np.maximum.reduce(d, axis=2), -np.minimum.reduce(d, axis=2))


def zero_counts(layer: ProbeLayer) -> None:
    """Exact and near zeros per network (exact_zero_frac, near_zero_frac); the
    per-unit means (the contribution's centre) and the layer's std on the way."""
    a, cells = layer.a, layer.cells
    n_exact = cells - _count(np.not_equal(a, 0, out=layer.bools), axis=(1, 2))
    sums = np.add.reduce(a, axis=2)
    mean = sums.sum(axis=1) / cells  # the layer's mean and std (over samples and units)
    # sum of squares per network: one BLAS dot product per network when its
    # activations are contiguous (feature-major), else einsum
    squares = (np.array([np.vdot(x, x) for x in a]) if a[0].flags.c_contiguous
               else np.einsum("shn,shn->s", a, a))
    var = np.maximum(squares / cells - mean * mean, 0.0)
    eps = layer.options.near_zero_rel * np.sqrt(var)
    # |a| < eps already contains a == 0 when eps > 0; with eps == 0 (or NaN) it
    # is empty and "near zero" is "exactly zero"
    n_below = _count(np.less(layer.abs_a(), eps[:, None, None], out=layer.bools), axis=(1, 2))
    layer.results.update(n_exact=n_exact, n_near=np.where(eps > 0, n_below, n_exact), unit_mean=sums / layer.n,
                         std=np.sqrt(var))


def near_zero_curve(layer: ProbeLayer) -> None:
    """``n_curve``: per network, the activations with ``|a| < t * std`` for each
    ``t`` of ``options.near_zero_curve`` (``(S, len(t))``), counted like
    ``n_near`` (an exact zero always counts); after :func:`zero_counts`."""
    std, n_exact = layer.results["std"], layer.results["n_exact"]
    counts = []
    for t in layer.options.near_zero_curve:
        eps = t * std
        below = _count(np.less(layer.abs_a(), eps[:, None, None], out=layer.bools), axis=(1, 2))
        counts.append(np.where(eps > 0, below, n_exact))
    layer.results["n_curve"] = np.stack(counts, axis=1)


def magnitudes(layer: ProbeLayer) -> None:
    """``mean_abs = mean_P |a|`` per unit (dormant_frac)."""
    layer.results["mean_abs"] = np.add.reduce(layer.abs_a(), axis=2) / layer.n


def first_order_contribution(layer: ProbeLayer, g: np.ndarray) -> None:
    """``contribution = sum_P |dL/da (a - mean_P a)|`` per unit, from ``g = dL/dA``
    (S, h, n), which the backward pass computes anyway (low_contribution_frac)."""
    c = np.subtract(layer.a, layer.results["unit_mean"][..., None], out=layer.floats)
    c *= g
    np.abs(c, out=c)
    layer.results["contribution"] = np.add.reduce(c, axis=2)


#: what a probe computes on each hidden layer right after its forward step, in
#: order: (the columns it serves, the function); the backward pass then adds
#: :func:`first_order_contribution`.  The benchmark times each of them.
FORWARD_MEASURES = (
    ("dead_frac, active_rate, died, revived", sign_counts),
    ("zero_grad_frac, low_gain_frac", derivative_range),
    ("exact_zero_frac, near_zero_frac", zero_counts),
    ("dormant_frac", magnitudes),
)


class Prober:
    """The probes of one run: a fixed probe set, work arrays reused by every
    probe, and the history (:class:`ProbeState`) that transitions need.

    ``prober(net, epoch)`` returns the columns of that probe (each an ``(S,)``
    array) and leaves the per-unit arrays in ``prober.state.units``.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, task: str, n_outputs: int,
                 options: ProbeOptions | None = None, spread: float | None = None):
        self.options = options or ProbeOptions()
        self.X, self.y, self.task = np.asarray(X), y, task
        self.n = len(self.X)
        self.spread = target_spread(y, task, n_outputs) if spread is None else spread
        self.state = ProbeState()
        self.work = Workspaces()
        self._x_aug = {}
        self._scratch = {}

    def x_aug(self, dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        if dtype not in self._x_aug:
            self._x_aug[dtype] = augment(self.X, dtype)
        return self._x_aug[dtype]

    def __call__(self, net: MLP, epoch: int = 0, ablation: bool = False,
                 start: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The columns of a probe of ``net`` after ``epoch``; ``start``: a copy of
        ``net.flat`` at the start of that epoch (``frozen_frac``; NaN without)."""
        blocks = network_blocks(net.n_networks, self.n, max(net.sizes[1:]))
        nets = [net] if len(blocks) == 1 else [net.select(b) for b in blocks]
        parts = [self._block(sub, ablation) for sub in nets]
        raw = {key: _join([p[key] for p in parts]) for key in parts[0]}
        return self._columns(net, raw, epoch, ablation, start)

    # ------------------------------------------------------------- one block
    def _buffers(self, net: MLP, S: int):
        """Scratch arrays for a block of S networks: per layer a float and a
        boolean view shaped like its activations (views of one array each: the
        layers are counted one after the other), and the gradient row."""
        key = (S, net.dtype)
        if key not in self._scratch:
            size = S * max(net.widths) * self.n
            floats, bools = np.empty(size, net.dtype), np.empty(size, bool)
            shapes = [(S, h, self.n) for h in net.widths]
            self._scratch[key] = ([floats[:math.prod(s)].reshape(s) for s in shapes],
                                  [bools[:math.prod(s)].reshape(s) for s in shapes],
                                  np.empty((S, net.flat.shape[1]), net.dtype))
        return self._scratch[key]

    def _block(self, net: MLP, ablation: bool) -> dict:
        """Every per-unit and per-network quantity of one block of networks, from
        one forward and one backward pass over the probe set.  The counting
        (:data:`FORWARD_MEASURES`) runs right after each layer's forward step and
        the contribution inside the backward pass, while the arrays they read are
        still in the CPU caches."""
        n, S = self.n, net.n_networks
        x_aug = self.x_aug(net.dtype)
        # Z is read only while its layer is counted: one array for all layers
        # (PReLU's backward pass needs every layer's)
        ws = self.work.get(net, S, n, True, separate_pre=net.slopes is not None)
        floats, bools, grad_row = self._buffers(net, S)
        L = net.n_hidden
        layers = [None] * L

        curve = bool(self.options.near_zero_curve)

        def count(l, z, a, d):
            layers[l] = ProbeLayer(z, a, d, floats[l], bools[l], self.options)
            for _, measure in FORWARD_MEASURES:
                measure(layers[l])
            if curve:
                near_zero_curve(layers[l])

        def contribution(l, g):
            first_order_contribution(layers[l], g)

        out, cache = net.forward_aug(x_aug, ws, keep=True, on_layer=count)
        loss, dout = LOSSES[self.task](out, self.y, grad=True)
        grads = net.backward(cache, dout, out=grad_row, activation_grad=contribution)
        values = softmax(out) if self.task == "classification" else out
        raw = {"loss": loss, "sq": [np.einsum("sij,sij->s", g, g) for g in grads[:L + 1]],
               "output_spread": values.std(axis=1).max(axis=-1) / (self.spread if self.spread > 0 else 1.0),
               "layers": [layer.results for layer in layers]}
        if ablation:
            for layer, effect in zip(raw["layers"], mean_ablation(net, x_aug, self.y, self.task)):
                layer["ablation"] = effect
        return raw

    # -------------------------------------------------- columns of the group
    def _columns(self, net: MLP, raw: dict, epoch: int, ablation: bool, start=None) -> dict[str, np.ndarray]:
        opts, state, n = self.options, self.state, self.n
        S, L = net.n_networks, net.n_hidden
        first = not state.never_positive
        if state.initial is None:  # the weights at the first probe (initialisation) for w_change
            state.initial = net.flat.copy()
        w_change, w_change_all = _weight_change(net, state.initial)
        frozen = _frozen(net, start)
        curve_counts = 0
        cols: dict[str, np.ndarray] = {}
        totals: dict[str, np.ndarray] = {}
        units = {name: [] for name in ("never_positive", "max_gain", "mean_abs", "contribution", "ablation")}
        revivals = np.zeros((L, S), dtype=np.int64)
        n_units = 0
        for l, layer in enumerate(raw["layers"]):
            dead = layer["never_positive"]
            h = dead.shape[1]
            previous = np.zeros_like(dead) if first else state.never_positive[l]
            revived = np.add.reduce(previous & ~dead, axis=1)
            died = np.add.reduce(~previous & dead, axis=1) if not first else np.zeros(S, dtype=np.int64)
            revivals[l] = revived
            contribution = layer["contribution"]
            total = contribution.sum(axis=1, keepdims=True)
            mean_abs = layer["mean_abs"]
            values = {
                "dead_frac": np.add.reduce(dead, axis=1) / h,
                "zero_grad_frac": np.add.reduce(layer["max_gain"] == 0, axis=1) / h,
                "low_gain_frac": np.add.reduce(layer["max_gain"] <= opts.gain_tol, axis=1) / h,
                "dormant_frac": np.add.reduce(
                    mean_abs <= opts.dormant_tau * mean_abs.mean(axis=1, keepdims=True), axis=1) / h,
                "low_contribution_frac": np.add.reduce(contribution <= opts.contribution_tol * total, axis=1) / h,
                "exact_zero_frac": layer["n_exact"] / (n * h),
                "near_zero_frac": layer["n_near"] / (n * h),
                "active_rate": np.add.reduce(layer["n_pos"], axis=1, dtype=np.int64) / (n * h),
                "grad_norm": np.sqrt(raw["sq"][l]),
                "died": died.astype(np.int64),
                "revived": revived.astype(np.int64),
                "w_change": w_change[l],
                "frozen_frac": frozen[l],
            }
            if opts.near_zero_curve:
                curve_counts = curve_counts + layer["n_curve"]
            effect = layer.get("ablation")
            if effect is not None:
                effect_total = effect.sum(axis=1, keepdims=True)
                values["low_ablation_frac"] = np.add.reduce(effect <= opts.contribution_tol * effect_total,
                                                            axis=1) / h
            for name, v in values.items():
                cols[f"{name}_l{l + 1}"] = v
                if name in ("grad_norm", "w_change"):
                    continue  # norms over all layers, below
                weight = 1 if name in INT_METRICS else h
                totals[name] = totals.get(name, 0) + v * weight
            n_units += h
            share = np.divide(contribution, total, out=np.zeros_like(contribution), where=total > 0)
            units["never_positive"].append(dead)
            units["max_gain"].append(layer["max_gain"])
            units["mean_abs"].append(mean_abs)
            units["contribution"].append(share)
            if effect is not None:
                effect_total = effect.sum(axis=1, keepdims=True)
                units["ablation"].append(np.divide(effect, effect_total, out=np.zeros_like(effect),
                                                   where=effect_total > 0))
            else:
                units["ablation"].append(np.full(dead.shape, np.nan))
        state.never_positive = [layer["never_positive"] for layer in raw["layers"]]
        if not first:
            state.revival_epochs.append(epoch)
            state.revival_counts.append(revivals)
        counts = np.stack(state.revival_counts) if state.revival_counts else np.zeros((0, L, S), dtype=np.int64)
        for l in range(L):
            cols[f"revival_epoch_median_l{l + 1}"] = _median_epoch(state.revival_epochs, counts[:, l, :])
        n_units = max(n_units, 1)
        overall = {}
        for name in LAYER_METRICS:
            if name == "grad_norm":
                overall[name] = np.sqrt(sum(raw["sq"]))
            elif name == "w_change":
                overall[name] = w_change_all
            elif name in INT_METRICS:
                overall[name] = np.asarray(totals[name]).astype(np.int64)
            elif name == "revival_epoch_median":
                overall[name] = _median_epoch(state.revival_epochs, counts.sum(axis=1))
            elif name in totals:
                overall[name] = totals[name] / n_units
        spread = raw["output_spread"]
        network = {"grad_norm_out": np.sqrt(raw["sq"][L]), "w_change_out": w_change[L], "output_spread": spread,
                   "collapsed": spread < opts.collapse_tol}
        if opts.near_zero_curve:
            cells = n * sum(net.widths)
            for i, t in enumerate(opts.near_zero_curve):
                network[curve_column(t)] = curve_counts[:, i] / cells
        state.units = units
        self.loss = raw["loss"]
        return {**overall, **network, **cols}


def _weight_change(net: MLP, initial: np.ndarray) -> tuple[list, np.ndarray]:
    """``||W_l - W_l(0)||_F / ||W_l(0)||_F`` per network for every layer (hidden
    layers, then the output layer), and the same over all weight matrices
    together; ``initial`` is a copy of ``net.flat`` at the first probe."""
    now, then = net.W, [v[:, :-1, :] for v in net._views(initial)[:len(net.W)]]
    per_layer, num, den = [], 0.0, 0.0
    for w, w0 in zip(now, then):
        d = (w - w0).reshape(w.shape[0], -1)
        w0 = w0.reshape(w.shape[0], -1)
        dd, ww = np.einsum("si,si->s", d, d), np.einsum("si,si->s", w0, w0)
        per_layer.append(np.sqrt(dd) / np.where(ww > 0, np.sqrt(ww), np.nan))
        num, den = num + dd, den + ww
    return per_layer, np.sqrt(num) / np.where(den > 0, np.sqrt(den), np.nan)


def _frozen(net: MLP, start: np.ndarray | None) -> list[np.ndarray]:
    """Per hidden layer, the ``(S,)`` fraction of units whose incoming weights and
    bias (their column of the augmented matrix) equal those in ``start`` exactly."""
    if start is None:
        return [np.full(net.n_networks, np.nan) for _ in net.widths]
    then = net._views(start)
    return [np.add.reduce((now == was).all(axis=1), axis=1) / now.shape[2]
            for now, was in zip(net.Wb[:net.n_hidden], then)]


def _join(parts):
    """Concatenate per-block results along the network axis (recursively)."""
    first = parts[0]
    if isinstance(first, dict):
        return {k: _join([p[k] for p in parts]) for k in first}
    if isinstance(first, list):
        return [_join([p[i] for p in parts]) for i in range(len(first))]
    if len(parts) == 1:
        return first
    return np.concatenate(parts)


def probe(net: MLP, X: np.ndarray, y: np.ndarray, task: str, options: ProbeOptions | None = None,
          state: ProbeState | None = None, spread: float | None = None, epoch: int = 0,
          ablation: bool = False, start: np.ndarray | None = None, **settings):
    """Probe every network of ``net`` on ``(X, y)`` once.

    ``settings`` override fields of ``options`` (``near_zero_rel=``,
    ``collapse_tol=``, ``gain_tol=``, ...).  Returns ``(columns, loss, state)``:
    ``columns`` maps each metric name to an ``(S,)`` array, ``loss`` is the
    ``(S,)`` mean loss on P, ``state`` the updated :class:`ProbeState` (pass it to
    the next probe for the transitions; ``state.units`` holds the per-unit
    arrays).  ``ablation=True`` adds the exact ablation (``low_ablation_frac``);
    ``start`` (an earlier copy of ``net.flat``) gives ``frozen_frac`` against it.
    """
    options = options or ProbeOptions()
    if settings:
        options = ProbeOptions(**{**{f.name: getattr(options, f.name) for f in fields(options)}, **settings})
    prober = Prober(X, y, task, net.sizes[-1], options, spread)
    if state is not None:
        prober.state = state
    cols = prober(net, epoch, ablation, start)
    return cols, prober.loss, prober.state


def mean_ablation(net: MLP, x_aug: np.ndarray, y: np.ndarray, task: str) -> list[np.ndarray]:
    """Exact mean-ablation effect of every hidden unit, ``(S, width)`` per layer:
    the mean over samples of ``|l_i(a_u -> mean a_u) - l_i|``, where ``l_i`` is
    sample i's loss and unit u's output is replaced by its mean over the samples
    (the rest of the network recomputed).  ``x_aug`` is ``augment(X)``.

    One forward pass of the layers above a unit per unit: meant for the last
    epoch of small networks (``probe.ablation``)."""
    sample_loss = SAMPLE_LOSSES[task]
    act = net.activation
    L = net.n_hidden
    n = x_aug.shape[-2]

    def layer(l, aT, extra_axis):
        """Z^T of layer l for inputs A^T (..., fan_in, n); W^T and b^T gain a unit axis when needed."""
        WT, bT = net.W[l].transpose(0, 2, 1), net.b[l].transpose(0, 2, 1)
        if extra_axis:
            WT, bT = WT[:, None], bT[:, None]
        return np.matmul(WT, aT) + bT

    def activate(l, z, extra_axis):
        if net.slopes is None:
            return act.forward(z)
        slope = net.slopes[l].transpose(0, 2, 1)
        return act.forward_slope(z, slope[:, None] if extra_axis else slope)

    def loss_of(zT_out):  # (..., k, n) -> per-sample losses (..., n)
        return sample_loss(np.swapaxes(zT_out, -1, -2), y)

    # the plain evaluation pass, every layer's A^T (S, h, n) and Z^T kept
    aT = np.swapaxes(x_aug[..., :-1], -1, -2)
    acts, pres = [], []
    for l in range(L):
        z = layer(l, aT, False)
        aT = activate(l, z, False)
        pres.append(z)
        acts.append(aT)
    base = loss_of(layer(L, aT, False))  # (S, n)
    effects = []
    for l in range(L):
        a = acts[l]  # (S, h, n)
        S, h, _ = a.shape
        deviation = a.mean(axis=2, keepdims=True) - a  # (S, h, n): mean_u - a_u
        z_next = pres[l + 1] if l + 1 < L else layer(L, a, False)  # (S, o, n)
        W_next = net.W[l + 1]  # (S, h, o)
        effect = np.empty((S, h))
        chunk = max(1, _ABLATION_CELLS // max(1, S * max(net.sizes[l + 1:]) * n))
        for start in range(0, h, chunk):
            u = np.arange(start, min(start + chunk, h))
            # layer l+1's pre-activations with unit u at its mean: a rank-one change
            z = z_next[:, None] + W_next[:, u, :, None] * deviation[:, u, None, :]  # (S, U, o, n)
            for m in range(l + 1, L):
                z = layer(m + 1, activate(m, z, True), True)
            effect[:, u] = np.abs(loss_of(z) - base[:, None]).mean(axis=-1)
        effects.append(effect)
    return effects
