"""relu_study: an experiment harness for the dying-ReLU problem.

Pure-NumPy multilayer perceptrons with pluggable activations, per-epoch and
per-layer probes of dead units, and tables that load straight into pandas.
"""

__version__ = "0.1.0"


def run(overrides=None, output_dir=None):
    """Run one experiment with Hydra overrides and return its metrics table.

    ``relu_study.run(["activation=leaky", "alpha=0.1"])``; see :func:`relu_study.cli.run`.
    """
    from .cli import run as _run

    return _run(overrides, output_dir)
