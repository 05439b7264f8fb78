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

Memory layout (an implementation detail, invisible in the values): narrow
networks (every layer at most :data:`FEATURE_MAJOR_MAX_WIDTH` wide) compute
*feature-major* activations, ``Z[l]^T = W[l]^T @ A[l-1]^T + b[l]^T`` of shape
``(S, h_l, n)``: the bias then broadcasts along the contiguous sample axis and
the backward products ``W[l] @ delta^T`` read ``W`` as stored, which for width-2
layers is several times faster than the sample-major layout.  Wide networks
keep the sample-major ``(S, n, h_l)`` layout, for which OpenBLAS's kernels are
faster.  The cache holds ``(S, n, h_l)`` views either way.  Every product is one
matrix per network, computed the same way whatever the group size.
"""

from __future__ import annotations

import functools

import numpy as np

from .activations import Activation, make_activation
from .init import init_layer

__all__ = ["MLP", "ForwardCache", "network_blocks", "network_rngs", "seed_generator"]

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


class ForwardCache:
    """What backpropagation needs from a forward pass.

    ``inputs[l]`` is A[l-1] for every layer l (the first may be the shared
    ``(n, d)`` input), ``derivs``, ``pre`` and ``post`` are f'(Z[l]), Z[l] and A[l]
    for every hidden layer, all ``(S, n, width)``; ``out`` is ``(S, n, k)``.

    The forward pass stores its arrays with the last two axes swapped,
    ``(S, width, n)`` (contiguous for feature-major networks, views of
    sample-major memory otherwise, see :attr:`MLP.feature_major`); the
    ``(S, n, width)`` lists above are views of them, made on first access (the
    training loop's backward pass never needs them).
    """

    __slots__ = ("_views", "_fm", "out")

    def __init__(self, inputs, derivs, pre, post, out):
        self._views = (list(inputs), list(derivs), list(pre), list(post))
        self._fm = None
        self.out = out

    @classmethod
    def from_transposed(cls, inputsT, derivsT, preT, postT, out) -> "ForwardCache":
        """A cache from ``(S, width, n)`` arrays (the first input may be ``(d, n)``)."""
        self = cls.__new__(cls)
        self._views = None
        self._fm = (inputsT, derivsT, preT, postT)
        self.out = out
        return self

    def _lists(self):
        if self._views is None:
            self._views = tuple([_t(x) for x in arrays] for arrays in self._fm)
        return self._views

    def transposed(self):
        """``(inputsT, derivsT, preT, postT)``: the arrays as ``(S, width, n)``."""
        if self._fm is None:
            self._fm = tuple([_t(x) for x in arrays] for arrays in self._views)
        return self._fm

    @property
    def inputs(self) -> list:
        return self._lists()[0]

    @property
    def derivs(self) -> list:
        return self._lists()[1]

    @property
    def pre(self) -> list:
        return self._lists()[2]

    @property
    def post(self) -> list:
        return self._lists()[3]


def _matmul(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Batched ``a @ w`` for ``a`` of shape (n, i) or (S, n, i) and ``w`` (S, i, o)."""
    return np.matmul(a, w)


def _t(x: np.ndarray) -> np.ndarray:
    """The last two axes swapped (a view; ``transpose`` is the cheapest call)."""
    if x.ndim == 3:
        return x.transpose(0, 2, 1)
    return x.T if x.ndim == 2 else np.swapaxes(x, -1, -2)


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
    """

    def __init__(self, n_inputs: int, widths, n_outputs: int, activation="relu", seeds=(0,),
                 weight_init="he_normal", bias_init="zeros", bias_value=0.0, bias_std=0.0,
                 dtype=np.float64):
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
        self.dtype = np.dtype(dtype)
        n_layers = len(self.sizes) - 1
        per_net = []
        for seed in self.seeds:
            rng = seed_generator(seed, "init")
            layers = []
            for l in range(n_layers):
                hidden = l < n_layers - 1
                layers.append(init_layer(
                    rng, self.sizes[l], self.sizes[l + 1],
                    gain=self.activation.gain if hidden else 1.0,
                    weight=weight_init,
                    bias=bias_init if hidden else "zeros",
                    bias_value=bias_value, bias_std=bias_std,
                ))
            per_net.append(layers)
        self.W = [np.stack([net[l][0] for net in per_net]).astype(self.dtype) for l in range(n_layers)]
        self.b = [np.stack([net[l][1] for net in per_net])[:, None, :].astype(self.dtype)
                  for l in range(n_layers)]
        self.slopes = None
        if self.activation.learnable_slope:
            self.slopes = [np.full((len(self.seeds), 1, w), self.activation.alpha, dtype=self.dtype)
                           for w in widths]

    # ------------------------------------------------------------------ build
    @classmethod
    def from_params(cls, W, b, activation="relu", slopes=None) -> "MLP":
        """A network from explicit parameters: ``W[l]`` of shape (S, i, o) or (i, o),
        ``b[l]`` of shape (S, 1, o), (S, o) or (o,).  For hand-built tests."""
        self = cls.__new__(cls)
        W = [np.array(w, dtype=float) for w in W]  # copies: training must not write into the caller's arrays
        W = [w[None] if w.ndim == 2 else w for w in W]
        S = W[0].shape[0]
        bb = []
        for v in b:
            v = np.asarray(v, dtype=float)
            if v.ndim == 1:
                v = np.broadcast_to(v, (S, v.shape[0]))
            if v.ndim == 2:
                v = v[:, None, :]
            bb.append(np.array(v))
        self.activation = activation if isinstance(activation, Activation) else make_activation(activation)
        self.sizes = [W[0].shape[1]] + [w.shape[2] for w in W]
        self.seeds = list(range(S))
        self.dtype = W[0].dtype
        self.W, self.b = W, bb
        self.slopes = None
        if self.activation.learnable_slope:
            self.slopes = [np.array(v, dtype=float) for v in slopes] if slopes is not None else [
                np.full((S, 1, w), self.activation.alpha) for w in self.sizes[1:-1]]
        return self

    # ------------------------------------------------------------ properties
    @property
    def n_networks(self) -> int:
        return self.W[0].shape[0]

    @property
    def feature_major(self) -> bool:
        """Whether the forward and backward passes compute feature-major
        ``(S, width, n)`` activations (narrow networks, every layer at most
        :data:`FEATURE_MAJOR_MAX_WIDTH` wide) or sample-major ``(S, n, width)``
        ones (wide layers, where OpenBLAS is faster with the samples as rows).
        A property of the architecture only: the same for a network alone and
        in any group."""
        return max(self.sizes[:-1]) <= FEATURE_MAJOR_MAX_WIDTH

    @property
    def widths(self) -> list[int]:
        return self.sizes[1:-1]

    @property
    def n_hidden(self) -> int:
        return len(self.sizes) - 2

    def params(self) -> list[np.ndarray]:
        """All trainable arrays, in the order of :meth:`backward`'s gradients."""
        out = [*self.W, *self.b]
        if self.slopes is not None:
            out += self.slopes
        return out

    def weight_mask(self) -> list[bool]:
        """True for the weight matrices (the arrays weight decay applies to)."""
        n = len(self.W)
        return [True] * n + [False] * (len(self.params()) - n)

    def select(self, index) -> "MLP":
        """A view of the networks ``index`` (array of positions) as a new MLP."""
        sub = MLP.__new__(MLP)
        sub.__dict__.update(self.__dict__)
        sub.W = [w[index] for w in self.W]
        sub.b = [v[index] for v in self.b]
        sub.slopes = None if self.slopes is None else [v[index] for v in self.slopes]
        sub.seeds = [self.seeds[i] for i in np.atleast_1d(np.arange(self.n_networks)[index])]
        return sub

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters by name (``W1``, ``b1``, ..., ``slope1``), for ``np.savez``."""
        state = {"seeds": np.asarray(self.seeds)}
        for l, (w, v) in enumerate(zip(self.W, self.b), start=1):
            state[f"W{l}"], state[f"b{l}"] = w, v[:, 0, :]
        for l, v in enumerate(self.slopes or [], start=1):
            state[f"slope{l}"] = v[:, 0, :]
        return state

    def __repr__(self) -> str:
        arch = "-".join(str(s) for s in self.sizes)
        return f"MLP({arch}, activation={self.activation!r}, networks={self.n_networks}, dtype={self.dtype})"

    # --------------------------------------------------------------- forward
    def forward(self, X: np.ndarray, train: bool = False, noise_rngs=None, keep: bool = True):
        """Run all networks on ``X``.

        ``train=True`` with an RReLU activation draws fresh slopes, one generator
        per network (``noise_rngs``).  Returns ``(out, cache)``; ``cache`` is None
        when ``keep`` is False.
        """
        return self.forward_t(_t(np.asarray(X)), train=train, noise_rngs=noise_rngs, keep=keep)

    def forward_t(self, XT: np.ndarray, train: bool = False, noise_rngs=None, keep: bool = True):
        """:meth:`forward` on ``XT`` = ``X`` with its last two axes swapped,
        ``(d, n)`` or ``(S, d, n)``, any strides (the training loop passes a view
        of its gathered ``(S, batch, d)`` minibatch)."""
        act = self.activation
        aT = XT
        fm = self.feature_major
        inputs, derivs, pre, post = [], [], [], []
        stochastic = train and act.stochastic and noise_rngs is not None
        for l in range(self.n_hidden):
            if fm:
                zT = np.matmul(_t(self.W[l]), aT)  # (S, h, n)
            else:
                zT = _t(np.matmul(_t(aT), self.W[l]))  # a (S, n, h) array, seen as (S, h, n)
            zT += _t(self.b[l])
            d = None
            if self.slopes is not None:
                sT = _t(self.slopes[l])
                if keep and hasattr(act, "value_and_derivative_slope"):
                    a_next, d = act.value_and_derivative_slope(zT, sT)
                else:
                    a_next = act.forward_slope(zT, sT)
                    d = act.derivative_slope(zT, sT) if keep else None
            elif stochastic:
                # each network draws its slopes for its (n, h) block in C order,
                # exactly as it would alone
                pairs = [act.train_forward(_t(zT[s]), noise_rngs[s]) for s in range(zT.shape[0])]
                if fm:
                    a_next = np.stack([_t(p[0]) for p in pairs])
                    d = np.stack([_t(p[1]) for p in pairs])
                else:
                    a_next = _t(np.stack([p[0] for p in pairs]))
                    d = _t(np.stack([p[1] for p in pairs]))
            elif keep:
                a_next, d = act.value_and_derivative(zT)
            else:
                a_next = act.forward(zT)
            if keep:
                inputs.append(aT)
                derivs.append(d)
                pre.append(zT)
                post.append(a_next)
            aT = a_next
        if fm:
            outT = np.matmul(_t(self.W[-1]), aT)
            outT += _t(self.b[-1])
            out = np.ascontiguousarray(_t(outT))
        else:
            out = np.matmul(_t(aT), self.W[-1])
            out += self.b[-1]
        if not keep:
            return out, None
        inputs.append(aT)
        return out, ForwardCache.from_transposed(inputs, derivs, pre, post, out)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Evaluation-mode outputs, ``(S, n, k)`` (large groups block by block)."""
        X = np.asarray(X)
        blocks = network_blocks(self.n_networks, X.shape[-2], max(self.sizes[1:]))
        if len(blocks) == 1:
            return self.forward(X, keep=False)[0]
        return np.concatenate([self.select(b).forward(X if X.ndim == 2 else X[b], keep=False)[0]
                               for b in blocks])

    # -------------------------------------------------------------- backward
    def backward(self, cache: ForwardCache, dout: np.ndarray) -> list[np.ndarray]:
        """Gradients of ``sum_s L_s`` for every array of :meth:`params`, given
        ``dout = dL/dO`` of shape (S, n, k).  Networks do not interact, so each
        network's slice is the gradient of its own loss."""
        n_layers = len(self.W)
        gW = [None] * n_layers
        gb = [None] * n_layers
        gslope = [None] * self.n_hidden if self.slopes is not None else None
        inputsT, derivsT, preT, _ = cache.transposed()
        fm = self.feature_major
        # (S, k, n): contiguous for feature-major networks, else a view of (S, n, k)
        deltaT = np.ascontiguousarray(_t(dout)) if fm else _t(np.ascontiguousarray(dout))
        # bias gradients as ``delta^T @ ones(n, 1)``: one matrix-vector product
        # per network instead of a strided reduction over the sample axis
        ones = np.ones((deltaT.shape[-1], 1), dtype=deltaT.dtype)
        for l in range(n_layers - 1, -1, -1):
            gW[l] = np.matmul(inputsT[l], _t(deltaT))  # A^T @ delta
            gb[l] = _t(np.matmul(deltaT, ones))
            if l == 0:
                break
            if fm:
                daT = np.matmul(self.W[l], deltaT)  # (delta @ W^T)^T
            else:
                daT = _t(np.matmul(_t(deltaT), _t(self.W[l])))  # delta @ W^T
            if gslope is not None:
                factor = self.activation.slope_grad_factor(preT[l - 1])
                gslope[l - 1] = _t((daT * factor).sum(axis=-1, keepdims=True))
            daT *= derivsT[l - 1]
            deltaT = daT
        return gW + gb + (gslope or [])
