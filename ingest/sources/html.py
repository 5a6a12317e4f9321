"""An HTML page of the firm's site (saved file or fetched) -> a cleaned Article.

trafilatura finds the main text (headings and list items kept as separate
Markdown lines, which the chunker understands); the firm's own furniture is
removed around it:

* the breadcrumb ("当前位置:首页>劳动纠纷> 正文内容") gives the category and is
  searched in the raw page, because trafilatura drops navigation;
* the URL comes from ``<link rel="canonical">``, else the "本文链接:" line,
  else ``og:url``, else the URL the page was fetched from;
* the tail ("本文为…原创", "扫描二维码…", "版权声明…", "本文链接:…") and the
  "…的相关文章" teaser list are pruned from the DOM where they can be found,
  and cut again from the extracted text with the same markers the plain-text
  source uses (`ingest.clean.strip_boilerplate`);
* the date comes from ``<meta>`` (article:published_time and friends), else
  trafilatura's date detection, as YYYY-MM-DD.

The page is untrusted: scripts, styles, frames and embedded objects are removed
before extraction, code blocks become plain text, and any literal
``<script>``/``<style>`` markup left in the text is dropped.
"""
from __future__ import annotations

import copy
import logging
import re
import sys
import types
from html import escape as html_escape
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from ingest.clean import URL_IN_TEXT, category_from_breadcrumb, strip_boilerplate
from ingest.fields import derived_title_warning, title_from_body
from ingest.ids import article_id
from ingest.normalize import decode_bytes, normalize_text, preview
from ingest.records import Article

log = logging.getLogger(__name__)


def _ensure_lxml_clean_importable() -> None:
    """trafilatura imports justext, which imports ``lxml.html.clean``.

    Since lxml 5.2 that module lives in the separate ``lxml_html_clean``
    package; without it ``import trafilatura`` fails. trafilatura never uses
    the Cleaner (only justext's paragraph classifier), so when the package is
    missing a stand-in module that refuses to be used keeps the import working.
    """
    try:
        import lxml.html.clean  # noqa: F401
    except ImportError:
        shim = types.ModuleType("lxml.html.clean")

        class Cleaner:  # pragma: no cover - only reached if justext's preprocessor is called
            def __init__(self, *args: object, **kwargs: object) -> None:
                raise ImportError("lxml.html.clean needs the lxml_html_clean package")

        shim.Cleaner = Cleaner  # type: ignore[attr-defined]
        sys.modules["lxml.html.clean"] = shim


_ensure_lxml_clean_importable()

import trafilatura  # noqa: E402
from trafilatura.metadata import extract_metadata  # noqa: E402

# --- decoding -----------------------------------------------------------------

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


# --- DOM helpers --------------------------------------------------------------

# Removed before anything else: never text, and never to be indexed as text.
_UNSAFE_TAGS = (
    "script", "style", "noscript", "template", "iframe", "frame", "frameset", "object",
    "embed", "applet", "svg", "math", "canvas", "base", "button", "input",
    "select", "textarea",
)
# Site furniture; the title and breadcrumb are read before these go.
_FURNITURE_TAGS = ("nav", "header", "footer", "aside", "form", "dialog")
_CRUMB_WORDS = ("当前位置", "您的位置", "你的位置", "所在位置")
_CRUMB_LINE = re.compile(r"^(?:当前位置|您的位置|你的位置|所在位置)\s*[:：]")
_RELATED_HEADING = re.compile(
    r"(?:的相关文章|^(?:相关文章|相关阅读|推荐阅读|延伸阅读|猜你喜欢|热门文章|最新文章|相关推荐))\s*[:：]?$"
)
_TAIL_BLOCK = re.compile(r"^(?:扫描二维码|版权声明|本文链接|原文链接|本文地址|文章链接)")
MIN_BODY_CHARS = 20  # less than this is a menu or a stub, not an article
_LARGE_TEXT = 2000  # a sibling this long is content, not a teaser list: never pruned
_DATE_META = (
    "article:published_time", "og:published_time", "og:article:published_time",
    "publishdate", "publish_date", "pubdate", "publication_date", "dc.date",
    "dc.date.issued", "dcterms.created", "date", "sailthru.date", "parsely-pub-date",
)
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_DATE_VALUE = r"(\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2})"
_DATE_LABEL = re.compile(r"(?:发布|发表|更新)(?:时间|日期|于)\s*[:：]?\s*" + _DATE_VALUE)
# a bare "时间:" counts only on an info line (with 来源/作者/浏览…), not in a body list item
_DATE_BARE = re.compile(r"(?:时间|日期)\s*[:：]\s*" + _DATE_VALUE)
_INFO_LINE = re.compile(r"来源|作者|浏览|阅读|点击|编辑")
_TITLE_SEPARATORS = re.compile(r"\s+[-–—|_]\s+|[|｜_]")


