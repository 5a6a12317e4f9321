"""HTML bytes -> a DOM that is safe to read: decoding, parsing, dropping what is never text.

The page is untrusted: scripts, styles, frames and embedded objects are
removed before anything reads it (`drop_unsafe`), and a page nested deeper
than libxml2 can hold is re-read with its nesting capped (`flatten_deep_html`).
The small DOM helpers the metadata and main-text readers share live here too.
"""
from __future__ import annotations

import re
from html import escape as html_escape
from html.parser import HTMLParser

import lxml.html
from lxml import etree

from ingest.normalize import decode_bytes, normalize_text

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)


def sniff_charset(data: bytes) -> str | None:
    """The charset a page declares in a ``<meta>`` tag (first 4 KB), if any."""
    m = _META_CHARSET.search(data[:4096])
    return m.group(1).decode("ascii", "replace") if m else None


def decode_html(data: bytes | str, declared: str | None = None) -> str:
    """Bytes -> text: the given charset (HTTP header), else ``<meta charset>``, else detection."""
    if isinstance(data, str):
        return data
    return decode_bytes(data, declared or sniff_charset(data))


# --- parsing ------------------------------------------------------------------

# Removed before anything else: never text, and never to be indexed as text.
_UNSAFE_TAGS = (
    "script", "style", "noscript", "template", "iframe", "frame", "frameset", "object",
    "embed", "applet", "svg", "math", "canvas", "base", "button", "input",
    "select", "textarea",
)
# Elements that start a new line of text.
BLOCK_TAGS = (
    "p", "div", "li", "tr", "br", "section", "article", "main", "blockquote", "table", "ul", "ol", "dd", "dt",
    "h1", "h2", "h3", "h4", "h5", "h6",
)
_VOID_TAGS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
}
MAX_HTML_DEPTH = 160  # well below libxml2's 256, far above any real page


def parse_tree(text: str) -> lxml.html.HtmlElement:
    """The page's DOM. libxml2 silently drops everything nested deeper than 256
    elements, so a page that hits that limit is re-read with its nesting capped
    (`flatten_deep_html`): its text survives, only surplus wrapper tags go."""
    text = _XML_DECL.sub("", text, count=1)  # lxml refuses str input with an encoding declaration
    if not text.strip():
        raise ValueError("empty HTML page")
    parser = lxml.html.HTMLParser()
    try:
        tree = lxml.html.document_fromstring(text, parser=parser)
        if any("Excessive depth" in e.message for e in parser.error_log):
            tree = lxml.html.document_fromstring(flatten_deep_html(text))
    except (etree.ParserError, ValueError) as exc:
        raise ValueError(f"not parseable as HTML: {exc}") from exc
    return tree


class _Flattener(HTMLParser):
    """Re-emits a page with element nesting capped: text deeper than the cap is kept, its tags dropped.

    A list, not recursion, tracks the open elements, so 100,000 nested <div>s
    cost 100,000 list entries, not a RecursionError.
    """

    def __init__(self, max_depth: int) -> None:
        super().__init__(convert_charrefs=True)
        self.max_depth = max_depth
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.out.append(f"<!{decl}>")

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in _VOID_TAGS:
            self.open.append(tag)
        if len(self.open) <= self.max_depth:
            self.out.append(self.get_starttag_text() or f"<{tag}>")
        else:
            self._line_break(tag)

    def _line_break(self, tag: str) -> None:
        """A dropped block tag still separates lines: '<h1>标题</h1><p>正文' must not become '标题正文'."""
        if tag in BLOCK_TAGS and (not self.out or self.out[-1] != "<br>"):
            self.out.append("<br>")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if len(self.open) < self.max_depth:
            self.out.append(self.get_starttag_text() or f"<{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.open:
            return
        while self.open:
            closed = self.open.pop()
            if len(self.open) < self.max_depth:
                self.out.append(f"</{closed}>")
            else:
                self._line_break(closed)
            if closed == tag:
                return

    def handle_data(self, data: str) -> None:
        self.out.append(html_escape(data, quote=False))


def flatten_deep_html(text: str, max_depth: int = MAX_HTML_DEPTH) -> str:
    """The page with at most `max_depth` nested elements; all its text is kept."""
    flattener = _Flattener(max_depth)
    flattener.feed(text)
    flattener.close()
    return "".join(flattener.out)


# --- cleaning and reading -----------------------------------------------------


def drop_unsafe(tree: lxml.html.HtmlElement) -> None:
    """Remove comments, processing instructions and every element in `_UNSAFE_TAGS`."""
    for el in list(tree.iter(etree.Comment, etree.ProcessingInstruction)):
        remove_element(el)
    for el in list(tree.iter(*_UNSAFE_TAGS)):
        remove_element(el)


def remove_element(el: etree._Element) -> None:
    """Remove an element but keep its tail text (it belongs to the parent)."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail and el.tail.strip():
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def element_text(el: etree._Element) -> str:
    """An element's text, normalised ('' for None)."""
    return normalize_text(" ".join(el.itertext())) if el is not None else ""


def marker_blocks(tree: lxml.html.HtmlElement, words: tuple[str, ...], max_len: int = 300):
    """(element, flat text) for the elements around text nodes holding one of `words`.

    Starts at the element owning the text node and climbs while the enclosing
    block stays short, so a marker split over <span>/<a> children is seen whole.
    """
    query = " or ".join(f"contains(., '{w}')" for w in words)
    for node in tree.xpath(f"//body//text()[{query}]"):
        el = node.getparent()
        if node.is_tail and el is not None:
            el = el.getparent()
        while el is not None and el.tag not in ("body", "html"):
            flat = normalize_text(el.text_content()).replace("\n", " ")
            if len(flat) > max_len:
                break
            yield el, flat
            el = el.getparent()
