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

This module puts the steps together; each lives in its own module:
`ingest.sources.html_dom` (bytes -> a safe DOM), `ingest.sources.html_meta`
(title, breadcrumb, URL, date) and `ingest.sources.html_text` (the main text).
"""
from __future__ import annotations

import re

from ingest.clean import category_from_breadcrumb, strip_boilerplate
from ingest.fields import derived_title_warning, title_from_body
from ingest.ids import article_id
from ingest.normalize import normalize_text, preview
from ingest.records import Article
from ingest.sources.html_dom import decode_html, drop_unsafe, parse_tree, remove_element, sniff_charset
from ingest.sources.html_meta import breadcrumb, page_title, page_url, published_date
from ingest.sources.html_text import clean_extracted, extract_main, plain_code, prune_related

__all__ = ["MIN_BODY_CHARS", "clean_extracted", "parse_html", "sniff_charset"]

_FURNITURE_TAGS = ("nav", "header", "footer", "aside", "form", "dialog")
MIN_BODY_CHARS = 20  # less than this is a menu or a stub, not an article


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
    tree = parse_tree(decode_html(data, charset))
    drop_unsafe(tree)

    title = page_title(tree)
    crumb_line, crumb_el = breadcrumb(tree)
    category = category_from_breadcrumb(crumb_line) if crumb_line else None

    address = page_url(tree, url)
    published = published_date(tree, url)

    if crumb_el is not None:
        remove_element(crumb_el)
    prune_related(tree)
    for el in list(tree.iter(*_FURNITURE_TAGS)):
        remove_element(el)
    plain_code(tree)

    extracted = extract_main(tree, url)
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
    address = address or found_url
    return Article(
        id=article_id(address, title),
        title=title,
        body=body,
        url=address,
        category=category,
        published=published,
        source=source,
    )
