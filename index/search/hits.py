"""What a search returns and how it is presented: Hit, HitList, links, best sentence.

Kept apart from the Searcher so that the page, the JSON API and notebooks share
one definition of a result, and the Searcher only searches.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import asdict, dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

from index.search.plain import plain_hit


@dataclass
class Copy:
    """Another article with (nearly) the same passage as a hit: a templated sister page, or the same
    provision in another law. Folded into the hit instead of shown again (`index.search.fusion.shape_grouped`)."""

    article_id: str
    passage_id: str
    title: str
    link: str
    category: str | None = None
    published: str | None = None


@dataclass
class Excerpt:
    """Another passage of a hit's article that matches the question too ("本文其他相关段落").

    One card per article: the article's best passage is the card, these are one click away."""

    passage_id: str
    heading: str
    passage: str
    start: int
    end: int
    link: str


@dataclass
class Hit:
    """One passage that answers the query, with everything the page shows."""

    rank: int
    passage_id: str
    article_id: str
    title: str
    url: str | None
    link: str
    category: str | None
    published: str | None
    passage: str
    start: int
    end: int
    heading: str
    score: float
    dense_score: float | None
    bm25_score: float | None
    statutes: list[str]
    matched_terms: list[str]
    match_spans: list[tuple[int, int]]
    best_sentence: tuple[int, int]
    cites_query_statute: bool = False
    # Statutes cited anywhere in the article: an answering passage often sits above the
    # article's 相关法条参考 list, and the reader still wants to know which laws apply.
    article_statutes: list[str] = field(default_factory=list)
    # Articles whose passage is a near-copy of this one, best ranked first ("相同内容也见于")
    also_in: list[Copy] = field(default_factory=list)
    # The article's further matching passages, best first (one card per article by default)
    more: list[Excerpt] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready, as the API returns it: `passage` as plain text (`passage_markdown` as stored),
        spans on the plain text (`index.search.plain`)."""
        return plain_hit(asdict(self))


class HitList(list):
    """A list of Hits that also says whether the match is weak and why, and timings."""

    def __init__(self, hits=(), *, query: str = "", weak: bool = False, message: str = "",
                 timings: dict | None = None, version: str | None = None, read_as: str | None = None):
        super().__init__(hits)
        self.query = query
        # how the query was read when that differs from what was typed (pinyin read into Chinese)
        self.read_as = read_as
        self.weak = weak
        self.message = message
        self.timings = timings or {}
        self.version = version

    def to_dict(self) -> dict:
        """JSON-ready: what the CLI's --json and the HTTP API return."""
        return {"query": self.query, "read_as": self.read_as, "weak": self.weak, "message": self.message, "version": self.version,
                "timings_ms": self.timings, "hits": [h.to_dict() for h in self]}


def is_web_url(url: str | None) -> bool:
    """Only http(s) URLs with a host are ever emitted as links to a source."""
    if not url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


_QUOTED: dict[str, str] = {}  # character -> its percent-encoding with safe="" (a few thousand at most)


def quote_all(text: str) -> str:
    """`urllib.parse.quote(text, safe="")`, one dictionary lookup per character.

    Every hit quotes its article and passage ids (Chinese statute names in
    STARD: ~45 UTF-8 bytes each); quote() walks them byte by byte, a tenth of
    a search's shaping time. Each character is encoded by quote() itself once.
    """
    table = _QUOTED
    try:
        return "".join([table[ch] for ch in text])
    except KeyError:
        for ch in set(text) - table.keys():
            table[ch] = quote(ch, safe="")
        return "".join([table[ch] for ch in text])


# Never raw in a link we emit: what could end an href="..." or open a tag, white space and
# control characters, and the invisible bidirectional controls that reorder how text displays.
_UNSAFE_IN_LINK = re.compile("[\"'<>`{}|\\\\^\x00-\x20\x7f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _encode_unsafe(match: re.Match[str]) -> str:
    return quote(match.group(), safe="")


def safe_link(text: str) -> str:
    """`text` (a URL or a part of one) with the characters of `_UNSAFE_IN_LINK` percent-encoded.

    Ingest already stores URLs this way (`ingest.ids.canonical_url`); this keeps
    an index built before that, or a base URL taken from a request, from putting
    a raw quote or angle bracket into a link.
    """
    return _UNSAFE_IN_LINK.sub(_encode_unsafe, text) if _UNSAFE_IN_LINK.search(text) else text


def article_link(article_id: str, passage_id: str | None = None, base_url: str = "") -> str:
    """Our own article view (the page's ?article= route)."""
    link = f"{safe_link(base_url)}?article={quote_all(article_id)}"
    return link + (f"&passage={quote_all(passage_id)}" if passage_id else "")


def source_link(url: str | None) -> str | None:
    """An article's source URL as a link may carry it: http(s) with a plain host, unsafe characters
    of its path and query percent-encoded, no fragment; None when it cannot be one."""
    if not is_web_url(url):
        return None
    parts = urlsplit(url)
    if _UNSAFE_IN_LINK.search(parts.netloc):  # a host name never holds a quote or a bracket
        return None
    return urlunsplit((parts.scheme, parts.netloc, safe_link(parts.path), safe_link(parts.query), ""))


def link_for(url: str | None, article_id: str, passage_id: str, sentence: str, base_url: str = "") -> str:
    """The source URL with a text fragment that scrolls to the passage, else our article view.

    A URL with any other scheme (javascript:, data:, a bare path), or whose
    host holds a quote or bracket, is never passed on: the card then opens
    the article view instead. Quotes and angle brackets in its path or query
    are percent-encoded (`source_link`).
    """
    base = source_link(url)
    if base is None:
        return article_link(article_id, passage_id, base_url)
    fragment = text_fragment(sentence)
    return f"{base}#:~:text={quote(fragment, safe='')}" if fragment else base


_SENT = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]*")


def best_sentence(text: str, spans: list[tuple[int, int]]) -> tuple[int, int]:
    """The sentence holding the most matched characters (the one the page emphasises).

    Sorted, non-overlapping spans (what `match_spans` returns) are summed only
    where they can touch the sentence (two bisections), instead of all of them
    for every sentence; other spans are summed in full, as before.
    """
    best, best_score = (0, 0), -1.0
    spans = sorted(spans)
    starts = [a for a, _ in spans]
    ends = [b for _, b in spans]
    ordered = all(a <= b for a, b in spans) and all(ends[i] <= starts[i + 1] for i in range(len(spans) - 1))
    for m in _SENT.finditer(text):
        s, e = m.start(), m.end()
        if not text[s:e].strip():
            continue
        near = spans[bisect_right(ends, s) : bisect_left(starts, e)] if ordered else spans
        covered = sum(max(0, min(e, b) - max(s, a)) for a, b in near)
        score = covered + 0.001 * min(e - s, 60)  # ties: prefer a real sentence over a fragment
        if score > best_score:
            best, best_score = (s, e), score
    return best


_RUN = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]{6,}")


def text_fragment(sentence: str, max_chars: int = 24) -> str:
    """A punctuation-free run of the sentence: survives our punctuation normalisation."""
    runs = _RUN.findall(sentence)
    if not runs:
        return ""
    run = max(runs, key=len)
    return run[:max_chars]
