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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import Activation, make_activation
from .init import init_layer

__all__ = ["MLP", "ForwardCache", "network_rngs"]


def network_rngs(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators of one network: ``init`` (parameters), ``order``
    (minibatch order) and ``noise`` (RReLU slopes), all derived from ``seed``."""
    init, order, noise = np.random.SeedSequence(int(seed)).spawn(3)
    return {
        "init": np.random.default_rng(init),
        "order": np.random.default_rng(order),
        "noise": np.random.default_rng(noise),
    }


@dataclass
class ForwardCache:
    """What backpropagation needs from a forward pass."""

    inputs: list  # A[l-1] for every layer l (the first may be shared (n, d))
    derivs: list  # f'(Z[l]) for every hidden layer
    pre: list  # Z[l] for every hidden layer
    post: list  # A[l] for every hidden layer
    out: np.ndarray  # (S, n, k)


def _matmul(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Batched ``a @ w`` for ``a`` of shape (n, i) or (S, n, i) and ``w`` (S, i, o)."""
    return np.matmul(a, w)


class MLP:
    """S independent MLPs of one architecture.

    Parameters
    ----------
    n_inputs, widths, n_outputs : layer sizes (``widths`` are the hidden layers).
    activation : an :class:`Activation` or a registered name.
    seeds : one integer seed per network (``S = len(seeds)``).
    weight_init, bias_init, bias_value, bias_std : see :mod:`relu_study.init`.
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
            rng = network_rngs(seed)["init"]
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
        act = self.activation
        a = X
        inputs, derivs, pre, post = [], [], [], []
        for l in range(self.n_hidden):
            z = _matmul(a, self.W[l])
            z += self.b[l]
            if self.slopes is not None:
                a_next = act.forward_slope(z, self.slopes[l])
                d = act.derivative_slope(z, self.slopes[l]) if keep else None
            elif train and act.stochastic and noise_rngs is not None:
                pairs = [act.train_forward(z[s], noise_rngs[s]) for s in range(z.shape[0])]
                a_next = np.stack([p[0] for p in pairs])
                d = np.stack([p[1] for p in pairs])
            else:
                a_next = act.forward(z)
                d = act.derivative(z) if keep else None
            if keep:
                inputs.append(a)
                derivs.append(d)
                pre.append(z)
                post.append(a_next)
            a = a_next
        out = _matmul(a, self.W[-1])
        out += self.b[-1]
        if not keep:
            return out, None
        inputs.append(a)
        return out, ForwardCache(inputs, derivs, pre, post, out)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Evaluation-mode outputs, ``(S, n, k)``."""
        return self.forward(X, keep=False)[0]

    # -------------------------------------------------------------- backward
    def backward(self, cache: ForwardCache, dout: np.ndarray) -> list[np.ndarray]:
        """Gradients of ``sum_s L_s`` for every array of :meth:`params`, given
        ``dout = dL/dO`` of shape (S, n, k).  Networks do not interact, so each
        network's slice is the gradient of its own loss."""
        n_layers = len(self.W)
        gW = [None] * n_layers
        gb = [None] * n_layers
        gslope = [None] * self.n_hidden if self.slopes is not None else None
        delta = dout
        for l in range(n_layers - 1, -1, -1):
            a_in = cache.inputs[l]
            a_t = a_in.T if a_in.ndim == 2 else a_in.transpose(0, 2, 1)
            gW[l] = np.matmul(a_t, delta)
            gb[l] = delta.sum(axis=1, keepdims=True)
            if l == 0:
                break
            da = np.matmul(delta, self.W[l].transpose(0, 2, 1))
            if gslope is not None:
                gslope[l - 1] = (da * self.activation.slope_grad_factor(cache.pre[l - 1])).sum(
                    axis=1, keepdims=True)
            delta = da * cache.derivs[l - 1]
        return gW + gb + (gslope or [])
