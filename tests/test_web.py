"""The HTML pages without a browser: Markdown rendering, the page template,
the REPORT.html converter, the explorer and sweep pages' content.
(tests/browser/ runs the same pages in Chromium.)"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from relu_study.charts import Chart, Panel, Series, save_json, save_png
from relu_study.engine.activations import ACTIVATIONS
from relu_study.sweeps.html import SWEEP_REPORT_FILE, sweep_charts, write_sweep_report
from relu_study.tools.explore_html import explorer_html, load_claims, write_explorer_html
from relu_study.web import asset, json_for_script, render_page
from relu_study.web.markdown import render_markdown, slugify
from relu_study.web.report import report_html, write_report_html

#: what a page may never contain: a reference that makes the browser fetch something
FETCHING = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:|//)|@import|url\(\s*["']?(?:https?:|//)|\bfetch\(|"""
                      r"""XMLHttpRequest|<link\b|<iframe\b""", re.I)


# ----------------------------------------------------------------------------- markdown

def test_markdown_blocks_and_inline():
    html = render_markdown(
        "# Title *x*\n\nText with **bold**, *em*, _em_, `a|b` and [a link](t.csv \"T\").\n"
        "Line two  \nline three\n\n"
        "| a | b \\| c |\n|:--|--:|\n| 1 | **2** |\n\n"
        "- one\n- two\n  - nested\n\n1. first\n2. second\n\n> quoted\n\n```python\nx = '<b>'\n```\n\n---\n")
    assert '<h1 id="title-x">Title <em>x</em></h1>' in html
    assert "<strong>bold</strong>, <em>em</em>, <em>em</em>, <code>a|b</code>" in html
    assert '<a href="t.csv" title="T">a link</a>' in html
    assert "Line two<br>\nline three" in html
    assert '<th style="text-align:left">a</th><th style="text-align:right">b | c</th>' in html
    assert '<td style="text-align:right"><strong>2</strong></td>' in html
    assert "<ul>\n<li>one</li>\n<li>two\n<ul>\n<li>nested</li>\n</ul></li>\n</ul>" in html
    assert "<ol>\n<li>first</li>\n<li>second</li>\n</ol>" in html
    assert "<blockquote>\n<p>quoted</p>\n</blockquote>" in html
    assert '<pre><code class="language-python">x = &#x27;&lt;b&gt;&#x27;</code></pre>' in html
    assert "<hr>" in html


def test_markdown_leaves_words_and_html_alone():
    html = render_markdown("dead_frac and p_adj < 0.05 & alpha*z, *so it* works <script>x</script> <br> "
                           '<a id="c1"></a> <a href="javascript:alert(1)">x</a> <!-- hidden -->')
    assert "dead_frac and p_adj &lt; 0.05 &amp; alpha*z, <em>so it</em> works" in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>" not in html
    assert "<br>" in html and '<a id="c1"></a>' in html
    assert "javascript:" not in html and "hidden" not in html


def test_heading_anchors_match_github():
    seen = {}
    assert slugify("Claim 1: Leaky ReLU prevents dying units", seen) == "claim-1-leaky-relu-prevents-dying-units"
    assert slugify("Claim 1: Leaky ReLU prevents dying units", seen) == "claim-1-leaky-relu-prevents-dying-units-1"
    assert slugify("Claim 4: Leaky ReLU keeps ReLU's sparse activations") == \
        "claim-4-leaky-relu-keeps-relus-sparse-activations"
    assert slugify("Leaky α=0.01 (n=30)") == "leaky-α001-n30"


def test_markdown_images_go_through_the_callback():
    calls = []

    def image(src, alt, title, block):
        calls.append((src, alt, block))
        return "<IMG>"

    html = render_markdown("![alone](a.png)\n\ntext ![inline](b.png) text\n", image=image)
    assert calls == [("a.png", "alone", True), ("b.png", "inline", False)]
    assert html.startswith("<IMG>\n<p>text <IMG> text</p>")


# ----------------------------------------------------------------------------- template

def test_page_template_is_self_contained():
    page = render_page("T <x>", "<p>body</p>", data={"a": [1.0, float("nan")], "s": "</script><b>"}, charts=True)
    assert page.startswith("<!DOCTYPE html>") and "<title>T &lt;x&gt;</title>" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not FETCHING.search(page)
    data = re.search(r'<script id="rs-data" type="application/json">(.*?)</script>', page).group(1)
    assert json.loads(data) == {"a": [1.0, None], "s": "</script><b>"}  # NaN is a gap; no early </script>
    assert page.count("</script>") == page.count("<script")
    with pytest.raises(ValueError, match="</script"):
        render_page("t", "", init="let s = '</script>';")
    assert json_for_script({"x": math.inf}) == '{"x":null}'


