"""The multilayer perceptron: S independent networks stacked on a leading axis.

Shapes (S networks, n samples, layer widths ``d -> h_1 -> ... -> h_L -> k``):

* weights ``W[l]``: ``(S, fan_in, fan_out)``; biases ``b[l]``: ``(S, 1, fan_out)``;
  PReLU slopes ``slopes[l]``: ``(S, 1, h_l)`` per hidden layer.
* inputs ``X``: ``(n, d)`` shared by all networks, or ``(S, n, d)``.
* pre-activations ``Z[l] = A[l-1] @ W[l] + b[l]``, activations ``A[l] = f(Z[l])``,
  output ``O = A[L] @ W[L] + b[L]`` (logits or regression values), ``(S, n, k)``.

Every network is initialised from its own generator, so network ``s`` of a group
holds exactly the parameters it would hold alone.  Each step is one batched
matrix product per layer for the whole group.

How the arrays are laid out (implementation details, invisible in the values;
``docs/performance.md`` has the measurements behind them):

* **One flat parameter array.**  Every parameter of network ``s`` lives in row
  ``s`` of :attr:`MLP.flat`, ``(S, P)``; ``W``, ``b`` and ``slopes`` are views
  into it.  An optimiser updates the whole group with a few array operations
  instead of a few per layer, and a group's rows are its networks.  Parameters
  are changed in place (``net.W[0][s, i, j] = v``), never by rebinding.
* **The bias inside the product.**  Layer ``l`` stores ``[W[l]; b[l]]`` as one
  ``(fan_in + 1, fan_out)`` block, and the layer's input carries a row of ones, so
  ``Z = [A, 1] @ [W; b]`` is one matrix product, and so is the gradient
  ``[A, 1]^T @ delta`` of weights and bias together.
* **Feature-major activations for narrow networks** (every layer at most
  :data:`FEATURE_MAJOR_MAX_WIDTH` wide): ``Z^T`` of shape ``(S, h, n)``, whose
  backward products read ``W`` as stored; wide networks keep the sample-major
  ``(S, n, h)`` layout, for which OpenBLAS's kernels are faster.
* **Reusable work arrays** (:class:`Workspace`): a pass writes into arrays
  allocated once per shape, so the training loop allocates nothing large per
  step.  :meth:`MLP.forward` without a workspace allocates fresh ones.

Every product is one matrix per network, computed the same way whatever the
group size, so a network computes the same numbers alone and in any group.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .activations import Activation, make_activation
from .init import init_layer

__all__ = ["MLP", "OUTPUT_INITS", "ForwardCache", "Workspace", "Workspaces", "augment", "network_blocks",
           "network_rngs", "seed_generator"]

#: how the output layer is initialised (:class:`MLP`'s ``output_init``)
OUTPUT_INITS = ("same", "default")

#: networks whose inputs and hidden layers are at most this wide compute
#: feature-major activations (see :attr:`MLP.feature_major`)
FEATURE_MAJOR_MAX_WIDTH = 256

#: target number of (network, sample, unit) activations per layer that one pass
#: over a block of networks handles; large groups are processed block by block
#: so that a layer's arrays stay in the CPU caches (see :func:`network_blocks`)
BLOCK_CELLS = 1 << 15


def network_blocks(n_networks: int, n_samples: int, width: int, cells: int | None = None) -> list[slice]:
    """Consecutive slices of the network axis with about ``cells`` activations
    (``networks x samples x width``) per layer each; one slice when the whole
    group fits.  Networks never interact, so every network computes exactly the
    same numbers whichever block it is in."""
    cells = BLOCK_CELLS if cells is None else cells
    per = max(1, cells // max(1, n_samples * width))
    return [slice(s, min(s + per, n_networks)) for s in range(0, n_networks, per)]


@functools.lru_cache(maxsize=1 << 14)
def _seed_sequences(seed: int) -> tuple:
    """The three child seed sequences of ``seed`` (``init``, ``order``, ``noise``).

    Spawning them costs ~35 us, more than building a generator, and both the
    network's initialisation and the training loop need them: cached (they are
    immutable descriptions of the streams; a generator built from one always
    starts at the same state)."""
    return tuple(np.random.SeedSequence(seed).spawn(3))


def seed_generator(seed: int, stream: str) -> np.random.Generator:
    """A fresh generator for one of ``network_rngs(seed)``'s streams, without
    building the other two."""
    ss = _seed_sequences(int(seed))[("init", "order", "noise").index(stream)]
    return np.random.Generator(np.random.PCG64(ss))  # = np.random.default_rng(ss)


def network_rngs(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators of one network: ``init`` (parameters), ``order``
    (minibatch order) and ``noise`` (RReLU slopes), all derived from ``seed``."""
    return {stream: seed_generator(seed, stream) for stream in ("init", "order", "noise")}


