"""Figures as data: a chart is panels of series, each series points with an
optional interval and the number of networks behind each point.

Why a data model instead of drawing straight into matplotlib: the same figure
appears as a PNG (in ``REPORT.md``, run and sweep folders) and as an
interactive chart in the HTML pages (hover, toggle a series, switch the
theme).  Both are drawn from one :class:`Chart`, saved beside the PNG as JSON,
so the picture and the page can never show different numbers.

Kinds of chart:

``lines``
    numeric x (epochs, learning rates, alpha); each series a line, its
    interval a band (a series with a single point: a marker with an error
    bar, e.g. PReLU beside the curve of fixed slopes).
``points``
    categorical x (settings); each series a marker with an error bar, series
    side by side within a category.
``bars``
    categorical x; each series a bar with an error bar.

Rules every renderer keeps (the reader must be able to trust the figure):
missing values (None/NaN) leave gaps, never zeros; an interval is drawn only
where it was given; a panel with no finite value shows :attr:`Panel.empty`
in words instead of blank axes; legends carry ``n`` when the series says it.

:func:`save_png` renders with matplotlib's object-oriented API (``Figure``,
no ``pyplot``), so it changes no process-wide state and opens no window.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["BACKGROUNDS", "KINDS", "PALETTE", "REFERENCE_COLOUR", "Chart", "Panel", "Series", "arm_colours",
           "category_labels", "contrast", "load_chart", "render_figure", "save_json", "save_png"]

KINDS = ("lines", "points", "bars")
STYLES = ("solid", "dashed", "dotted")

#: the page backgrounds of the light and the dark theme (``web/assets/page.css``; the PNGs are light)
BACKGROUNDS = {"light": "#ffffff", "dark": "#17171b"}
#: the reference arm (ReLU): a mid grey, visible on both backgrounds
REFERENCE_COLOUR = "#808080"
#: one palette for every PNG and page, in the order arms are given their colour.  Why these colours:
#: each has a contrast of at least 3:1 (WCAG's floor for graphics) against *both* backgrounds, so a
#: series drawn in it is visible in either theme without restyling (tests/test_charts.py checks it).
PALETTE = ("#1c7ed6", "#d9480f", "#2f9e44", "#7950f2", "#0c8599", "#c2255c", "#8b8b00", "#9c6644",
           "#be4bdb", "#e64980", "#5c940d")
#: names drawn in :data:`REFERENCE_COLOUR`
REFERENCE_NAMES = ("ReLU", "relu")


def _luminance(colour: str) -> float:
    h = colour.lstrip("#")
    rgb = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)))
    return (lb + 0.05) / (la + 0.05)


def arm_colours(names) -> dict:
    """``{name: (colour, style)}`` for arms in the order given: the reference arm
    grey, the others through :data:`PALETTE`; past its length the colours come
    round again with a dashed, then a dotted line, so no two arms look alike."""
    out, k = {}, 0
    for name in dict.fromkeys(names):
        if name in REFERENCE_NAMES:
            out[name] = (REFERENCE_COLOUR, "solid")
            continue
        out[name] = (PALETTE[k % len(PALETTE)], STYLES[(k // len(PALETTE)) % len(STYLES)])
        k += 1
    return out


def _clean(values) -> list | None:
    """A JSON-safe list: NaN and infinities become None (a gap)."""
    if values is None:
        return None
    out = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            out.append(None)
        else:
            out.append(v)
    return out


@dataclass
class Series:
    """One legend entry.  ``x`` numbers (lines) or category labels (points,
    bars); ``lo``/``hi`` the interval around ``y`` (None where there is none);
    ``n`` the number of networks behind each point, shown on hover."""

    name: str
    x: list
    y: list
    lo: list | None = None
    hi: list | None = None
    n: list | None = None
    style: str = "solid"
    color: str | None = None
    #: lines only: draw each point as a marker with its interval as an error bar and no line
    #: between points (values measured at a few epochs, e.g. the exact probe on its schedule)
    marks: bool = False

    def __post_init__(self):
        self.x, self.y = _clean(self.x), _clean(self.y)
        self.lo, self.hi, self.n = _clean(self.lo), _clean(self.hi), _clean(self.n)
        for key in ("y", "lo", "hi", "n"):
            v = getattr(self, key)
            if v is not None and len(v) != len(self.x):
                raise ValueError(f"series {self.name!r}: {key} has {len(v)} values for {len(self.x)} x values")
        if self.style not in STYLES:
            raise ValueError(f"series {self.name!r}: style must be one of {STYLES}, got {self.style!r}")


@dataclass
class Panel:
    """One set of axes.  ``categories`` fixes the order of categorical x;
    ``empty`` is the sentence shown when no series has a finite value."""

    title: str
    series: list[Series]
    xlabel: str = ""
    ylabel: str = ""
    logx: bool = False
    logy: bool = False
    ylim: tuple | None = None
    categories: list | None = None
    hline: float | None = None
    empty: str = "no data to show"
    #: a y axis fitted to the data rather than the quantity's full range (said on the axis label)
    fitted: bool = False
    #: lines only: whole numbers on the x axis (epochs)
    integer_x: bool = False
    #: a sentence a reader must know to read the panel (drawn inside it)
    note: str = ""

    def has_data(self) -> bool:
        return any(v is not None for s in self.series for v in s.y)


@dataclass
class Chart:
    """A figure: ``panels`` in a grid of ``columns`` columns."""

    name: str
    title: str
    kind: str
    panels: list[Panel]
    caption: str = ""
    columns: int = 2
    meta: dict = field(default_factory=dict)
    show_n: bool = False
    panel_size: tuple | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"chart {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if not self.panels:
            raise ValueError(f"chart {self.name!r} has no panels")
        # every series leaves with its colour (and dash), so the PNG and the page draw it alike
        free = arm_colours(s.name for p in self.panels for s in p.series if s.color is None)
        for p in self.panels:
            for s in p.series:
                if s.color is None:
                    s.color, style = free[s.name]
                    if s.style == "solid":
                        s.style = style

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Chart":
        panels = [Panel(**{**p, "series": [Series(**s) for s in p["series"]],
                           "ylim": tuple(p["ylim"]) if p.get("ylim") else None}) for p in d["panels"]]
        size = d.get("panel_size")
        return cls(**{**d, "panels": panels, **({"panel_size": tuple(size)} if size else {})})


def save_json(chart: Chart, path) -> Path:
    """Write ``chart`` as JSON (the data an HTML page draws)."""
    path = Path(path)
    path.write_text(json.dumps(chart.to_dict(), allow_nan=False, separators=(",", ":")) + "\n")
    return path


def load_chart(path) -> Chart:
    return Chart.from_dict(json.loads(Path(path).read_text()))


# ------------------------------------------------------------------ matplotlib

_LINESTYLE = {"solid": "-", "dashed": "--", "dotted": ":"}


def _f(v) -> float:
    return math.nan if v is None else float(v)


def _panel_n(panel: Panel) -> set:
    return {int(v) for s in panel.series if s.n is not None for v, y in zip(s.n, s.y)
            if v is not None and y is not None}


def _label_n(ax, xs, ys, ns, color, top=None) -> None:
    """Write ``n=...`` beside points with fewer than ``top`` networks (small, in the series' colour)."""
    for x, y, n in zip(xs, ys, ns):
        if n is None or not math.isfinite(_f(y)) or (top is not None and n >= top):
            continue
        ax.annotate(f"n={int(n)}", (x, y), xytext=(3, 3), textcoords="offset points", fontsize=6, color=color)


#: with more categories than this, their labels are drawn upright on one line (PNG and page alike)
UPRIGHT_ABOVE = 8


def category_labels(cats) -> tuple[list[str], bool]:
    """``(labels, upright)`` of category axis labels: with more than :data:`UPRIGHT_ABOVE`
    categories, the parts every category shares (``bias=0`` throughout) are left out and the
    labels are drawn upright, so thirty settings never overprint each other."""
    cats = [str(c) for c in cats]
    if len(cats) <= UPRIGHT_ABOVE:
        return cats, False
    shared = [p for p in cats[0].split(", ") if all(p in c.split(", ") for c in cats)]
    return [", ".join(p for p in c.split(", ") if p not in shared) or c for c in cats], True


def _draw_panel(ax, panel: Panel, kind: str, show_n: bool = False) -> None:
    ns = _panel_n(panel) if show_n else set()
    top = max(ns) if ns else math.inf
    if not panel.has_data():
        ax.text(0.5, 0.5, panel.empty, transform=ax.transAxes, ha="center", va="center", wrap=True,
                fontsize=9, color="0.3")
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        cats = panel.categories
        if kind != "lines" and cats is None:
            cats = list(dict.fromkeys(x for s in panel.series for x in s.x))
        k = len(panel.series)
        for i, s in enumerate(panel.series):
            color = s.color or PALETTE[i % len(PALETTE)]
            y = [_f(v) for v in s.y]
            label = s.name
            if kind == "lines":
                x = [_f(v) for v in s.x]
                finite = [i for i, v in enumerate(y) if math.isfinite(v)]
                if s.marks:  # measured at a few epochs: markers, error bars, a dotted join
                    xf, yf = [x[i] for i in finite], [y[i] for i in finite]
                    err = None
                    if s.lo is not None and s.hi is not None:
                        err = [[max(0.0, y[i] - _f(s.lo[i])) if s.lo[i] is not None else 0.0 for i in finite],
                               [max(0.0, _f(s.hi[i]) - y[i]) if s.hi[i] is not None else 0.0 for i in finite]]
                    ax.errorbar(xf, yf, yerr=err, fmt="o", ms=5, capsize=3, color=color, label=label,
                                ls="none", mfc=color, mec="white", mew=0.6, zorder=3)
                    continue
                if len(finite) == 1:  # a line of one point is invisible: a marker with its interval
                    i = finite[0]
                    err = None
                    if s.lo is not None and s.hi is not None and s.lo[i] is not None and s.hi[i] is not None:
                        err = [[max(0.0, y[i] - _f(s.lo[i]))], [max(0.0, _f(s.hi[i]) - y[i])]]
                    ax.errorbar([x[i]], [y[i]], yerr=err, fmt="D", ms=5, capsize=3, color=color, label=label)
                    if show_n and s.n is not None:
                        _label_n(ax, [x[i]], [y[i]], [s.n[i]], color, top)
                    continue
                ax.plot(x, y, _LINESTYLE[s.style], color=color, lw=1.6, label=label)
                if s.lo is not None and s.hi is not None:
                    ax.fill_between(x, [_f(v) for v in s.lo], [_f(v) for v in s.hi], color=color, alpha=0.18,
                                    linewidth=0)
                if show_n and s.n is not None:
                    last = [i for i, v in enumerate(y) if math.isfinite(v)][-1:]
                    _label_n(ax, [x[i] for i in last], [y[i] for i in last], [s.n[i] for i in last], color, top)
                continue
            width = 0.8 / max(k, 1)
            pos = [cats.index(x) - 0.4 + width * (i + 0.5) for x in s.x]
            err = None
            if s.lo is not None and s.hi is not None:
                err = [[max(0.0, yy - _f(lo)) if lo is not None else 0.0 for yy, lo in zip(y, s.lo)],
                       [max(0.0, _f(hi) - yy) if hi is not None else 0.0 for yy, hi in zip(y, s.hi)]]
            if kind == "bars":
                ax.bar(pos, y, width, color=color, label=label, yerr=err, capsize=3)
            else:
                ax.errorbar(pos, y, yerr=err, fmt="o", ms=5, capsize=3, color=color, label=label)
            if show_n and s.n is not None:
                tops = [_f(hi) if hi is not None else yy for yy, hi in zip(y, s.hi or [None] * len(y))]
                _label_n(ax, pos, tops, s.n, color, top)
        if kind != "lines":
            labels, upright = category_labels(cats)
            if upright:  # many settings: one line each, turned upright, so none overprints its neighbour
                ax.set_xticks(range(len(cats)), labels, fontsize=7, rotation=90)
            else:
                ax.set_xticks(range(len(cats)), [lab.replace(", ", "\n") for lab in labels], fontsize=7)
            ax.set_xlim(-0.5, len(cats) - 0.5)  # every category keeps its slot, with or without data
        if panel.hline is not None:
            ax.axhline(panel.hline, color="0.4", lw=1, ls="--")
        if panel.logx:
            ax.set_xscale("log")
        if panel.logy:
            ax.set_yscale("log")
        if panel.ylim is not None:
            ax.set_ylim(*panel.ylim)
        ax.grid(alpha=0.3)
    ax.set_title(panel.title + (f" (n={next(iter(ns))} each)" if len(ns) == 1 else ""), fontsize=9)
    ax.set_xlabel(panel.xlabel, fontsize=8)
    ax.set_ylabel(panel.ylabel + (FITTED_NOTE if panel.fitted else ""), fontsize=8)
    if panel.note:
        import textwrap

        ax.text(0.5, 0.5, "\n".join(textwrap.wrap(panel.note, 50)), transform=ax.transAxes, ha="center",
                va="center", fontsize=8, color="0.2",
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.7", "alpha": 0.9})
    if kind == "lines" and panel.integer_x:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


#: appended to the y label of a panel whose axis is fitted to its data
FITTED_NOTE = " (axis fitted to the data)"


def save_png(chart: Chart, path, dpi: int = 110) -> Path:
    """Render ``chart`` to a PNG with matplotlib (one legend for the whole figure)."""
    path = Path(path)
    render_figure(chart).savefig(path, dpi=dpi)
    return path


def render_figure(chart: Chart, caption: bool = False):
    """``chart`` as a :class:`matplotlib.figure.Figure` (what :func:`save_png` saves):
    panels in a grid, one legend below them; with ``caption``, the caption is the
    legend's title (a PNG read alone, such as a run's ``dead.png``)."""
    from matplotlib.figure import Figure

    n = len(chart.panels)
    ncol = max(1, min(chart.columns, n))
    nrow = math.ceil(n / ncol)
    width, height = chart.panel_size or (4.4, 3.2)
    if chart.kind != "lines":  # upright category labels: a slot per category, room below for the labels
        cats = [p.categories or list(dict.fromkeys(x for s in p.series for x in s.x)) for p in chart.panels]
        upright = [category_labels(c) for c in cats if len(c) > UPRIGHT_ABOVE]
        if upright:
            most = max(len(labels) for labels, _ in upright)
            longest = max(len(lab) for labels, _ in upright for lab in labels)
            width = min(max(4.4, 0.24 * most + 1.2), 14.0)
            height = max(height, 2.6) + min(0.06 * longest, 3.0)
    fig = Figure(figsize=(width * ncol, height * nrow + 1.0), layout="constrained")
    axes = fig.subplots(nrow, ncol, squeeze=False)
    for i, panel in enumerate(chart.panels):
        _draw_panel(axes[i // ncol][i % ncol], panel, chart.kind, chart.show_n)
    for j in range(n, nrow * ncol):
        axes[j // ncol][j % ncol].set_visible(False)
    handles, labels = {}, []
    for ax in fig.axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    text = None
    if caption and chart.caption:
        import textwrap

        text = "\n".join(textwrap.wrap(chart.caption, int(16 * width * ncol)))
    if labels or text:
        wide = max((len(lab) for lab in labels), default=0) > 28
        fig.legend([handles[lab] for lab in labels], labels, loc="outside lower center",
                   ncol=max(1, min(len(labels), 2 if wide else 4)), fontsize=8, frameon=False,
                   title=text, title_fontsize=7)
    import textwrap

    # a title wider than the figure is wrapped, never cut at the edges
    fig.suptitle("\n".join(textwrap.fill(line, int(15 * width * ncol)) for line in chart.title.split("\n")),
                 fontsize=10)
    return fig
