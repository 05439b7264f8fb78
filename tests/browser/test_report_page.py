"""REPORT.html in Chromium: a synthetic report folder (Markdown, a figure with
its Chart JSON, a figure without) converted by relu_study.web.report."""

from __future__ import annotations

import shutil

import pytest

from relu_study.charts import Chart, Panel, Series, save_json, save_png
from relu_study.web.report import write_report_html

from relu_study.claims.document import arm_colour

from .browser_checks import check_series_visible, check_theme_switch

REPORT = """# relu_study: the claims about Leaky ReLU, tested

Generated for a test. Every number here is *made up* for the page, and **bold**, `code` and a
[link to the tables](tables/c1.csv) render.

## Summary

| study | verdict | effect |
|---|---|--:|
| Claim 1: Leaky ReLU prevents dying units | **inconclusive** | -0.0068 |
| Claim 4: sparse activations | contradicted | -0.49 |

* first point
* second point, with `dead_frac`

## Claim 1: Leaky ReLU prevents dying units

![C1: dead fraction per arm](figures/c1_dead.png)

*C1: dead fraction per arm*

![C1: a figure without its JSON](figures/c1_static.png)

```python
np.where(z > 0, z, alpha * z)
```
"""


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    (folder / "figures").mkdir()
    (folder / "REPORT.md").write_text(REPORT)
    settings = ["lr=0.1", "lr=1"]
    chart = Chart("c1_dead", "C1: dead fraction, final", "points", [
        Panel("bias=-1", [Series("ReLU", settings, [0.44, 0.49], lo=[0.39, 0.43], hi=[0.49, 0.54], n=[30, 30],
                                 color=arm_colour("ReLU", [])),  # as the claims report colours its reference
                          Series("Leaky α=0.01", settings, [0.43, None], lo=[0.38, None], hi=[0.49, None], n=[30, 0])],
              ylabel="dead fraction"),
        Panel("bias=0", [Series("ReLU", settings, [None, None])], empty="ReLU units did not die here"),
    ], caption="C1: dead fraction per arm")
    save_png(chart, folder / "figures" / "c1_dead.png")
    save_json(chart, folder / "figures" / "c1_dead.json")
    save_png(chart, folder / "figures" / "c1_static.png")  # a picture only
    write_report_html(folder)
    return folder


def test_report_renders_offline_with_an_interactive_chart(open_page, report_dir, screenshots):
    visit = open_page(report_dir / "REPORT.html")
    page = visit.page
    assert page.title() == "relu_study: the claims about Leaky ReLU, tested"
    assert page.locator("table td").first.text_content() == "Claim 1: Leaky ReLU prevents dying units"
    assert page.get_attribute("table tr:nth-child(1) td:nth-child(3)", "style") == "text-align:right"
    assert page.locator("li code").text_content() == "dead_frac"
    assert page.locator("h2#claim-1-leaky-relu-prevents-dying-units").count() == 1
    assert page.get_attribute("a[href='tables/c1.csv']", "href") == "tables/c1.csv"
    # the figure with a Chart JSON is an SVG chart with the JSON's numbers; the other an inlined picture
    chart = page.locator("[data-chart='c1_dead']")
    assert chart.locator(".rs-panel svg").count() == 2 and chart.locator("circle.rs-mark").count() == 3  # None is a gap
    assert "ReLU units did not die here" in chart.text_content()
    src = page.get_attribute("figure.rs-figure img", "src")
    assert src.startswith("data:image/png;base64,")
    chart.locator(".rs-legend button[data-series='ReLU']").click()
    assert chart.locator("[data-series='ReLU'].rs-mark").count() == 0
    check_theme_switch(visit, "[data-chart='c1_dead']", screenshots, "report")
    visit.assert_clean()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_series_is_visible_in_both_themes(open_page, report_dir, screenshots, scheme):
    """The reference arm (ReLU) was drawn in #222222: invisible on the dark theme's #17171b."""
    visit = open_page(report_dir / "REPORT.html", color_scheme=scheme)
    visit.page.screenshot(path=str(screenshots / f"report-series-{scheme}.png"), full_page=True)
    check_series_visible(visit, "[data-chart='c1_dead']")
    visit.page.click("#rs-theme")
    check_series_visible(visit, "[data-chart='c1_dead']")
    visit.assert_clean()


def test_report_survives_a_move(open_page, report_dir, tmp_path):
    """Self-contained: the page alone, without figures/, still draws everything."""
    alone = tmp_path / "REPORT.html"
    shutil.copy(report_dir / "REPORT.html", alone)
    visit = open_page(alone)
    assert visit.page.locator("[data-chart] .rs-panel svg").count() == 2
    assert visit.page.evaluate("document.querySelector('figure img').naturalWidth") > 0
    visit.assert_clean()


def test_the_committed_reference_report(open_page):
    """results/REPORT.html (written by ``python -m relu_study.reproduce``): it loads
    offline without a console error, and every figure that has chart data is drawn
    as an interactive chart with as many panels as its JSON."""
    from pathlib import Path

    from relu_study.charts import load_chart

    results = Path(__file__).resolve().parents[2] / "results"
    if not (results / "REPORT.md").is_file():
        pytest.skip("not a source checkout with results/")
    visit = open_page(results / "REPORT.html")
    page = visit.page
    charts = sorted((results / "figures").glob("*.json"))
    assert charts
    for path in charts:
        if f"(figures/{path.stem}.png)" not in (results / "REPORT.md").read_text():
            continue
        drawn = page.locator(f"[data-chart='{path.stem}'] .rs-panel svg").count()
        assert drawn == len(load_chart(path).panels), path.stem
    visit.assert_clean()
