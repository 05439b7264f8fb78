"""Weight and bias initialisers for one layer of one network.

Each weight initialiser draws a ``(fan_in, fan_out)`` matrix from a generator:

* ``he_normal``:      ``W ~ N(0, gain^2 / fan_in)``, ``gain`` the activation's He gain
                      (``sqrt(2/(1+alpha^2))`` for Leaky ReLU).
* ``he_uniform``:     ``W ~ U(-l, l)``, ``l = gain * sqrt(3 / fan_in)`` (same variance).
* ``glorot_normal``:  ``W ~ N(0, 2 / (fan_in + fan_out))``.
* ``glorot_uniform``: ``W ~ U(-l, l)``, ``l = sqrt(6 / (fan_in + fan_out))``.
* ``lecun_normal``:   ``W ~ N(0, 1 / fan_in)``.
* ``rai``:            randomized asymmetric initialisation (Lu, Shin, Su and
  Karniadakis 2019, "Dying ReLU and Initialization").  For each unit the vector
  ``(w, b)`` of its ``fan_in + 1`` incoming parameters is drawn
  ``N(0, sigma^2 / fan_in)`` with ``sigma = 0.6007``, then one entry chosen uniformly
  at random is replaced by a draw from ``Beta(2, 1)`` (positive).  RAI sets the bias
  too, so the bias initialiser is not used with it.

Bias initialisers: ``zeros``, ``constant`` (``value``; negative constants provoke
dying), ``normal`` (``N(0, std^2)``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["BIAS_INITS", "WEIGHT_INITS", "init_bias", "init_layer", "init_weights"]

RAI_SIGMA = 0.6007


def he_normal(rng, fan_in, fan_out, gain):
    return rng.standard_normal((fan_in, fan_out)) * (gain / math.sqrt(fan_in))


def he_uniform(rng, fan_in, fan_out, gain):
    limit = gain * math.sqrt(3.0 / fan_in)
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def glorot_normal(rng, fan_in, fan_out, gain):
    return rng.standard_normal((fan_in, fan_out)) * math.sqrt(2.0 / (fan_in + fan_out))


def glorot_uniform(rng, fan_in, fan_out, gain):
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def lecun_normal(rng, fan_in, fan_out, gain):
    return rng.standard_normal((fan_in, fan_out)) / math.sqrt(fan_in)


def rai(rng, fan_in, fan_out, gain):
    """Return the ``(fan_in + 1, fan_out)`` matrix ``[W; b]`` (last row is the bias)."""
    v = rng.standard_normal((fan_in + 1, fan_out)) * (RAI_SIGMA / math.sqrt(fan_in))
    rows = rng.integers(0, fan_in + 1, size=fan_out)
    v[rows, np.arange(fan_out)] = rng.beta(2.0, 1.0, size=fan_out)
    return v


#: name -> f(rng, fan_in, fan_out, gain) -> (fan_in, fan_out) array
WEIGHT_INITS = {
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
    "lecun_normal": lecun_normal,
    "rai": rai,
}

#: name -> f(rng, fan_out, value, std) -> (fan_out,) array
BIAS_INITS = {
    "zeros": lambda rng, n, value, std: np.zeros(n),
    "constant": lambda rng, n, value, std: np.full(n, float(value)),
    "normal": lambda rng, n, value, std: rng.standard_normal(n) * float(std),
}


def _lookup(table: dict, kind: str, name: str):
    try:
        return table[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown {kind} {name!r}; valid choices: {', '.join(table)}") from None


def init_weights(name, rng, fan_in, fan_out, gain=1.0):
    return _lookup(WEIGHT_INITS, "weight initializer", name)(rng, fan_in, fan_out, gain)


def init_bias(name, rng, fan_out, value=0.0, std=0.0):
    return _lookup(BIAS_INITS, "bias initializer", name)(rng, fan_out, value, std)


def check_init(weight: str, bias: str, value: float = 0.0, std: float = 0.0) -> None:
    """Validate initialiser names and parameters before any work is done."""
    _lookup(WEIGHT_INITS, "weight initializer", weight)
    _lookup(BIAS_INITS, "bias initializer", bias)
    for key, v in (("bias_value", value), ("bias_std", std)):
        if not math.isfinite(float(v)):
            raise ValueError(f"init.{key} must be finite, got {v!r}")
    if float(std) < 0:
        raise ValueError(f"init.bias_std must be >= 0, got {std!r}")


def init_layer(rng, fan_in, fan_out, gain=1.0, weight="he_normal", bias="zeros",
               bias_value=0.0, bias_std=0.0):
    """Draw ``(W, b)`` for one layer of one network from ``rng``.

    The weights are drawn before the bias, always in that order, so a network's
    parameters depend only on its own generator.
    """
    if weight == "rai":
        v = rai(rng, fan_in, fan_out, gain)
        return v[:-1], v[-1]
    w = init_weights(weight, rng, fan_in, fan_out, gain)
    return w, init_bias(bias, rng, fan_out, bias_value, bias_std)
