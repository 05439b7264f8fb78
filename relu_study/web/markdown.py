"""Markdown to HTML, for the reports relu_study writes.

Why a small renderer of our own rather than a dependency: the input is
Markdown that relu_study itself generates (``REPORT.md``), and the pages must
stay self-contained and offline.  The subset covered is what those reports use,
in its GitHub-flavoured form:

* ATX headings (``#`` to ``######``) with GitHub's anchor ids (so
  ``REPORT.md#claim-1-...`` links and ``claims.json`` anchors work in the HTML);
* paragraphs, hard line breaks (two trailing spaces or a backslash);
* tables with alignment (``|:--|--:|``), ``\\|`` inside cells;
* bullet and ordered lists, nested by indentation, tight or loose;
* block quotes, fenced code blocks (``` and ~~~), horizontal rules;
* inline code, ``**strong**``, ``*em*`` / ``_em_`` (not inside words, so
  ``dead_frac`` stays as it is), ``~~strike~~``, links, images, ``<url>``
  autolinks, backslash escapes;
* a few inline HTML tags, by name: ``<br>``, ``<sup>``, ``<sub>``, ``<kbd>``,
  ``<a id=...>`` / ``<a href=...>``, ``<span>``; any other HTML is shown as
  text, and HTML comments are dropped.

Images are handed to a callback, so the report converter can put an
interactive chart or an inlined picture in their place.
"""

from __future__ import annotations

import html
import re
from typing import Callable

__all__ = ["render_markdown", "slugify"]

