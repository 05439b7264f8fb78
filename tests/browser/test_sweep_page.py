"""sweep_report.html in Chromium: written by the aggregation from real run
folders, offline, the theme switch, hiding and showing arms, hover values."""

from __future__ import annotations

import pytest

from relu_study.runs.config import default_config
from relu_study.runs.experiment import run_experiment
from relu_study.runs.folders import write_run
from relu_study.sweeps.aggregate import collect, write_sweep

from .browser_checks import check_theme_switch

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
    assert _lines(page, arm) == 4 and _lines(page, other) == 4  # train/val loss, dead and zero-gradient fractions
    page.click(f'button[data-arm="{arm}"]')
    assert _lines(page, arm) == 0 and page.locator(f'path.rs-band[data-series="{arm}"]').count() == 0
    assert _lines(page, other) == 4
    assert page.get_attribute(f'button[data-arm="{arm}"]', "aria-pressed") == "false"
    page.click(f'button[data-arm="{arm}"]')
    assert _lines(page, arm) == 4
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
