"""The article view as one standalone HTML document, served by the JSON API at `/?article=`.

Why the API serves it: every hit carries a `link` to "our article view"
(`?article=ID&passage=ID`). Behind LAWFAQ_PUBLIC_URL that view is the search
page; without it the link is made on the API's own address, where it must
open too — a client that shows a card with a dead 阅读原文 link is worse off
than one without a link. The document uses the page's own pieces
(`index.serving.render`): the same head, body with the passage marked, cited
statutes and related articles, so both views read alike.
"""
from __future__ import annotations

from index.serving.render import (
    CSS,
    TARGET_ID,
    article_head_html,
    body_html,
    related_html,
    statutes_block,
)
from index.storage.store import ArticleRow, PassageRow
from index.text.html import escape as esc

# A constant script (no data in it): scroll the marked passage into view.
_SCROLL = ("<script>var e=document.getElementById('" + TARGET_ID + "');"
           "if(e){e.scrollIntoView({block:'center'});}</script>")
_PAGE_CSS = "<style>body{max-width:46rem;margin:2rem auto;padding:0 1rem;font-family:sans-serif}</style>"


def _document(title: str, content: str) -> str:
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title>{CSS}{_PAGE_CSS}</head><body>{content}</body></html>")


def article_parts(row: ArticleRow, passages: list[PassageRow], chosen: PassageRow | None,
                  related: list[tuple[str, str]], query: str = "") -> list[str]:
    """Below the article's head, in order: the chosen passage's statutes, the body with that passage
    marked, the whole article's statutes, related articles. The search page shows the same parts."""
    parts = []
    if chosen is not None and chosen.labels:
        parts.append(statutes_block("本段引用的法条：", chosen.labels))
    parts.append(body_html(row.body, chosen.start if chosen else None, chosen.end if chosen else None))
    labels = [x for p in passages for x in p.labels]
    if labels:
        parts.append(statutes_block("全文引用的法条：", labels))
    if related:
        parts.append(related_html(related, query))
    return parts


def article_document(row: ArticleRow, passages: list[PassageRow], passage_id: str | None,
                     related: list[tuple[str, str]], query: str = "") -> str:
    """The whole article, the passage `passage_id` marked and scrolled to, its statutes and related articles."""
    chosen = next((p for p in passages if p.id == passage_id), None)
    head = article_head_html(row, "")  # no search box here to go back to
    scroll = _SCROLL if chosen is not None else ""
    return _document(row.title, head + "".join(article_parts(row, passages, chosen, related, query)) + scroll)


def missing_document() -> str:
    """What a stale link shows: the article is gone (the status is 404)."""
    return _document("文章不存在", "<h2>文章不存在</h2><p>链接可能已过期，或者文章已被删除。</p>")


def landing_document() -> str:
    """`/` without an article: where the API's documentation is."""
    return _document("法律问答检索 API", '<h2>法律问答检索 API</h2><p>接口文档：<a href="docs">/docs</a>'
                     '（OpenAPI）。检索：<code>/search?q=问题</code>。</p>')
