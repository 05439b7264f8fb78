"""How a study's results read: numbers, tables, the section of REPORT.md, the
summary paragraph, and the figures (as :class:`relu_study.charts.Chart`).

Nothing here computes a statistic; it formats what
:mod:`relu_study.claims.analysis` computed.  Figures are written as
``figures/<name>.png`` and ``figures/<name>.json`` (the same chart), so an HTML
page draws exactly the numbers of the PNG.
"""

from __future__ import annotations

import math
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from .. import charts
from . import stats as S
from .analysis import conditions

__all__ = [
    "anchor", "ci", "curves_chart", "effect_text", "md_table", "num", "pval", "save_chart", "section_text", "signed",
    "summary_paragraph", "verdict_sentence", "write_csv",
]



# --------------------------------------------------------------------------- numbers

def num(x, digits: int = 3) -> str:
    """A number for a table: 3 significant digits, ``–`` for missing, ∞ for infinite."""
    if x is None:
        return "–"
    x = float(x)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.2e}".replace("-", "−")
    return f"{x:.{digits}g}".replace("-", "−")


def signed(x, digits: int = 3) -> str:
    s = num(x, digits)
    return s if s.startswith(("−", "–")) or s in ("0",) else "+" + s


def ci(est, lo, hi, digits: int = 3, sign: bool = False) -> str:
    f = signed if sign else num
    return f"{f(est, digits)} [{num(lo, digits)}, {num(hi, digits)}]"


def pval(p) -> str:
    if p is None or not math.isfinite(p):
        return "–"
    return "<1e-300" if p == 0 else (f"{p:.1e}" if p < 1e-3 else f"{p:.3f}")


def md_table(header, rows) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def bold_verdict(v: str) -> str:
    return f"**{v}**" if v in S.WORDS else v


def anchor(title: str) -> str:
    """GitHub's anchor of a markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    t = title.strip().lower()
    t = "".join(ch for ch in t if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return re.sub(" ", "-", t)


def tally(verdicts) -> str:
    v = list(verdicts)
    return ", ".join(f"{v.count(w)} {w}" for w in (*S.VERDICTS, "n/a") if v.count(w))


def write_csv(df: pd.DataFrame, out: Path, name: str) -> str:
    from ..runs.folders import atomic_path

    path = Path(out) / "tables" / name
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    return f"tables/{name}"


# --------------------------------------------------------------------------- figures

#: how the PNGs show n (see relu_study.charts.Chart.show_n)
N_NOTE = ("n (networks or pairs) is in the panel title when every point has the same n, else beside each point "
          "with fewer; no interval is drawn for a mean of one network.")

def arm_colour(label: str, arms) -> str:
    """The arm's colour in every figure of the report: :func:`relu_study.charts.arm_colours` over
    ReLU, the fixed slopes, then the other arms (the palette readable in both page themes)."""
    slopes = [a.label for a in arms if a.activation in ("leaky",) and not a.rai]
    others = [a.label for a in arms if a.label not in slopes]
    colours = charts.arm_colours(["ReLU", *slopes, *others])
    return colours[label][0] if label in colours else charts.REFERENCE_COLOUR


def save_chart(chart: charts.Chart, out: Path) -> str:
    """Write ``figures/<name>.png`` and ``.json``; return the PNG's relative path."""
    from ..runs.folders import atomic_path

    folder = Path(out) / "figures"
    with atomic_path(folder / f"{chart.name}.png") as tmp:
        charts.save_png(chart, tmp)
    with atomic_path(folder / f"{chart.name}.json") as tmp:
        charts.save_json(chart, tmp)
    return f"figures/{chart.name}.png"


def _interval_or_none(lo, hi, n, binary):
    """No interval for a mean of fewer than 2 networks: an n=1 error bar would look precise."""
    if not binary and (n is None or n < 2):
        return None, None
    return lo, hi


