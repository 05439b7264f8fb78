"""run.html in Chromium: the page a single run writes beside loss.png, with the
same charts, its summary and config; offline, both themes, every series visible,
no chart wider than its column."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .browser_checks import check_series_visible


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "R"
    proc = subprocess.run([sys.executable, "-m", "relu_study", "activation=leaky", "alpha=0.01", "epochs=5", "seeds=3",
                           "dataset.n_samples=200", "model.width=8", "progress=false", f"hydra.run.dir={out}"],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    last = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()][-1]
    assert last.endswith(f"open {out / 'run.html'}"), last  # the final line names the page
    return out


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_run_page_shows_the_runs_curves_summary_and_config(open_page, run_dir, scheme):
    visit = open_page(run_dir / "run.html", color_scheme=scheme)
    page = visit.page
    assert page.evaluate("RS.charts.map(h => h.id)") == ["loss", "dead"]
    assert page.locator("[data-chart='dead'] circle.rs-probe").count() >= 2  # the exact probes, as points
    check_series_visible(visit, "[data-chart]")
    main = page.locator("main").bounding_box()
    for i in range(page.locator("[data-chart] .rs-panel svg").count()):
        box = page.locator("[data-chart] .rs-panel svg").nth(i).bounding_box()
        assert box["x"] >= main["x"] - 0.5 and box["x"] + box["width"] <= main["x"] + main["width"] + 0.5
    loss = page.locator("[data-chart='loss'] .rs-panel svg").first.bounding_box()
    assert loss["width"] >= 0.9 * main["width"] - 40  # a one-panel chart takes the column's width
    text = page.text_content("main")
    assert "Unit health" in text and "Dead" not in text.split("Summary")[0]  # leaky units are never called dead
    assert "dead_frac" in text and "never positive" in text  # the summary, with the registry's meanings
    page.click("details summary")
    assert page.locator("details td code", has_text="leaky").count() >= 1  # the config
    visit.assert_clean()
