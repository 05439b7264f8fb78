"""The Literature section: what five papers found, what these studies find,
where they agree or differ, and why they may.

Each :class:`Reference` holds a citation (checked against the publishers'
records), the finding the report compares with, and the differences of
setting that could explain a disagreement.  The evidence lines come from the
studies (their ``literature`` hooks); :data:`AGREEMENT` computes, per paper,
where the verdicts agree with its finding.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import stats as S

__all__ = ["REFERENCES", "Reference", "literature_section"]


@dataclass(frozen=True)
class Reference:
    key: str
    short: str
    citation: str
    finding: str
    differences: str


REFERENCES = (
    Reference(
        "maas2013", "Maas, Hannun and Ng (2013)",
        "A. L. Maas, A. Y. Hannun and A. Y. Ng. *Rectifier nonlinearities improve neural network acoustic models.* "
        "ICML 2013 Workshop on Deep Learning for Audio, Speech and Language Processing.",
        "Introduced the leaky rectifier with slope 0.01 for speech recognition (Switchboard, deep fully connected "
        "networks) and found it about as good as ReLU: the small slope neither helped nor hurt the word error rate.",
        "Their networks were wide and trained on 300 hours of speech; ours are small MLPs on 2-D and tabular data, "
        "some of them built to make ReLU units die (large steps, negative biases, depth, width 2), where a slope "
        "of 0.01 has more to rescue."),
    Reference(
        "xu2015", "Xu, Wang, Chen and Li (2015)",
        "B. Xu, N. Wang, T. Chen and M. Li. *Empirical evaluation of rectified activations in convolutional "
        "network.* arXiv:1505.00853 (ICML 2015 Deep Learning Workshop).",
        "On CIFAR-10, CIFAR-100 and NDSB with convolutional networks, a large slope (1/5.5) beat the usual 0.01, "
        "randomized leaky ReLU (RReLU) did best on the small datasets, and they conclude that a non-zero negative "
        "slope helps, against the view that sparsity is what makes ReLU work.",
        "They compare test error of CNNs on images; here small MLPs on small data, with each slope's learning rate "
        "tuned on validation data and scored on held-out test data (the slope sweep, C5); their 1/5.5 and RReLU "
        "with their default range U[1/8, 1/3] (the mean slope in evaluation) are in the slope sweep. In the "
        "untuned dying settings (C1) a larger slope also makes SGD at a large step diverge."),
    Reference(
        "he2015", "He, Zhang, Ren and Sun (2015)",
        "K. He, X. Zhang, S. Ren and J. Sun. *Delving deep into rectifiers: surpassing human-level performance on "
        "ImageNet classification.* ICCV 2015, 1026-1034.",
        "Proposed PReLU (a learned slope, initialised at 0.25), which improved ImageNet accuracy over ReLU at "
        "negligible cost, and the initialisation for rectifiers that relu_study uses for every arm, with the gain "
        "adjusted for the slope.",
        "PReLU here learns one slope per unit from 0.25 in small MLPs trained with Adam at a tuned learning rate "
        "(the slope sweep); they trained deep CNNs on ImageNet with momentum SGD, with slopes shared per channel "
        "and no weight decay on them."),
    Reference(
        "lu2019", "Lu, Shin, Su and Karniadakis (2019)",
        "L. Lu, Y. Shin, Y. Su and G. E. Karniadakis. *Dying ReLU and initialization: theory and numerical "
        "examples.* Communications in Computational Physics 28(5):1671-1706, 2020 (arXiv:1903.06733, 2019).",
        "Proved that a deep ReLU network of fixed width is born dead with probability tending to 1 as depth grows, "
        "gave the probability for one input, showed that most width-2 deep networks trained on |x| collapse to a "
        "constant, and proposed the randomized asymmetric initialisation (RAI), which lowers the collapse rate.",
        "RAI is compared here on the hidden layers only (their setting) and on every layer; the networks (depth 10, "
        "widths 2-4, 400 points of |x|) train 500 epochs with Adam at one learning rate (0.003, batch 64), which "
        "need not be the paper's training details."),
    Reference(
        "sokar2023", "Sokar, Agarwal, Castro and Evci (2023)",
        "G. Sokar, R. Agarwal, P. S. Castro and U. Evci. *The dormant neuron phenomenon in deep reinforcement "
        "learning.* ICML 2023 (PMLR 202).",
        "In deep reinforcement learning the fraction of dormant neurons (a normalised mean activation at most τ) "
        "grows during training and costs expressivity; recycling them (ReDo) helps.",
        "Supervised training on a fixed dataset has no changing targets, the main driver they identify. C1 uses "
        "their τ-dormant score (τ = 0.025, per layer over the probe set) as its primary measure; they study "
        "value-based deep RL networks, not small MLPs."),
)

def _claim_verdicts(results, pred) -> list[tuple[str, str, str]]:
    """``(study id, arm short label, verdict)`` for every arm matching ``pred``,
    in studies whose claim is not decided by construction."""
    out = []
    for r in results:
        if r.main is None or r.study.by_construction:
            continue
        for arm in r.arms:
            if not arm.baseline and pred(arm) and arm.label in r.main.arm_verdicts:
                out.append((r.study.id, arm.short, r.main.arm_verdicts[arm.label]))
    return out


def _maas(results) -> str:
    rows = _claim_verdicts(results, lambda a: a.activation == "leaky" and 0 < a.slope <= 0.01)
    if not rows:
        return "Not tested: no arm with a slope of 0.01."
    same = [f"{s}" for s, _, v in rows if v == "not supported"]
    diff = [f"{s} ({v})" for s, _, v in rows if v in ("supported", "contradicted", S.DEPENDS)]
    open_ = [s for s, _, v in rows if v == "inconclusive"]
    parts = []
    if same:
        parts.append("agrees (α = 0.01 shown equivalent to ReLU) on " + ", ".join(same))
    if diff:
        parts.append("differs on " + ", ".join(diff))
    if open_:
        parts.append("unresolved on " + ", ".join(open_))
    return "Comparison: " + "; ".join(parts) + " (claims decided by construction left out)."


def _xu(results) -> str:
    from .document import ci

    items = []
    for r in results:
        if r.main is None or r.study.by_construction:
            continue
        prim = r.main.analysis.primary
        leaky = sorted((a for a in r.arms if a.activation == "leaky"
                        and r.main.pooled.get((prim.column, a.label)) is not None
                        and r.main.pooled[(prim.column, a.label)].n), key=lambda a: a.slope)
        if len(leaky) < 2:
            continue
        small, large = leaky[0], leaky[-1]
        cs, cl = r.main.pooled[(prim.column, small.label)], r.main.pooled[(prim.column, large.label)]
        d = prim.direction
        s_lo, s_hi = sorted((d * cs.lo, d * cs.hi))
        l_lo, l_hi = sorted((d * cl.lo, d * cl.hi))
        word = ("the larger slope does better" if l_lo > s_hi else "the larger slope does worse" if l_hi < s_lo
                else "no clear difference")
        items.append(f"{r.study.id}, {prim.short or prim.column}: {large.short} {ci(cl.effect, cl.lo, cl.hi, 2, True)} "
                     f"vs {small.short} {ci(cs.effect, cs.lo, cs.hi, 2, True)} against ReLU ({word})")
    if not items:
        return "Not tested: fewer than two slopes in any study."
    return ("Comparison (largest vs smallest slope, pooled effect against ReLU on each claim's primary outcome; "
            "better means further in the claimed direction with non-overlapping intervals): " + "; ".join(items) + ".")


def _he(results) -> str:
    rows = _claim_verdicts(results, lambda a: a.activation == "prelu")
    if not rows:
        return "Not tested: no study includes a PReLU arm yet."
    return "Comparison: PReLU is " + "; ".join(f"{v} on {s}" for s, _, v in rows) + "."


def _lu(results) -> str:
    by = {r.study.name: r for r in results}
    parts = []
    bd = by.get("born_dead")
    if bd is not None and bd.verdict:
        parts.append(f"their one-input formula is {bd.verdict} by the born-dead estimates (L2)")
    lc = by.get("lu_collapse")
    if lc is not None and lc.main is not None:
        rai = [f"{a.short}: {v}" for a, v in ((lc.arm(k), v) for k, v in lc.main.arm_verdicts.items()) if a.rai]
        leaky = [f"{a.short}: {v}" for a, v in ((lc.arm(k), v) for k, v in lc.main.arm_verdicts.items())
                 if a.activation == "leaky"]
        if rai:
            parts.append("RAI lowering the collapse rate: " + "; ".join(rai))
        if leaky:
            parts.append("Leaky ReLU lowering it: " + "; ".join(leaky))
    return ("Comparison: " + "; ".join(parts) + ".") if parts else "Not tested: no born-dead or collapse sweep."


def _sokar(results) -> str:
    c1 = next((r for r in results if r.study.name == "c1_dying" and r.main is not None), None)
    if c1 is None:
        return "Not tested: no dying sweep."
    has_dormant = "dormant_frac" in c1.net.columns
    n_el, n = len(c1.main.eligible_settings()), len(c1.main.gates)
    return (f"Comparison: units dying during training occur here too (training killed ReLU units in {n_el} of {n} "
            f"C1 settings), in line with units being lost as training goes on; "
            + ("the dormant fraction is recorded." if has_dormant else
               "whether they are merely dormant (alive but negligible) is not measured yet."))


AGREEMENT = {"maas2013": _maas, "xu2015": _xu, "he2015": _he, "lu2019": _lu, "sokar2023": _sokar}


def literature_section(results) -> str:
    """Markdown of the Literature section for the studies' results."""
    evidence: dict[str, list[str]] = {}
    for r in results:
        hook = getattr(r.study, "literature", None)
        if hook is not None:
            for key, text in (hook(r) or {}).items():
                evidence.setdefault(key, []).append(text)
    lines = ["How these findings sit beside the papers the claims come from. The *comparison* lines are computed "
             "from the verdicts above; the papers' findings and the differences of setting are stated by hand.", ""]
    for ref in REFERENCES:
        lines += [f"**{ref.short}.** {ref.citation}", "",
                  f"- *They found:* {ref.finding}",
                  "- *Here:* " + (" ".join(evidence.get(ref.key, [])) or "no study speaks to it directly."),
                  f"- *{AGREEMENT[ref.key](results)}*",
                  f"- *Why results may differ:* {ref.differences}", ""]
    return "\n".join(lines)
