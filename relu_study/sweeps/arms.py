"""Arms of a sweep: which config keys tell runs apart, and how to name them.

An *arm* is one combination of the swept config keys, seeds aside.  The runs
table (:func:`relu_study.sweeps.aggregate.collect`) holds config columns beside
result columns; :func:`swept_keys` finds the config columns that vary,
:func:`arm_keys` drops those that follow from the others, :func:`groups`
splits a table by arm, and :func:`arm_label` / :func:`fixed_description` name
arms and what the plotted runs share.  Both the aggregation and the sweep plots
use these, so they live here, below both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..engine.metrics import best_metrics
from ..provenance import TABLE_COLUMNS as PROVENANCE_COLUMNS

__all__ = ["RESULT_COLUMNS", "alpha_key", "arm_keys", "arm_label", "final_vs_alpha_data", "fixed_description",
           "groups", "is_missing", "swept_keys"]

#: runs-table columns that are results, not configuration (with every ``final_<metric>``)
RESULT_COLUMNS = ("seed", "run_dir", "status", "error", "diverged_epoch", "epochs",
                  *(f"best_{m}" for m in best_metrics()), "task", "same_as", *PROVENANCE_COLUMNS)


def swept_keys(runs: pd.DataFrame) -> list[str]:
    """Config columns of ``runs`` that take more than one value (seed, run_dir,
    status and result columns excluded)."""
    keys = []
    for c in runs.columns:
        if c in RESULT_COLUMNS or c.startswith("final_"):
            continue
        values = runs[c].map(lambda v: None if is_missing(v) else v)
        if values.nunique(dropna=False) > 1:
            keys.append(c)
    return keys


def is_missing(v) -> bool:
    """True for None, NaN and pandas' NA; False for anything ``pd.isna`` cannot judge (lists)."""
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _preferred(key: str) -> bool:
    """Keys a user sweeps directly: group choices (``activation.name``) and top-level keys."""
    return key.endswith(".name") or "." not in key


def arm_keys(runs: pd.DataFrame, by=None) -> list[str]:
    """The keys that define an arm: ``by`` (a list or "a,b" string) if given, else
    the swept keys minus nested keys determined by the others (``activation.alpha``
    is dropped when ``activation.name`` and ``alpha`` are swept; ``dataset.noise``
    when ``dataset.name`` is); top-level keys and group choices (``*.name``) always
    stay.  Group choices come first."""
    if by:
        keys = [k.strip() for k in by.split(",")] if isinstance(by, str) else list(by)
        missing = [k for k in keys if k not in runs.columns]
        if missing:
            raise KeyError(f"unknown key(s) {', '.join(missing)}; swept keys: {', '.join(swept_keys(runs)) or 'none'}")
        return keys
    keys = swept_keys(runs)
    filled = runs[keys].map(lambda v: "<none>" if is_missing(v) else v) if keys else runs[[]]
    # only nested non-choice keys (values a config group or an interpolation sets) may
    # go; try the deepest and the last first
    order = sorted((k for k in keys if not _preferred(k)), key=lambda k: (-k.count("."), -keys.index(k)))
    kept = list(keys)
    for k in order:
        rest = [x for x in kept if x != k]
        if not rest:
            break
        if filled.groupby(rest, dropna=False)[k].nunique(dropna=False).max() <= 1:
            kept.remove(k)
    return sorted(kept, key=lambda k: (not k.endswith(".name"), keys.index(k)))


def _short(key: str) -> str:
    return key[:-5] if key.endswith(".name") else key


def _fmt(v) -> str:
    if is_missing(v):
        return "none"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}"
    return str(v)


def arm_label(keys, values) -> str:
    """``"activation=leaky, alpha=0.3"``."""
    if not keys:
        return "all runs"
    if not isinstance(values, tuple):
        values = (values,)
    return ", ".join(f"{_short(k)}={_fmt(v)}" for k, v in zip(keys, values))


#: keys named in "held fixed" descriptions, in this order
_FIXED_KEYS = ("dataset.name", "activation.name", "alpha", "model", "init.name", "optimizer.name",
               "optimizer.lr", "max_epochs", "batch_size")


def fixed_description(runs: pd.DataFrame, keys) -> str:
    """What the plotted runs share, e.g. ``"dataset=moons, model=2x32, init=he,
    sgd lr=0.1, 30 epochs"`` (keys in ``keys`` left out; differing values as "mixed")."""
    keys = set(keys)
    parts = []

    def one(col):
        if col not in runs.columns:
            return None
        vals = runs[col].dropna().unique()
        return vals[0] if len(vals) == 1 else ("mixed" if len(vals) else None)

    for key in _FIXED_KEYS:
        if key in keys:
            continue
        if key == "model":
            if keys & {"model.name", "model.depth", "model.width", "model.widths"}:
                continue
            widths, depth, width = one("model.widths"), one("model.depth"), one("model.width")
            if widths not in (None, "mixed"):
                parts.append(f"hidden={widths}")
            elif depth is not None and width is not None:
                parts.append("model=mixed" if "mixed" in (depth, width) else f"hidden={depth}x{width}")
            continue
        if key == "alpha":
            act = one("activation.name")
            if act in ("relu", None) or "activation.alpha" in keys:
                continue
        v = one(key)
        if v is None:
            continue
        if key == "max_epochs":
            parts.append(f"{_fmt(v)} epochs")
        else:
            parts.append(f"{_short(key)}={_fmt(v)}")
    return ", ".join(parts)


def groups(runs: pd.DataFrame, keys):
    """``(values tuple, sub-frame)`` per arm, in first-appearance order."""
    if not keys:
        yield (), runs
        return
    filled = runs[keys].map(lambda v: "\0none" if is_missing(v) else v)
    # by hand, not groupby(sort=False).groups: pandas before 2.2 sorts that dict anyway (the
    # lowest-versions step found the sweep page's arms in another order at pandas 2.1)
    order: dict[tuple, list] = {}
    for idx, values in zip(runs.index, map(tuple, filled.to_numpy(dtype=object))):
        order.setdefault(values, []).append(idx)
    for values, idx in order.items():
        yield tuple(None if v == "\0none" else v for v in values), runs.loc[idx]


def alpha_key(keys) -> str | None:
    for k in ("alpha", "activation.alpha"):
        if k in keys:
            return k
    return None


def final_vs_alpha_data(runs: pd.DataFrame, keys):
    """What a final-values-against-alpha figure plots, or None when alpha is not
    swept: ``(data, xkey, line_key, facet_keys)``, the networks that did not fail,
    the slope key on x, a line per activation, a panel per value of the other
    arm keys.  The PNG and the sweep page (:mod:`relu_study.sweeps.html`) both
    start here, so they plot the same networks against the same key."""
    xkey = alpha_key(keys)
    if xkey is None:
        return None
    data = runs[runs["status"] != "failed"]
    if data.empty or data[xkey].nunique() < 2:
        return None
    line_key = "activation.name" if "activation.name" in data.columns else None
    facet_keys = [k for k in keys if k not in (xkey, line_key, "alpha", "activation.alpha")]
    return data, xkey, line_key, facet_keys