def _parse_tree(text: str) -> lxml.html.HtmlElement:
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


_VOID_TAGS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
}
MAX_HTML_DEPTH = 160  # well below libxml2's 256, far above any real page


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
        if tag in _BLOCK_TAGS and (not self.out or self.out[-1] != "<br>"):
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


def _drop_unsafe(tree: lxml.html.HtmlElement) -> None:
    for el in list(tree.iter(etree.Comment, etree.ProcessingInstruction)):
        _remove(el)
    for el in list(tree.iter(*_UNSAFE_TAGS)):
        _remove(el)


def _remove(el: etree._Element) -> None:
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


def _text(el: etree._Element) -> str:
    return normalize_text(" ".join(el.itertext())) if el is not None else ""


def _meta(tree: lxml.html.HtmlElement, *names: str) -> str | None:
    wanted = {n.lower() for n in names}
    for m in tree.iter("meta"):
        key = (m.get("property") or m.get("name") or m.get("itemprop") or "").strip().lower()
        if key in wanted and (m.get("content") or "").strip():
            return m.get("content").strip()
    return None


def _http_url(value: str | None, base: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    full = urljoin(base, value) if base else value
    parts = urlsplit(full)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return full


def _canonical(tree: lxml.html.HtmlElement, base: str | None) -> str | None:
    for link in tree.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        if "canonical" in rels:
            found = _http_url(link.get("href"), base)
            if found:
                return found
    return None


def _is_site_root(url: str) -> bool:
    return urlsplit(url).path in ("", "/", "/index.html", "/index.php")


def _marker_blocks(tree: lxml.html.HtmlElement, words: tuple[str, ...], max_len: int = 300):
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




def _url_line(tree: lxml.html.HtmlElement) -> str | None:
    """The "本文链接:https://…" line of the page tail, read from the raw DOM."""
    for _el, flat in _marker_blocks(tree, ("本文链接", "原文链接", "本文地址", "文章链接")):
        m = URL_IN_TEXT.search(flat)
        if m:
            return m.group(1).rstrip("。.,，;；)）")
    return None


def _breadcrumb(tree: lxml.html.HtmlElement) -> tuple[str | None, etree._Element | None]:
    """The breadcrumb line and its element ('当前位置:首页>劳动纠纷> 正文内容')."""
    for el, flat in _marker_blocks(tree, _CRUMB_WORDS):
        starts = [flat.find(w) for w in _CRUMB_WORDS if w in flat]
        line = flat[min(starts):] if starts else ""
        if _CRUMB_LINE.match(line) and category_from_breadcrumb(line):
            return line, el
    return None, None


def _title(tree: lxml.html.HtmlElement) -> str:
    head_title = _text(tree.find(".//title")) if tree.find(".//title") is not None else ""
    og = normalize_text(_meta(tree, "og:title", "twitter:title") or "")
    h1s = [
        t for h in tree.iter("h1")
        if not any(a.tag in ("header", "nav", "footer", "aside") for a in h.iterancestors())
        and (t := _text(h).replace("\n", " "))
    ]
    for h in h1s:  # the h1 that the <title> or og:title repeats is the article title
        if (head_title and h in head_title) or (og and h in og):
            return h
    if og:
        return og
    if h1s:
        return h1s[0]
    if head_title:
        first = _TITLE_SEPARATORS.split(head_title)[0].strip()
        return first or head_title
    return ""


def _iso_date(value: str | None) -> str | None:
    if not value:
        return None
    m = _DATE.search(value)
    if not m:
        return None
    y, mo, d = (int(g) for g in m.groups())
    if not (1990 <= y <= 2100 and 1 <= mo <= 12 and 1 <= d <= 31):
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}"


