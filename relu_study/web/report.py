"""``REPORT.html`` from a report folder: the text of ``REPORT.md`` with
interactive figures, in one self-contained file.

A report folder holds ``REPORT.md`` and ``figures/<name>.png``; the claims
report also writes ``figures/<name>.json``, the same figure as a
:class:`relu_study.charts.Chart`.  The converter renders the Markdown
(:mod:`relu_study.web.markdown`) and replaces each image:

* with an interactive SVG chart when its ``.json`` twin exists (hover for
  values, interval and n; click a legend entry to hide a series);
* otherwise with the picture itself, inlined as a ``data:`` URI, so the page
  needs no other file and makes no request.

Links (to ``tables/*.csv``, to ``REPORT.md``) stay relative links: they load
nothing until clicked.  Call :func:`write_report_html` after writing
``REPORT.md`` (``python -m relu_study.report --html`` does).
"""

from __future__ import annotations

import base64
import contextlib
import html
import mimetypes
import os
import re
import tempfile
from pathlib import Path

from ..charts import load_chart
from .markdown import render_markdown
from .page import esc, render_page

__all__ = ["REPORT_HTML", "report_html", "write_report_html"]

REPORT_MD = "REPORT.md"
REPORT_HTML = "REPORT.html"
_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                ".svg": "image/svg+xml", ".webp": "image/webp"}


class _Figures:
    """The image callback of the Markdown renderer: charts where a Chart JSON
    exists, inlined pictures elsewhere.  Collects the charts' data."""

    def __init__(self, folder: Path, markdown: str):
        self.folder = folder
        self.markdown = markdown
        self.charts: dict[str, dict] = {}

    def __call__(self, src: str, alt: str, title: str, block: bool) -> str:
        if re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I):  # a URL: loading it would be a request
            return f'<a href="{esc(src)}">{esc(alt or src)}</a>'
        path = self.folder / src
        note = ""
        twin = path.with_suffix(".json")
        if block and twin.is_file():
            try:
                chart = load_chart(twin)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                note = f'<p class="rs-missing">interactive version {esc(twin.name)} unreadable: {esc(exc)}</p>'
            else:
                cid = chart.name or path.stem
                while cid in self.charts:
                    cid += "_"
                self.charts[cid] = chart.to_dict()
                caption = "off" if chart.caption and chart.caption in self.markdown else "on"
                return (f'<div class="rs-figure" data-chart="{esc(cid)}" data-caption="{caption}">'
                        f'<noscript><a href="{esc(src)}">{esc(alt or src)}</a> (the interactive figure needs '
                        f'JavaScript)</noscript></div>')
        mime = _IMAGE_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
        if not path.is_file() or not mime or not mime.startswith("image/"):
            return note + f'<span class="rs-missing">missing figure: {esc(src)}</span>'
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        t = f' title="{esc(title)}"' if title else ""
        img = f'<img src="data:{mime};base64,{data}" alt="{esc(alt)}"{t}>'
        return note + (f'<figure class="rs-figure">{img}</figure>' if block else img)


def _title(body: str) -> str:
    """The text of the first level-1 heading of the rendered report."""
    m = re.search(r"<h1[^>]*>(.*?)</h1>", body, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip() if m else "relu_study report"


def report_html(report_dir) -> str:
    """The HTML of the report in ``report_dir`` (which holds ``REPORT.md``)."""
    folder = Path(report_dir)
    md_path = folder / REPORT_MD
    if not md_path.is_file():
        raise FileNotFoundError(f"{md_path}: no such file (a report folder holds {REPORT_MD})")
    markdown = md_path.read_text(encoding="utf-8")
    figures = _Figures(folder, markdown)
    body = render_markdown(markdown, image=figures)
    title = _title(body)
    body = f'<article class="rs-report">\n{body}</article>'
    return render_page(title, body, data={"charts": figures.charts}, charts=True,
                       init="RS.renderAll();", heading="claims report")


def write_report_html(report_dir, out=None) -> Path:
    """Write ``REPORT.html`` beside ``REPORT.md`` in ``report_dir`` (or to
    ``out``), atomically: a temporary file in the same folder, then renamed.
    Returns the path written."""
    out = Path(out) if out is not None else Path(report_dir) / REPORT_HTML
    text = report_html(report_dir)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return out