def _t(x: np.ndarray) -> np.ndarray:
    """The last two axes swapped (a view)."""
    return x.transpose(0, 2, 1) if x.ndim == 3 else x.T


def augment(X: np.ndarray, dtype=None) -> np.ndarray:
    """``[X, 1]``: the inputs with a column of ones appended, ``(..., n, d + 1)``,
    the form every layer's product reads (the bias is the last weight row)."""
    X = np.asarray(X)
    out = np.empty((*X.shape[:-1], X.shape[-1] + 1), dtype=dtype or X.dtype)
    out[..., :-1] = X
    out[..., -1] = 1
    return out


class Workspace:
    """Arrays for one pass of ``n_networks`` networks of one architecture on ``n``
    samples, allocated once and overwritten by every pass that uses them.

    ``hidden_aug[l]`` holds hidden layer ``l``'s output with the row (or column)
    of ones that makes it the next layer's augmented input; ``pre[l]`` and
    ``der[l]`` hold its pre-activations and derivatives (feature-major
    ``(S, h, n)`` or sample-major ``(S, n, h)``); ``out`` is ``(S, n, k)``.
    Feature-major with derivatives, A, the ones and f'(Z) of a layer are the
    rows of one array ``stacked[l]``, ``(S, 2h + 1, n)`` (else None), so that
    one product per network sums both over the samples (the epoch statistics,
    :mod:`relu_study.engine.epoch_stats`); every network's rows are the same
    numbers, so the passes compute the same bits as with separate arrays.
    Allocated when first used: ``pre`` (one array per layer, or with
    ``separate_pre=False`` views of one array that every layer overwrites, for
    passes that read Z only while the layer is computed), ``grad_a`` (the
    gradients with respect to the hidden activations, views of two arrays used
    in turn: backpropagation needs only the current and the next) and
    ``batch`` (a gathered minibatch ``(S, n, d + 1)``).
    """

    def __init__(self, sizes, n_networks: int, n: int, dtype, feature_major: bool, derivatives: bool = True,
                 separate_pre: bool = True):
        S, self.n, self.feature_major = n_networks, n, feature_major
        self.n_networks = S
        self.sizes, self.dtype, self.separate_pre = list(sizes), np.dtype(dtype), separate_pre
        self.hidden_aug, self.hidden, self.der, self.stacked = [], [], [], []
        for h in self.sizes[1:-1]:
            stacked = None
            if feature_major and derivatives:
                stacked = np.empty((S, 2 * h + 1, n), self.dtype)
                stacked[:, h, :] = 1
                aug, der = stacked[:, :h + 1, :], stacked[:, h + 1:, :]
                self.hidden.append(aug[:, :h, :])
            elif feature_major:
                aug, der = np.empty((S, h + 1, n), self.dtype), None
                aug[:, h, :] = 1
                self.hidden.append(aug[:, :h, :])
            else:
                aug = np.empty((S, n, h + 1), self.dtype)
                aug[:, :, h] = 1
                der = np.empty(self._shape(h), self.dtype) if derivatives else None
                self.hidden.append(aug[:, :, :h])
            self.hidden_aug.append(aug)
            self.der.append(der)
            self.stacked.append(stacked)
        self.out = np.empty((S, n, self.sizes[-1]), self.dtype)
        self._pre = self.grad_a = self.batch = None

    def _shape(self, h: int) -> tuple:
        S = self.n_networks
        return (S, h, self.n) if self.feature_major else (S, self.n, h)

    def _views(self, count: int) -> list:
        """One view per hidden layer into ``count`` arrays used in turn."""
        widths = self.sizes[1:-1]
        size = max((math.prod(self._shape(h)) for h in widths), default=0)
        bufs = [np.empty(size, self.dtype) for _ in range(count)]
        return [bufs[l % count][:math.prod(self._shape(h))].reshape(self._shape(h)) for l, h in enumerate(widths)]

    @property
    def pre(self) -> list:
        if self._pre is None:
            self._pre = ([np.empty(self._shape(h), self.dtype) for h in self.sizes[1:-1]] if self.separate_pre
                         else self._views(1))
        return self._pre

    def gradient_arrays(self) -> list:
        if self.grad_a is None:
            self.grad_a = self._views(2)
        return self.grad_a

    def batch_array(self) -> np.ndarray:
        if self.batch is None:
            self.batch = np.empty((self.n_networks, self.n, self.sizes[0] + 1), self.dtype)
        return self.batch


