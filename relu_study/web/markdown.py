"""Markdown to HTML for the reports relu_study writes, with markdown-it-py.

The parsing is markdown-it-py's (CommonMark, plus GitHub's tables and
strikethrough); it runs when a page is built, so the page itself stays one
offline file.  What this module adds are the rules a relu_study page needs:

* headings get GitHub's anchor ids (:func:`slugify`), so ``REPORT.md#claim-...``
  links and ``claims.json`` anchors work in the HTML too;
* images go to a callback, which knows whether the image stands alone in its
  paragraph (a figure: the report converter puts an interactive chart there)
  or sits inside text;
* raw HTML is not passed through: a few tags are kept by name (``<br>``,
  ``<sup>``, ``<sub>``, ``<kbd>``, ``<span>``, ``<a id=...>`` / ``<a href=...>``
  with their ``id``/``name``/``href``/``title``/``class`` attributes and
  never a ``javascript:`` link), comments are dropped, anything else is shown
  as text;
* code is escaped as :func:`html.escape` does (quotes too).
"""

from __future__ import annotations

import html
import re
from typing import Callable

from markdown_it import MarkdownIt

__all__ = ["render_markdown", "slugify"]

#: ``image(src, alt, title, block) -> html``: ``block`` is true for an image
#: standing alone in its paragraph (a figure), false for one inside text.
ImageFn = Callable[[str, str, str, bool], str]

_SAFE_TAGS = ("br", "sup", "sub", "kbd", "a", "span")
_TAG = re.compile(r"""^</?([A-Za-z][A-Za-z0-9]*)((?:\s+[a-z]+\s*=\s*(?:"[^"<>]*"|'[^'<>]*'))*)\s*/?>$""")
_ATTR = re.compile(r"""\s+(id|name|href|title|class)\s*=\s*("[^"<>]*"|'[^'<>]*')""")
_BAD_URL = re.compile(r"\s*(javascript|vbscript|data):", re.I)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _default_image(src: str, alt: str, title: str, block: bool) -> str:
    t = f' title="{_esc(title)}"' if title else ""
    return f'<img src="{_esc(src)}" alt="{_esc(alt)}"{t}>'


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


def _safe_html(fragment: str) -> str:
    """A raw HTML fragment of the source: a kept tag (cleaned), nothing for a
    comment, the escaped text for anything else."""
    if fragment.lstrip().startswith("<!--"):
        return ""
    m = _TAG.match(fragment.strip())
    if not m or m.group(1).lower() not in _SAFE_TAGS:
        return _esc(fragment)
    name = m.group(1).lower()
    if fragment.strip().startswith("</"):
        return f"</{name}>"
    attrs = []
    for key, value in _ATTR.findall(m.group(2) or ""):
        value = html.unescape(value[1:-1])
        if key == "href" and _BAD_URL.match(value):
            continue
        attrs.append(f' {key}="{_esc(value)}"')
    return f"<{name}{''.join(attrs)}>"


def _parser(image: ImageFn, heading_ids: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "xhtmlOut": False}).enable(["table", "strikethrough"])
    seen: dict = {}

    def heading_open(self, tokens, idx, options, env):
        tag = tokens[idx].tag
        if not heading_ids:
            return f"<{tag}>"
        inline = tokens[idx + 1]
        text = "".join(t.content for t in (inline.children or []) if t.type in ("text", "code_inline"))
        return f'<{tag} id="{_esc(slugify(text, seen))}">'

    def image_rule(self, tokens, idx, options, env):
        tok = tokens[idx]
        alt = "".join(t.content for t in (tok.children or []))
        return image(str(tok.attrGet("src") or ""), alt, str(tok.attrGet("title") or ""), env.get("block", False))

    def fence(self, tokens, idx, options, env):
        tok = tokens[idx]
        lang = tok.info.strip().split()[0] if tok.info.strip() else ""
        cls = f' class="language-{_esc(lang)}"' if lang else ""
        return f"<pre><code{cls}>{_esc(tok.content.rstrip(chr(10)))}</code></pre>\n"

    def code_inline(self, tokens, idx, options, env):
        return f"<code>{_esc(tokens[idx].content)}</code>"

    def html_inline(self, tokens, idx, options, env):
        return _safe_html(tokens[idx].content)

    def html_block(self, tokens, idx, options, env):
        content = re.sub(r"<!--.*?-->", "", tokens[idx].content, flags=re.S)
        return "".join(_safe_html(p) if p.startswith("<") else _esc(p)
                       for p in re.split(r"(<[^>]*>)", content) if p) if content.strip() else ""

    def text(self, tokens, idx, options, env):
        return _esc(tokens[idx].content)

    for name, rule in (("heading_open", heading_open), ("image", image_rule), ("fence", fence),
                       ("code_block", fence), ("code_inline", code_inline), ("html_inline", html_inline),
                       ("html_block", html_block), ("text", text)):
        md.add_render_rule(name, rule)
    return md


def _render(md: MarkdownIt, tokens, env) -> str:
    """Render block by block: a paragraph that holds only an image becomes the
    callback's figure (no ``<p>`` around it); nested lists close as
    ``</ul></li>`` and a table row's cells stand on one line (the shape the
    tests of the pages read)."""
    out = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if (tok.type == "paragraph_open" and i + 2 < len(tokens) and tokens[i + 1].type == "inline"
                and [c.type for c in tokens[i + 1].children or []] == ["image"]):
            out.append(md.renderer.render(tokens[i + 1].children, md.options, {**env, "block": True}) + "\n")
            i += 3
            continue
        if tok.type == "inline":
            out.append(md.renderer.renderInline(tok.children or [], md.options, env))
        elif tok.type in md.renderer.rules:
            out.append(md.renderer.rules[tok.type](tokens, i, md.options, env))
        else:
            out.append(md.renderer.renderToken(tokens, i, md.options, env))
        i += 1
    html_text = re.sub(r"</(ul|ol)>\n</li>", r"</\1></li>", "".join(out))
    return re.sub(r"</(th|td)>\n<(th|td)", r"</\1><\2", html_text)


def render_markdown(text: str, image: ImageFn | None = None, heading_ids: bool = True) -> str:
    """HTML for the Markdown ``text``.

    ``image(src, alt, title, block)`` returns the HTML for each image (default:
    an ``<img>``); ``heading_ids`` gives headings GitHub's anchor ids.
    """
    md = _parser(image or _default_image, heading_ids)
    env: dict = {}
    tokens = md.parse(text, env)
    return _render(md, tokens, env)
