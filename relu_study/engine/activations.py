"""Activation functions: a registry of small classes, each with its forward map,
its derivative and its He gain.

Every activation is an instance with its parameters bound, e.g.
``make_activation("leaky", alpha=0.1)`` gives ``LeakyReLU(alpha=0.1)``.  Choosing
one is a dictionary lookup in :data:`ACTIVATIONS`; adding one is a subclass of
:class:`Activation` and a line in that table.

Conventions
-----------
* ``forward(z)`` and ``derivative(z)`` are elementwise and evaluate the function in
  evaluation mode (RReLU uses its mean slope there).
* ``train_forward(z, rng)`` returns ``(f(z), f'(z))`` as used in a training step;
  only RReLU differs from evaluation mode (a fresh slope per element).
* At a kink (z = 0) the derivative takes the ``otherwise`` branch, as PyTorch does.
* ``gain`` is the factor that He initialisation multiplies ``1/sqrt(fan_in)`` by:
  ``gain**2 = 1 / E[f(z)**2]`` for ``z ~ N(0, 1)``, which preserves the second
  moment of pre-activations through a layer.  For Leaky ReLU this is the familiar
  ``sqrt(2 / (1 + alpha**2))``; for ReLU ``sqrt(2)``; for the identity 1.  Smooth
  activations get the same quantity by Gauss-Hermite quadrature.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from scipy.special import erf, expit

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "ELU",
    "GELU",
    "Identity",
    "LeakyReLU",
    "PReLU",
    "RReLU",
    "ReLU",
    "SiLU",
    "Softplus",
    "Tanh",
    "activation_class",
    "activation_names",
    "check_finite",
    "leaky_relu",
    "make_activation",
]


def check_finite(name: str, value) -> float:
    """``float(value)``, or ``ValueError`` naming ``name`` when it is not a finite number."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def _fast_alpha(z, alpha) -> bool:
    """True when the arithmetic (``np.where``-free) kernels below are exact: ``z`` a
    float array and ``alpha`` finite, either one scalar or an array of ``z``'s dtype
    that broadcasts to ``z``'s shape (PReLU slopes)."""
    if not (isinstance(z, np.ndarray) and z.dtype.kind == "f"):
        return False
    if np.ndim(alpha) == 0:
        with np.errstate(over="ignore"):
            return bool(np.isfinite(z.dtype.type(float(alpha))))
    return (isinstance(alpha, np.ndarray) and alpha.dtype == z.dtype
            and np.broadcast_shapes(alpha.shape, z.shape) == z.shape and bool(np.isfinite(alpha).all()))


def leaky_relu(z: np.ndarray, alpha) -> np.ndarray:
    """``f(z) = z`` if ``z > 0`` else ``alpha * z``, exact for every finite alpha.

    ``alpha`` may be a scalar or an array broadcasting against ``z`` (PReLU's
    per-unit slopes).  A mask is used, never ``max(alpha*z, z)``, which is wrong
    for ``alpha > 1``.  For a scalar alpha this is computed as ``z * f'(z)``:
    ``z * 1 = z`` and ``z * alpha = alpha * z`` exactly, so it equals the masked
    definition bit for bit (NaN and infinities included), and is several times
    faster than ``np.where`` on large arrays.
    """
    if _fast_alpha(z, alpha):
        d = leaky_relu_derivative(z, alpha)
        return np.multiply(z, d, out=d)
    return np.where(z > 0, z, alpha * z)


def leaky_relu_derivative(z: np.ndarray, alpha) -> np.ndarray:
    """``f'(z) = 1`` if ``z > 0`` else ``alpha`` (the kink takes the ``alpha`` branch).

    For finite alpha it is built from the 0/1 mask ``m`` without ``np.where``:
    ``max(m, alpha)`` for a scalar ``0 <= alpha <= 1``, else ``m + alpha * (1 - m)``;
    both are exactly 1 or alpha.
    """
    if _fast_alpha(z, alpha):
        m = (z > 0).astype(z.dtype)
        if np.ndim(alpha) == 0:
            a = z.dtype.type(float(alpha))
            if 0.0 <= a <= 1.0:
                return np.maximum(m, a, out=m)
        else:
            a = alpha
        r = np.subtract(1, m, dtype=z.dtype)
        r *= a
        r += m
        return r
    dtype = np.result_type(z, np.float32)  # integer inputs get a float slope, not a truncated one
    return np.where(z > 0, np.ones((), dtype=dtype), np.asarray(alpha, dtype=dtype))


