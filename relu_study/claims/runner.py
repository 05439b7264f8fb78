"""Run one study on its sweep tables: the comparison machinery, the generic
figures and tables, the study's own section, the summary paragraph."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .analysis import StudyResult, analyse
from .document import (claim_arms, curves_chart, effects_chart, level_effect_chart, save_chart, section_text,
                       summary_paragraph, write_csv)
from .tables import SweepData, arms_column, networks

__all__ = ["run_study"]

#: labels of probe columns drawn as curves
CURVE_LABELS = {"dead_frac": "dead fraction (never-positive units)", "val_loss": "validation loss",
                "zero_grad_frac": "zero-gradient fraction", "dormant_frac": "dormant fraction"}


def run_study(study, data: SweepData, out: Path) -> StudyResult:
    """Analyse ``data`` for ``study`` and write its figures and tables into ``out``."""
    out = Path(out)
    if study.analyse is not None:
        result = study.analyse(data, study, out)
    else:
        net, arms = study.prepare(data, study) if study.prepare is not None else networks(data, study.settings)
        result = analyse(study, net, arms)
        runs = data.runs[data.runs["status"] != "failed"]
        labels, _ = arms_column(runs)
        result.extra["arm_counts"] = {a: (int((labels == a).sum()), int(((labels == a) & (runs["status"] ==
                                                                                         "diverged")).sum()))
                                      for a in labels.unique()}
        for ar in result.analyses:
            chart = level_effect_chart(result, ar, ar.analysis.primary)
            result.figures.append((save_chart(chart, out), chart.caption))
            sec = effects_chart(result, ar, ar.analysis.metrics[1:])
            if sec is not None:
                result.figures.append((save_chart(sec, out), sec.caption))
        for col in study.curves:
            if col in data.metrics:
                label = CURVE_LABELS.get(col, col)
                chart = curves_chart(f"{study.name}_{col}_curves", f"{study.id}: {label} per epoch",
                                     data.metrics, result.settings, col, label, result.arms,
                                     logy=col.endswith("loss"),
                                     bounds=(0.0, np.inf) if col.endswith("loss") else (0.0, 1.0),
                                     caption=f"{study.id}: {label} per epoch, mean over each arm's networks that "
                                             f"have not diverged, with a 95% band (t interval; none where fewer than "
                                             f"2 networks remain). n in the panel title when no network diverged, "
                                             f"else beside the last point: the networks left at the end.")
                result.figures.append((save_chart(chart, out), chart.caption))
        extra = study.section(result, data, out) if study.section is not None else ""
        result.tables += [write_csv(result.levels, out, f"{study.name}_levels.csv"),
                          write_csv(result.comparisons, out, f"{study.name}_comparisons.csv"),
                          write_csv(result.sensitivity, out, f"{study.name}_sensitivity.csv")]
        for ar in result.analyses:
            result.tables.append(write_csv(ar.judged, out, f"{study.name}_{ar.analysis.name}_verdicts.csv"))
        result.text = section_text(result, out, extra)
        result.summary = summary_paragraph(result)
        result.claim_arms = claim_arms(result)
    result.wall_time_s = data.wall_time_s
    if study.analyse is None:
        result.n_networks = int((data.runs["status"] != "failed").sum()) if "status" in data.runs else len(result.net)
    failed = data.runs[data.runs["status"] == "failed"] if "status" in data.runs else data.runs.iloc[0:0]
    if len(failed):
        result.text += ("\n**Failed jobs** (not in the numbers above):\n\n"
                        + "\n".join(f"- {r['run_dir']}: {r['error']}" for _, r in failed.iterrows()) + "\n")
    return result