def level_effect_chart(result, ar, metric) -> charts.Chart:
    """Two panels: the metric per arm in every setting (interval, n), and the
    paired effect arm - ReLU in the settings the gate admits."""
    study = result.study
    lev = ar.levels[ar.levels["metric"] == metric.column] if len(ar.levels) else ar.levels
    settings_all = list(dict.fromkeys(lev["setting"]))
    eligible = set(ar.eligible_settings()) if ar.analysis.gate is not None else set(settings_all)
    cats = [s if s in eligible else f"{s}, (not analysed)" for s in settings_all]
    series = []
    for arm in result.arms:
        a = lev[lev["arm"] == arm.label].set_index("setting")
        y, lo, hi, n = [], [], [], []
        for s in settings_all:
            if s in a.index:
                r = a.loc[s]
                l_, h_ = _interval_or_none(r["lo"], r["hi"], int(r["n"]), metric.binary)
                y.append(r["level"]), lo.append(l_), hi.append(h_), n.append(int(r["n"]))
            else:
                y.append(None), lo.append(None), hi.append(None), n.append(None)
        series.append(charts.Series(arm.label, cats, y, lo, hi, n, color=arm_colour(arm.label, result.arms)))
    pop = "networks that did not diverge" if metric.survivors_only else "every network"
    p1 = charts.Panel(f"per arm and setting ({pop})", series, ylabel=metric.short or metric.column,
                      categories=cats, empty="no networks")
    j = ar.judged[ar.judged["metric"] == metric.column] if len(ar.judged) else ar.judged
    j = j[j["eligible"]] if len(j) else j
    ecats = [s for s in settings_all if s in eligible]
    eseries = []
    for arm in result.arms:
        if arm.baseline:
            continue
        a = j[j["arm"] == arm.label].set_index("setting") if len(j) else pd.DataFrame()
        y, lo, hi, n = [], [], [], []
        for s in ecats:
            if len(a) and s in a.index:
                r = a.loc[s]
                y.append(r["effect"]), lo.append(r["lo"]), hi.append(r["hi"]), n.append(int(r["n"]))
            else:
                y.append(None), lo.append(None), hi.append(None), n.append(None)
        eseries.append(charts.Series(arm.label, ecats, y, lo, hi, n, color=arm_colour(arm.label, result.arms)))
    gate = ar.analysis.gate
    p2 = charts.Panel("arm − ReLU, paired by seed (95% CI)", eseries, ylabel="effect vs ReLU", categories=ecats,
                      hline=0.0, empty="no setting passed the gate" + (f" ({gate.rule()})" if gate else ""))
    name = f"{study.name}_{ar.analysis.name}_{metric.column}"
    top, bottom = ("Top", "Bottom") if len(cats) > 3 else ("Left", "Right")
    cap = (f"{study.id}, {ar.analysis.title.lower()}: {metric.label}. {top}: per arm and setting, mean or rate with "
           f"95% interval ({pop}). {bottom}: paired effect arm − ReLU with its 95% interval in the settings analysed. "
           f"{N_NOTE}")
    wide = len(cats) > 3
    return charts.Chart(name, f"{study.id}: {metric.label}", "points", [p1, p2], caption=cap,
                        columns=1 if wide else 2, show_n=True,
                        panel_size=(max(4.4, 1.1 * len(cats) + 1.5), 3.2) if wide else None)


