"""The NumPy core: activations, initialisers, losses, optimisers, the MLP with a
leading seed axis (``network``), probes and the training loop (``train``).

Imports nothing from the layers above it (runs, sweeps, claims, tools); it
takes a :class:`relu_study.data.Dataset`.  Import from the modules themselves
(``from relu_study.engine.network import MLP``), so that using one piece does
not load the others.
"""
