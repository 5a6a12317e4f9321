"""A page's metadata, read from the raw DOM before any of it is removed: title, breadcrumb, URL, date.

* the breadcrumb ("当前位置:首页>劳动纠纷> 正文内容") gives the category and is
  searched in the raw page, because trafilatura drops navigation;
* the URL comes from ``<link rel="canonical">``, else the "本文链接:" line,
  else ``og:url``, else the URL the page was fetched from (`page_url`);
* the date comes from ``<meta>`` (article:published_time and friends), else a
  labelled date on the page, else trafilatura's date detection on the
  ``<head>``, as YYYY-MM-DD (`published_date`).
"""
from __future__ import annotations

import copy
import logging
import re
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from ingest.clean import URL_IN_TEXT, category_from_breadcrumb
from ingest.normalize import normalize_text
from ingest.sources.html_dom import element_text, marker_blocks
from ingest.sources.trafilatura_shim import extract_metadata

log = logging.getLogger(__name__)

_CRUMB_WORDS = ("当前位置", "您的位置", "你的位置", "所在位置")
CRUMB_LINE = re.compile(r"^(?:当前位置|您的位置|你的位置|所在位置)\s*[:：]")
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


def _url_line(tree: lxml.html.HtmlElement) -> str | None:
    """The "本文链接:https://…" line of the page tail, read from the raw DOM."""
    for _el, flat in marker_blocks(tree, ("本文链接", "原文链接", "本文地址", "文章链接")):
        m = URL_IN_TEXT.search(flat)
        if m:
            return m.group(1).rstrip("。.,，;；)）")
    return None


def page_url(tree: lxml.html.HtmlElement, url: str | None) -> str | None:
    """The article's address: canonical link, else the "本文链接:" line, else og:url, else `url`."""
    canonical = _canonical(tree, url)
    tail_url = _url_line(tree)
    if canonical and tail_url and _is_site_root(canonical):
        canonical = None  # a CMS that points every page's canonical at the home page
    return canonical or tail_url or _http_url(_meta(tree, "og:url"), url) or url


def breadcrumb(tree: lxml.html.HtmlElement) -> tuple[str | None, etree._Element | None]:
    """The breadcrumb line and its element ('当前位置:首页>劳动纠纷> 正文内容')."""
    for el, flat in marker_blocks(tree, _CRUMB_WORDS):
        starts = [flat.find(w) for w in _CRUMB_WORDS if w in flat]
        line = flat[min(starts):] if starts else ""
        if CRUMB_LINE.match(line) and category_from_breadcrumb(line):
            return line, el
    return None, None


def page_title(tree: lxml.html.HtmlElement) -> str:
    """The h1 that <title> or og:title repeats, else og:title, else the first h1, else <title>'s first part."""
    head_title = element_text(tree.find(".//title")) if tree.find(".//title") is not None else ""
    og = normalize_text(_meta(tree, "og:title", "twitter:title") or "")
    h1s = [
        t for h in tree.iter("h1")
        if not any(a.tag in ("header", "nav", "footer", "aside") for a in h.iterancestors())
        and (t := element_text(h).replace("\n", " "))
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


def published_date(tree: lxml.html.HtmlElement, url: str | None) -> str | None:
    """The publication date as YYYY-MM-DD, or None when the page gives none."""
    found = _iso_date(_meta(tree, *_DATE_META))
    if found:
        return found
    for el in tree.xpath("//*[@itemprop='datePublished']|//time[@datetime]"):
        found = _iso_date(el.get("content") or el.get("datetime") or element_text(el))
        if found:
            return found
    blocks = [flat for _el, flat in marker_blocks(tree, ("发布", "发表", "更新", "时间", "日期"), max_len=120)]
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
