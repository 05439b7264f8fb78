"""sweep_report.html in Chromium: written by the aggregation from real run
folders, offline, the theme switch, hiding and showing arms, hover values."""

from __future__ import annotations

import pytest

from relu_study.runs.config import default_config
from relu_study.runs.experiment import run_experiment
from relu_study.runs.folders import write_run
from relu_study.sweeps.aggregate import collect, write_sweep

from .browser_checks import check_series_visible, check_theme_switch

ARMS = [("relu", 0.0), ("leaky", 0.01), ("leaky", 0.3), ("leaky", 3.0)]  # alpha 3 at lr 1 diverges: data, not a crash


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    """Four arms, three networks each, eight epochs: trained in-process and
    aggregated by write_sweep (as the multirun callback and compare do)."""
    root = tmp_path_factory.mktemp("sweep")
    for i, (act, alpha) in enumerate(ARMS):
        cfg = default_config(**{"activation.name": act, "alpha": alpha, "activation.alpha": alpha, "optimizer.lr": 1.0,
                                "epochs": 8, "seeds": 3, "dataset.n_samples": 200, "model.width": 8,
                                "progress": False, "plots": False})
        result = run_experiment(cfg)
        write_run(root / str(i), result.table, result.summary)
    metrics, runs = collect(root, warn=False)
    files = write_sweep(root, metrics, runs)
    assert root / "sweep_report.html" in files
    return root


def _lines(page, arm):
    return page.locator(f'path.rs-line[data-series="{arm}"]').count()


def test_loads_offline_and_the_theme_switch_works(open_page, sweep_dir, screenshots):
    visit = open_page(sweep_dir / "sweep_report.html", color_scheme="dark")
    assert visit.page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert visit.page.locator("[data-chart] svg").count() >= 4  # loss, dead fraction, final vs alpha panels
    check_theme_switch(visit, "[data-chart='sweep_loss']", screenshots, "sweep_report")
    visit.assert_clean()


def test_toggling_an_arm_hides_its_curve(open_page, sweep_dir):
    visit = open_page(sweep_dir / "sweep_report.html")
    page = visit.page
    arm = "activation=leaky, alpha=0.3"
    other = "activation=relu, alpha=0"
    # train/val loss and never positive during the epoch; the exact probes are points
    assert _lines(page, arm) == 3 and _lines(page, other) == 3
    probes = f'circle.rs-probe[data-series="{arm}"]'
    assert page.locator(probes).count() == 4  # dead and zero-gradient fractions at epochs 0 and 8
    page.click(f'button[data-arm="{arm}"]')
    assert _lines(page, arm) == 0 and page.locator(f'path.rs-band[data-series="{arm}"]').count() == 0
    assert page.locator(probes).count() == 0
    assert _lines(page, other) == 3
    assert page.get_attribute(f'button[data-arm="{arm}"]', "aria-pressed") == "false"
    page.click(f'button[data-arm="{arm}"]')
    assert _lines(page, arm) == 3
    assert page.locator("[data-chart='sweep_loss'] .rs-legend").count() == 0  # the buttons are the legend
    page.click("#rs-arms-none")
    assert page.locator("[data-chart='sweep_loss'] path.rs-line").count() == 0
    assert "every series is hidden" in page.text_content("[data-chart='sweep_loss']")
    page.click("#rs-arms-all")
    assert page.locator("[data-chart='sweep_loss'] path.rs-line").count() == 2 * len(ARMS)
    visit.assert_clean()


def test_hover_shows_value_interval_and_n(open_page, sweep_dir):
    visit = open_page(sweep_dir / "sweep_report.html")
    page = visit.page
    arm = "activation=leaky, alpha=0.01"
    page.click("#rs-arms-none")  # alone, so that no other arm's curve is nearer the mouse
    page.click(f'button[data-arm="{arm}"]')
    box = page.locator(f'[data-chart="sweep_loss"] circle.rs-mark[data-series="{arm}"]').nth(2).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tip = page.locator(".rs-tip")
    assert tip.is_visible()
    text = tip.text_content()
    assert arm in text and "x = 2" in text and "interval [" in text and "n = 3" in text
    page.mouse.move(1, 1)
    assert not tip.is_visible()
    visit.assert_clean()


def test_final_values_against_alpha(open_page, sweep_dir):
    """n at each alpha counts the networks that finished (diverged ones have no final value)."""
    import pandas as pd

    runs = pd.read_parquet(sweep_dir / "sweep_runs.parquet")
    leaky_runs = runs[runs["activation.name"] == "leaky"]
    finished = leaky_runs[leaky_runs["final_val_loss"].notna()].groupby("alpha").size()
    visit = open_page(sweep_dir / "sweep_report.html")
    chart = visit.page.evaluate("RS.charts.find(h => h.id === 'sweep_final_vs_alpha').chart")
    leaky = next(s for s in chart["panels"][0]["series"] if s["name"] == "activation=leaky")
    assert leaky["x"] == finished.index.tolist() and leaky["n"] == finished.tolist()
    assert leaky["y"][0] == pytest.approx(leaky_runs.loc[leaky_runs["alpha"] == 0.01, "final_val_loss"].mean())
    assert (leaky_runs["status"] == "diverged").any()  # the fixture has diverged networks, left out of n
    visit.assert_clean()