#: ``image(src, alt, title, block) -> html``: ``block`` is true for an image
#: standing alone in its paragraph (a figure), false for one inside text.
ImageFn = Callable[[str, str, str, bool], str]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^`\s]*)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_HR = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_ITEM = re.compile(r"^( *)([-*+]|\d{1,9}[.)])(?:([ \t]+)(.*)|$)")
_QUOTE = re.compile(r"^ {0,3}>[ ]?(.*)$")
_TABLE_SEP = re.compile(r"^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_COMMENT = re.compile(r"^ {0,3}<!--")
_ESCAPABLE = r"!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~"
_SAFE_TAGS = ("br", "sup", "sub", "kbd", "a", "span")
_TAG = re.compile(r"""</?([A-Za-z][A-Za-z0-9]*)((?:\s+[a-z]+\s*=\s*(?:"[^"<>]*"|'[^'<>]*'))*)\s*/?>""")
_ATTR = re.compile(r"""\s+(id|name|href|title|class)\s*=\s*("[^"<>]*"|'[^'<>]*')""")


def _default_image(src: str, alt: str, title: str, block: bool) -> str:
    t = f' title="{_esc(title)}"' if title else ""
    return f'<img src="{_esc(src)}" alt="{_esc(alt)}"{t}>'


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def slugify(text: str, seen: dict | None = None) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped (letters of any
    script, digits, ``-`` and ``_`` kept), spaces as ``-``; a repeated anchor
    gets ``-1``, ``-2``, ... when ``seen`` (a dict kept across headings) is given."""
    slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
    if seen is not None:
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        if n:
            slug = f"{slug}-{n}"
    return slug


# ----------------------------------------------------------------------------- inline

class _Inline:
    """Inline Markdown of one block: spans are cut out into placeholders (so
    their content is not processed again), the rest is escaped, then emphasis
    is applied and the placeholders are put back."""

    def __init__(self, image: ImageFn):
        self.image = image
        self.kept: list[str] = []

    def keep(self, fragment: str) -> str:
        self.kept.append(fragment)
        return f"\x00{len(self.kept) - 1}\x00"

    def __call__(self, text: str) -> str:
        self.kept = []
        text = text.replace("\x00", "")
        text = re.sub(r"(?<!\\)(`+)(?!`)(.+?)(?<!`)\1(?!`)", self._code, text, flags=re.S)
        text = re.sub(r"\\\n|  +\n", lambda m: self.keep("<br>") + "\n", text)
        text = re.sub(rf"\\([{_ESCAPABLE}])", lambda m: self.keep(_esc(m.group(1))), text)
        text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
        text = re.sub(r"<(https?://[^\s<>]+|mailto:[^\s<>]+)>",
                      lambda m: self.keep(f'<a href="{_esc(m.group(1))}">{_esc(m.group(1))}</a>'), text)
        text = _TAG.sub(self._tag, text)
        text = re.sub(r'!\[([^\]]*)\]\(\s*<?([^\s)>]*)>?(?:\s+"([^"]*)")?\s*\)',
                      lambda m: self.keep(self.image(m.group(2), m.group(1), m.group(3) or "", False)), text)
        text = re.sub(r'\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^\s)>]*)>?(?:\s+"([^"]*)")?\s*\)', self._link, text)
        text = _esc(text)
        text = re.sub(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", r"<strong>\1</strong>", text, flags=re.S)
        text = re.sub(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)", r"<strong>\1</strong>", text, flags=re.S)
        text = re.sub(r"(?<![*\\])\*(?=[^\s*])([^*]+?)(?<=[^\s*])\*(?!\*)", r"<em>\1</em>", text, flags=re.S)
        text = re.sub(r"(?<![\w\\])_(?=[^\s_])([^_]+?)(?<=[^\s_])_(?!\w)", r"<em>\1</em>", text, flags=re.S)
        text = re.sub(r"~~(?=\S)(.+?)(?<=\S)~~", r"<del>\1</del>", text, flags=re.S)
        while "\x00" in text:  # links keep placeholders inside their labels: restore until none is left
            text = re.sub(r"\x00(\d+)\x00", lambda m: self.kept[int(m.group(1))], text)
        return text

    def _code(self, m) -> str:
        body = m.group(2).replace("\n", " ")
        if len(body) > 1 and body[0] == " " and body[-1] == " " and body.strip():
            body = body[1:-1]
        return self.keep(f"<code>{_esc(body)}</code>")

    def _tag(self, m) -> str:
        name = m.group(1).lower()
        if name not in _SAFE_TAGS:
            return m.group(0)  # escaped later: shown as text
        closing = m.group(0).startswith("</")
        if closing:
            return self.keep(f"</{name}>")
        attrs = []
        for key, value in _ATTR.findall(m.group(2) or ""):
            value = html.unescape(value[1:-1])
            if key == "href" and re.match(r"\s*(javascript|data|vbscript):", value, re.I):
                continue
            attrs.append(f' {key}="{_esc(value)}"')
        return self.keep(f"<{name}{''.join(attrs)}>")

    def _link(self, m) -> str:
        label, href, title = m.group(1), m.group(2), m.group(3)
        if re.match(r"\s*(javascript|vbscript|data):", href, re.I):
            return label
        t = f' title="{_esc(title)}"' if title else ""
        return self.keep(f'<a href="{_esc(href)}"{t}>') + label + self.keep("</a>")


# ----------------------------------------------------------------------------- blocks

def _split_row(line: str) -> list[str]:
    """Cells of a table row: split at ``|`` outside code spans and not escaped."""
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    cells, cur, i, tick = [], [], 0, 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i:i + 2])
            i += 2
            continue
        if c == "`":
            j = i
            while j < len(s) and s[j] == "`":
                j += 1
            run = j - i
            tick = 0 if tick == run else (run if tick == 0 else tick)
            cur.append(s[i:j])
            i = j
            continue
        if c == "|" and not tick:
            cells.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    cells.append("".join(cur).strip())
    return cells


def _is_table(lines: list[str], i: int) -> bool:
    return (i + 1 < len(lines) and "|" in lines[i] and "|" in lines[i + 1]
            and bool(_TABLE_SEP.match(lines[i + 1])))


def _starts_block(lines: list[str], i: int) -> bool:
    line = lines[i]
    return bool(_FENCE.match(line) or _HEADING.match(line) or _HR.match(line) or _QUOTE.match(line)
                or (_ITEM.match(line) and _ITEM.match(line).group(4)) or _is_table(lines, i)
                or _COMMENT.match(line))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


class _Renderer:
    def __init__(self, image: ImageFn | None, heading_ids: bool):
        self.image = image or _default_image
        self.inline = _Inline(self.image)
        self.heading_ids = heading_ids
        self.seen: dict[str, int] = {}

    def blocks(self, lines: list[str], tight: bool = False) -> list[str]:
        out, i, n = [], 0, len(lines)
        while i < n:
            line = lines[i]
            if not line.strip():
                i += 1
                continue
            if m := _FENCE.match(line):
                fence, lang = m.group(1), m.group(2)
                body, i = [], i + 1
                while i < n and not re.match(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", lines[i]):
                    body.append(lines[i])
                    i += 1
                i += 1
                cls = f' class="language-{_esc(lang)}"' if lang else ""
                out.append(f"<pre><code{cls}>{_esc(chr(10).join(body))}</code></pre>")
                continue
            if _COMMENT.match(line):
                while i < n and "-->" not in lines[i]:
                    i += 1
                i += 1
                continue
            if m := _HEADING.match(line):
                level, content = len(m.group(1)), self.inline(m.group(2) or "")
                hid = ""
                if self.heading_ids:
                    text = html.unescape(re.sub(r"<[^>]+>", "", content))
                    hid = f' id="{_esc(slugify(text, self.seen))}"'
                out.append(f"<h{level}{hid}>{content}</h{level}>")
                i += 1
                continue
            if _HR.match(line):
                out.append("<hr>")
                i += 1
                continue
            if _QUOTE.match(line):
                body = []
                while i < n and lines[i].strip():
                    m = _QUOTE.match(lines[i])
                    if not m and _starts_block(lines, i):
                        break
                    body.append(m.group(1) if m else lines[i])  # a line without ">" continues the quote
                    i += 1
                out.append("<blockquote>\n" + "\n".join(self.blocks(body)) + "\n</blockquote>")
                continue
            if _is_table(lines, i):
                i = self.table(lines, i, out)
                continue
            if (m := _ITEM.match(line)) and _indent(line) < 4:
                i = self.list(lines, i, out)
                continue
            para = [line.strip() if not line.endswith("  ") else line.lstrip()]
            i += 1
            while i < n and lines[i].strip() and not _starts_block(lines, i):
                para.append(lines[i].lstrip())
                i += 1
            out.append(self.paragraph("\n".join(para), tight))
        return out

    def paragraph(self, text: str, tight: bool) -> str:
        m = re.fullmatch(r'!\[([^\]]*)\]\(\s*<?([^\s)>]*)>?(?:\s+"([^"]*)")?\s*\)', text.strip())
        if m:  # an image alone: a figure, not an inline picture in a paragraph
            return self.image(m.group(2), m.group(1), m.group(3) or "", True)
        body = self.inline(text.rstrip())
        return body if tight else f"<p>{body}</p>"

    def table(self, lines: list[str], i: int, out: list[str]) -> int:
        head = _split_row(lines[i])
        align = []
        for cell in _split_row(lines[i + 1]):
            c = cell.strip()
            align.append("center" if c.startswith(":") and c.endswith(":") else
                         "right" if c.endswith(":") else "left" if c.startswith(":") else "")
        width = len(head)
        align = (align + [""] * width)[:width]

        styles = [f' style="text-align:{a}"' if a else "" for a in align]

        def row(cells, tag):
            cells = (cells + [""] * width)[:width]
            return "<tr>" + "".join(f"<{tag}{st}>{self.inline(c)}</{tag}>" for c, st in zip(cells, styles)) + "</tr>"

        body, i = [], i + 2
        while i < len(lines) and lines[i].strip() and "|" in lines[i] and not _starts_block_not_table(lines, i):
            body.append(row(_split_row(lines[i]), "td"))
            i += 1
        out.append("<table>\n<thead>" + row(head, "th") + "</thead>\n<tbody>\n" + "\n".join(body)
                   + "\n</tbody>\n</table>")
        return i

    def list(self, lines: list[str], i: int, out: list[str]) -> int:
        first = _ITEM.match(lines[i])
        ordered = first.group(2)[0].isdigit()
        base = len(first.group(1))
        items: list[list[str]] = []
        loose = False
        n = len(lines)
        content = 10**9  # the first item sets it
        while i < n:
            line = lines[i]
            m = _ITEM.match(line)
            if m and len(m.group(1)) <= base + 1 and m.group(2)[0].isdigit() == ordered and len(m.group(1)) < content:
                if items and i > 0 and not lines[i - 1].strip():
                    loose = True
                gap = len(m.group(3) or " ")
                content = len(m.group(1)) + len(m.group(2)) + (gap if gap <= 4 else 1)
                items.append([(m.group(4) or "")])
                i += 1
                continue
            if not line.strip():
                j = i + 1
                while j < n and not lines[j].strip():
                    j += 1
                if j < n and (_indent(lines[j]) >= content or (
                        (mm := _ITEM.match(lines[j])) and len(mm.group(1)) <= base + 1
                        and mm.group(2)[0].isdigit() == ordered)):
                    if _indent(lines[j]) >= content:
                        loose = True
                        items[-1].append("")
                    i = j
                    continue
                break
            if _indent(line) >= content:
                items[-1].append(line[content:])
                i += 1
                continue
            if lines[i - 1].strip() and not _starts_block(lines, i):  # lazy continuation of the paragraph
                items[-1].append(line.strip())
                i += 1
                continue
            break
        start = int(first.group(2)[:-1]) if ordered else 1
        tag = "ol" if ordered else "ul"
        attr = f' start="{start}"' if ordered and start != 1 else ""
        rendered = ["<li>" + "\n".join(self.blocks(item, tight=not loose)) + "</li>" for item in items]
        out.append(f"<{tag}{attr}>\n" + "\n".join(rendered) + f"\n</{tag}>")
        return i


def _starts_block_not_table(lines: list[str], i: int) -> bool:
    line = lines[i]
    return bool(_FENCE.match(line) or _HEADING.match(line) or _QUOTE.match(line))


def render_markdown(text: str, image: ImageFn | None = None, heading_ids: bool = True) -> str:
    """HTML for the Markdown ``text`` (see the module docstring for the subset).

    ``image(src, alt, title, block)`` returns the HTML for each image (default:
    an ``<img>``); ``heading_ids`` gives headings GitHub's anchor ids.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ").split("\n")
    return "\n".join(_Renderer(image, heading_ids).blocks(lines)) + "\n"
