"""Interactive explorer for the registered activations and their derivatives.

``python -m relu_study.explore`` opens a matplotlib window with

* a radio selector listing every activation in :data:`~relu_study.engine.activations.ACTIVATIONS`
  (the registry is iterated, so a new activation appears here automatically);
* one slider per activation parameter found in the registry (``alpha``, ``lower``,
  ``upper``, ``beta``); each slider's label names its parameter, and sliders the
  chosen activation does not take are greyed out and inactive;
* a check box showing or hiding the derivative;
* a button switching between the light and dark themes.

``--save PATH`` writes a picture instead of opening a window (no display
needed).  The saved picture contains only the plot -- title, axes, both curves,
legend, grid and zero lines -- not the widgets, and has exactly ``--size``
pixels.  ``ActivationExplorer(...).save(path)`` on an explorer built with widgets
saves the whole window, widgets included.

Every curve is the registry's own ``forward`` / ``derivative`` evaluated on the x
grid, so Leaky ReLU is exact for every finite ``alpha`` (``alpha > 1`` and
``alpha < 0`` included) -- nothing here re-implements an activation.

Parameters are held per name and shared by the activations that take them (as in
a config, see :func:`~relu_study.engine.activations.make_activation`): moving ``alpha``
while Leaky ReLU is shown and then choosing ELU shows ``ELU(alpha=<same value>)``.

Example::

    python -m relu_study.explore --activation leaky --alpha 0.1 --theme dark --save leaky.png
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engine.activations import ACTIVATIONS, Activation, activation_class, check_finite, make_activation
from .explore_params import (
    _FALLBACK_RANGE,
    _ORDERED_PAIRS,
    PARAM_NAMES,
    SLIDER_RANGES,
    _init_default,
    _validate_params,
    activation_title,
    param_defaults,
    resolve_params,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "ActivationExplorer",
    "PARAM_NAMES",
    "SLIDER_RANGES",
    "THEMES",
    "activation_title",
    "build_parser",
    "figsize_for_pixels",
    "main",
    "param_defaults",
    "resolve_params",
]

#: Colours of each theme.  Every key is used by :meth:`ActivationExplorer.set_theme`.
THEMES: dict[str, dict[str, str]] = {
    "light": {
        "figure": "#ffffff",  # figure background
        "axes": "#ffffff",  # plot background
        "panel": "#f0f0f0",  # widget axes background
        "text": "#1a1a1a",  # title, labels, tick labels, legend and widget text
        "muted": "#a0a0a0",  # disabled widgets
        "spine": "#4d4d4d",  # axes frame and tick marks
        "grid": "#d9d9d9",
        "zero": "#8c8c8c",  # the z = 0 and f = 0 lines
        "fn": "#1f77b4",  # f(z)
        "deriv": "#d62728",  # f'(z)
        "legend_face": "#ffffff",
        "legend_edge": "#cccccc",
        "track": "#dcdcdc",  # slider track
        "bar": "#1f77b4",  # slider filled part
        "handle": "#ffffff",  # slider knob
        "handle_edge": "#4d4d4d",
        "active": "#1f77b4",  # selected radio button, check mark
        "button": "#e2e2e2",
        "button_hover": "#c8c8c8",
    },
    "dark": {
        "figure": "#1b1b1f",
        "axes": "#24242a",
        "panel": "#2c2c33",
        "text": "#e8e8e8",
        "muted": "#6e6e76",
        "spine": "#b0b0b0",
        "grid": "#3d3d45",
        "zero": "#8a8a92",
        "fn": "#4fc3f7",
        "deriv": "#ff8a65",
        "legend_face": "#2c2c33",
        "legend_edge": "#55555e",
        "track": "#44444c",
        "bar": "#4fc3f7",
        "handle": "#e8e8e8",
        "handle_edge": "#b0b0b0",
        "active": "#4fc3f7",
        "button": "#3a3a42",
        "button_hover": "#52525c",
    },
}

_LABELS = {"x": "z (pre-activation)", "y": "f(z), f'(z)", "fn": "f(z)", "deriv": "f'(z)"}


# --------------------------------------------------------------------------- helpers


def figsize_for_pixels(width: int, height: int, dpi: float) -> tuple[float, float]:
    """Figure size in inches that renders to exactly ``width x height`` pixels at ``dpi``.

    Agg truncates ``inches * dpi`` to an int, and e.g. ``29 / 100 * 100`` is
    ``28.999999999999996``; a hundredth of a pixel keeps the truncation exact.
    """
    return ((width + 0.01) / dpi, (height + 0.01) / dpi)


def _have_display() -> bool:
    """False on X11/Wayland systems with neither ``DISPLAY`` nor ``WAYLAND_DISPLAY``."""
    if sys.platform.startswith(("win", "darwin")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


# --------------------------------------------------------------------------- explorer


class ActivationExplorer:
    """A figure showing one registered activation and its derivative, with widgets.

    Parameters
    ----------
    activation:
        registry name (see :data:`~relu_study.engine.activations.ACTIVATIONS`).
    alpha, lower, upper, beta:
        parameter values; ``None`` takes the default of ``activation`` (or of the
        first activation having the parameter, see :func:`param_defaults`).  Any
        finite value is accepted where the registry accepts it; sliders widen to
        include values outside :data:`SLIDER_RANGES`.
    params:
        further parameter values by name (for parameters added to the registry later).
    theme:
        a key of :data:`THEMES`.
    show_derivative:
        draw ``f'(z)`` as well as ``f(z)``.
    x_range, points:
        the grid ``np.linspace(*x_range, points)`` the curves are evaluated on.
    figsize, dpi:
        figure size in inches and its resolution (see :func:`figsize_for_pixels`).
    widgets:
        build the selector, sliders, derivative toggle and theme button.  Without
        them the figure holds only the plot (what ``--save`` writes); the setter
        methods still work.
    use_pyplot:
        create the figure through ``pyplot`` (so it can be shown, and appears in
        notebooks); otherwise a bare Agg :class:`~matplotlib.figure.Figure` that
        touches neither pyplot nor the current backend.

    Attributes
    ----------
    fig, ax: the figure and the plot axes.
    fn_line, deriv_line: the ``f(z)`` and ``f'(z)`` lines.
    selector: ``RadioButtons`` listing the registry (``None`` without widgets).
    sliders: ``{param name: Slider}`` (empty without widgets).
    deriv_toggle: ``CheckButtons`` with one box, "show f'(z)".
    theme_button: ``Button`` cycling through :data:`THEMES`.
    x: the grid.
    """

    def __init__(
        self,
        activation: str = "leaky",
        alpha: float | None = None,
        *,
        lower: float | None = None,
        upper: float | None = None,
        beta: float | None = None,
        params: dict[str, float] | None = None,
        theme: str = "light",
        show_derivative: bool = True,
        x_range: tuple[float, float] = (-3.0, 3.0),
        points: int = 1001,
        figsize: tuple[float, float] | None = None,
        dpi: float = 100.0,
        widgets: bool = True,
        use_pyplot: bool = True,
    ):
        # ---- validate everything before any figure exists
        self._name = activation_class(activation).name
        if theme not in THEMES:
            raise ValueError(f"unknown theme {theme!r}; valid choices: {', '.join(THEMES)}")
        xmin, xmax = (check_finite("xmin", x_range[0]), check_finite("xmax", x_range[1]))
        if not xmin < xmax:
            raise ValueError(f"xmin must be less than xmax, got xmin={xmin:g}, xmax={xmax:g}")
        if isinstance(points, bool) or int(points) != points or points < 2:
            raise ValueError(f"points must be an integer >= 2, got {points!r}")
        dpi = check_finite("dpi", dpi)
        if dpi <= 0:
            raise ValueError(f"dpi must be positive, got {dpi!r}")

        given = {"alpha": alpha, "lower": lower, "upper": upper, "beta": beta, **(params or {})}
        values = resolve_params(self._name, given)
        self._params = values
        self._theme = theme
        self._show_derivative = bool(show_derivative)
        self.x = np.linspace(xmin, xmax, int(points))
        self.dpi = dpi

        # ---- figure
        if figsize is None:
            figsize = figsize_for_pixels(1000, 700, dpi)
        if use_pyplot:
            import matplotlib.pyplot as plt

            self.fig: Figure = plt.figure(figsize=figsize, dpi=dpi)
        else:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            self.fig = Figure(figsize=figsize, dpi=dpi)
            FigureCanvasAgg(self.fig)
        self._use_pyplot = use_pyplot
        self.has_widgets = bool(widgets)

        if self.has_widgets:
            self.ax = self.fig.add_axes((0.30, 0.31, 0.66, 0.61))
        else:
            self.fig.set_layout_engine("constrained")
            self.ax = self.fig.add_subplot()
        self._build_plot()

        self.selector = None
        self.sliders: dict[str, Any] = {}
        self.deriv_toggle = None
        self.theme_button = None
        self._panel_axes: list = []
        self._panel_titles: list = []
        if self.has_widgets:
            self._build_widgets()

        self._update_data()
        self._apply_theme()

    # ------------------------------------------------------------------ state

    @property
    def activation_name(self) -> str:
        return self._name

    @property
    def activation(self) -> Activation:
        """The activation currently shown, built from the registry."""
        return make_activation(self._name, **self._params)

    @property
    def params(self) -> dict[str, float]:
        """Current value of every parameter (a copy)."""
        return dict(self._params)

    @property
    def active_params(self) -> tuple[str, ...]:
        """The parameters the current activation takes (their sliders are enabled)."""
        return tuple(ACTIVATIONS[self._name].params)

    @property
    def theme(self) -> str:
        return self._theme

    @property
    def show_derivative(self) -> bool:
        return self._show_derivative

    # ------------------------------------------------------------------ construction

    def _build_plot(self) -> None:
        ax = self.ax
        ax.set_xlim(self.x[0], self.x[-1])
        ax.margins(x=0.0, y=0.05)
        ax.set_axisbelow(True)
        ax.grid(True, linewidth=0.6)
        self._zero_lines = [ax.axhline(0.0, linewidth=0.9, zorder=1.5), ax.axvline(0.0, linewidth=0.9, zorder=1.5)]
        (self.fn_line,) = ax.plot(self.x, np.zeros_like(self.x), linewidth=2.2, label=_LABELS["fn"], zorder=3)
        (self.deriv_line,) = ax.plot(
            self.x, np.zeros_like(self.x), linewidth=1.8, linestyle="--", label=_LABELS["deriv"], zorder=2.9
        )
        self.deriv_line.set_visible(self._show_derivative)
        ax.set_xlabel(_LABELS["x"])
        ax.set_ylabel(_LABELS["y"])
        self.legend = None

    def _build_widgets(self) -> None:
        from matplotlib.widgets import Button, CheckButtons, RadioButtons, Slider

        class _Slider(Slider):
            drawon = False  # Slider.__init__ would otherwise draw the whole figure

        fig = self.fig
        names = list(ACTIVATIONS)
        sel_ax = fig.add_axes((0.02, 0.42, 0.19, 0.50))
        self._panel_titles = [sel_ax.set_title("activation", loc="left", fontsize=10)]
        # useblit=False: blitted buttons are "animated" artists, which savefig omits
        self.selector = RadioButtons(sel_ax, names, active=names.index(self._name), useblit=False)
        self.selector.on_clicked(self._on_select)

        chk_ax = fig.add_axes((0.02, 0.33, 0.19, 0.06))
        self.deriv_toggle = CheckButtons(
            chk_ax, [f"show {_LABELS['deriv']}"], [self._show_derivative], useblit=False,
            frame_props={"s": 110, "linewidth": 1.2}, check_props={"s": 110, "linewidth": 2.0},
        )
        self.deriv_toggle.on_clicked(self._on_toggle)

        btn_ax = fig.add_axes((0.02, 0.25, 0.19, 0.055))
        self.theme_button = Button(btn_ax, "")
        self.theme_button.on_clicked(self._on_theme_clicked)

        # one slider per registry parameter, stacked in the band below the plot
        n = max(len(PARAM_NAMES), 1)
        band_lo, band_hi = 0.02, 0.19
        step = (band_hi - band_lo) / n
        for i, p in enumerate(PARAM_NAMES):
            lo, hi = SLIDER_RANGES.get(p, _FALLBACK_RANGE)
            v = self._params[p]
            s_ax = fig.add_axes((0.40, band_hi - (i + 1) * step + 0.25 * step, 0.46, 0.5 * step))
            slider = _Slider(s_ax, p, min(lo, v), max(hi, v), valinit=v, initcolor="none")
            slider.on_changed(lambda val, p=p: self._on_slider(p, val))
            self.sliders[p] = slider

        self._panel_axes = [sel_ax, chk_ax, btn_ax]
        for w in (self.selector, self.deriv_toggle):
            w.drawon = False  # the explorer redraws once per change (see _redraw)

    # ------------------------------------------------------------------ widget callbacks

    def _on_select(self, label: str | None) -> None:
        if label is not None:
            self.set_activation(label)

    def _on_toggle(self, _label: str | None) -> None:
        self.set_show_derivative(self.deriv_toggle.get_status()[0])

    def _on_theme_clicked(self, _event) -> None:
        self.set_theme(self._next_theme())

    def _on_slider(self, name: str, value: float) -> None:
        self.set_param(name, value)

    def _next_theme(self) -> str:
        names = list(THEMES)
        return names[(names.index(self._theme) + 1) % len(names)]

    # ------------------------------------------------------------------ public setters

    def set_activation(self, name: str) -> None:
        """Show the registered activation ``name`` (keeps the parameter values)."""
        self._name = activation_class(name).name
        if self.selector is not None and self.selector.value_selected != name:
            self._silently(self.selector, lambda: self.selector.set_active(list(ACTIVATIONS).index(name)))
        self._update_data()
        self._style_sliders()
        self._redraw()

    def set_param(self, name: str, value: float) -> None:
        """Set parameter ``name`` (e.g. ``"alpha"``) to any finite value the registry accepts.

        The value is kept even when the current activation does not take it.  For
        RReLU, moving ``lower`` above ``upper`` raises ``upper`` with it (and vice
        versa).  A slider widens its range to include an out-of-range value.
        """
        if name not in self._params:
            raise ValueError(f"unknown parameter {name!r}; parameters: {', '.join(PARAM_NAMES)}")
        value = check_finite(name, value)
        new = dict(self._params)
        new[name] = value
        for a, b in _ORDERED_PAIRS:
            if name == a and new[a] > new[b]:
                new[b] = new[a]
            elif name == b and new[b] < new[a]:
                new[a] = new[b]
        _validate_params(new)
        self._params = new
        for p, slider in self.sliders.items():
            if slider.val != new[p]:
                self._set_slider(slider, new[p])
        self._update_data()
        self._redraw()

    def set_alpha(self, value: float) -> None:
        """Shorthand for ``set_param("alpha", value)``."""
        self.set_param("alpha", value)

    def set_show_derivative(self, show: bool) -> None:
        """Show or hide the ``f'(z)`` line (and its legend entry)."""
        self._show_derivative = bool(show)
        self.deriv_line.set_visible(self._show_derivative)
        if self.deriv_toggle is not None and self.deriv_toggle.get_status()[0] != self._show_derivative:
            self._silently(self.deriv_toggle, lambda: self.deriv_toggle.set_active(0))
        self._update_legend()
        self._autoscale()
        self._redraw()

    def toggle_derivative(self) -> None:
        self.set_show_derivative(not self._show_derivative)

    def set_theme(self, name: str) -> None:
        """Restyle everything with :data:`THEMES` ``[name]``."""
        if name not in THEMES:
            raise ValueError(f"unknown theme {name!r}; valid choices: {', '.join(THEMES)}")
        self._theme = name
        self._apply_theme()
        self._redraw()

    def save(self, path: str | os.PathLike, dpi: float | None = None) -> Path:
        """Write the figure as it is (widgets included if it has them).

        The picture is ``figure size x dpi`` pixels exactly: no tight bounding box,
        whatever ``savefig.*`` rcParams say.  The format follows the extension
        (PNG when there is none).
        """
        import matplotlib as mpl

        path = Path(path)
        fmt = path.suffix[1:].lower() or "png"
        with mpl.rc_context({"savefig.bbox": "standard"}):
            self.fig.savefig(
                path,
                format=fmt,
                dpi=self.dpi if dpi is None else dpi,
                facecolor=self.fig.get_facecolor(),
                edgecolor="none",
                transparent=False,
            )
        return path

    def close(self) -> None:
        """Release the figure (closes its window under pyplot)."""
        if self._use_pyplot:
            import matplotlib.pyplot as plt

            plt.close(self.fig)

    # ------------------------------------------------------------------ drawing

    @staticmethod
    def _silently(widget, action) -> None:
        old = widget.eventson
        widget.eventson = False
        try:
            action()
        finally:
            widget.eventson = old

    def _set_slider(self, slider, value: float) -> None:
        """Move ``slider`` to ``value`` without firing its callback, widening it if needed."""
        if value < slider.valmin or value > slider.valmax:
            slider.valmin = min(slider.valmin, value)
            slider.valmax = max(slider.valmax, value)
            slider.ax.set_xlim(slider.valmin, slider.valmax)
            slider.poly.set_x(slider.valmin)
        self._silently(slider, lambda: slider.set_val(value))

    def _update_data(self) -> None:
        act = self.activation
        self.fn_line.set_ydata(np.array(act.forward(self.x), dtype=float))
        self.deriv_line.set_ydata(np.array(act.derivative(self.x), dtype=float))
        title = activation_title(act)
        self.ax.set_title(title)
        manager = getattr(self.fig.canvas, "manager", None)
        if manager is not None:
            manager.set_window_title(f"relu_study explorer: {title}")
        self._autoscale()

    def _autoscale(self) -> None:
        self.ax.relim(visible_only=True)
        self.ax.autoscale_view(scalex=False)
        self.ax.set_xlim(self.x[0], self.x[-1])

    def _update_legend(self) -> None:
        t = THEMES[self._theme]
        lines = [ln for ln in (self.fn_line, self.deriv_line) if ln.get_visible()]
        self.legend = self.ax.legend(handles=lines, labels=[ln.get_label() for ln in lines], loc="upper left")
        frame = self.legend.get_frame()
        frame.set_facecolor(t["legend_face"])
        frame.set_edgecolor(t["legend_edge"])
        for text in self.legend.get_texts():
            text.set_color(t["text"])

    def _redraw(self) -> None:
        """Ask an interactive canvas to redraw soon.

        Canvases that do not override ``draw_idle`` (Agg, notebook ``inline``) would
        draw the whole figure synchronously, for nothing: they render on save/show.
        """
        from matplotlib.backend_bases import FigureCanvasBase

        canvas = self.fig.canvas
        if type(canvas).draw_idle is not FigureCanvasBase.draw_idle:
            canvas.draw_idle()

    def _apply_theme(self) -> None:
        t = THEMES[self._theme]
        fig, ax = self.fig, self.ax
        fig.set_facecolor(t["figure"])
        fig.set_edgecolor(t["figure"])
        ax.set_facecolor(t["axes"])
        for spine in ax.spines.values():
            spine.set_color(t["spine"])
        ax.tick_params(which="both", color=t["spine"], labelcolor=t["text"])
        ax.title.set_color(t["text"])
        ax.xaxis.label.set_color(t["text"])
        ax.yaxis.label.set_color(t["text"])
        ax.grid(True, color=t["grid"], linewidth=0.6)
        for line in self._zero_lines:
            line.set_color(t["zero"])
        self.fn_line.set_color(t["fn"])
        self.deriv_line.set_color(t["deriv"])
        self._update_legend()
        self._style_toolbar()
        if not self.has_widgets:
            return

        for title in self._panel_titles:
            title.set_color(t["text"])
        for wax in self._panel_axes:
            wax.set_facecolor(t["panel"])
            for spine in wax.spines.values():
                spine.set_color(t["spine"])
        self.selector.set_label_props({"color": [t["text"]]})
        self.selector.set_radio_props({"edgecolor": t["text"], "facecolor": t["active"]})
        self.deriv_toggle.set_label_props({"color": [t["text"]]})
        self.deriv_toggle.set_frame_props({"edgecolor": t["text"], "facecolor": "none"})
        self.deriv_toggle.set_check_props({"facecolor": t["active"]})
        btn = self.theme_button
        btn.color, btn.hovercolor = t["button"], t["button_hover"]
        btn.ax.set_facecolor(t["button"])
        btn.label.set_color(t["text"])
        btn.label.set_text(f"theme: {self._theme} \u2192 {self._next_theme()}")
        self._style_sliders()

    def _style_toolbar(self) -> None:
        """Colour the window's navigation toolbar (and the window around the
        canvas) with the theme, so a dark figure does not sit under a light bar.

        Done for Tk, matplotlib's default interactive backend on Linux and
        Windows: every toolbar widget takes the theme's panel and text colours,
        and matplotlib redraws the icons, light on a dark background (its
        ``_set_image_for_button`` picks them by the button's background).
        Other backends keep their native toolbar (macOS's follows the system).
        """
        manager = getattr(self.fig.canvas, "manager", None)
        toolbar = getattr(manager, "toolbar", None)
        if toolbar is None or not hasattr(toolbar, "winfo_children"):
            return
        t = THEMES[self._theme]
        colors = {"background": t["panel"], "foreground": t["text"], "activebackground": t["button_hover"],
                  "activeforeground": t["text"], "selectcolor": t["button"], "highlightbackground": t["panel"]}
        window = getattr(manager, "window", None)
        if window is not None and hasattr(window, "configure"):
            window.configure(background=t["figure"])
        for widget in (toolbar, *toolbar.winfo_children()):
            options = set(widget.keys())
            if widget.winfo_class() == "Frame" and widget is not toolbar:  # the separators between button groups
                widget.configure(background=t["muted"])
                continue
            widget.configure(**{k: v for k, v in colors.items() if k in options})
        for button in getattr(toolbar, "_buttons", {}).values():
            toolbar._set_image_for_button(button)

    def _style_sliders(self) -> None:
        """Colour the sliders; those the current activation does not take are greyed and inactive."""
        t = THEMES[self._theme]
        active = self.active_params
        for p, s in self.sliders.items():
            on = p in active
            s.set_active(on)
            s.ax.set_facecolor(t["figure"])  # not drawn (slider axes are off), kept consistent
            s.track.set_facecolor(t["track"])
            s.poly.set_facecolor(t["bar"] if on else t["muted"])
            s.poly.set_alpha(1.0 if on else 0.5)
            handle = s._handle  # no public accessor for the knob
            handle.set_markerfacecolor(t["handle"] if on else t["muted"])
            handle.set_markeredgecolor(t["handle_edge"] if on else t["muted"])
            s.label.set_text(p if on else f"{p} (unused)")
            s.label.set_color(t["text"] if on else t["muted"])
            s.valtext.set_color(t["text"] if on else t["muted"])


