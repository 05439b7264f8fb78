"""The activation explorer page in Chromium: offline, the theme switch, and
curves equal to the Python registry (computed in the page by JavaScript)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import erf

from relu_study.engine import activations as registry
from relu_study.engine.activations import ACTIVATIONS, make_activation
from relu_study.tools.explore_html import write_explorer_html

from .browser_checks import check_theme_switch

#: parameter values tried per activation (others take their defaults)
PARAMS = {
    "leaky": [{"alpha": a} for a in (0.0, 0.01, 0.3, 1.0, 2.0, -0.5, 3.7, -12.0)],
    "prelu": [{"alpha": a} for a in (0.25, 2.0, -1.0)],
    "rrelu": [{"lower": 1 / 8, "upper": 1 / 3}, {"lower": 0.0, "upper": 0.5}, {"lower": 0.2, "upper": 0.2}],
    "elu": [{"alpha": a} for a in (1.0, 0.5, 2.5)],
    "softplus": [{"beta": b} for b in (1.0, 0.5, 5.0, 20.0)],
}
#: the piecewise-linear ones are the same arithmetic in both languages: bit for bit
EXACT = {"relu", "leaky", "prelu", "rrelu", "identity"}
#: the others go through exp, expm1, tanh, erf, whose last bits differ between
#: libraries: |page - registry| <= TOL * max(1, |registry|) (a few units in the last place)
TOL = 2e-15


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("explorer") / "explorer.html"
    write_explorer_html(path, results=None)
    return path


def _points(n_random=1000):
    rng = np.random.default_rng(0)
    return np.concatenate([np.linspace(-8, 8, 1601), rng.normal(0, 3, n_random),
                           [0.0, -0.0, 1e-300, -1e-300, 1e-8, -1e-8, 40.0, -40.0, 700.0, -700.0]])


def _type(page, param, text):
    """Type ``text`` in the parameter's box and press Enter, as a reader would."""
    page.fill(f"#rs-p-{param}", text)
    page.press(f"#rs-p-{param}", "Enter")


def _close(page_values, expected, exact):
    got = np.array([np.nan if v is None else v for v in page_values], dtype=float)
    if exact:
        return np.array_equal(got, expected)
    return bool(np.all(np.abs(got - expected) <= TOL * np.maximum(1.0, np.abs(expected))))


def test_loads_offline_and_the_theme_switch_works(open_page, page_file, screenshots):
    for scheme in ("light", "dark"):  # the first load follows the system preference
        visit = open_page(page_file, color_scheme=scheme)
        assert visit.page.evaluate("document.documentElement.dataset.theme") == scheme
        visit.assert_clean()
    visit = open_page(page_file, color_scheme="light")
    check_theme_switch(visit, "#rs-plot", screenshots, "explorer")
    visit.assert_clean()


def test_leaky_with_alpha_2_typed_in_the_box(open_page, page_file):
    visit = open_page(page_file)
    page = visit.page
    page.select_option("#rs-act", "leaky")
    _type(page, "alpha", "2")
    series = page.evaluate("RS.explorer.handle.chart.panels[0].series")  # what the chart drew
    x = np.array(series[0]["x"])
    f, df = np.array(series[0]["y"]), np.array(series[1]["y"])
    assert series[0]["name"] == "f(z)" and series[1]["name"] == "f′(z)"
    assert f[x == 1.0].tolist() == [1.0] and f[x == -1.0].tolist() == [-2.0]
    assert (df[x <= 0] == 2.0).all() and (df[x > 0] == 1.0).all()  # derivative 2 on the left (kink included)
    assert page.evaluate("RS.explorer.state.params.alpha") == 2.0
    assert page.input_value("#rs-p-alpha-range") == "2"
    assert page.text_content("#rs-plot .rs-ptitle") == "LeakyReLU(alpha=2)"
    assert "f = −2, f′ = 2" in page.text_content("#rs-readout")
    check = page.locator("#rs-numpy-check")
    assert check.get_attribute("data-agree") == "no" and "wrong" in check.text_content()
    visit.assert_clean()


def test_typed_values_outside_the_slider_and_bad_values(open_page, page_file):
    visit = open_page(page_file)
    page = visit.page
    _type(page, "alpha", "-12")
    assert float(page.get_attribute("#rs-p-alpha-range", "min")) <= -12  # the slider widened
    for text in ("abc", "1e999", ""):
        _type(page, "alpha", text)
        assert page.get_attribute("#rs-p-alpha", "aria-invalid") == "true"
        assert "finite number" in page.text_content("#rs-p-alpha-err")
        assert page.evaluate("RS.explorer.state.params.alpha") == -12.0  # nothing changed
    page.select_option("#rs-act", "softplus")
    _type(page, "beta", "-1")
    assert "beta must be > 0" in page.text_content("#rs-p-beta-err")
    assert page.evaluate("RS.explorer.state.params.beta") == 1.0
    page.select_option("#rs-act", "rrelu")
    page.fill("#rs-p-lower", "0.6")  # past upper (1/3): upper is dragged along
    page.press("#rs-p-lower", "Enter")
    assert page.evaluate("[RS.explorer.state.params.lower, RS.explorer.state.params.upper]") == [0.6, 0.6]
    visit.assert_clean()


