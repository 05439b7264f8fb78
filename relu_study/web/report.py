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

__all__ = ["LONG_TABLE_ROWS", "REPORT_HTML", "VERDICT_CLASSES", "report_html", "short_answer", "write_report_html"]

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


#: a table with more rows than this is folded under a <details> (its summary says how many)
LONG_TABLE_ROWS = 12
#: the short answer of a claim is cut at a clause boundary past this many words
SHORT_ANSWER_WORDS = 60
#: the verdict words of the claims report and their badge classes (the explorer's, too)
VERDICT_CLASSES = {"supported": "v-supported", "not supported": "v-not-supported", "contradicted": "v-contradicted",
                   "inconclusive": "v-inconclusive", "depends on slope or setting": "v-depends"}


def _depth0(text: str, marks: tuple[str, ...], start: int = 0) -> int:
    """Index of the first of ``marks`` in ``text`` from ``start`` outside (), [] and tags; -1 if none."""
    depth, tag = 0, False
    for i in range(start, len(text)):
        c = text[i]
        if c == "<":
            tag = True
        elif c == ">":
            tag = False
        elif tag:
            continue
        elif c in "([":
            depth += 1
        elif c in ")]":
            depth = max(0, depth - 1)
        elif depth == 0 and any(text.startswith(m, i) for m in marks):
            return i
    return -1


def short_answer(text: str) -> tuple[str, str]:
    """``(short, rest)`` of an answer's HTML: its first sentence, cut at a clause (``;``)
    when longer than :data:`SHORT_ANSWER_WORDS` words, so its numbers and interval stay."""
    end = _depth0(text, (". ",))
    first, rest = (text, "") if end < 0 else (text[:end + 1], text[end + 2:])
    if len(re.sub(r"<[^>]+>", "", first).split()) > SHORT_ANSWER_WORDS:
        cut = _depth0(first, ("; ",))
        if cut > 0:
            return first[:cut] + " …", first[cut + 2:] + (" " + rest if rest else "")
    return first, rest


def _badge(strong: str) -> str:
    """The claim's lead ``<strong>C1. Title: verdict.</strong>`` with its verdict as a badge."""
    m = re.match(r"<strong>(.*?): (.*?)</strong>$", strong, re.S)
    if not m:
        return strong
    head, verdict = m.group(1), m.group(2)
    word = next((w for w in sorted(VERDICT_CLASSES, key=len, reverse=True) if verdict.startswith(w)), None)
    if word is None:
        return strong
    more = verdict[len(word):].strip().rstrip(".").strip()
    more = f' <span class="rs-muted">{more}</span>' if more else ""
    return (f'<strong>{head}</strong> <span class="rs-verdict {VERDICT_CLASSES[word]}">{esc(word)}</span>'
            f'{more}')


def _fold_answers(body: str) -> str:
    """In the Answers section, each claim's answer becomes its lead, its verdict badge and a
    short answer, with the long text and its *Detail* paragraph folded below."""
    m = re.search(r'(<h2 id="answers">.*?</h2>)(.*?)(?=<h2)', body, re.S)
    if not m:
        return body
    section = m.group(2)
    pattern = re.compile(r"<p>(<strong>[^<]*(?:<(?!/strong>)[^<]*)*</strong>)(.*?)</p>\s*"
                         r"(<p><em>Detail\.</em>.*?</p>)?", re.S)

    def one(a):
        lead, text, detail = a.group(1), a.group(2).strip(), a.group(3) or ""
        short, rest = short_answer(text)
        folded = (f"<p>{rest}</p>" if rest else "") + detail
        more = (f'<details class="rs-more"><summary>the full answer and its detail</summary>{folded}</details>'
                if folded else "")
        return f'<div class="rs-answer"><p>{_badge(lead)} {short}</p>{more}</div>\n'

    section = pattern.sub(one, section)
    return body[:m.start(2)] + section + body[m.end(2):]


def _fold_tables(body: str) -> str:
    """Tables longer than :data:`LONG_TABLE_ROWS` rows folded under a <details>; an empty
    header cell named (a header cell with no text leaves a screen reader nothing to say)."""
    def one(t):
        table = re.sub(r"<th([^>]*)>\s*</th>", r"<th\1>note</th>", t.group(0))
        rows = len(re.findall(r"<tr", table.split("</thead>", 1)[-1]))
        if rows <= LONG_TABLE_ROWS:
            return table
        return f'<details class="rs-table"><summary>table of {rows} rows</summary>{table}</details>'

    return re.sub(r"<table>.*?</table>", one, body, flags=re.S)


def _contents(body: str) -> str:
    """A table of contents of the level-2 (and level-3) headings, placed before the first
    level-2 heading."""
    heads = re.findall(r'<h([23]) id="([^"]+)">(.*?)</h\1>', body, re.S)
    if len(heads) < 3:
        return body
    items, open_sub = [], False
    for level, hid, text in heads:
        link = f'<a href="#{hid}">{re.sub(r"<[^>]+>", "", text)}</a>'
        if level == "2":
            if open_sub:
                items.append("</ol>")
                open_sub = False
            items.append(("</li>" if items else "") + f"<li>{link}")
        else:
            if not open_sub:
                items.append("<ol>")
                open_sub = True
            items.append(f"<li>{link}</li>")
    items.append(("</ol>" if open_sub else "") + "</li>")
    nav = ('<nav class="rs-toc" aria-label="contents"><details open><summary>Contents</summary><ol>' +
           "".join(items) + "</ol></details></nav>\n")
    i = body.find("<h2")
    return body[:i] + nav + body[i:]


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
    body = _contents(_fold_tables(_fold_answers(body)))
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