# --------------------------------------------------------------------------- CLI


def _finite_float(text: str) -> float:
    try:
        return check_finite("value", text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}") from None


def _positive_float(text: str) -> float:
    v = _finite_float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return v


def _points(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 2, got {text!r}") from None
    if not 2 <= v <= 10_000_000:
        raise argparse.ArgumentTypeError(f"must be an integer in 2..10000000, got {text!r}")
    return v


def _size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"must be WIDTHxHEIGHT in pixels, e.g. 1000x700, got {text!r}")
    w, h = int(m.group(1)), int(m.group(2))
    if not (1 <= w <= 20000 and 1 <= h <= 20000):
        raise argparse.ArgumentTypeError(f"width and height must be 1..20000 pixels, got {text!r}")
    return w, h


def _takers(param: str) -> str:
    out = []
    for name, cls in ACTIVATIONS.items():
        if param in cls.params:
            d = _init_default(cls, param)
            out.append(f"{name}: {d:g}" if d is not None else name)
    return ", ".join(out)


class _OneLineParser(argparse.ArgumentParser):
    """argparse prints the usage and then ``prog: error: ...``; relu_study's
    commands print one line, ``error: ...`` naming the argument and the value,
    and exit with status 2 (the usage stays in ``--help``)."""

    def error(self, message: str):
        self.exit(2, f"error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    ranges = {p: SLIDER_RANGES.get(p, _FALLBACK_RANGE) for p in PARAM_NAMES}

    def param_help(p: str, what: str) -> str:
        lo, hi = ranges[p]
        return (
            f"{what}. Default: the activation's own ({_takers(p)}). "
            f"The slider spans {lo:g}..{hi:g} and widens to include a value outside it."
        )

    parser = _OneLineParser(
        prog="python -m relu_study.explore",
        description=(
            "Plot a registered activation f(z) and its derivative f'(z). Opens an interactive "
            "window (activation selector, parameter sliders, derivative toggle, theme switch); "
            "with --save writes the plot alone to a file, with --html writes the explorer as one "
            "self-contained web page (neither needs a display)."
        ),
        epilog=(
            "example: python -m relu_study.explore --activation leaky --alpha 0.1 --theme dark "
            "--save leaky.png   (negative numbers in exponent form need '=': --alpha=-1e-3)"
        ),
    )
    parser.add_argument(
        "--activation", default="leaky", choices=list(ACTIVATIONS), metavar="NAME",
        help=f"activation to show, one of: {', '.join(ACTIVATIONS)} (default: leaky)",
    )
    parser.add_argument(
        "--alpha", type=_finite_float,
        help=param_help(
            "alpha",
            "negative-side slope of leaky/prelu (any finite value: alpha > 1 and alpha < 0 are plotted "
            "exactly, z if z > 0 else alpha*z) or the scale of elu",
        ),
    )
    parser.add_argument("--lower", type=_finite_float, help=param_help("lower", "lower bound of rrelu's slope"))
    parser.add_argument("--upper", type=_finite_float, help=param_help("upper", "upper bound of rrelu's slope"))
    parser.add_argument("--beta", type=_finite_float, help=param_help("beta", "softplus sharpness, > 0"))
    parser.add_argument("--xmin", type=_finite_float, default=-3.0, help="left end of the z range (default: -3)")
    parser.add_argument("--xmax", type=_finite_float, default=3.0, help="right end of the z range (default: 3)")
    parser.add_argument("--points", type=_points, default=1001, help="grid points in the z range (default: 1001)")
    parser.add_argument("--theme", choices=list(THEMES), default="light", help="colour theme (default: light)")
    parser.add_argument("--no-derivative", dest="derivative", action="store_false", help="do not draw f'(z)")
    parser.add_argument(
        "--save", metavar="PATH",
        help="write the plot (without widgets) to PATH instead of opening a window; format from "
        "the extension (png when none). Works without a display.",
    )
    parser.add_argument(
        "--html", metavar="PATH",
        help="write the explorer as one self-contained web page (works offline: selector, sliders and a box "
        "for any value, derivative, light/dark theme, the claims with their verdicts) instead of opening a window",
    )
    parser.add_argument(
        "--results", metavar="DIR",
        help="with --html: the folder holding claims.json, written by the claims report "
        "(default: results/ in the current folder, when it has one)",
    )
    parser.add_argument(
        "--size", type=_size, default=(1000, 700), metavar="WxH",
        help="figure size in pixels; a saved picture has exactly this size (default: 1000x700)",
    )
    parser.add_argument("--dpi", type=_positive_float, default=100.0, help="dots per inch (default: 100)")
    return parser


def _write_error(path, exc: OSError) -> str:
    """``error: cannot write PATH: reason``, said once (a WriteError names the file already)."""
    from ..runs.folders import WriteError

    if isinstance(exc, WriteError):
        return f"error: {exc}"
    reason = f"[Errno {exc.errno}] {exc.strerror}" if exc.strerror else str(exc)
    return f"error: cannot write {path}: {reason}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.xmin < args.xmax:
        parser.error(f"argument --xmin: must be less than --xmax, got --xmin {args.xmin:g} --xmax {args.xmax:g}")
    if args.results is not None and args.html is None:
        parser.error(f"argument --results: only used with --html, got --results {args.results}")
    for option, value in (("--html", args.html), ("--save", args.save)):
        if value is not None and Path(value).is_dir():
            parser.error(f"argument {option}: {value} is a folder; give a file name")

    headless = args.save is not None or args.html is not None
    if not headless and not _have_display():
        parser.error("no display available (DISPLAY is not set); use --save PATH to write the plot to a file, "
                     "or --html PATH for the web page")

    import matplotlib

    if args.save is not None:
        if "matplotlib.pyplot" not in sys.modules:
            matplotlib.use("Agg")  # before pyplot is imported; the save path never imports it
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fmt = Path(args.save).suffix[1:].lower()
        if fmt and fmt not in FigureCanvasAgg.get_supported_filetypes():
            supported = ", ".join(sorted(FigureCanvasAgg.get_supported_filetypes()))
            parser.error(f"argument --save: unsupported file type {fmt!r}; supported: {supported}")

    from ..runs.entry import check_output_folder

    for option, value in (("--html", args.html), ("--save", args.save)):
        if value is not None:  # the folder is checked before anything is drawn
            try:
                check_output_folder(Path(value).parent, option)
            except OSError as exc:
                print(_write_error(value, exc), file=sys.stderr)
                return 1
    given = {"alpha": args.alpha, "lower": args.lower, "upper": args.upper, "beta": args.beta}
    page = None
    try:
        if args.html is not None:  # everything the page needs is read and checked before anything is written
            from .explore_html import find_claims, load_claims

            try:
                claims_path = find_claims(args.results)
            except FileNotFoundError as exc:
                parser.error(f"argument --results: {exc}")
            page = {"activation": args.activation, "params": resolve_params(args.activation, given),
                    "show_derivative": args.derivative, "claims_path": claims_path,
                    "claims": load_claims(claims_path) if claims_path is not None else None}
        explorer = None
        if not headless or args.save is not None:
            explorer = ActivationExplorer(
                args.activation, **given, theme=args.theme, show_derivative=args.derivative,
                x_range=(args.xmin, args.xmax), points=args.points, figsize=figsize_for_pixels(*args.size, args.dpi),
                dpi=args.dpi, widgets=not headless, use_pyplot=not headless,
            )
    except ValueError as exc:
        parser.error(str(exc))

    if args.save is not None:
        try:
            path = explorer.save(args.save)
        except OSError as exc:
            print(_write_error(args.save, exc), file=sys.stderr)
            return 1
        w, h = args.size
        print(f"wrote {path} ({w}x{h} px)")
    if page is not None:
        from .explore_html import write_explorer_html

        try:
            path = write_explorer_html(args.html, results=page["claims_path"], activation=page["activation"],
                                       params=page["params"], show_derivative=page["show_derivative"])
        except OSError as exc:
            print(_write_error(args.html, exc), file=sys.stderr)
            return 1
        size = path.stat().st_size
        note = f"claims from {page['claims_path']}" if page["claims"] is not None else \
            "no claims.json found: the page says how to make one"
        print(f"wrote {path} ({size / 1024:.0f} KiB; {note})")
    if headless:
        return 0

    import matplotlib.pyplot as plt

    plt.show()
    return 0


if __name__ == "__main__":
    sys.exit(main())