@pytest.mark.parametrize("name", ["page.css", "theme.js", "chart.js", "activations.js", "explorer.js", "sweep.js"])
def test_assets_fetch_nothing(name):
    text = asset(name)
    assert text.strip() and not FETCHING.search(text), name


# ----------------------------------------------------------------------------- REPORT.html

def _report_folder(tmp_path, md):
    (tmp_path / "figures").mkdir()
    (tmp_path / "REPORT.md").write_text(md)
    chart = Chart("c1", "C1", "lines", [Panel("p", [Series("ReLU", [0, 1, 2], [1.0, None, 0.5], n=[3, 0, 3])])],
                  caption="the caption")
    save_png(chart, tmp_path / "figures" / "c1.png")
    save_json(chart, tmp_path / "figures" / "c1.json")
    save_png(chart, tmp_path / "figures" / "static.png")
    return tmp_path


def test_report_html_draws_charts_and_inlines_pictures(tmp_path):
    folder = _report_folder(tmp_path, "# My report\n\n![the caption](figures/c1.png)\n\n*the caption*\n\n"
                                      "![static](figures/static.png)\n\n![gone](figures/missing.png)\n\n"
                                      "![remote](https://example.org/x.png)\n")
    page = report_html(folder)
    assert "<title>My report</title>" in page
    assert '<div class="rs-figure" data-chart="c1" data-caption="off">' in page  # the Markdown has the caption
    data = json.loads(re.search(r'<script id="rs-data" type="application/json">(.*?)</script>', page).group(1))
    assert data["charts"]["c1"]["panels"][0]["series"][0]["y"] == [1.0, None, 0.5]
    assert '<figure class="rs-figure"><img src="data:image/png;base64,' in page
    assert "missing figure: figures/missing.png" in page
    assert '<a href="https://example.org/x.png">remote</a>' in page  # linked, never loaded
    assert not FETCHING.search(page.replace('<a href="https://example.org/x.png">', ""))


def test_write_report_html_is_atomic_and_needs_the_markdown(tmp_path):
    folder = _report_folder(tmp_path, "# R\n")
    path = write_report_html(folder)
    assert path == folder / "REPORT.html" and path.read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in folder.iterdir()) == ["REPORT.html", "REPORT.md", "figures"]  # no temporary left
    with pytest.raises(FileNotFoundError, match="REPORT.md"):
        write_report_html(tmp_path / "figures")
    assert not (tmp_path / "figures" / "REPORT.html").exists()