def _published(tree: lxml.html.HtmlElement, url: str | None) -> str | None:
    found = _iso_date(_meta(tree, *_DATE_META))
    if found:
        return found
    for el in tree.xpath("//*[@itemprop='datePublished']|//time[@datetime]"):
        found = _iso_date(el.get("content") or el.get("datetime") or _text(el))
        if found:
            return found
    blocks = [flat for _el, flat in _marker_blocks(tree, ("发布", "发表", "更新", "时间", "日期"), max_len=120)]
    for flat in blocks:
        m = _DATE_LABEL.search(flat)
        if m and (found := _iso_date(m.group(1))):
            return found
    for flat in blocks:
        m = _DATE_BARE.search(flat)
        if m and _INFO_LINE.search(flat) and (found := _iso_date(m.group(1))):
            return found
    # htmldate (via trafilatura) knows many more <head> conventions and dates in URLs. It
    # only sees the <head>: in the body it takes "Copyright 2021" or a date quoted in the
    # article ("入职日期：2018-01-02") for the publication date.
    try:
        head_only = lxml.html.document_fromstring("<html><head></head><body><p></p></body></html>")
        head = tree.find("head")
        if head is not None:
            head_only.replace(head_only.find("head"), copy.deepcopy(head))
        doc = extract_metadata(head_only, default_url=url, extensive=False)
        return _iso_date(doc.date)
    except Exception as exc:  # a date is optional; never fail the page over it
        log.debug("date detection failed for %s: %s", url, exc)
        return None


def _prune_related(tree: lxml.html.HtmlElement) -> None:
    """Remove the "…的相关文章" teaser list and the tail blocks from the DOM.

    A heading-like element matching the markers goes with its following
    siblings (the teaser list); if that leaves its parent empty, the parent's
    following siblings go too. Siblings holding an h1/article or a lot of
    text are never removed: a sidebar heading must not take the article along.
    """
    words = ("相关", "阅读", "喜欢", "热门", "最新", "二维码", "版权声明", "链接", "本文地址")
    candidates = []
    for el, flat in _marker_blocks(tree, words, max_len=200):
        if _RELATED_HEADING.search(flat) or (_TAIL_BLOCK.match(flat) and len(flat) < 150):
            candidates.append(el)
    # the smallest matching block per marker: drop those holding another candidate
    candidates = [
        c for i, c in enumerate(candidates)
        if c not in candidates[:i] and not any(o is not c and c in o.iterancestors() for o in candidates)
    ]
    for el in candidates:
        if el.getparent() is None or not _attached(el):
            continue
        node = el
        while node is not None and node.tag not in ("body", "html"):
            parent = node.getparent()
            for sib in list(node.itersiblings()):
                if _is_content(sib):
                    break
                _remove(sib)
            _remove(node)
            if parent is None or _text(parent):
                break
            node = parent


def _attached(el: etree._Element) -> bool:
    return any(a.tag == "body" for a in el.iterancestors())


def _is_content(el: etree._Element) -> bool:
    if not isinstance(el.tag, str):
        return False
    if el.tag in ("h1", "article") or el.find(".//h1") is not None or el.find(".//article") is not None:
        return True
    return len(_text(el)) > _LARGE_TEXT


def _plain_code(tree: lxml.html.HtmlElement) -> None:
    """<pre>/<code> become plain paragraphs/spans: no code formatting in the body."""
    for el in tree.iter("pre"):
        el.tag = "p"
    for el in tree.iter("code", "kbd", "samp", "tt", "var"):
        el.tag = "span"


# --- text post-processing -----------------------------------------------------

_SCRIPT_TEXT = re.compile(r"<\s*(script|style)\b[^>]*>.*?<\s*/\s*\1\s*>", re.I | re.S)
_TAG_TEXT = re.compile(r"<\s*/?\s*(?:script|style|iframe|object|embed)\b[^>]*>", re.I)
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>|~])")
_MD_STRONG = re.compile(r"(?<!\\)(\*\*|__)(?=\S)(.+?)(?<=\S)(?<!\\)\1")
_MD_EM = re.compile(r"(?<![\\*A-Za-z0-9])\*(?=[^\s*])([^*\n]+?)(?<=[^\s\\*])\*(?![*A-Za-z0-9])")
_BACKTICKS = re.compile(r"(?<!\\)`+")
_HEADING_MARK = re.compile(r"^#{1,6}\s+")


