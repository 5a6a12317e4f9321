"""The article's main text: prune the page's tail and teasers, let trafilatura find the body, clean it.

trafilatura finds the main text (headings and list items kept as separate
Markdown lines, which the chunker understands). Before it runs, the
"…的相关文章" teaser list and the tail ("扫描二维码…", "版权声明…",
"本文链接:…") are pruned from the DOM where they can be found (`prune_related`)
and code blocks become plain text (`plain_code`); after it, Markdown emphasis
and any literal ``<script>``/``<style>`` markup are dropped (`clean_extracted`).
When trafilatura finds nothing, the page's plain block text is the body.
"""
from __future__ import annotations

import copy
import logging
import re

import lxml.html
from lxml import etree

from ingest.sources.html_dom import BLOCK_TAGS, element_text, marker_blocks, remove_element
from ingest.sources.html_meta import CRUMB_LINE
from ingest.sources.trafilatura_shim import trafilatura

log = logging.getLogger(__name__)

_RELATED_HEADING = re.compile(
    r"(?:的相关文章|^(?:相关文章|相关阅读|推荐阅读|延伸阅读|猜你喜欢|热门文章|最新文章|相关推荐))\s*[:：]?$"
)
_TAIL_BLOCK = re.compile(r"^(?:扫描二维码|版权声明|本文链接|原文链接|本文地址|文章链接)")
_LARGE_TEXT = 2000  # a sibling this long is content, not a teaser list: never pruned


# --- before extraction: pruning the DOM ---------------------------------------


def prune_related(tree: lxml.html.HtmlElement) -> None:
    """Remove the "…的相关文章" teaser list and the tail blocks from the DOM.

    A heading-like element matching the markers goes with its following
    siblings (the teaser list); if that leaves its parent empty, the parent's
    following siblings go too. Siblings holding an h1/article or a lot of
    text are never removed: a sidebar heading must not take the article along.
    """
    words = ("相关", "阅读", "喜欢", "热门", "最新", "二维码", "版权声明", "链接", "本文地址")
    candidates = []
    for el, flat in marker_blocks(tree, words, max_len=200):
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
                remove_element(sib)
            remove_element(node)
            if parent is None or element_text(parent):
                break
            node = parent


def _attached(el: etree._Element) -> bool:
    return any(a.tag == "body" for a in el.iterancestors())


def _is_content(el: etree._Element) -> bool:
    if not isinstance(el.tag, str):
        return False
    if el.tag in ("h1", "article") or el.find(".//h1") is not None or el.find(".//article") is not None:
        return True
    return len(element_text(el)) > _LARGE_TEXT


def plain_code(tree: lxml.html.HtmlElement) -> None:
    """<pre>/<code> become plain paragraphs/spans: no code formatting in the body."""
    for el in tree.iter("pre"):
        el.tag = "p"
    for el in tree.iter("code", "kbd", "samp", "tt", "var"):
        el.tag = "span"


# --- extraction ---------------------------------------------------------------


def extract_main(tree: lxml.html.HtmlElement, url: str | None) -> str:
    """trafilatura's Markdown of the main text (a second, recall-favouring try), else the plain block text."""
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


def _plain_text(tree: lxml.html.HtmlElement) -> str:
    """The page's text, one line per block, headings marked '#': used when trafilatura finds nothing.

    The tree has already lost its scripts, styles and site furniture, so this
    is the article when trafilatura's heuristics reject an odd page (a body
    wrapped in thousands of <div>s, a page with no paragraph markup).
    """
    body = tree.find("body")
    root = copy.deepcopy(body if body is not None else tree)
    for el in root.iter(*BLOCK_TAGS):
        if el.tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            el.text = "#" * int(el.tag[1]) + " " + (el.text or "")
        el.tail = "\n" + (el.tail or "")
    return root.text_content()


# --- after extraction: text post-processing ----------------------------------

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
        if CRUMB_LINE.match(stripped):
            continue
        if title and _HEADING_MARK.sub("", stripped) == title:
            continue  # the title printed again as '# title'
        lines.append(line)
    return "\n".join(lines)