# ------------------------------------------------------------------ what a reader sees (issue 27)
def test_unit_health_per_epoch_is_a_band_with_the_probes_as_whole_points(open_page, sweep_dir):
    """Every arm gets a band over every epoch from the epoch statistics; the exact
    probes at the first and last epoch are whole points (not cut by the frame)
    with their error bars; the title does not call slope units dead."""
    visit = open_page(sweep_dir / "sweep_report.html")
    page = visit.page
    chart = page.evaluate("RS.charts.find(h => h.id === 'sweep_dead').chart")
    assert "Dead" not in chart["title"] and "stuck negative" in chart["panels"][0]["title"]
    host = "[data-chart='sweep_dead']"
    for arm, _ in [(f"activation={a}, alpha={x:g}", None) for a, x in ARMS]:
        bands = page.locator(f'{host} path.rs-band[data-series="{arm}"]')
        if arm.endswith("alpha=3"):
            continue  # diverged networks: their band may be missing where none is left
        assert bands.count() >= 1, arm
    svg = page.locator(f"{host} svg").first.bounding_box()
    points = page.locator(f"{host} svg >> nth=0").locator("circle.rs-probe")
    assert points.count() >= 2
    for i in range(points.count()):
        b = points.nth(i).bounding_box()
        assert b["width"] >= 8 and b["height"] >= 8  # drawn whole, not half clipped
        assert svg["x"] <= b["x"] and b["x"] + b["width"] <= svg["x"] + svg["width"]
    assert page.locator(f"{host} path.rs-err").count() >= 2  # the probes keep their interval
    visit.assert_clean()


def test_relu_is_drawn_last_dashed_and_visible_in_both_themes(open_page, sweep_dir):
    for scheme in ("light", "dark"):
        visit = open_page(sweep_dir / "sweep_report.html", color_scheme=scheme)
        page = visit.page
        names = page.eval_on_selector_all("[data-chart='sweep_dead'] svg >> nth=0",
                                          "els => [...els[0].querySelectorAll('path.rs-line')]"
                                          ".map(e => [e.dataset.series, e.getAttribute('stroke-dasharray')])")
        assert names[-1][0] == "activation=relu, alpha=0" and names[-1][1]  # on top, dashed
        check_series_visible(visit, "[data-chart='sweep_dead']")
        visit.assert_clean()


def test_final_values_keep_the_png_axis_and_relu_keeps_its_interval(open_page, sweep_dir):
    from relu_study.sweeps.plots import final_vs_alpha_figure
    import pandas as pd

    runs = pd.read_parquet(sweep_dir / "sweep_runs.parquet")
    png = final_vs_alpha_figure(runs, ["activation.name", "alpha"])
    visit = open_page(sweep_dir / "sweep_report.html")
    chart = visit.page.evaluate("RS.charts.find(h => h.id === 'sweep_final_vs_alpha').chart")
    assert chart["panels"][0]["logx"] == (png.axes[0].get_xscale() == "log") == True  # noqa: E712
    relu = next(s for s in chart["panels"][0]["series"] if s["name"] == "activation=relu")
    assert len(relu["x"]) == 2 and relu["lo"][0] < relu["y"][0] < relu["hi"][0]  # a level with its interval
    assert visit.page.locator("[data-chart='sweep_final_vs_alpha'] path.rs-band[data-series='activation=relu']"
                              ).count() >= 1
    visit.assert_clean()


def test_png_and_page_give_each_arm_one_colour(sweep_dir):
    """sweep_dead.png is the page's chart; sweep_final_vs_alpha.png takes the page's colours."""
    import pandas as pd
    from matplotlib.colors import to_hex

    from relu_study.sweeps.html import sweep_charts
    from relu_study.sweeps.plots import curves_figure, final_vs_alpha_figure

    metrics = pd.read_parquet(sweep_dir / "sweep_metrics.parquet")
    runs = pd.read_parquet(sweep_dir / "sweep_runs.parquet")
    keys = ["activation.name", "alpha"]
    charts = {c.name: c for c in sweep_charts(metrics, runs, keys)}
    page = {s.name: s.color for s in charts["sweep_dead"].panels[0].series}
    fig = curves_figure(metrics, runs, keys, "dead")
    drawn = {t.get_text(): to_hex(h.get_color()) for t, h in zip(fig.legends[0].get_texts(),
                                                                  fig.legends[0].legend_handles)}
    assert drawn == page
    page = {s.name.split("=", 1)[1]: s.color for s in charts["sweep_final_vs_alpha"].panels[0].series}
    fig = final_vs_alpha_figure(runs, keys)
    lines = {h.get_label().split(" ")[0]: to_hex(h.get_color()) for h in fig.axes[0].get_lines() if h.get_label()
             and not h.get_label().startswith("_")}
    assert lines and all(page[act] == colour for act, colour in lines.items())


def test_summary_is_not_cut_and_the_title_says_what_was_swept(open_page, sweep_dir, tmp_path):
    import pandas as pd

    from relu_study.sweeps.html import sweep_report_html

    metrics = pd.read_parquet(sweep_dir / "sweep_metrics.parquet")
    runs = pd.read_parquet(sweep_dir / "sweep_runs.parquet")
    summary = (sweep_dir / "sweep_summary.txt").read_text() + "a line too long for the column: " + "x, " * 120
    page_file = tmp_path / "sweep_report.html"
    page_file.write_text(sweep_report_html(metrics, runs, ["activation.name", "alpha"], title=sweep_dir.name,
                                           summary=summary), encoding="utf-8")
    visit = open_page(page_file)
    page = visit.page
    assert page.title().startswith("Sweep of ") and sweep_dir.name not in page.title()
    over = page.evaluate("[...document.querySelectorAll('pre')].map(p => p.scrollWidth - p.clientWidth)")
    assert over and max(over) <= 0
    visit.assert_clean()