def test_report_html_of_the_reference_report_stays_readable():
    """The committed report (Markdown with PNG figures) converts without loss of its tables."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "results"
    if not (folder / "REPORT.md").is_file():
        pytest.skip("no reference report in this checkout")
    page = report_html(folder)
    md = (folder / "REPORT.md").read_text()
    table_rows = sum(1 for line in md.splitlines()
                     if line.startswith("|") and not (set(line) <= set("|-: ") and "-" in line))  # not separators
    assert page.count("<tr>") == table_rows
    assert page.count('<img src="data:image/png;base64,') + page.count('<div class="rs-figure" data-chart=') \
        == md.count("![")


# ----------------------------------------------------------------------------- explorer page

CLAIMS = {"generated": "2026-01-01", "command": "python -m relu_study.reproduce", "version": "0.1.0",
          "claims": [{"id": "C2", "study": "c2_gradients", "title": "Leaky ReLU avoids zero gradients",
                      "claim": "no zero gradients", "verdict": "supported", "by_construction": True,
                      "summary": "No unit has f' = 0.", "anchor": "claim-2-leaky-relu-avoids-zero-gradients",
                      "arms": [{"arm": "Leaky α=0.1", "verdict": "supported", "metric": "zero_grad_frac",
                                "effect": -0.25, "lo": -0.3, "hi": -0.2, "n": 60},
                               {"arm": "Leaky α=0.3", "verdict": "inconclusive", "metric": "zero_grad_frac",
                                "effect": None, "lo": None, "hi": None, "n": 4}]}]}


def test_explorer_page_lists_the_registry_and_says_how_to_get_claims():
    page = explorer_html()
    for name in ACTIVATIONS:
        assert f'<option value="{name}"' in page
    spec = json.loads(re.search(r'<script id="rs-data" type="application/json">(.*?)</script>', page).group(1))
    assert [a["name"] for a in spec["explorer"]["activations"]] == list(ACTIVATIONS)
    alpha = next(p for p in spec["explorer"]["params"] if p["name"] == "alpha")
    assert alpha["lo"] <= -1 and alpha["hi"] >= 3
    assert "python -m relu_study.reproduce" in page and 'id="rs-no-claims"' in page
    assert "np.where(z &gt; 0, z, alpha * z)" in page and "np.maximum(alpha * z, z)" in page
    assert not FETCHING.search(page)
    assert len(page.encode()) < 80_000  # light enough to open instantly


def test_explorer_page_shows_the_claims_file(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "claims.json").write_text(json.dumps(CLAIMS))
    (results / "REPORT.html").write_text("<html></html>")
    path = write_explorer_html(tmp_path / "out" / "explorer.html", results=results)
    page = path.read_text()
    assert 'href="../results/REPORT.html#claim-2-leaky-relu-avoids-zero-gradients">supported</a>' in page
    assert "(by construction)" in page and "No unit has f&#x27; = 0." in page
    assert "<td>−0.25 [−0.3, −0.2]</td><td>60</td>" in page
    assert "<td>–</td><td>4</td>" in page  # no effect: a dash, not a number
    assert 'id="rs-no-claims"' not in page


@pytest.mark.parametrize("broken, needle", [
    ("[]", 'a "claims" list'),
    ('{"claims": [{"id": "C1", "title": "t", "verdict": "likely"}]}', "verdict='likely'"),
    ('{"claims": [{"id": "C1", "title": "t", "verdict": "supported", "arms": [{"verdict": "supported", '
     '"effect": "big"}]}]}', "effect must be a finite number"),
    ("{not json", "not a readable JSON file"),
])
def test_claims_file_is_checked(tmp_path, broken, needle):
    path = tmp_path / "claims.json"
    path.write_text(broken)
    with pytest.raises(ValueError, match=re.escape(needle)):
        load_claims(path)


# ----------------------------------------------------------------------------- sweep page

def _tables():
    """Two arms, two networks each, three epochs; arm b's second network diverged at epoch 2."""
    rows, runs = [], []
    for arm, alpha in (("relu", 0.0), ("leaky", 0.3)):
        for seed in (0, 1):
            diverged = arm == "leaky" and seed == 1
            for epoch in range(3):
                loss = np.inf if diverged and epoch == 2 else 1.0 / (epoch + 1) + seed
                rows.append({"activation.name": arm, "alpha": alpha, "seed": seed, "epoch": epoch, "run_dir": arm,
                             "train_loss": loss, "val_loss": loss,
                             "dead_frac": np.nan if epoch == 1 else 0.1 * seed, "zero_grad_frac": 0.0,
                             "task": "classification"})
            runs.append({"activation.name": arm, "alpha": alpha, "seed": seed, "run_dir": arm,
                         "status": "diverged" if diverged else "ok",
                         "final_val_loss": np.nan if diverged else 0.3 + seed, "final_dead_frac": 0.1})
    return pd.DataFrame(rows), pd.DataFrame(runs)


def test_sweep_charts_leave_non_finite_values_out_with_n():
    metrics, runs = _tables()
    charts = {c.name: c for c in sweep_charts(metrics, runs, ["activation.name", "alpha"])}
    assert set(charts) == {"sweep_loss", "sweep_dead", "sweep_final_vs_alpha"}
    leaky = next(s for s in charts["sweep_loss"].panels[0].series if s.name == "activation=leaky, alpha=0.3")
    assert leaky.n == [2, 2, 1] and leaky.y[2] == pytest.approx(1 / 3)  # the inf is left out, not averaged in
    dead = charts["sweep_dead"].panels[0].series[0]
    # epoch 1 was not probed: the probe is points at the epochs it measured (never a zero), not a line joining
    # 0 and 2 as if measured in between
    assert dead.marks and dead.x == [0.0, 2.0] and None not in dead.y
    final = charts["sweep_final_vs_alpha"].panels[0].series
    assert [(s.name, s.x, s.n) for s in final] == [("activation=relu", [0.0], [2]), ("activation=leaky", [0.3], [1])]


def test_sweep_report_file(tmp_path):
    metrics, runs = _tables()
    path = write_sweep_report(tmp_path, metrics, runs, ["activation.name", "alpha"], summary="2 arms\n")
    assert path == tmp_path / SWEEP_REPORT_FILE
    page = path.read_text()
    assert 'data-arm="activation=leaky, alpha=0.3"' in page and "(n=2, 1 diverged)" in page
    assert '<pre class="rs-wrap">2 arms\n</pre>' in page and not FETCHING.search(page)
    empty = write_sweep_report(tmp_path / "empty", metrics.iloc[:0], runs.iloc[:0], []).read_text()
    assert "No finished run to draw." in empty