def clean_extracted(text: str, title: str = "") -> str:
    """trafilatura's Markdown -> plain body lines (headings keep their '#')."""
    text = _MD_STRONG.sub(r"\2", text)
    text = _MD_EM.sub(r"\1", text)
    text = _BACKTICKS.sub("", text)
    text = _MD_ESCAPE.sub(r"\1", text)
    text = _SCRIPT_TEXT.sub("", text)
    text = _TAG_TEXT.sub("", text)
    lines = []
    for line in text.split("\n"):
        stripped = line.strip()
        if _CRUMB_LINE.match(stripped):
            continue
        if title and _HEADING_MARK.sub("", stripped) == title:
            continue  # the title printed again as '# title'
        lines.append(line)
    return "\n".join(lines)


def _extract_main(tree: lxml.html.HtmlElement, url: str | None) -> str:
    options = dict(
        url=url,
        output_format="markdown",
        include_formatting=True,
        include_tables=True,
        include_comments=False,
        include_links=False,
        include_images=False,
        with_metadata=False,
        deduplicate=False,
    )
    for extra in ({}, {"favor_recall": True}):
        try:
            text = trafilatura.extract(copy.deepcopy(tree), **options, **extra)
        except Exception as exc:  # trafilatura on a hostile DOM: fall back to the plain text below
            log.debug("trafilatura failed on %s: %s: %s", url, type(exc).__name__, exc)
            text = None
        if text and text.strip():
            return text
    return _plain_text(tree)


_BLOCK_TAGS = (
    "p", "div", "li", "tr", "br", "section", "article", "main", "blockquote", "table", "ul", "ol", "dd", "dt",
    "h1", "h2", "h3", "h4", "h5", "h6",
)


def _plain_text(tree: lxml.html.HtmlElement) -> str:
    """The page's text, one line per block, headings marked '#': used when trafilatura finds nothing.

    The tree has already lost its scripts, styles and site furniture, so this
    is the article when trafilatura's heuristics reject an odd page (a body
    wrapped in thousands of <div>s, a page with no paragraph markup).
    """
    body = tree.find("body")
    root = copy.deepcopy(body if body is not None else tree)
    for el in root.iter(*_BLOCK_TAGS):
        if el.tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            el.text = "#" * int(el.tag[1]) + " " + (el.text or "")
        el.tail = "\n" + (el.tail or "")
    return root.text_content()


# --- entry point --------------------------------------------------------------


def parse_html(
    data: bytes | str, source: str, url: str | None = None, charset: str | None = None,
    notes: list[str] | None = None,
) -> Article:
    """One HTML page -> a cleaned Article.

    `source` is recorded on the Article (path or fetched URL); `url` is the
    address the page was fetched from (base for relative links, last-resort
    article URL); `charset` is the HTTP header's charset when known. A page
    without any title gets one from its body, and a warning is appended to
    `notes`. Raises ValueError (DecodeError for binary data) when there is no
    usable body.
    """
    tree = _parse_tree(decode_html(data, charset))
    _drop_unsafe(tree)

    title = _title(tree)
    crumb_line, crumb_el = _breadcrumb(tree)
    category = category_from_breadcrumb(crumb_line) if crumb_line else None

    canonical = _canonical(tree, url)
    tail_url = _url_line(tree)
    if canonical and tail_url and _is_site_root(canonical):
        canonical = None  # a CMS that points every page's canonical at the home page
    page_url = canonical or tail_url or _http_url(_meta(tree, "og:url"), url) or url
    published = _published(tree, url)

    if crumb_el is not None:
        _remove(crumb_el)
    _prune_related(tree)
    for el in list(tree.iter(*_FURNITURE_TAGS)):
        _remove(el)
    _plain_code(tree)

    extracted = _extract_main(tree, url)
    cleaned = clean_extracted(normalize_text(extracted), title)
    body, found_url = strip_boilerplate(cleaned, title=title or None)
    if not body:
        raise ValueError("no article text found (empty page or only site boilerplate)")
    if len(re.sub(r"\W", "", body)) < MIN_BODY_CHARS:
        raise ValueError(f"too little article text ({preview(body)}): a menu or stub page, not an article")
    if not title:
        title = title_from_body(body)
        if notes is not None:
            notes.append(derived_title_warning(title, "the page has no <h1>, og:title or <title>"))
    page_url = page_url or found_url
    return Article(
        id=article_id(page_url, title),
        title=title,
        body=body,
        url=page_url,
        category=category,
        published=published,
        source=source,
    )
