"""Figures as data (relu_study.charts): JSON round trip, gaps for missing values,
words instead of blank axes, PNGs drawn without pyplot."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from relu_study.charts import Chart, Panel, Series, load_chart, save_json, save_png


def _chart(kind="lines", y=(1.0, float("nan"), 3.0)):
    x = [0, 1, 2] if kind == "lines" else ["a", "b", "c"]
    s = Series("ReLU (n=3)", x, list(y), lo=[0.5, None, 2.5], hi=[1.5, None, 3.5], n=[3, 0, 3])
    return Chart("demo", "Demo", kind, [Panel("left", [s], xlabel="epoch", ylabel="loss")])


def test_json_round_trip_keeps_everything_and_turns_nan_into_gaps(tmp_path):
    chart = _chart()
    path = save_json(chart, tmp_path / "c.json")
    raw = json.loads(path.read_text())
    assert raw["panels"][0]["series"][0]["y"] == [1.0, None, 3.0]  # NaN -> null, never 0
    back = load_chart(path)
    assert back == chart


def test_series_lengths_are_checked():
    with pytest.raises(ValueError, match="lo has 1 values for 2 x values"):
        Series("s", [0, 1], [1, 2], lo=[0])
    with pytest.raises(ValueError, match="kind must be one of"):
        Chart("c", "t", "pie", [Panel("p", [])])


@pytest.mark.parametrize("kind", ["lines", "points", "bars"])
def test_png_for_every_kind(kind, tmp_path):
    path = save_png(_chart(kind), tmp_path / f"{kind}.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_panel_without_data_says_so_in_words(tmp_path, monkeypatch):
    texts = []
    from matplotlib.axes import Axes

    original = Axes.text

    def spy(self, x, y, s, *args, **kwargs):
        texts.append(s)
        return original(self, x, y, s, *args, **kwargs)

    monkeypatch.setattr(Axes, "text", spy)
    chart = _chart(y=(math.nan, math.nan, math.nan))
    chart.panels[0].empty = "every network diverged"
    save_png(chart, tmp_path / "empty.png")
    assert "every network diverged" in texts


def test_rendering_leaves_pyplot_alone(tmp_path):
    code = ("import sys; from relu_study.charts import *; "
            "save_png(Chart('c','t','lines',[Panel('p',[Series('s',[0,1],[1,2])])]), sys.argv[1]); "
            "print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.png")], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_every_palette_colour_is_readable_on_both_page_backgrounds():
    from pathlib import Path

    from relu_study import charts

    css = (Path(charts.__file__).parent / "web" / "assets" / "page.css").read_text()
    for theme, bg in charts.BACKGROUNDS.items():
        assert f"--bg: {bg};" in css, f"page.css's {theme} background is not charts.BACKGROUNDS[{theme!r}]"
        for colour in (charts.REFERENCE_COLOUR, *charts.PALETTE):
            assert charts.contrast(colour, bg) >= 3.0, (theme, colour)


def test_series_leave_with_their_arm_colour_and_no_two_arms_look_alike(tmp_path):
    from relu_study import charts

    names = ["ReLU"] + [f"α={a}" for a in range(25)]
    chart = Chart("many", "Many", "lines", [Panel("p", [Series(n, [0, 1], [1, 2]) for n in names]),
                                            Panel("q", [Series(n, [0, 1], [2, 3]) for n in reversed(names)])])
    looks = [(s.color, s.style) for s in chart.panels[0].series]
    assert looks[0] == (charts.REFERENCE_COLOUR, "solid")
    assert len(set(looks)) == len(names)  # past the palette's length the dash changes
    assert [(s.color, s.style) for s in chart.panels[1].series] == looks[::-1]  # keyed by name, not position
    back = load_chart(save_json(chart, tmp_path / "c.json"))
    assert [s.color for s in back.panels[0].series] == [c for c, _ in looks]


def test_the_reports_reference_arm_is_visible_in_the_dark_theme():
    from relu_study import charts
    from relu_study.claims.document import arm_colour

    assert charts.contrast(arm_colour("ReLU", []), charts.BACKGROUNDS["dark"]) >= 3.0


def test_thirty_settings_get_upright_labels_that_never_overlap():
    """30 settings x 4 label parts (the C1 sensitivity figure): one upright line each,
    the part they all share left out, no two tick labels' boxes overlapping, and a
    figure of a readable width (it was 3795 x 814 px with the labels overprinted)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from relu_study.charts import Chart, Panel, Series, category_labels, render_figure

    cats = [f"optimizer={o}, lr={lr}, clip={c}, bias=0" for o in ("adam", "momentum", "sgd")
            for lr in (0.01, 0.03, 0.1, 0.3, 1) for c in ("none", 1)]
    labels, upright = category_labels(cats)
    assert upright and len(labels) == 30 and not any("bias=0" in lab for lab in labels)
    assert category_labels(cats[:3]) == (cats[:3], False)
    chart = Chart("c", "C1", "points", [Panel("p", [Series("ReLU", cats, [0.1] * 30, [0.05] * 30, [0.15] * 30),
                                                    Series("Leaky", cats, [0.2] * 30)])], columns=1,
                  panel_size=(34.5, 3.0))
    fig = render_figure(chart)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert len(boxes) == 30
    assert not any(boxes[i].overlaps(boxes[j]) for i in range(30) for j in range(i + 1, 30))
    width, height = fig.get_size_inches()
    assert width <= 14.0 and fig.axes[0].get_window_extent(renderer).height > 150
