"""The claim studies: one module per study, each defining ``STUDY`` (a
:class:`relu_study.claims.analysis.Study`) whose ``name`` is its preset in
``conf/experiment/``.  Adding a study is adding one module here and one preset;
the report and ``reproduce`` find it through :func:`registry`.

What a study module defines (see :class:`~relu_study.claims.analysis.Study`):

* ``name`` (= module and preset name), ``id`` (``C1``...), ``title``, ``claim``
  (the usual wording), ``question``, ``settings`` (config keys that make a
  setting), ``order`` (position in the report), ``quick`` (overrides for
  ``reproduce --quick``), ``cost`` (rough core-seconds of the full run);
* ``analyses``: one or more :class:`~relu_study.claims.analysis.Analysis`, each
  a gate and metrics (the first metric is the primary outcome and must count
  every network); the first analysis answers the claim;
* optional hooks: ``prepare`` (the table of units compared, when it is not one
  row per network), ``section`` (extra markdown, figures and tables),
  ``summary`` (a sentence for the summary paragraph), ``literature`` (lines
  for the Literature section), ``analyse`` (a study that estimates instead of
  comparing arms); ``headline`` (secondary metrics quoted in the summary),
  ``curves`` (probe columns drawn per epoch), ``limitations``, ``pilot``.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

__all__ = ["registry"]


@functools.lru_cache(maxsize=1)
def _load() -> tuple:
    studies = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        study = getattr(module, "STUDY", None)
        if study is None:
            raise ImportError(f"{module.__name__} defines no STUDY")
        if study.name != info.name:
            raise ImportError(f"{module.__name__}: STUDY.name is {study.name!r}; it must be the module's name")
        studies.append(study)
    return tuple(sorted(studies, key=lambda s: (s.order, s.name)))


def registry() -> dict:
    """``{name: Study}`` in report order."""
    return {s.name: s for s in _load()}
