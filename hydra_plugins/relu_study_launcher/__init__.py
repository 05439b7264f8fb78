"""relu_study's Hydra launcher plugin (see :mod:`relu_study.sweeps.slurm`)."""