def test_derivative_toggle(open_page, page_file):
    visit = open_page(page_file)
    page = visit.page
    lines = "#rs-plot path.rs-line"
    assert page.locator(lines).count() == 2
    page.uncheck("#rs-deriv")
    assert page.locator(lines).count() == 1
    assert page.get_attribute(lines, "data-series") == "f(z)"
    page.click("#rs-plot .rs-legend button[data-series='f′(z)']")  # the legend entry shows it again
    assert page.locator(lines).count() == 2 and page.is_checked("#rs-deriv")
    visit.assert_clean()


def test_every_plotted_curve_equals_the_registry(open_page, page_file):
    """Choose each activation in the selector and compare the drawn data with the registry."""
    visit = open_page(page_file)
    page = visit.page
    options = page.eval_on_selector_all("#rs-act option", "els => els.map(e => e.value)")
    assert options == list(ACTIVATIONS)
    for name in ACTIVATIONS:
        page.select_option("#rs-act", name)
        series = page.evaluate("RS.explorer.handle.chart.panels[0].series")
        params = page.evaluate("RS.explorer.state.params")
        x = np.array(series[0]["x"])
        assert len(x) >= 1000
        act = make_activation(name, **params)
        assert _close(series[0]["y"], act.forward(x), name in EXACT), name
        assert _close(series[1]["y"], act.derivative(x), name in EXACT), name
    visit.assert_clean()


def test_page_functions_equal_the_registry_at_many_points(open_page, page_file):
    """RS.evaluate, the function the page plots with, at 2,600+ points per
    activation and several parameter values, against the registry in float64."""
    visit = open_page(page_file)
    xs = _points()
    cases = [(name, {"alpha": 0.01, "lower": 0.125, "upper": 1 / 3, "beta": 1.0, **prm}, prm)
             for name in ACTIVATIONS for prm in PARAMS.get(name, [{}])]
    outs = visit.page.evaluate("([cases, xs]) => cases.map(c => RS.evaluate(c[0], c[1], xs))",
                               [[[n, full] for n, full, _ in cases], xs.tolist()])
    for (name, _, prm), out in zip(cases, outs):
        act = make_activation(name, **prm)
        assert _close(out["f"], act.forward(xs), name in EXACT), (name, prm)
        assert _close(out["df"], act.derivative(xs), name in EXACT), (name, prm)
    assert len(cases) >= 25 and len(xs) >= 1000


def test_erf_in_the_page_is_accurate_to_a_few_ulps(open_page, page_file):
    visit = open_page(page_file)
    rng = np.random.default_rng(1)
    xs = np.concatenate([np.linspace(-7, 7, 14001), rng.normal(0, 2, 5000), [0.0, 1e-300, -1e-300, 5e-324]])
    got = np.array(visit.page.evaluate("xs => xs.map(RS.erf)", xs.tolist()))
    ref = erf(xs)
    ulps = np.abs(got - ref) / np.spacing(np.maximum(np.abs(ref), np.abs(got)))
    assert ulps.max() <= 4  # scipy's own error is up to 3 ulps; the page's up to 1 against 120-bit arithmetic


def test_a_registered_activation_without_javascript_is_a_console_error(open_page, tmp_path, monkeypatch):
    """Guard check: the page reports an activation it cannot compute, and the
    clean-load check above would then fail."""
    class Swish(registry.Activation):
        name = "swish"

        def forward(self, z):
            return z

        def derivative(self, z):
            return np.ones_like(z)

    monkeypatch.setitem(ACTIVATIONS, "swish", Swish)
    path = tmp_path / "explorer.html"
    write_explorer_html(path)
    visit = open_page(path)
    assert any("no JavaScript implementation of swish" in e for e in visit.errors), visit.errors
    with pytest.raises(AssertionError):
        visit.assert_clean()


def test_a_request_is_caught(open_page, tmp_path):
    """Guard check: a page that loads an outside resource is seen doing so."""
    path = tmp_path / "leaky.html"
    path.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png"></body></html>')
    visit = open_page(path)
    assert visit.blocked == ["http://127.0.0.1:9/x.png"]


def test_claims_from_a_results_folder(open_page, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "REPORT.md").write_text("# report\n\n## Claim 1: Leaky ReLU prevents dying units\n")
    claims = {"generated": "2026-01-01 00:00 UTC", "command": "python -m relu_study.reproduce", "version": "0.1.0",
              "claims": [{"id": "C4", "study": "c4_sparsity", "title": "Leaky ReLU keeps ReLU's sparse activations",
                          "claim": "Leaky ReLU keeps sparsity", "verdict": "contradicted", "by_construction": True,
                          "summary": "Exactly-zero activations: 0 for every alpha vs 0.5 for ReLU.",
                          "anchor": "claim-4-leaky-relu-keeps-relus-sparse-activations",
                          "arms": [{"arm": "Leaky α=0.01", "verdict": "contradicted", "metric": "exact_zero_frac",
                                    "effect": -0.4937, "lo": -0.51, "hi": -0.47, "n": 90}]}]}
    (results / "claims.json").write_text(json.dumps(claims))
    path = tmp_path / "pages" / "explorer.html"
    write_explorer_html(path, results=results)
    visit = open_page(path)
    item = visit.page.locator("[data-claim='C4']")
    assert "contradicted" in item.text_content() and "−0.494 [−0.51, −0.47]" in item.text_content()
    assert item.locator("a.rs-verdict").get_attribute("href") == \
        "../results/REPORT.md#claim-4-leaky-relu-keeps-relus-sparse-activations"
    visit.assert_clean()