def effects_chart(result, ar, metrics) -> charts.Chart | None:
    """One panel per secondary metric: the paired effect per arm and analysed setting."""
    panels = []
    j = ar.judged[ar.judged["eligible"]] if len(ar.judged) else ar.judged
    all_settings = list(dict.fromkeys(ar.levels["setting"])) if len(ar.levels) else []
    cats = [s for s in all_settings if s in set(ar.eligible_settings())] if ar.analysis.gate is not None \
        else all_settings
    for m in metrics:
        jm = j[j["metric"] == m.column] if len(j) else j
        series = []
        for arm in result.arms:
            if arm.baseline:
                continue
            a = jm[jm["arm"] == arm.label].set_index("setting") if len(jm) else pd.DataFrame()
            rows = [a.loc[s] if len(a) and s in a.index else None for s in cats]
            series.append(charts.Series(
                arm.label, cats, [r["effect"] if r is not None else None for r in rows],
                [r["lo"] if r is not None else None for r in rows], [r["hi"] if r is not None else None for r in rows],
                [int(r["n"]) if r is not None else None for r in rows], color=arm_colour(arm.label, result.arms)))
        pop = " (survivors)" if m.survivors_only else ""
        panels.append(charts.Panel(f"{m.label}{pop}", series, ylabel="arm − ReLU", categories=cats, hline=0.0,
                                   empty="no setting passed the gate"))
    if not panels:
        return None
    name = f"{result.study.name}_{ar.analysis.name}_secondary"
    cap = (f"{result.study.id}, {ar.analysis.title.lower()}: secondary metrics, paired effect arm − ReLU with 95% "
           f"interval per analysed setting (survivors: pairs where neither network diverged). {N_NOTE}")
    return charts.Chart(name, f"{result.study.id}: secondary metrics, arm − ReLU", "points", panels, caption=cap,
                        columns=min(3, len(panels)), show_n=True,
                        panel_size=(max(4.4, 1.1 * len(cats) + 1.0), 3.2))


def curves_chart(name: str, title: str, metrics: pd.DataFrame, settings, column: str, ylabel: str, arms,
                 logy: bool = False, caption: str = "", bounds=None) -> charts.Chart:
    """Mean of ``column`` per epoch per arm with a 95% band (t interval over the
    networks still training at that epoch, clipped to ``bounds``), one panel per
    setting.  Epochs where the column was not probed (NaN) are left out, never
    read as 0; each point carries its n, so the figure shows where networks
    dropped out (diverged)."""
    from scipy.stats import t as student

    from .tables import arms_column, setting_label

    m = metrics.copy()
    m["arm"], _ = arms_column(m)
    keys = [k for k in settings if k in m.columns]
    cells = m[keys].drop_duplicates().sort_values(keys).itertuples(index=False, name=None) if keys else [()]
    panels = []
    for cell in cells:
        sel = np.ones(len(m), dtype=bool)
        for k, v in zip(keys, cell):
            sel &= (m[k] == v).to_numpy()
        g = m[sel & m[column].notna().to_numpy() & ~m["diverged"].astype(bool).to_numpy()]
        series = []
        for arm in arms:
            a = g[g["arm"] == arm.label]
            if a.empty:
                continue
            st = a.groupby("epoch")[column].agg(["mean", "std", "count"])
            n = st["count"].to_numpy()
            half = np.where(n > 1, student.ppf(0.975, np.maximum(n - 1, 1)) * st["std"].to_numpy()
                            / np.sqrt(np.maximum(n, 1)), np.nan)
            y = st["mean"].to_numpy()
            lo, hi = y - half, y + half
            if bounds is not None:
                lo, hi = np.clip(lo, *bounds), np.clip(hi, *bounds)
            if logy:
                lo = np.where(lo > 0, lo, np.nan)
            series.append(charts.Series(arm.label, list(st.index), list(y), list(lo), list(hi), [int(v) for v in n],
                                        color=arm_colour(arm.label, arms)))
        panels.append(charts.Panel(setting_label(keys, cell) if keys else "all", series, xlabel="epoch",
                                   ylabel=ylabel, logy=logy, empty="no network reached this point"))
    return charts.Chart(name, title, "lines", panels or [charts.Panel("", [], empty="no data")], caption=caption,
                        columns=min(4, max(1, len(panels))), show_n=True)


# --------------------------------------------------------------------------- tables of a study