def _leaky_pair(z, alpha):
    """``(leaky_relu(z, alpha), leaky_relu_derivative(z, alpha))`` sharing the mask:
    ``f(z) = z * f'(z)`` exactly for a finite scalar alpha."""
    d = leaky_relu_derivative(z, alpha)
    if _fast_alpha(z, alpha):
        return z * d, d
    return leaky_relu(z, alpha), d


def _leaky_into(z, alpha, a, d=None) -> bool:
    """Write ``leaky_relu(z, alpha)`` into ``a`` (and its derivative into ``d``),
    with the same arithmetic as :func:`_leaky_pair`, allocating nothing.  Returns
    False (and writes nothing) when the arithmetic kernels do not apply."""
    if not (_fast_alpha(z, alpha) and a.dtype == z.dtype and (d is None or d.dtype == z.dtype)):
        return False
    m = a if d is None else d
    np.greater(z, 0, out=m)  # the 0/1 mask, as floats
    if np.ndim(alpha) == 0 and 0.0 <= z.dtype.type(float(alpha)) <= 1.0:
        np.maximum(m, z.dtype.type(float(alpha)), out=m)
    else:  # m + alpha (1 - m), built in ``a`` (or a temporary when ``a`` holds z or the mask)
        r = np.subtract(1, m, out=a if d is not None and a is not z else None, dtype=z.dtype)
        r *= alpha if np.ndim(alpha) else z.dtype.type(float(alpha))
        np.add(r, m, out=m)
    np.multiply(z, m, out=a)
    return True


# Gauss-Hermite nodes for E[g(z)], z ~ N(0, 1), used for smooth activations' gains.
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(200)
_GH_W = _GH_W / _GH_W.sum()


def _second_moment_gain(f) -> float:
    return float(1.0 / math.sqrt(np.sum(_GH_W * f(_GH_X) ** 2)))


class Activation:
    """Base class.  Subclasses set ``name`` and ``params`` and define
    ``forward`` and ``derivative``."""

    name: ClassVar[str] = "base"
    #: names of the constructor parameters, in order (what configs may set)
    params: ClassVar[tuple[str, ...]] = ()
    #: True for activations whose slope is a trained parameter (PReLU)
    learnable_slope: ClassVar[bool] = False
    #: True when training mode differs from evaluation mode (RReLU)
    stochastic: ClassVar[bool] = False
    #: True when f'(z) is exactly ``1[z > 0]`` and f(z) is 0 exactly where z <= 0
    #: (ReLU): the epoch statistics then read the positives from f'(Z) and the
    #: zeros from them (:mod:`relu_study.engine.epoch_stats`)
    gate: ClassVar[bool] = False

    def forward(self, z: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, z: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.forward(z)

    def train_forward(self, z: np.ndarray, rng: np.random.Generator | None = None):
        """``(f(z), f'(z))`` for a training step."""
        return self.forward(z), self.derivative(z)

    def value_and_derivative(self, z: np.ndarray):
        """``(f(z), f'(z))`` in evaluation mode, equal to ``(forward(z), derivative(z))``;
        subclasses override it to share work between the two (the network's forward
        pass calls it once per hidden layer)."""
        return self.forward(z), self.derivative(z)

    def value_and_derivative_into(self, z: np.ndarray, a: np.ndarray, d: np.ndarray) -> None:
        """Write ``f(z)`` into ``a`` and ``f'(z)`` into ``d`` (evaluation mode): the
        network's passes reuse preallocated arrays instead of allocating new ones
        every step.  Equal to :meth:`value_and_derivative` value for value;
        subclasses override it with kernels that allocate nothing.  ``a`` may be
        ``z`` itself (the training step overwrites Z with A)."""
        value, derivative = self.value_and_derivative(z)
        np.copyto(a, value)
        np.copyto(d, derivative)

    def forward_into(self, z: np.ndarray, a: np.ndarray) -> None:
        """Write ``f(z)`` into ``a`` (evaluation mode)."""
        np.copyto(a, self.forward(z))

    @property
    def gain(self) -> float:
        return _second_moment_gain(self.forward)

    def param_values(self) -> dict[str, float]:
        return {p: getattr(self, p) for p in self.params}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.param_values().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.param_values() == other.param_values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(self.param_values().items())))


def _leaky_value_and_derivative_into(self, z, a, d):
    """:meth:`Activation.value_and_derivative_into` of the leaky family, at the
    evaluation-mode slope ``self.eval_slope``."""
    if not _leaky_into(z, self.eval_slope, a, d):
        Activation.value_and_derivative_into(self, z, a, d)


