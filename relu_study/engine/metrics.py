"""The metric registry: one entry per column of the metrics table.

Every place that needs to know a metric (the table's column order and dtypes,
``COLUMNS``, the final-value lists of runs, sweeps, claims and the estimators,
figure labels, the README's and docs' column tables, the "cannot fail by
construction" notes of the claims) reads it from here, so that a metric is
defined once.  The computation lives beside the maths it needs
(:mod:`relu_study.engine.probes` for the exact probes,
:mod:`relu_study.engine.train` for losses and the epoch statistics); this
module holds what the metric *is*.

``scope``:
  ``"run"``      one value per (seed, epoch) row that describes the row (seed, epoch, diverged);
  ``"loss"``     a loss or task metric, one per row;
  ``"layer"``    a hidden-unit quantity reported as ``<name>`` over all hidden units and
                 ``<name>_l<i>`` per hidden layer i (1-based);
  ``"network"``  one value per network (output layer or whole network).

``source``:
  ``"train"``       computed by the training loop on every epoch (losses);
  ``"eval"``        evaluated on held-out data (validation every epoch, test at probed epochs);
  ``"probe"``       the exact probe: a forward and backward pass over the probe set P, on the
                    probe schedule (NaN on other epochs);
  ``"epoch_stat"``  accumulated from the training passes themselves during the epoch, at every
                    epoch: describes the network as it moved through the epoch, not a snapshot.

``final``: how a run's final value is taken (``"last"``: the value on the network's last
row, where every final-valued metric is measured; ``"sum"``: the sum over its rows; ``None``:
no final value; :func:`relu_study.engine.finals.final_values` takes them, missing for a
diverged network).  ``best``: ``"min"`` or ``"max"``
when a best-over-epochs value means something, else ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["METRICS", "Metric", "best_metrics", "final_metrics", "layer_metrics", "metric", "metrics_of"]


@dataclass(frozen=True)
class Metric:
    """What one column of the metrics table is."""

    name: str
    meaning: str  #: one line, with its formula (P: probe set, z: pre-activation, a = f(z))
    label: str  #: short label for a figure axis or legend
    unit: str  #: what the number counts ("fraction of units", "loss", ...)
    scope: str = "layer"  #: "run", "loss", "layer" or "network" (see the module docstring)
    source: str = "probe"  #: "train", "eval", "probe" or "epoch_stat"
    dtype: str = "float64"  #: pandas dtype of the column ("float64", "Int64", "boolean", "int64")
    aggregate: str = "width-weighted mean"  #: how ``<name>`` combines the layers (scope "layer")
    final: str | None = "last"  #: how a final value is taken; None: none
    best: str | None = None  #: "min" / "max" where a best-over-epochs value means something
    task: str | None = None  #: "classification" / "regression" when only one task has it
    opt_in: str | None = None  #: the setting that turns the column on, when it is off by default
    #: activation family -> the value the metric takes by construction, with why
    by_construction: dict = field(default_factory=dict)


def _m(*args, **kwargs) -> Metric:
    return Metric(*args, **kwargs)


_SLOPE_NONZERO = "leaky/prelu/rrelu with a non-zero slope"

#: every column of the metrics table, in table order
METRICS: dict[str, Metric] = {m.name: m for m in (
    _m("seed", "seed of the network (its initialisation and minibatch order)", "seed", "seed",
       scope="run", source="train", dtype="int64", final=None),
    _m("epoch", "0 = at initialisation, e = after e epochs", "epoch", "epoch",
       scope="run", source="train", dtype="int64", final=None),
    _m("diverged", "True on the row of the epoch where the network's loss became non-finite (its last row)",
       "diverged", "flag", scope="run", source="train", dtype="bool", final=None),
    _m("train_loss", "mean loss over the epoch's minibatches (epoch 0: loss on the whole training set)",
       "training loss", "loss", scope="loss", source="train", best="min"),
    _m("val_loss", "loss on the validation set (cross-entropy or mean squared error)", "validation loss", "loss",
       scope="loss", source="eval", best="min"),
    _m("val_acc", "validation accuracy (classification)", "validation accuracy", "fraction of samples",
       scope="loss", source="eval", best="max", task="classification"),
    _m("val_r2", "validation coefficient of determination R^2 (regression)", "validation R²", "R²",
       scope="loss", source="eval", best="max", task="regression"),
    _m("test_loss", "loss on the held-out test part (dataset.test_fraction > 0; epoch 0, probed epochs and the last)",
       "test loss", "loss", scope="loss", source="eval", opt_in="dataset.test_fraction"),
    _m("test_acc", "test accuracy (classification; dataset.test_fraction > 0)", "test accuracy",
       "fraction of samples", scope="loss", source="eval", task="classification", opt_in="dataset.test_fraction"),
    _m("test_r2", "test coefficient of determination R^2 (regression; dataset.test_fraction > 0)", "test R²", "R²",
       scope="loss", source="eval", task="regression", opt_in="dataset.test_fraction"),
    # the exact probe (relu_study.engine.probes)
    _m("dead_frac", "fraction of hidden units with z <= 0 on every sample of P (never positive)",
       "never-positive units", "fraction of units",
       by_construction={}),
    _m("zero_grad_frac", "fraction of hidden units with f'(z) = 0 on every sample of P (truly dead)",
       "zero-gradient units", "fraction of units",
       by_construction={_SLOPE_NONZERO: "0: f'(z) = alpha is never 0", "relu": "equals dead_frac"}),
    _m("low_gain_frac", "fraction of hidden units with |f'(z)| <= probe.gain_tol on every sample of P (effectively "
       "dead, any activation; a leaky unit with |alpha| > gain_tol never is)", "low-gain units", "fraction of units",
       by_construction={"leaky with |alpha| > probe.gain_tol": "0: |f'(z)| >= |alpha| everywhere"}),
    _m("dormant_frac", "fraction of hidden units whose score mean_P|a| / (mean over the layer's units of "
       "mean_P|a|) is <= probe.dormant_tau (Sokar et al. 2023 dormant units)", "dormant units",
       "fraction of units"),
    _m("low_contribution_frac", "fraction of hidden units whose first-order contribution c = sum_P |dL/da * "
       "(a - mean_P a)| is <= probe.contribution_tol * (sum of c over the layer)", "low-contribution units",
       "fraction of units"),
    _m("low_ablation_frac", "fraction of hidden units whose exact mean-ablation effect mean_P |l_i(a -> mean_P a) "
       "- l_i| is <= probe.contribution_tol * (its layer total); probe.ablation, last epoch", "low-ablation units",
       "fraction of units", opt_in="probe.ablation"),
    _m("exact_zero_frac", "fraction of (sample, unit) hidden activations exactly 0", "exactly-zero activations",
       "fraction of activations",
       by_construction={_SLOPE_NONZERO: "0 unless z is exactly 0: alpha * z != 0 for z != 0"}),
    _m("near_zero_frac", "fraction of hidden activations with |a| < near_zero_rel * std(a) (or exactly 0)",
       "near-zero activations", "fraction of activations"),
    _m("active_rate", "mean over hidden units of the fraction of probe samples with z > 0", "active rate",
       "fraction of samples"),
    _m("grad_norm", "L2 norm of the weight gradient of L (all layers; per layer: incoming weights)",
       "weight-gradient norm", "L2 norm", aggregate="norm over every weight matrix"),
    _m("died", "number of hidden units positive somewhere at the previous probe and never positive now",
       "units died", "count of units", dtype="Int64", aggregate="sum", final="sum"),
    _m("revived", "number of hidden units never positive at the previous probe and positive somewhere now",
       "units revived", "count of units", dtype="Int64", aggregate="sum", final="sum"),
    _m("revival_epoch_median", "median of the probe epochs of every revival so far (NaN before the first)",
       "median revival epoch", "epoch", aggregate="median over every layer's revivals"),
    _m("w_change", "relative change of the weights since initialisation, ||W(t) - W(0)||_F / ||W(0)||_F (all "
       "weight matrices; per layer: its incoming weights; biases left out)", "relative weight change", "ratio",
       aggregate="over every weight matrix"),
    _m("frozen_frac", "fraction of hidden units whose incoming weights and bias are bit for bit what they were at "
       "the start of the epoch (no update moved them during it; NaN at epoch 0). With SGD and no weight decay: "
       "the units with zero gradient on every minibatch; momentum, Adam and weight decay still move such a unit",
       "frozen units", "fraction of units"),
    _m("grad_norm_out", "L2 norm of the output layer's weight gradient of L", "output-layer gradient norm",
       "L2 norm", scope="network"),
    _m("w_change_out", "relative change of the output layer's weights since initialisation (as w_change)",
       "output-layer weight change", "ratio", scope="network"),
    _m("near_zero_frac_t<t>", "probe.near_zero_curve: for each threshold t, the fraction of hidden activations with "
       "|a| < t * std(a) (or exactly 0), as near_zero_frac with near_zero_rel = t", "near-zero activations (t)",
       "fraction of activations", scope="network", opt_in="probe.near_zero_curve"),
    _m("output_spread", "std of the network output over P / std of the targets", "output spread", "ratio",
       scope="network"),
    _m("collapsed", "output_spread < collapse_tol: the network is a constant function on P", "collapsed",
       "flag", scope="network", dtype="boolean"),
    # epoch statistics: from the training passes of the epoch (relu_study.engine.train), every epoch
    _m("epoch_never_positive_frac", "fraction of hidden units with z <= 0 on every training sample the epoch's "
       "minibatches passed forward (parameters move between minibatches; not the exact probe dead_frac)",
       "never positive during the epoch", "fraction of units", source="epoch_stat", opt_in=None),
    _m("epoch_dormant_frac", "fraction of hidden units whose score (the epoch's running mean |a|) / (mean of that "
       "over the layer's units) is <= probe.dormant_tau, over the epoch's minibatches", "dormant during the epoch",
       "fraction of units", source="epoch_stat"),
    _m("epoch_exact_zero_frac", "fraction of the epoch's (sample, unit) hidden activations exactly 0, over its "
       "minibatches", "exactly-zero activations during the epoch", "fraction of activations", source="epoch_stat"),
    _m("epoch_active_rate", "mean over hidden units of the fraction of the epoch's training samples with z > 0",
       "active rate during the epoch", "fraction of samples", source="epoch_stat"),
)}


def metric(name: str) -> Metric:
    """The registry entry of a column: ``dead_frac_l2`` and ``near_zero_frac_t0.1`` find their base metric."""
    if name in METRICS:
        return METRICS[name]
    base, _, suffix = name.rpartition("_l")
    if base in METRICS and suffix.isdigit() and METRICS[base].scope == "layer":
        return METRICS[base]
    if name.startswith("near_zero_frac_t"):
        return METRICS["near_zero_frac_t<t>"]
    raise KeyError(f"no metric named {name!r}; known: {', '.join(METRICS)}")


def metrics_of(source: str | None = None, scope: str | None = None) -> list[str]:
    """Names of the registered metrics with that source and/or scope, in table order."""
    return [n for n, m in METRICS.items()
            if (source is None or m.source == source) and (scope is None or m.scope == scope)]


def final_metrics() -> list[str]:
    """Every metric with a final value (runs, sweeps, claims and estimators all take this list)."""
    return [n for n, m in METRICS.items() if m.final is not None and "<" not in n]


def best_metrics() -> list[str]:
    """Metrics whose best value over the epochs means something (with :attr:`Metric.best`)."""
    return [n for n, m in METRICS.items() if m.best is not None]


def layer_metrics() -> list[str]:
    """Metrics reported per hidden layer as ``<name>_l<i>`` besides ``<name>``."""
    return [n for n, m in METRICS.items() if m.scope == "layer"]