def _level_str(level, n, binary) -> str:
    if binary and math.isfinite(level) and n:
        return f"{int(round(level * n))}/{n}"
    return num(level)


def _why(r) -> str:
    if r["verdict"] != "inconclusive":
        return "equivalence shown" if r["verdict"] == "not supported" else ""
    if not (math.isfinite(r["lo"]) and math.isfinite(r["hi"])):
        return "no interval"
    if r["n"] < S.MIN_N:
        return f"fewer than {S.MIN_N} pairs"
    return "equivalence not shown" if not r["equivalence"] else ""


def metric_table(result, ar, metric) -> str:
    j = ar.judged[(ar.judged["metric"] == metric.column) & ar.judged["eligible"]] if len(ar.judged) else ar.judged
    if j is None or j.empty:
        return "_No setting passed the gate; nothing was compared._"
    rows = []
    for _, r in j.iterrows():
        pairs = f"{int(r['n'])}" + (f" of {int(r['n']) + int(r['excluded'])}" if r["excluded"] else "")
        if not r["paired"]:
            pairs += " (unpaired)"
        rows.append([r["setting"], result.arm(r["arm"]).short if result.arm(r["arm"]) else r["arm"], pairs,
                     _level_str(r["level_relu"], int(r["n"]), metric.binary),
                     _level_str(r["level_arm"], int(r["n"]), metric.binary),
                     ci(r["effect"], r["lo"], r["hi"], sign=True), "±" + num(r["half_width"], 2), pval(r["p_adj"]),
                     num(r["m"], 2), bold_verdict(r["verdict"]), _why(r)])
    return md_table(["setting", "arm", "pairs", "ReLU", "arm", "arm − ReLU [95% CI]", "resolves", "p_adj", "m",
                     "verdict", "note"], rows)


def _resolution(j: pd.DataFrame) -> str:
    if j is None or j.empty:
        return ""
    h = j["half_width"].replace(np.inf, np.nan)
    eq = int((j["equivalence"]).sum())
    med = num(h.median(), 2) if h.notna().any() else "–"
    return (f"Resolution: with these seeds the median interval half-width is ±{med}: smaller effects cannot be told "
            f"from none. Equivalence (interval inside ±m) is shown in {eq} of {len(j)} comparisons.")


def _gate_text(result, ar) -> str:
    gate = ar.analysis.gate
    if gate is None:
        return "**Gate.** None: every setting is analysed."
    g = ar.gates
    rows = [[r["setting"], num(r["value"]), "yes" if r["eligible"] else "no"] for _, r in g.iterrows()]
    return (f"**Gate.** A setting is analysed when {gate.label}: {gate.rule()} (column `{gate.column}`). The same "
            f"gate holds for every metric of this analysis. {int(g['eligible'].sum())} of {len(g)} settings pass.\n\n"
            + md_table(["setting", f"ReLU mean of {gate.column}", "analysed"], rows))


def _arms_text(result) -> str:
    net = result.net
    counts = result.extra.get("arm_counts", {})
    parts = []
    for arm in result.arms:
        a = net[net["arm"] == arm.label]
        n, div = counts.get(arm.label, (len(a), int((a["diverged"] == 1).sum()) if "diverged" in a else 0))
        parts.append(f"{arm.label}: {n} networks" + (f" ({div} diverged)" if div else ""))
    n_set = len(set(result.levels["setting"])) if len(result.levels) else 1
    keys = ", ".join(result.settings) if result.settings else "none"
    text = "**Arms.** " + "; ".join(parts) + f" — over {n_set} setting(s) (keys: {keys})."
    per_arm = net.groupby("arm").size()
    if counts and any(per_arm.get(a, 0) != c[0] for a, c in counts.items()):
        text += (f" The unit compared is one seed over its networks ({int(per_arm.max())} per arm), not one "
                 f"network.")
    for i, ar in enumerate(result.analyses, 1):
        p = ar.pairs
        if not len(p):
            continue
        label = f" in {result.study.id}.{i}" if len(result.analyses) > 1 else ""
        complete = (p["only_arm"] == 0).all() and (p["only_relu"] == 0).all()
        if complete:
            per = sorted(set(p["pairs"]))
            text += (f" **Pairing{label}:** complete — every arm has the same seeds as ReLU in every setting "
                     f"({' or '.join(map(str, per))} pairs per setting and arm, {int(p['pairs'].sum())} pairs in "
                     f"all).")
        else:
            bad = p[(p["only_arm"] > 0) | (p["only_relu"] > 0)]
            text += (f" **Pairing{label}: incomplete** in " + "; ".join(
                f"{r['setting']}, {r['arm']}: {r['pairs']} pairs, {r['only_arm']} arm-only and {r['only_relu']} "
                f"ReLU-only networks" for _, r in bad.iterrows()) + ". Unpaired networks are left out of the paired "
                "comparisons; a setting without any pair is compared unpaired.")
    return text