def _leaky_forward_into(self, z, a):
    """:meth:`Activation.forward_into` of the leaky family."""
    if not _leaky_into(z, self.eval_slope, a):
        Activation.forward_into(self, z, a)


class ReLU(Activation):
    """``f(z) = max(z, 0)``; ``f'(z) = 1[z > 0]``."""

    name = "relu"
    gate = True

    def forward(self, z):
        return np.maximum(z, np.zeros((), dtype=z.dtype))

    def derivative(self, z):
        return (z > 0).astype(z.dtype)

    def value_and_derivative_into(self, z, a, d):
        np.greater(z, 0, out=d)  # first: ``a`` may be ``z`` itself
        np.maximum(z, np.zeros((), dtype=z.dtype), out=a)

    def forward_into(self, z, a):
        np.maximum(z, np.zeros((), dtype=z.dtype), out=a)

    @property
    def gain(self) -> float:
        return math.sqrt(2.0)


class LeakyReLU(Activation):
    """``f(z) = z`` if ``z > 0`` else ``alpha * z``; gain ``sqrt(2 / (1 + alpha^2))``."""

    name = "leaky"
    params = ("alpha",)

    def __init__(self, alpha: float = 0.01):
        self.alpha = check_finite("alpha", alpha)

    def forward(self, z):
        return leaky_relu(z, self.alpha)

    def derivative(self, z):
        return leaky_relu_derivative(z, self.alpha)

    def value_and_derivative(self, z):
        return _leaky_pair(z, self.alpha)

    @property
    def eval_slope(self) -> float:
        return self.alpha

    value_and_derivative_into = _leaky_value_and_derivative_into
    forward_into = _leaky_forward_into

    @property
    def gain(self) -> float:
        return math.sqrt(2.0 / (1.0 + self.alpha**2))


class PReLU(LeakyReLU):
    """Leaky ReLU whose slope is learned, one per unit, initialised at ``alpha``.

    The network stores the slopes; ``forward_slope`` and ``derivative_slope`` take
    them as an array broadcasting against ``z``.  ``d f / d alpha = z`` where
    ``z <= 0``, else 0.  ``forward``/``derivative`` use the initial slope.
    """

    name = "prelu"
    learnable_slope = True

    def __init__(self, alpha: float = 0.25):
        super().__init__(alpha)

    @staticmethod
    def forward_slope(z, slope):
        return leaky_relu(z, slope)

    @staticmethod
    def derivative_slope(z, slope):
        return leaky_relu_derivative(z, slope)

    @staticmethod
    def value_and_derivative_slope(z, slope):
        """``(forward_slope(z, slope), derivative_slope(z, slope))`` sharing the mask."""
        return _leaky_pair(z, slope)

    @staticmethod
    def value_and_derivative_slope_into(z, slope, a, d):
        """:meth:`value_and_derivative_slope` written into ``a`` and ``d``."""
        if not _leaky_into(z, slope, a, d):
            value, derivative = _leaky_pair(z, slope)
            np.copyto(a, value)
            np.copyto(d, derivative)

    @staticmethod
    def forward_slope_into(z, slope, a):
        """:meth:`forward_slope` written into ``a``."""
        if not _leaky_into(z, slope, a):
            np.copyto(a, leaky_relu(z, slope))

    @staticmethod
    def slope_grad_factor(z):
        """``d f(z) / d alpha``."""
        return np.where(z > 0, np.zeros((), dtype=z.dtype), z)


class RReLU(Activation):
    """Randomised leaky ReLU (Xu et al. 2015).

    Training: the negative slope is drawn ``U(lower, upper)`` for every element.
    Evaluation: the mean slope ``(lower + upper) / 2``.
    """

    name = "rrelu"
    params = ("lower", "upper")
    stochastic = True

    def __init__(self, lower: float = 1.0 / 8.0, upper: float = 1.0 / 3.0):
        self.lower = check_finite("lower", lower)
        self.upper = check_finite("upper", upper)
        if self.lower > self.upper:
            raise ValueError(f"rrelu needs lower <= upper, got lower={lower!r} > upper={upper!r}")

    @property
    def mean_slope(self) -> float:
        return 0.5 * (self.lower + self.upper)

    def forward(self, z):
        return leaky_relu(z, self.mean_slope)

    def derivative(self, z):
        return leaky_relu_derivative(z, self.mean_slope)

    def value_and_derivative(self, z):
        return _leaky_pair(z, self.mean_slope)

    @property
    def eval_slope(self) -> float:
        return self.mean_slope

    value_and_derivative_into = _leaky_value_and_derivative_into
    forward_into = _leaky_forward_into

    def train_forward(self, z, rng=None):
        if rng is None:
            return self.forward(z), self.derivative(z)
        slope = rng.uniform(self.lower, self.upper, size=z.shape).astype(z.dtype, copy=False)
        return leaky_relu(z, slope), leaky_relu_derivative(z, slope)

    @property
    def gain(self) -> float:
        return math.sqrt(2.0 / (1.0 + self.mean_slope**2))