class Workspaces:
    """Work arrays of one training run, by pass shape (networks, samples, with or
    without derivatives): the step, the last short minibatch, the validation set,
    the probe set each get theirs, reused every epoch."""

    def __init__(self):
        self._arrays = {}

    def get(self, net: "MLP", n_networks: int, n: int, derivatives: bool = True,
            separate_pre: bool = True) -> Workspace:
        key = (n_networks, n, derivatives, separate_pre)
        ws = self._arrays.get(key)
        if ws is None:
            ws = self._arrays[key] = Workspace(net.sizes, n_networks, n, net.dtype, net.feature_major, derivatives,
                                               separate_pre)
        return ws


class ForwardCache:
    """What backpropagation needs from a forward pass: the augmented input ``[X, 1]``
    and the :class:`Workspace` the pass wrote into.

    ``pre``, ``post`` and ``derivs`` are Z[l], A[l] and f'(Z[l]) for every hidden
    layer as ``(S, n, width)`` views; :meth:`transposed` gives them as
    ``(S, width, n)`` views (contiguous for feature-major networks).  The arrays
    belong to the workspace: a later pass with the same workspace overwrites them.
    """

    __slots__ = ("x_aug", "work", "out")

    def __init__(self, x_aug, work: Workspace, out):
        self.x_aug, self.work, self.out = x_aug, work, out

    @property
    def feature_major(self) -> bool:
        return self.work.feature_major

    def _sample_major(self, arrays):
        return [_t(a) for a in arrays] if self.feature_major else list(arrays)

    def _feature_major(self, arrays):
        return list(arrays) if self.feature_major else [_t(a) for a in arrays]

    @property
    def pre(self) -> list:
        return self._sample_major(self.work.pre)

    @property
    def post(self) -> list:
        return self._sample_major(self.work.hidden)

    @property
    def derivs(self) -> list:
        return self._sample_major(self.work.der)

    def transposed(self):
        """``(derivsT, preT, postT)``: the hidden layers' arrays as ``(S, width, n)``."""
        w = self.work
        return self._feature_major(w.der), self._feature_major(w.pre), self._feature_major(w.hidden)

    def input_t(self, l: int) -> np.ndarray:
        """The augmented input of layer ``l`` as ``(..., fan_in + 1, n)``."""
        if l == 0:
            return _t(self.x_aug)
        a = self.work.hidden_aug[l - 1]
        return a if self.feature_major else _t(a)


def _layout(sizes, learnable_slope: bool) -> list[tuple[int, int, tuple]]:
    """``(start, stop, shape)`` of every block of the flat parameter row: the
    ``(fan_in + 1, fan_out)`` weight-and-bias block of each layer, then the
    ``(1, h)`` slopes of each hidden layer (PReLU)."""
    blocks, offset = [], 0
    for i, o in zip(sizes[:-1], sizes[1:]):
        blocks.append((offset, offset + (i + 1) * o, (i + 1, o)))
        offset += (i + 1) * o
    if learnable_slope:
        for h in sizes[1:-1]:
            blocks.append((offset, offset + h, (1, h)))
            offset += h
    return blocks


