"""relu_study: an experiment harness for the dying-ReLU problem.

Pure-NumPy multilayer perceptrons with pluggable activations, per-epoch and
per-layer probes of dead units, and tables that load straight into pandas.

The package is layered; each layer imports only from the ones above it in
this list (``tests/test_layout.py`` checks it):

``data``, ``_version``
    datasets (registry, split, scaling) and the version stamp;
``engine``
    the NumPy core: activations, initialisers, losses, optimisers, the MLP
    with a leading seed axis, probes, the training loop;
``runs``
    one experiment from a config: schema and validation, run folders,
    per-run plots, the Hydra command line;
``sweeps``
    many runs into one table: aggregation, arms, sweep plots, compare;
``claims``
    statistics, the claim studies and their report, reproduce;
``tools``
    what stands on everything: the activation explorer, the benchmark, the
    scikit-learn estimators.

The modules at the top (``report``, ``compare``, ``reproduce``, ``explore``,
``bench``, ``__main__``) are thin entry points for ``python -m relu_study.<name>``.
"""

from ._version import __version__
from .runs.config import ConfigError  # what run() raises for a bad value: the command line's one line

__all__ = ["ConfigError", "MLPClassifier", "MLPRegressor", "__version__", "run"]

#: names :func:`__getattr__` imports on first use, so that ``import relu_study``
#: loads neither scikit-learn nor Hydra
_LAZY = ("MLPClassifier", "MLPRegressor")


def __getattr__(name):
    """``relu_study.MLPClassifier`` / ``MLPRegressor``: the scikit-learn estimators
    (:mod:`relu_study.tools.estimators`), imported when first asked for."""
    if name in _LAZY:
        from .tools import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


def run(overrides=None, output_dir=None):
    """Run one experiment with Hydra overrides and return its metrics table.

    ``relu_study.run(["activation=leaky", "alpha=0.1"])``; see :func:`relu_study.runs.cli.run`.
    """
    from .runs.cli import run as _run

    return _run(overrides, output_dir)
