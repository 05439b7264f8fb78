"""The activations' parameters as the explorers see them: one value per
parameter name, shared by every activation that takes it (as in a config),
with defaults from the registry, slider spans, and the registry's own checks.

Shared by the desktop explorer (:mod:`relu_study.tools.explore`) and the web
page (:mod:`relu_study.tools.explore_html`).
"""

from __future__ import annotations

import inspect

from ..engine.activations import ACTIVATIONS, Activation, check_finite

__all__ = ["PARAM_NAMES", "SLIDER_RANGES", "activation_title", "param_defaults", "resolve_params"]

#: Every parameter name taken by some registered activation, in registry order.
PARAM_NAMES: tuple[str, ...] = tuple(dict.fromkeys(p for cls in ACTIVATIONS.values() for p in cls.params))

#: Default slider span per parameter; a value outside it (from the CLI or
#: :meth:`ActivationExplorer.set_param`) widens the slider to include it.
SLIDER_RANGES: dict[str, tuple[float, float]] = {
    "alpha": (-1.0, 3.0),  # negative, leaky (0..1) and steeper-than-identity slopes
    "lower": (0.0, 1.0),
    "upper": (0.0, 1.0),
    "beta": (0.1, 5.0),  # softplus needs beta > 0
}
_FALLBACK_RANGE = (-2.0, 2.0)

#: Pairs (a, b) that must satisfy a <= b; moving one past the other drags it along.
_ORDERED_PAIRS = (("lower", "upper"),)


def _init_default(cls: type[Activation], param: str) -> float | None:
    try:
        default = inspect.signature(cls).parameters[param].default
    except (KeyError, TypeError, ValueError):
        return None
    return None if default is inspect.Parameter.empty else float(default)


def param_defaults(activation: str | None = None) -> dict[str, float]:
    """Default value of every parameter in :data:`PARAM_NAMES`.

    A parameter takes the constructor default of ``activation`` when that
    activation has it, else that of the first registered activation having it
    (so ``alpha`` is 0.01 for ``leaky``/``relu``, 0.25 for ``prelu``, 1 for ``elu``).
    """
    classes = list(ACTIVATIONS.values())
    if activation in ACTIVATIONS:
        classes.insert(0, ACTIVATIONS[activation])
    out: dict[str, float] = {}
    for p in PARAM_NAMES:
        for cls in classes:
            if p in cls.params and (d := _init_default(cls, p)) is not None:
                out[p] = d
                break
        else:
            out[p] = 0.0
    return out


def _validate_params(params: dict[str, float]) -> None:
    """Every registered activation must accept the parameter values it takes."""
    for cls in ACTIVATIONS.values():
        cls(**{p: params[p] for p in cls.params})  # raises ValueError with the reason


def resolve_params(activation: str, given: dict[str, float | None]) -> dict[str, float]:
    """Every parameter's value: those ``given`` (None: not given) over the defaults
    of ``activation`` (:func:`param_defaults`), checked as the registry checks them.

    A value given for one end of an ordered pair (rrelu's ``lower`` and ``upper``)
    alone drags the default of the other end along.  Raises ``ValueError`` naming
    the parameter and the value (the desktop and the web explorer share this).
    """
    given = {k: v for k, v in given.items() if v is not None}
    unknown = set(given) - set(PARAM_NAMES)
    if unknown:
        raise ValueError(f"no registered activation takes {sorted(unknown)}; parameters: {', '.join(PARAM_NAMES)}")
    values = param_defaults(activation)
    for k, v in given.items():
        values[k] = check_finite(k, v)
    for a, b in _ORDERED_PAIRS:  # a value given alone drags the default of its partner
        if a in values and b in values and values[a] > values[b]:
            if a in given and b in given:
                raise ValueError(f"{a} must be <= {b}, got {a}={values[a]:g} > {b}={values[b]:g}")
            if a in given:
                values[b] = values[a]
            else:
                values[a] = values[b]
    _validate_params(values)
    return values


def activation_title(act: Activation) -> str:
    """``LeakyReLU(alpha=0.3)``: the activation with its parameters rounded to four
    significant digits (a slider gives 0.30000000000000004; the title says 0.3)."""
    args = ", ".join(f"{k}={v:.4g}" for k, v in act.param_values().items())
    return f"{type(act).__name__}({args})"
