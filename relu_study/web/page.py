"""One self-contained HTML page: the template every relu_study page shares.

Why one template: the explorer, the sweep report and REPORT.html must all work
from ``file://`` with no network, switch between a light and a dark theme the
same way, and draw charts with the same code.  So every page is one file with
its stylesheet, its scripts and its data inlined, and a Content-Security-Policy
that forbids the browser to fetch anything (``default-src 'none'``; images
only as ``data:`` URIs).  A page that tried to load a resource would fail
loudly in the browser console instead of leaking a request.

The scripts and the stylesheet are package data files in ``assets/`` (plain
JavaScript and CSS, readable and lintable as such); :func:`asset` reads them.
"""

from __future__ import annotations

import html
import json
import math
from functools import cache
from importlib import resources

__all__ = ["CSP", "asset", "esc", "json_for_script", "render_page"]

#: nothing may be fetched: scripts and styles are inline, images data: URIs
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
       "font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'")


@cache
def asset(name: str) -> str:
    """The text of ``relu_study/web/assets/<name>`` (JavaScript or CSS)."""
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def esc(text) -> str:
    """HTML-escape ``text`` (quotes too, so it is safe in attribute values)."""
    return html.escape(str(text), quote=True)


def _jsonable(value):
    """NaN and infinities become null (a gap), as in :mod:`relu_study.charts`."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _jsonable(value.item())
    return value


def json_for_script(data) -> str:
    """JSON that is safe inside ``<script type="application/json">``: ``<`` is
    written as ``\\u003c``, so no string in the data can close the element."""
    text = json.dumps(_jsonable(data), allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render_page(title: str, body: str, *, data=None, scripts=(), init: str = "", heading: str | None = None,
                charts: bool = False) -> str:
    """A complete HTML document.

    ``body`` is trusted HTML placed in ``<main>``; ``data`` (JSON-able) is
    embedded as ``<script id="rs-data" type="application/json">`` and read by
    ``RS.pageData()``; ``scripts`` are asset names run at the end of the body
    (after the chart renderer when ``charts`` is true), then ``init`` (inline
    JavaScript).  The top bar shows ``heading`` (default ``title``) and the
    theme button.
    """
    parts = []
    if charts:
        parts.append(asset("chart.js"))
    parts += [asset(name) for name in scripts]
    if init:
        parts.append(init)
    data_tag = (f'<script id="rs-data" type="application/json">{json_for_script(data)}</script>\n'
                if data is not None else "")
    for code in parts:
        if "</script" in code.lower():  # would end the element early
            raise ValueError("an inline script may not contain '</script'")
    script_tags = "".join(f"<script>\n{code}\n</script>\n" for code in parts)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="relu_study">
<title>{esc(title)}</title>
<style>
{asset("page.css")}
</style>
<script>
{asset("theme.js")}
</script>
</head>
<body>
<header class="rs-top"><span class="rs-brand">relu_study</span><span class="rs-title">{esc(heading or title)}</span>
<button id="rs-theme" type="button">theme</button></header>
<main>
{body}
</main>
{data_tag}{script_tags}</body>
</html>
"""