class MLP:
    """S independent MLPs of one architecture.

    Parameters
    ----------
    n_inputs, widths, n_outputs : layer sizes (``widths`` are the hidden layers).
    activation : an :class:`Activation` or a registered name.
    seeds : one integer seed per network (``S = len(seeds)``).
    weight_init, bias_init, bias_value, bias_std : see :mod:`relu_study.engine.init`.
        Hidden layers use the activation's He gain; the output layer gain 1 and
        zero bias (RAI sets its own biases).
    output_init : ``"same"`` (the output layer is drawn with ``weight_init``, as
        above) or ``"default"``: the output layer gets the default
        initialisation, He-normal with gain 1 (``N(0, 1/fan_in)``) and zero bias,
        whatever ``weight_init`` is.  ``weight_init="rai"`` with ``"default"`` is
        RAI on the hidden layers only, Lu et al.'s setting.  The output layer is
        drawn last, from the same generator, either way.
    """

    def __init__(self, n_inputs: int, widths, n_outputs: int, activation="relu", seeds=(0,),
                 weight_init="he_normal", bias_init="zeros", bias_value=0.0, bias_std=0.0,
                 dtype=np.float64, output_init="same"):
        widths = [int(w) for w in widths]
        for i, w in enumerate(widths):
            if w <= 0:
                raise ValueError(f"hidden width must be a positive integer, got {w} at layer {i + 1}")
        if n_inputs <= 0 or n_outputs <= 0:
            raise ValueError(f"n_inputs and n_outputs must be positive, got {n_inputs}, {n_outputs}")
        self.activation = activation if isinstance(activation, Activation) else make_activation(activation)
        self.sizes = [int(n_inputs), *widths, int(n_outputs)]
        self.seeds = [int(s) for s in seeds]
        if not self.seeds:
            raise ValueError("need at least one seed")
        if output_init not in OUTPUT_INITS:
            raise ValueError(f"unknown output_init {output_init!r}; valid choices: {', '.join(OUTPUT_INITS)}")
        n_layers = len(self.sizes) - 1
        self._bind(np.empty((len(self.seeds), self._n_params()), dtype=dtype))
        for s, seed in enumerate(self.seeds):
            rng = seed_generator(seed, "init")
            for l in range(n_layers):
                hidden = l < n_layers - 1
                w, b = init_layer(
                    rng, self.sizes[l], self.sizes[l + 1],
                    gain=self.activation.gain if hidden else 1.0,
                    weight=weight_init if hidden or output_init == "same" else "he_normal",
                    bias=bias_init if hidden else "zeros",
                    bias_value=bias_value, bias_std=bias_std,
                )
                self.Wb[l][s, :-1] = w
                self.Wb[l][s, -1] = b
        if self._slopes is not None:
            for v in self._slopes:
                v[...] = self.activation.alpha

    def _n_params(self) -> int:
        return _layout(self.sizes, self.activation.learnable_slope)[-1][1]

    def _bind(self, flat: np.ndarray) -> None:
        """Make ``flat`` (S, P) the parameter array and ``Wb``, ``W``, ``b``, ``slopes`` views of it."""
        self.flat = flat
        views = self._views(flat)
        n_layers = len(self.sizes) - 1
        self.Wb = views[:n_layers]
        self.W = [v[:, :-1, :] for v in self.Wb]
        self.b = [v[:, -1:, :] for v in self.Wb]
        self._slopes = views[n_layers:] if self.activation.learnable_slope else None

    def _views(self, flat: np.ndarray) -> list[np.ndarray]:
        S = flat.shape[0]
        return [flat[:, start:stop].reshape(S, *shape)
                for start, stop, shape in _layout(self.sizes, self.activation.learnable_slope)]

    # ------------------------------------------------------------------ build
    @classmethod
    def from_params(cls, W, b, activation="relu", slopes=None) -> "MLP":
        """A network from explicit parameters: ``W[l]`` of shape (S, i, o) or (i, o),
        ``b[l]`` of shape (S, 1, o), (S, o) or (o,).  For hand-built tests.  The
        values are copied (training never writes into the caller's arrays)."""
        self = cls.__new__(cls)
        W = [np.asarray(w, dtype=float) for w in W]
        W = [w[None] if w.ndim == 2 else w for w in W]
        S = W[0].shape[0]
        self.activation = activation if isinstance(activation, Activation) else make_activation(activation)
        self.sizes = [W[0].shape[1]] + [w.shape[2] for w in W]
        self.seeds = list(range(S))
        self._bind(np.empty((S, self._n_params())))
        for l, (w, v) in enumerate(zip(W, b)):
            v = np.asarray(v, dtype=float)
            self.Wb[l][:, :-1] = w
            self.Wb[l][:, -1] = v.reshape(-1, v.shape[-1]) if v.ndim > 1 else v
        if self._slopes is not None:
            self.slopes = slopes if slopes is not None else [
                np.full((S, 1, w), self.activation.alpha) for w in self.sizes[1:-1]]
        return self

    # ------------------------------------------------------------ properties
    @property
    def slopes(self) -> list[np.ndarray] | None:
        """PReLU's per-unit slopes, ``(S, 1, h)`` per hidden layer (views of
        :attr:`flat`); None for other activations.  Assigning a list copies its
        values in."""
        return self._slopes

    @slopes.setter
    def slopes(self, values) -> None:
        if values is None:
            if self._slopes is not None:
                raise ValueError(f"{self.activation!r} has learnable slopes; they cannot be removed")
            return
        if self._slopes is None:
            raise ValueError(f"{self.activation!r} has no learnable slopes")
        for v, new in zip(self._slopes, values, strict=True):
            v[...] = new

    @property
    def n_networks(self) -> int:
        return self.flat.shape[0]

    @property
    def dtype(self) -> np.dtype:
        return self.flat.dtype

    @property
    def feature_major(self) -> bool:
        """Whether the passes compute feature-major ``(S, width, n)`` activations
        (narrow networks, every layer at most :data:`FEATURE_MAJOR_MAX_WIDTH`
        wide) or sample-major ``(S, n, width)`` ones (wide layers, where OpenBLAS
        is faster with the samples as rows).  A property of the architecture
        only: the same for a network alone and in any group."""
        return max(self.sizes[:-1]) <= FEATURE_MAJOR_MAX_WIDTH

    @property
    def widths(self) -> list[int]:
        return self.sizes[1:-1]

    @property
    def n_hidden(self) -> int:
        return len(self.sizes) - 2

    def params(self) -> list[np.ndarray]:
        """All trainable arrays, in the order of :meth:`backward`'s gradients
        (views of :attr:`flat`)."""
        out = [*self.W, *self.b]
        if self._slopes is not None:
            out += self._slopes
        return out

    def weight_mask(self) -> list[bool]:
        """True for the weight matrices of :meth:`params` (what weight decay applies to)."""
        n = len(self.W)
        return [True] * n + [False] * (len(self.params()) - n)

    def flat_weight_mask(self) -> np.ndarray:
        """``(P,)`` booleans over a row of :attr:`flat`: True on weight-matrix entries
        (not biases or slopes), the flat form of :meth:`weight_mask`."""
        mask = np.zeros((1, self.flat.shape[1]), dtype=bool)
        for v in self._views(mask)[:len(self.sizes) - 1]:
            v[:, :-1, :] = True
        return mask[0]

    def select(self, index) -> "MLP":
        """The networks ``index`` (a slice or an array of positions) as a new MLP;
        with a slice its parameters are views, so it sees every update."""
        sub = MLP.__new__(MLP)
        sub.__dict__.update(self.__dict__)
        sub._bind(self.flat[index])
        sub.seeds = [self.seeds[i] for i in np.atleast_1d(np.arange(self.n_networks)[index])]
        return sub

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters by name (``W1``, ``b1``, ..., ``slope1``), for ``np.savez``."""
        state = {"seeds": np.asarray(self.seeds)}
        for l, (w, v) in enumerate(zip(self.W, self.b), start=1):
            state[f"W{l}"], state[f"b{l}"] = w, v[:, 0, :]
        for l, v in enumerate(self._slopes or [], start=1):
            state[f"slope{l}"] = v[:, 0, :]
        return state

    def __repr__(self) -> str:
        arch = "-".join(str(s) for s in self.sizes)
        return f"MLP({arch}, activation={self.activation!r}, networks={self.n_networks}, dtype={self.dtype})"

    # --------------------------------------------------------------- forward
    def forward(self, X: np.ndarray, train: bool = False, noise_rngs=None, keep: bool = True):
        """Run all networks on ``X`` (``(n, d)`` shared, or ``(S, n, d)``).

        ``train=True`` with an RReLU activation draws fresh slopes, one generator
        per network (``noise_rngs``).  Returns ``(out, cache)``; ``cache`` is None
        when ``keep`` is False.  The arrays are new (a fresh :class:`Workspace`).
        """
        X = np.asarray(X)
        ws = Workspace(self.sizes, self.n_networks, X.shape[-2], self.dtype, self.feature_major, keep)
        return self.forward_aug(augment(X, self.dtype), ws, train=train, noise_rngs=noise_rngs, keep=keep)

    def forward_aug(self, x_aug: np.ndarray, work: Workspace, train: bool = False, noise_rngs=None,
                    keep: bool = True, on_layer=None, keep_pre: bool = True, on_pre=None):
        """:meth:`forward` on ``x_aug = augment(X)``, writing into ``work`` (whose
        arrays it returns: ``out`` is ``work.out``).  ``on_layer(l, z, a, d)`` is
        called after every hidden layer with its Z, A and f'(Z) as ``(S, h, n)``
        (the probes count while the arrays are still in the CPU caches);
        ``on_pre(l, z)`` right after the layer's product, before the activation
        (which may overwrite Z: the epoch statistics count ``z > 0`` there).
        ``keep_pre=False`` (the training step) writes Z where A goes and applies
        the activation in place: one array less to stream through the caches;
        ``cache.pre`` is then not available (PReLU keeps it for its slopes)."""
        act, fm = self.activation, self.feature_major
        stochastic = train and act.stochastic and noise_rngs is not None
        keep_pre = keep_pre or self._slopes is not None
        a = x_aug
        for l in range(self.n_hidden):
            h = work.hidden[l]
            z = work.pre[l] if keep_pre else h
            d = work.der[l] if keep else None
            if fm:
                np.matmul(_t(self.Wb[l]), _t(a) if l == 0 else a, out=z)
            else:
                np.matmul(a, self.Wb[l], out=z)
            if on_pre is not None:
                on_pre(l, z if fm else _t(z))
            if self._slopes is not None:
                s = _t(self._slopes[l]) if fm else self._slopes[l]
                if keep:
                    act.value_and_derivative_slope_into(z, s, h, d)
                else:
                    act.forward_slope_into(z, s, h)
            elif stochastic:
                # each network draws its slopes for its (n, h) block in C order,
                # exactly as it would alone
                for s in range(z.shape[0]):
                    value, derivative = act.train_forward(_t(z[s]) if fm else z[s], noise_rngs[s])
                    h[s] = _t(value) if fm else value
                    if keep:
                        d[s] = _t(derivative) if fm else derivative
            elif keep:
                act.value_and_derivative_into(z, h, d)
            else:
                act.forward_into(z, h)
            if on_layer is not None:
                on_layer(l, *((z, h, d) if fm else (_t(z), _t(h), None if d is None else _t(d))))
            a = work.hidden_aug[l]
        out = work.out
        np.matmul(_t(a) if fm and self.n_hidden else a, self.Wb[-1], out=out)
        return out, (ForwardCache(x_aug, work, out) if keep else None)

    def predict(self, X: np.ndarray, work: Workspaces | None = None) -> np.ndarray:
        """Evaluation-mode outputs, ``(S, n, k)`` (large groups block by block).
        ``work`` keeps the work arrays for the next call of the same shape."""
        X = np.asarray(X)
        return self.predict_aug(augment(X, self.dtype), work)

    def predict_aug(self, x_aug: np.ndarray, work: Workspaces | None = None, hooks=None,
                    derivatives: bool = False) -> np.ndarray:
        """:meth:`predict` on ``augment(X)``; the result is a new array.
        ``hooks(block)``: the ``(on_pre, on_layer)`` pair of :meth:`forward_aug`
        for the networks ``block`` (a slice), when given.  ``derivatives``: the
        pass also computes f'(Z) for the hooks (the outputs are the same bits)."""
        work = Workspaces() if work is None else work
        n = x_aug.shape[-2]
        blocks = network_blocks(self.n_networks, n, max(self.sizes[1:]))
        kw = dict(keep=derivatives, keep_pre=not derivatives)
        if len(blocks) == 1:
            on_pre, on_layer = hooks(blocks[0]) if hooks is not None else (None, None)
            return self.forward_aug(x_aug, work.get(self, self.n_networks, n, derivatives),
                                    on_pre=on_pre, on_layer=on_layer, **kw)[0].copy()
        out = np.empty((self.n_networks, n, self.sizes[-1]), self.dtype)
        for b in blocks:
            sub = self.select(b)
            ws = work.get(self, sub.n_networks, n, derivatives)
            on_pre, on_layer = hooks(b) if hooks is not None else (None, None)
            out[b] = sub.forward_aug(x_aug if x_aug.ndim == 2 else x_aug[b], ws,
                                     on_pre=on_pre, on_layer=on_layer, **kw)[0]
        return out

    # -------------------------------------------------------------- backward
    def backward(self, cache: ForwardCache, dout: np.ndarray, out: np.ndarray | None = None,
                 activation_grad=None) -> list[np.ndarray]:
        """Gradients of ``sum_s L_s`` for every array of :meth:`params`, given
        ``dout = dL/dO`` of shape (S, n, k).  Networks do not interact, so each
        network's slice is the gradient of its own loss.

        ``out``: an ``(S, P)`` array (the layout of :attr:`flat`) to write the
        gradients into; the returned arrays are views of it.
        ``activation_grad(l, g)``: called for every hidden layer ``l`` (0-based)
        with ``g = dL/dA[l]`` as ``(S, h, n)``, before it is multiplied by
        ``f'(Z[l])`` (the probes' contribution estimate reads it there).
        """
        g = np.empty_like(self.flat) if out is None else out
        views = self._views(g)
        n_layers = len(self.sizes) - 1
        gWb, gslopes = views[:n_layers], views[n_layers:]
        fm = cache.feature_major
        grad_a = cache.work.gradient_arrays()
        deltaT = _t(dout)  # (S, k, n) view
        for l in range(n_layers - 1, -1, -1):
            np.matmul(cache.input_t(l), _t(deltaT), out=gWb[l])  # [A, 1]^T @ delta
            if l == 0:
                break
            da = grad_a[l - 1]
            W = self.W[l]
            if fm and W.shape[2] == 1:  # an outer product: exact and faster as a broadcast
                np.multiply(W, deltaT, out=da)
            elif fm:
                np.matmul(W, deltaT, out=da)  # (delta @ W^T)^T
            else:
                np.matmul(_t(deltaT), _t(W), out=da)  # delta @ W^T
            daT = da if fm else _t(da)
            if activation_grad is not None:
                activation_grad(l - 1, daT)
            if self._slopes is not None:
                zT = cache.work.pre[l - 1] if fm else _t(cache.work.pre[l - 1])
                factor = self.activation.slope_grad_factor(zT)
                gslopes[l - 1][...] = _t((daT * factor).sum(axis=-1, keepdims=True))
            da *= cache.work.der[l - 1]
            deltaT = daT
        return [*(v[:, :-1, :] for v in gWb), *(v[:, -1:, :] for v in gWb), *gslopes]
