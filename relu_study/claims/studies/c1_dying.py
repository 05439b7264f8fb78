"""C1: Leaky ReLU prevents dying units.

Two questions, analysed apart because they have different causes: units that
*training* kills (a large step pushes a unit's pre-activation below zero on
every input), and units already dead at *initialisation* (a negative bias,
depth).  Each is gated on the ReLU arm showing the problem in that setting.
The primary outcome counts every network: a network *fails* when it diverged,
collapsed to a constant, or did not train (final loss above half that of a
constant prediction), so a slope that trades dead units for divergence gets no
credit.  Dead fractions exist only for networks that did not diverge and are
secondary.
"""

from __future__ import annotations

from ..analysis import Analysis, Effect, Gate, Metric, Study

FAILED = Metric("failed", "failed networks (diverged, collapsed or not trained)", -1, Effect(0.2, 0.05), binary=True,
                if_diverged=1.0, short="failed")
KILLED = Metric("change_dead_frac", "units killed by training (final − initial dead fraction)", -1,
                Effect(0.25, 0.02), bounds=(-1.0, 1.0), short="Δ dead fraction")
DEAD = Metric("dead_frac", "dead fraction at the end (units never positive on the probe set)", -1,
              Effect(0.25, 0.02), short="dead fraction")
COLLAPSED = Metric("collapsed", "collapsed networks (constant output) at the end", -1, Effect(0.2, 0.05), binary=True,
                   short="collapsed")
DIVERGED = Metric("diverged", "diverged networks (loss became non-finite)", -1, Effect(0.2, 0.05), binary=True,
                  if_diverged=1.0, short="diverged",
                  note="Not part of the claim: the price a negative slope may pay at a large learning rate.")
ZERO_GRAD = Metric("zero_grad_frac", "zero-gradient fraction at the end (f'(z) = 0 on every probe sample)", -1,
                   Effect(0.25, 0.02), short="zero-gradient fraction",
                   by_construction="f'(z) = α ≠ 0 for z ≤ 0, so no unit can have a zero derivative")

TRAINING = Analysis(
    "training", "Dying caused by training",
    "Where training kills ReLU units, does Leaky ReLU leave fewer networks failed, and fewer units killed?",
    (FAILED, KILLED, DEAD, COLLAPSED, DIVERGED, ZERO_GRAD),
    Gate("training killed ReLU units", "change_dead_frac", 0.02, (0.01, 0.05),
         "the ReLU arm's mean rise of the dead fraction from initialisation to the end"))

AT_INIT = Analysis(
    "init", "Dying present at initialisation",
    "Where many ReLU units are dead from the start (negative bias, depth), does Leaky ReLU leave fewer networks "
    "failed, and do its stuck units recover?",
    (FAILED, Metric("change_dead_frac", "change of the dead fraction during training (negative: units recovered)",
                    -1, Effect(0.25, 0.02), bounds=(-1.0, 1.0), short="Δ dead fraction"), DEAD),
    Gate("many ReLU units were dead at initialisation", "init_dead_frac", 0.25, (0.1, 0.5),
         "the ReLU arm's mean dead fraction at initialisation"))


def _summary(result) -> str:
    """The trade in one sentence, from the verdicts (units spared among survivors,
    divergence, failed networks)."""
    v = result.main.metric_verdicts
    arms = [a for a in result.arms if not a.baseline]

    def which(column, word):
        return ", ".join(a.short for a in arms if v.get((column, a.label)) == word)

    spared, diverge, fewer = which(KILLED.column, "supported"), which(DIVERGED.column, "contradicted"), \
        which(FAILED.column, "supported")
    if not (spared or diverge):
        return ""
    parts = []
    if spared:
        parts.append(f"among networks that did not diverge, training killed fewer units with {spared}")
    if diverge:
        parts.append(f"{'but ' if spared else ''}networks diverged more often with {diverge}")
    tail = (f"so fewer networks failed with {fewer}" if fewer else
            "so no slope left demonstrably fewer networks failed")
    return "In short, where training killed ReLU units: " + "; ".join(parts) + f"; {tail}."


def _literature(result) -> dict:
    main = result.main
    v = main.arm_verdicts
    small = next((a for a in result.arms if a.activation == "leaky" and a.slope <= 0.01), None)
    out = {}
    if small is not None and small.label in v:
        out["maas2013"] = (f"C1 (dying caused by training, failed networks): {small.short} is {v[small.label]}.")
    n_el = len(main.eligible_settings())
    out["sokar2023"] = (f"C1: training killed ReLU units in {n_el} of {len(main.gates)} settings (large learning "
                        f"rate, zero bias), the supervised analogue of units going dormant during training; the dead "
                        f"fraction is the strictest dormancy (no positive output at all).")
    return out


STUDY = Study(
    name="c1_dying", id="C1", title="C1. Leaky ReLU prevents dying units", claim="Leaky ReLU prevents dying units",
    question="In settings where ReLU units die, does Leaky ReLU leave fewer networks failed and fewer units dead?",
    settings=("model.depth", "optimizer.lr", "init.bias_value"),
    analyses=(TRAINING, AT_INIT),
    notes=("A never-positive ReLU unit is dead: zero output, zero gradient from every sample. A never-positive "
           "Leaky unit outputs α·z and still gets α-scaled gradients, so it *can* come back; the dead fraction "
           "(never positive on the probe set) measures whether it does. A network *fails* when it diverged, "
           "collapsed to a constant output, or ended with a validation loss above half that of a constant "
           "prediction (ln K for K classes); every network counts."),
    order=10, cost=150,
    quick=("seeds=10", "epochs=2", "model.depth=8", "optimizer.lr=1.0"),
    headline=("change_dead_frac", "diverged"),
    curves=("dead_frac",),
    pilot=("moons, depth 4 x width 16, SGD, zero biases: lr 0.1 and 0.5 did not kill ReLU units (dead fraction 0.08 "
           "at init, 0.04-0.05 after 20-30 epochs); lr 1.0 did (0.08 -> 0.25), so lr 1.0 is in the grid, with a "
           "constant bias of -1 (about half of the units dead at init) and depth 8 (0.15 dead at init). At lr 1.0 "
           "Leaky alpha=0.3 diverged in 17 of 20 pilot networks (ReLU: none)."),
    limitations=("C1 uses one dataset (moons), SGD without clipping, and one learning rate per setting shared by "
                 "every arm: a slope that diverges at lr 1.0 might train at a slightly smaller one.",),
    summary=_summary, literature=_literature,
)
