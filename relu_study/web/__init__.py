"""Self-contained HTML pages: the shared template, the theme switch, and an SVG
chart renderer that draws :class:`relu_study.charts.Chart` JSON in the browser.

Layer 0: imports nothing from the engine, runs, sweeps or claims, so every
layer above can build pages with it.

* :mod:`.page`: :func:`~.page.render_page` (one HTML file with its CSS, scripts
  and data inlined, a Content-Security-Policy that forbids any request, the
  light/dark theme switch) and :func:`~.page.asset`;
* :mod:`.markdown`: Markdown to HTML for the reports relu_study writes (markdown-it-py
  with relu_study's rules: GitHub anchors, image callback, a few safe tags);
* :mod:`.report`: ``REPORT.html`` from a report folder
  (:func:`~.report.write_report_html`);
* ``assets/``: ``page.css`` (theme variables), ``theme.js`` (the switch),
  ``chart.js`` (the chart renderer), ``explorer.js`` and ``activations.js``
  (the activation explorer page, built by :mod:`relu_study.tools.explore_html`),
  ``sweep.js`` (the sweep report, built by :mod:`relu_study.sweeps.html`).
"""

from .page import asset, esc, json_for_script, render_page

__all__ = ["asset", "esc", "json_for_script", "render_page"]