class ELU(Activation):
    """``f(z) = z`` if ``z > 0`` else ``alpha * (exp(z) - 1)``;
    ``f'(z) = 1`` or ``alpha * exp(z)``."""

    name = "elu"
    params = ("alpha",)

    def __init__(self, alpha: float = 1.0):
        self.alpha = check_finite("alpha", alpha)

    def forward(self, z):
        return np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0)))

    def derivative(self, z):
        return np.where(z > 0, np.ones((), z.dtype), self.alpha * np.exp(np.minimum(z, 0)))


class GELU(Activation):
    """``f(z) = z * Phi(z)`` (exact, erf form); ``f'(z) = Phi(z) + z * phi(z)``."""

    name = "gelu"

    def forward(self, z):
        return 0.5 * z * (1.0 + erf(z / math.sqrt(2.0)))

    def derivative(self, z):
        cdf = 0.5 * (1.0 + erf(z / math.sqrt(2.0)))
        pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
        return cdf + z * pdf


class SiLU(Activation):
    """``f(z) = z * sigmoid(z)``; ``f'(z) = s(z) * (1 + z * (1 - s(z)))``."""

    name = "silu"

    def forward(self, z):
        return z * expit(z)

    def derivative(self, z):
        s = expit(z)
        return s * (1.0 + z * (1.0 - s))

    def value_and_derivative(self, z):
        s = expit(z)
        return z * s, s * (1.0 + z * (1.0 - s))


class Softplus(Activation):
    """``f(z) = log(1 + exp(beta * z)) / beta`` (computed stably);
    ``f'(z) = sigmoid(beta * z)``."""

    name = "softplus"
    params = ("beta",)

    def __init__(self, beta: float = 1.0):
        self.beta = check_finite("beta", beta)
        if self.beta <= 0:
            raise ValueError(f"softplus beta must be > 0, got {beta!r}")

    def forward(self, z):
        return np.logaddexp(0.0, self.beta * z) / self.beta

    def derivative(self, z):
        return expit(self.beta * z)


class Tanh(Activation):
    """``f(z) = tanh(z)``; ``f'(z) = 1 - tanh(z)^2``."""

    name = "tanh"

    def forward(self, z):
        return np.tanh(z)

    def derivative(self, z):
        t = np.tanh(z)
        return 1.0 - t * t

    def value_and_derivative(self, z):
        t = np.tanh(z)
        return t, 1.0 - t * t

    def value_and_derivative_into(self, z, a, d):
        np.tanh(z, out=a)
        np.multiply(a, a, out=d)
        np.subtract(1.0, d, out=d)

    def forward_into(self, z, a):
        np.tanh(z, out=a)


class Identity(Activation):
    """``f(z) = z``; ``f'(z) = 1``; gain 1."""

    name = "identity"

    def forward(self, z):
        return z

    def derivative(self, z):
        return np.ones_like(z)

    def value_and_derivative_into(self, z, a, d):
        np.copyto(a, z)
        d.fill(1)

    @property
    def gain(self) -> float:
        return 1.0


#: name -> activation class; the one place that lists what exists.
ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (ReLU, LeakyReLU, PReLU, RReLU, ELU, GELU, SiLU, Softplus, Tanh, Identity)
}


def activation_names() -> list[str]:
    return list(ACTIVATIONS)


def activation_class(name: str) -> type[Activation]:
    """The registered class for ``name``; ``ValueError`` listing the valid choices otherwise."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {name!r}; valid choices: {', '.join(ACTIVATIONS)}"
        ) from None


def make_activation(name: str, **params) -> Activation:
    """Build a registered activation.

    Parameters that the activation does not take are ignored, so one config can
    carry ``alpha``, ``lower`` and ``upper`` for all of them; pass ``strict=True``
    to reject them instead.
    """
    strict = params.pop("strict", False)
    if isinstance(name, Activation):
        return name
    cls = activation_class(name)
    unknown = set(params) - set(cls.params)
    if strict and unknown:
        raise ValueError(
            f"activation {name!r} takes parameters {list(cls.params)}, got {sorted(unknown)}"
        )
    return cls(**{k: v for k, v in params.items() if k in cls.params and v is not None})
