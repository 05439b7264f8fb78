"""``hydra/launcher=slurm``: relu_study's SLURM launcher, where Hydra looks for it.

Hydra instantiates a launcher only from a class defined in its ``hydra_plugins``
namespace package, and imports every module of that namespace whenever any Hydra
application starts.  So this module holds nothing but the class Hydra needs; the
code is :class:`relu_study.sweeps.slurm.SlurmLauncher`.  Without Hydra's submitit
launcher (``pip install 'relu_study[launchers]'``) it defines nothing.
"""

try:
    from relu_study.sweeps.slurm import SlurmLauncher as _SlurmLauncher
except ImportError:  # hydra-submitit-launcher is not installed
    pass
else:

    class SlurmLauncher(_SlurmLauncher):
        __doc__ = _SlurmLauncher.__doc__
