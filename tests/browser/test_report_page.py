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


# ------------------------------------------------------------------ a report a reader can take in (issue 27)
ANSWERS = """# A report

## Answers

**C1. Leaky ReLU prevents dying units: inconclusive.** The first sentence says it with a number \
(−0.44 [−0.47, −0.41] pooled). """ + "More words follow. " * 60 + """

*Detail.* """ + "The long detail. " * 80 + """

**C2. Leaky ReLU avoids zero gradients: depends on slope or setting.** Short answer (+0.1 [0.05, 0.2]).

## C1. Leaky ReLU prevents dying units

### C1.1 Dying caused by training

| setting | value |  |
|---|---|---|
""" + "".join(f"| s{i} | {i} | |\n" for i in range(20)) + """
## C2. Leaky ReLU avoids zero gradients

| setting | value |
|---|---|
| a | 1 |
"""


@pytest.fixture(scope="module")
def answers_page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("answers")
    (folder / "REPORT.md").write_text(ANSWERS, encoding="utf-8")
    return write_report_html(folder)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_contents_short_answers_folded_text_and_tables(open_page, answers_page, scheme):
    visit = open_page(answers_page, color_scheme=scheme)
    page = visit.page
    ids = page.eval_on_selector_all("article h2[id], article h3[id]", "els => els.map(e => e.id)")
    links = page.eval_on_selector_all("nav.rs-toc a", "els => els.map(e => e.getAttribute('href').slice(1))")
    assert ids and links == ids  # every section is in the contents, in order
    answers = page.locator(".rs-answer")
    assert answers.count() == 2
    first = answers.nth(0).locator("> p").inner_text()
    assert "[−0.47, −0.41]" in first and len(first.split()) < 40  # short, with its interval
    assert not page.locator(".rs-answer details").first.evaluate("d => d.open")  # the long text is folded
    assert "The long detail." not in page.locator(".rs-answer").nth(0).inner_text()
    # "inconclusive" and "depends" get badges a reader can tell apart
    inc, dep = (page.locator(f".rs-answer .rs-verdict.{c}").first for c in ("v-inconclusive", "v-depends"))
    style = "e => [getComputedStyle(e).color, getComputedStyle(e).borderTopStyle]"
    assert inc.evaluate(style) != dep.evaluate(style)
    assert inc.evaluate(style)[0] != dep.evaluate(style)[0] and inc.evaluate(style)[1] != dep.evaluate(style)[1]
    # no empty header cell; the 20-row table folded, the short one open
    assert all(t.strip() for t in page.eval_on_selector_all("th", "els => els.map(e => e.textContent)"))
    assert page.locator("details.rs-table").count() == 1
    assert "20 rows" in page.locator("details.rs-table summary").inner_text()
    visit.assert_clean()


def test_the_committed_report_gets_contents_and_folded_answers(open_page, tmp_path):
    from pathlib import Path

    from relu_study.web.report import report_html

    results = Path(__file__).resolve().parents[2] / "results"
    if not (results / "REPORT.md").is_file():
        pytest.skip("not a source checkout with results/")
    page_file = tmp_path / "REPORT.html"
    page_file.write_text(report_html(results), encoding="utf-8")  # rendered here: results/ stays as committed
    visit = open_page(page_file)
    page = visit.page
    assert page.locator("nav.rs-toc a").count() >= 15
    answers = page.locator(".rs-answer > p")
    assert answers.count() >= 8
    for i in range(answers.count()):
        assert len(answers.nth(i).inner_text().split()) <= 120, answers.nth(i).inner_text()[:200]
    assert page.evaluate("[...document.querySelectorAll('th')].filter(e => !e.textContent.trim()).length") == 0
    long = page.evaluate("[...document.querySelectorAll('table')].filter(t => t.tBodies[0] && "
                         "t.tBodies[0].rows.length > 12 && !t.closest('details')).length")
    assert long == 0
    visit.assert_clean()


def _overlaps(a, b, slack=0.5) -> bool:
    return (a["x"] + slack < b["x"] + b["width"] and b["x"] + slack < a["x"] + a["width"] and
            a["y"] + slack < b["y"] + b["height"] and b["y"] + slack < a["y"] + a["height"])


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_tick_labels_overlap_and_no_chart_is_wider_than_its_column(open_page, tmp_path, scheme):
    """The committed report at 1400 x 1000: in every panel no two tick labels' boxes
    overlap (30 settings x 4 label lines used to overprint), and every chart fits
    the column."""
    from pathlib import Path

    from relu_study.web.report import report_html

    results = Path(__file__).resolve().parents[2] / "results"
    if not (results / "REPORT.md").is_file():
        pytest.skip("not a source checkout with results/")
    page_file = tmp_path / "REPORT.html"
    page_file.write_text(report_html(results), encoding="utf-8")
    visit = open_page(page_file, color_scheme=scheme)
    page = visit.page
    boxes = page.evaluate("""() => [...document.querySelectorAll('.rs-panel svg')].map(svg =>
        [...svg.querySelectorAll('.rs-tick text')].map(t => { const r = t.getBoundingClientRect();
          return {x: r.x, y: r.y + window.scrollY, width: r.width, height: r.height}; })
          .filter(r => r.width > 0))""")
    assert sum(len(b) for b in boxes) > 100
    for panel, labels in enumerate(boxes):
        for i in range(len(labels)):
            for j in range(i + 1, len(labels)):
                assert not _overlaps(labels[i], labels[j]), (panel, labels[i], labels[j])
    column = page.locator("article.rs-report").bounding_box()
    widths = page.evaluate("[...document.querySelectorAll('[data-chart]')].map(c => c.getBoundingClientRect())"
                           ".map(r => [r.x, r.x + r.width])")
    assert widths and all(x0 >= column["x"] - 1 and x1 <= column["x"] + column["width"] + 1 for x0, x1 in widths)
    visit.assert_clean()
