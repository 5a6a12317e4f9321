"""Remove the firm site's boilerplate from page text, keeping only the article.

A page extracted to text looks like: breadcrumb line, title, body, then a tail
of site furniture (the "本文为…原创" line, "扫描二维码…", "版权声明…",
"本文链接:URL", and a "…的相关文章" list of teasers for other articles). Only
the body is indexed: teasers would make every page match every query.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.ids import article_id
from ingest.normalize import normalize_text
from ingest.records import Article

_BREADCRUMB = re.compile(r"^(?:当前位置|您的位置|所在位置|位置)\s*[:：]")
# "本文链接：https://..." lines: the page's own canonical URL, in the body text or its footer.
URL_IN_TEXT = re.compile(r"(?:本文链接|原文链接|本文地址|文章链接)\s*[:：]\s*(https?://[!-~]+)")
_URL_LINE = re.compile(r"^" + URL_IN_TEXT.pattern)
_TAIL_MARKERS = [
    re.compile(r"本文(?:为|系|由).{0,30}原创"),
    re.compile(r"^扫描二维码"),
    re.compile(r"^版权声明"),
    re.compile(r"^(?:本文链接|原文链接|本文地址|文章链接)\s*[:：]"),
    re.compile(r"的相关文章$"),
    re.compile(r"^(?:相关文章|相关阅读|推荐阅读|热门文章|上一篇|下一篇)\s*[:：]?"),
    re.compile(r"^(?:责任编辑|来源)\s*[:：]"),
]
_CRUMB_NOISE = {"首页", "正文内容", "正文", "主页", "网站首页"}


@dataclass
class FirmPage:
    """The parts of a firm page we keep."""

    title: str
    category: str | None
    url: str | None
    body: str


def category_from_breadcrumb(line: str) -> str | None:
    """'当前位置:首页>金融债务> 正文内容' -> '金融债务' (the deepest real level)."""
    trail = _BREADCRUMB.sub("", line)
    parts = [p.strip() for p in re.split(r"[>＞»/›]", trail) if p.strip()]
    parts = [p for p in parts if p not in _CRUMB_NOISE]
    return parts[-1] if parts else None


def find_canonical_url(lines: list[str]) -> str | None:
    for line in lines:
        m = _URL_LINE.match(line)
        if m:
            return m.group(1).rstrip("。.,，")
    return None


def _is_tail(line: str) -> bool:
    return any(p.search(line) for p in _TAIL_MARKERS)


def strip_boilerplate(text: str, title: str | None = None) -> tuple[str, str | None]:
    """Cut the site tail off a body; return (body, canonical URL if present).

    Everything from the first tail marker on is dropped, because the teaser
    list that follows has no marker of its own. A body line repeating the
    title verbatim (the site prints it again above the hero image) is dropped.
    """
    lines = normalize_text(text).split("\n")
    url = find_canonical_url(lines)
    cut = next((i for i, line in enumerate(lines) if _is_tail(line)), len(lines))
    kept = [line for line in lines[:cut] if not (title and line.strip() == title)]
    body = "\n".join(kept)
    body = re.sub(r"\n{3,}", "\n\n", body).strip()
    return body, url


def parse_firm_page(text: str) -> FirmPage:
    """Split a firm page's plain text into title, category, URL and body."""
    lines = normalize_text(text).split("\n")
    category = None
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines) and _BREADCRUMB.match(lines[i]):
        category = category_from_breadcrumb(lines[i])
        i += 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines):
        raise ValueError("no title: the text is empty after the breadcrumb")
    title = lines[i].strip()
    if _is_tail(title):
        raise ValueError("no article: the page holds only site boilerplate")
    body, url = strip_boilerplate("\n".join(lines[i + 1 :]), title=title)
    if url is None:
        url = find_canonical_url(lines)
    if not body:
        raise ValueError("no body text after the title")
    return FirmPage(title=title, category=category, url=url, body=body)


def parse_firm_text(text: str, source: str) -> Article:
    """A firm page's extracted text -> a cleaned Article (id from URL or title)."""
    page = parse_firm_page(text)
    return Article(
        id=article_id(page.url, page.title),
        title=page.title,
        body=page.body,
        url=page.url,
        category=page.category,
        source=source,
    )