def analysis_text(result, ar, out: Path, number: int) -> str:
    a = ar.analysis
    lines = [f"### {result.study.id}.{number} {a.title}", "", f"**Question.** {a.question}", "", _gate_text(result, ar),
             ""]
    for i, m in enumerate(a.metrics):
        role = "Primary outcome" if i == 0 else "Secondary"
        lines += [f"#### {role}: {m.label}", ""]
        bits = [f"Population: {m.population}.", f"Claimed: the arm's value {m.claim_text()}.",
                f"Minimal effect m: {m.min_effect.describe(m.unit)}."]
        if m.by_construction:
            bits.append(f"**By construction** for {m.construction_arms}: {m.by_construction}.")
        if m.note:
            bits.append(m.note)
        j = ar.judged[(ar.judged["metric"] == m.column)] if len(ar.judged) else ar.judged
        test = j["test"].iloc[0] if len(j) else ""
        interval = j["interval"].iloc[0] if len(j) else ""
        if test:
            bits.append(f"Test: {test}; interval: {interval}.")
        lines += [" ".join(bits), "", metric_table(result, ar, m), ""]
        je = j[j["eligible"]] if len(j) else j
        res = _resolution(je)
        if res:
            lines += [res, ""]
        verdicts = {arm: v for (col, arm), v in ar.metric_verdicts.items() if col == m.column}
        if verdicts:
            lines += ["By arm: " + "; ".join(
                f"{result.arm(arm).short}: {bold_verdict(v)} ({tally(je.loc[je['arm'] == arm, 'verdict'])})"
                for arm, v in verdicts.items()) + ".", ""]
    construction = " (by construction)" if a.primary.by_construction else ""
    lines += [f"**Answer of {result.study.id}.{number}: {ar.verdict}{construction}**"
              + (f" ({conditions_of(result, ar)})" if conditions_of(result, ar) else "") + ".", ""]
    return "\n".join(lines)


def conditions_of(result, ar) -> str:
    return conditions(ar.arm_verdicts, result.arms)


def sensitivity_text(result) -> str:
    sens = result.sensitivity
    if sens is None or sens.empty:
        return ""
    arm_cols = [c for c in sens.columns if c.startswith("arm:")]
    rows = []
    for _, r in sens.iterrows():
        rows.append([r["detail"], bold_verdict(r["verdict"])] + [r[c] if isinstance(r[c], str) else "–"
                                                                  for c in arm_cols]
                    + ["**flips**" if r["flips"] else ""])
    heads = ["variant", "claim"] + [result.arm(c[4:]).short if result.arm(c[4:]) else c[4:] for c in arm_cols] + [""]
    n_flip = int(sens["flips"].sum())
    return (f"**Sensitivity.** The verdicts of {result.study.id}.1 again under other reasonable thresholds; a row "
            f"marked **flips** differs from the stated thresholds somewhere. "
            + ("No verdict flips." if not n_flip else f"{n_flip} of {len(sens) - 1} variants change a verdict.")
            + "\n\n" + md_table(heads, rows))


