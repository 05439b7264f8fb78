"""relu_study: an experiment harness for the dying-ReLU problem.

Pure-NumPy multilayer perceptrons with pluggable activations, per-epoch and
per-layer probes of dead units, and tables that load straight into pandas.
"""

__version__ = "0.1.0"
