"""C4: Leaky ReLU keeps ReLU's sparse activations.

A claim of non-inferiority, decided by construction for any non-zero slope:
f(z) = α·z ≠ 0 for z ≠ 0, so no activation is exactly zero.  The near-zero
fraction (|a| below a small multiple of the layer's spread) is the measure that
can fail.
"""

from __future__ import annotations

from ..analysis import Analysis, Effect, Metric, Study

EXACT = Metric("exact_zero_frac", "fraction of activations exactly 0 at the end", +1, Effect(0.1, 0.05),
               test="noninferiority", if_diverged=0.0, short="exactly zero",
               by_construction="f(z) = α·z ≠ 0 for z ≠ 0, so no activation is exactly zero")
NEAR = Metric("near_zero_frac", "fraction of activations near 0 at the end (|a| < 1e-3 x the layer's std)", +1,
              Effect(0.1, 0.05), test="noninferiority", short="near zero")


def _literature(result) -> dict:
    v = result.main.metric_verdicts
    near = "; ".join(f"{result.arm(a).short} {w}" for (c, a), w in v.items() if c == "near_zero_frac")
    return {"xu2015": f"C4 (sparsity): no Leaky slope keeps ReLU's exact zeros (by construction); near-zero "
                      f"fraction, non-inferiority: {near}."}


STUDY = Study(
    name="c4_sparsity", id="C4", title="C4. Leaky ReLU keeps ReLU's sparse activations",
    claim="Leaky ReLU keeps ReLU's sparse activations",
    question=("After training, are Leaky ReLU's hidden activations as sparse as ReLU's: as large a fraction exactly "
              "zero, or near zero?"),
    settings=("dataset.name",),
    analyses=(Analysis("sparsity", "Sparsity of trained networks",
                       "Is the fraction of zero (or near-zero) activations not lower than ReLU's by m or more?",
                       (EXACT, NEAR)),),
    notes="The claim is one of non-inferiority: sparsity like ReLU's, not more.",
    order=40, cost=40,
    quick=("seeds=10", "epochs=2", "dataset=moons"),
    headline=("near_zero_frac",),
    literature=_literature,
    limitations=("C4 measures one near-zero threshold (1e-3 of the layer's standard deviation); a curve over "
                 "thresholds would say where, if anywhere, Leaky ReLU's activations become as sparse as ReLU's.",),
)