def section_text(result, out: Path, extra: str = "") -> str:
    """The evidence of one comparison study: question, arms and pairing, each
    analysis with its gate and metric tables, figures, sensitivity, tables."""
    s = result.study
    lines = [f"**Claim.** {s.claim}. **Question.** {s.question}", ""]
    if s.notes:
        lines += [s.notes, ""]
    lines += [_arms_text(result), ""]
    for i, ar in enumerate(result.analyses, 1):
        lines.append(analysis_text(result, ar, out, i))
        if i > 1:
            lines.append(f"_{result.study.id}.{i} is analysed apart: it does not enter the claim's verdict._\n")
    if extra:
        lines += [extra, ""]
    if result.figures:
        for f, cap in result.figures:
            lines += [f"![{cap}]({f})", "", f"*{cap}*", ""]
    sens = sensitivity_text(result)
    if sens:
        lines += [sens, ""]
    if result.tables:
        lines += ["Tables: " + ", ".join(f"[{Path(t).name}]({t})" for t in result.tables), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- the summary paragraph

def _pooled_text(result, ar, metric) -> str:
    parts = []
    for arm in result.arms:
        if arm.baseline:
            continue
        c = ar.pooled.get((metric.column, arm.label))
        v = ar.metric_verdicts.get((metric.column, arm.label), "inconclusive")
        if c is None or c.n == 0:
            parts.append(f"{arm.short}: no pairs ({v})")
            continue
        if metric.binary:
            lev = f"{_level_str(c.level_b, c.n, True)} vs {_level_str(c.level_a, c.n, True)}, "
        elif len(ar.eligible_settings()) <= 1:
            lev = f"{num(c.level_b, 2)} vs {num(c.level_a, 2)}, "
        else:  # a mean pooled over different settings (datasets) is no level anyone measured
            lev = ""
        where = _holds_at(ar, metric, arm.label) if v == S.DEPENDS else ""
        parts.append(f"{arm.short} {lev}{ci(c.effect, c.lo, c.hi, 2, sign=True)}, {c.n} pairs, {v}{where}")
    return "; ".join(parts)


def _holds_at(ar, metric, arm: str, limit: int = 3) -> str:
    """`` (holds at depth=8, bias=-1)``: where an arm whose verdict depends on the
    setting is supported.  Past ``limit`` settings it counts them and names the
    others instead (`` (holds in 27 of 30 settings, not at ...)``): the full list
    is in the study's verdicts table, and a paragraph that lists 29 settings hides
    its answer."""
    j = ar.judged
    sel = j[(j["metric"] == metric.column) & (j["arm"] == arm) & j["eligible"]]
    held = list(sel.loc[sel["verdict"] == "supported", "setting"])
    if not held:
        return ""
    if len(held) <= limit:
        return f" (holds at {'; '.join(held)})"
    others = list(sel.loc[sel["verdict"] != "supported", "setting"])
    return f" (holds in {len(held)} of {len(sel)} settings, not at {_settings_phrase(others, limit)})"


def _with_note(label: str, note: str) -> str:
    """``failed (diverged or collapsed; note)``: a note inside the label's own parentheses."""
    label = _cap(label)
    return f"{label[:-1]}; {note})" if label.endswith(")") else f"{label} ({note})"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _counts_short(m) -> str:
    return "among pairs where neither network diverged" if m.survivors_only else "every network counts"


def summary_paragraph(result) -> str:
    """One plain paragraph: the answer, the numbers with intervals, the conditions."""
    s = result.study
    if not result.analyses:
        return result.summary
    main = result.main
    prim = main.analysis.primary
    out = []
    if s.by_construction:
        out.append(f"By construction ({prim.by_construction}), the primary measure cannot fail for an arm with a "
                   f"negative slope: its verdict restates the definition.")
    gate = main.analysis.gate
    elig = main.eligible_settings()
    total = len(main.gates)
    if gate is not None:
        if not elig:
            out.append(f"No setting showed the problem (gate: {gate.rule()}), so the claim could not be tested here.")
        else:
            where = f": {'; '.join(elig)}" if len(elig) <= 4 else ""
            out.append(f"Analysed in the {len(elig)} of {total} settings where {gate.label} (gate: {gate.rule()})"
                       f"{where}.")
    if elig or gate is None:
        pooled = " pooled over those settings" if gate is not None and len(elig) > 1 else (
            " pooled over all settings" if gate is None and total > 1 else "")
        if pooled:
            pooled += " (a description: the verdicts come from each setting, Holm-adjusted)"
        out.append(f"{_with_note(prim.label, _counts_short(prim))}, arm vs ReLU and the difference arm − ReLU"
                   f"{pooled}, paired by seed, with 95% CI: {_pooled_text(result, main, prim)}.")
        for col in s.headline:
            m = next((x for x in main.analysis.metrics if x.column == col), None)
            if m is not None:
                out.append(f"{_with_note(m.label, _counts_short(m))}: {_pooled_text(result, main, m)}.")
    for i, ar in enumerate(result.analyses[1:], 2):
        verdicts = "; ".join(f"{result.arm(a).short}: {v}"
                             + (_holds_at(ar, ar.analysis.primary, a) if v == S.DEPENDS else "")
                             for a, v in ar.arm_verdicts.items())
        n_el = len(ar.eligible_settings())
        out.append(f"Analysed apart ({s.id}.{i}, {ar.analysis.title.lower()}, {n_el} setting(s)): "
                   f"{ar.analysis.primary.label}: {verdicts or 'not tested'}.")
    if s.summary is not None:
        extra = s.summary(result)
        if extra:
            out.append(extra)
    sens = result.sensitivity
    if sens is not None and len(sens):
        flips = list(sens.loc[sens["flips"], "detail"])
        out.append("The verdicts hold under every variant of the sensitivity table." if not flips else
                   "Some verdicts change with " + ", ".join(flips) + " (sensitivity table).")
    return " ".join(out)


def effect_text(ar, metric, arm, digits: int = 2) -> str:
    """``α=0.1 −0.21 [−0.24, −0.18]``: an arm's pooled effect on ``metric`` in ``ar``."""
    c = ar.pooled.get((metric.column, arm.label))
    if c is None or not c.n:
        return f"{arm.short}: no pairs"
    return f"{arm.short} {ci(c.effect, c.lo, c.hi, digits, sign=True)}"


def _names(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _settings_phrase(settings, limit: int = 3) -> str:
    settings = list(settings)
    shown = "; ".join(settings[:limit])
    return shown + (f" and {len(settings) - limit} more" if len(settings) > limit else "")


def _mixed_sentence(arm, settings, word: str, ar, metric, better: str, worse: str) -> str:
    """One arm whose settings gave different verdicts, setting by setting:
    "α=0.01 lost more at init=negative_bias and did not differ from ReLU by more
    than the minimal effect at init=glorot; init=he (overall: not supported; ...)"."""
    said = (("supported", better), ("contradicted", worse),
            ("not supported", "did not differ from ReLU by more than the minimal effect"),
            ("inconclusive", "was not resolved by these seeds"))
    pieces = []
    for v, phrase in said:
        where = list(settings.loc[settings["verdict"] == v, "setting"])
        if where:
            pieces.append(f"{phrase} at {'; '.join(where)}" if len(where) <= 3 else
                          f"{phrase} in {len(where)} of {len(settings)} settings")
    return f"{arm.short} {' and '.join(pieces)} (overall: {word}; {effect_text(ar, metric, arm)} pooled)"


def verdict_sentence(result, ar, metric, better: str, worse: str) -> str:
    """A plain sentence on every arm's verdict for ``metric`` in analysis ``ar``,
    grouped by verdict, each arm with its pooled effect arm − ReLU [95% CI]:
    "α=0.1 and α=0.3 left fewer units dormant (α=0.1 −0.21 [−0.24, −0.18]; ...);
    α=0.01 did not differ from ReLU by more than the minimal effect (...)".  An
    arm whose verdict depends on the setting says in how many settings it held
    and names those where the evidence went against."""
    verdicts = {a: ar.metric_verdicts.get((metric.column, a.label)) for a in result.arms if not a.baseline}
    verdicts = {a: v for a, v in verdicts.items() if v is not None}
    if not verdicts:
        return "no setting was analysed."
    j = ar.judged[(ar.judged["metric"] == metric.column) & ar.judged["eligible"]] if len(ar.judged) else ar.judged
    n_settings = len(ar.eligible_settings())
    phrases = {"supported": better, "contradicted": worse,
               "not supported": "did not differ from ReLU by more than the minimal effect (equivalence shown)",
               "inconclusive": "not resolved by these seeds"}
    parts = []
    for word in ("supported", S.DEPENDS, "not supported", "contradicted", "inconclusive"):
        arms = [a for a, v in verdicts.items() if v == word]
        if not arms:
            continue
        if word != S.DEPENDS:
            # an arm whose settings did not all give this verdict says which gave what: "not supported"
            # over three settings can hide one where the arm was clearly worse
            mixed = [a for a in arms if len(j) and set(j.loc[j["arm"] == a.label, "verdict"]) - {word}]
            for a in mixed:
                parts.append(_mixed_sentence(a, j[j["arm"] == a.label], word, ar, metric, better, worse))
            arms = [a for a in arms if a not in mixed]
            if not arms:
                continue
        effects = "; ".join(effect_text(ar, metric, a) for a in arms)
        if word == "inconclusive":
            parts.append(f"{_names(a.short for a in arms)}: {phrases[word]} ({effects})")
            continue
        if word != S.DEPENDS:
            parts.append(f"{_names(a.short for a in arms)} {phrases[word]} ({effects})")
            continue
        for a in arms:
            ja = j[j["arm"] == a.label]
            held = list(ja.loc[ja["verdict"] == "supported", "setting"])
            against = list(ja.loc[ja["verdict"].isin(S.AGAINST), "setting"])
            text = f"{a.short} {better} in {len(held)} of {n_settings} settings"
            if against:
                text += f", not at {_settings_phrase(against)}"
            parts.append(f"{text} ({effect_text(ar, metric, a)} pooled)")
    pooled = "pooled over the analysed settings, " if n_settings > 1 else ""
    n_pairs = max((c.n for (col, _), c in ar.pooled.items() if col == metric.column), default=0)
    return ("; ".join(parts) + f" [{metric.short or metric.column}: arm − ReLU, {pooled}paired by seed, "
            f"{n_pairs} pairs, 95% CI].")


def claim_arms(result) -> list[dict]:
    """The ``arms`` entries of ``claims.json``: each arm's verdict and its pooled
    primary effect."""
    main = result.main
    if main is None:
        return result.claim_arms
    prim = main.analysis.primary
    rows = []
    for arm in result.arms:
        if arm.baseline:
            continue
        c = main.pooled.get((prim.column, arm.label))
        ok = c is not None and c.n > 0
        rows.append({"arm": arm.label, "verdict": main.arm_verdicts.get(arm.label, "inconclusive"),
                     "metric": prim.label, "effect": _json_num(c.effect) if ok else None,
                     "lo": _json_num(c.lo) if ok else None, "hi": _json_num(c.hi) if ok else None,
                     "n": int(c.n) if ok else 0})
    return rows


def _json_num(x):
    x = float(x)
    return x if math.isfinite(x) else None
