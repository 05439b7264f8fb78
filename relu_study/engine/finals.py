"""A network's final and best values, taken as the metric registry says.

One function, :func:`final_values`, turns a metrics table (one row per seed per
epoch) into one row per network: the final value of every metric with
:attr:`~relu_study.engine.metrics.Metric.final` that the table recorded, and
``best_<name>`` of every metric with :attr:`~relu_study.engine.metrics.Metric.best`.
The run summary (``summary.json``), the sweep table (``sweep_runs.parquet``,
as ``final_<name>``) and anyone else who needs finals call it, so the lists
cannot disagree again (they did: the run summary had ``dormant_frac`` and
``test_loss``, the sweep table neither).

How a value is taken (:data:`TAKE`):

``"last"``
    the value on the network's last row.  Every metric with a final value is
    measured there: losses and epoch statistics every epoch, the probes and the
    test part at epoch 0, on the schedule and at the last epoch.
``"sum"``
    the sum over the network's rows (``died``: every unit that died over training,
    not only between the last two probes); missing when no row measured it.
``best`` ``"min"`` / ``"max"``
    over the network's rows where it was measured.

A network that diverged has no final values (missing): its divergence is an
outcome of its own, reported beside the metrics, never recoded as a value of
them.  Its best values are those of the epochs before it diverged.

Per-layer columns (``dead_frac_l2``) are left to the per-epoch table: a final
of every metric per layer would make a deep network's summary hundreds of keys.
Patterned metrics (``near_zero_frac_t<t>``) get a final per recorded column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import METRICS, best_metrics, final_metrics, metric

__all__ = ["TAKE", "final_columns", "final_values"]

#: how :func:`final_values` takes a final value, by :attr:`Metric.final`
TAKE = {"last": "the value on the network's last row", "sum": "the sum over the network's rows"}


def final_columns(columns=()) -> list[str]:
    """The names :func:`final_values` reports for a table with ``columns``: every
    final-valued metric of the registry (recorded or not), the recorded columns of
    patterned metrics, then ``best_<name>`` for every metric with a best value."""
    patterned = [n for n, m in METRICS.items() if m.final is not None and "<" in n]
    extra = []
    for c in columns:
        try:
            if metric(c).name in patterned and c not in METRICS:
                extra.append(c)
        except KeyError:
            continue
    return [*final_metrics(), *extra, *[f"best_{n}" for n in best_metrics()]]


def final_values(table: pd.DataFrame, diverged=None) -> pd.DataFrame:
    """One row per network seed (index ``seed``, in the table's order of seeds):
    the :func:`final_columns` the table recorded, with the registry's dtype
    (``float64``, ``Int64`` counts, ``boolean`` flags).

    ``diverged``: which seeds diverged (a boolean Series by seed); by default
    read from the table's ``diverged`` column.  Column by column over all
    networks at once: thousands of networks take milliseconds.
    """
    by = table.groupby("seed", sort=False)
    last = by.tail(1).set_index("seed")
    if diverged is None:
        diverged = by["diverged"].any() if "diverged" in table else pd.Series(False, index=last.index)
    bad = diverged.reindex(last.index).fillna(False).to_numpy(dtype=bool)
    out = {}
    for name in final_columns(table.columns):
        if name.startswith("best_"):
            base = name[len("best_"):]
            if base in table:
                out[name] = getattr(by[base], METRICS[base].best)().reindex(last.index).astype(float)
            continue
        if name not in table:
            continue
        m = metric(name)
        if m.final == "sum":
            values = by[name].sum(min_count=1).reindex(last.index)
        elif m.final == "last":
            values = last[name]
        else:  # a registry entry whose way of taking a final value is not known here
            raise ValueError(f"metric {name}: final={m.final!r} is not one of {', '.join(TAKE)}")
        out[name] = _masked(values, bad, m.dtype)
    return pd.DataFrame(out, index=last.index)


def _masked(values: pd.Series, bad: np.ndarray, dtype: str) -> pd.Series:
    """``values`` in the registry's dtype, missing where ``bad``."""
    if dtype == "boolean":
        values = values.astype("boolean")
    elif dtype == "Int64":
        values = values.astype("Float64").round().astype("Int64")
    else:
        values = values.astype(float)
    values = values.copy()
    values[bad] = pd.NA if dtype in ("boolean", "Int64") else np.nan
    return values
