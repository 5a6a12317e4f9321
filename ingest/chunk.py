"""Cut a cleaned article body into passages that answer a question on their own.

Chinese legal FAQ text is cut on sentence ends (。！？；… and line breaks),
never inside a sentence unless one sentence alone exceeds the hard limit.
Headings start a new passage (a section is a natural answer unit); list items
are whole sentences. Neighbouring passages cut for length share one sentence,
so an answer that straddles a cut is still whole in one of them.

Every passage keeps its exact span: ``body[start:end] == text``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.records import Article, Passage
from ingest.structure import SECTION_CHARS, has_structure, structured_passages

TARGET_CHARS = 300
# multilingual-e5 spends about 0.7-1.0 tokens per Chinese character; 450
# characters stays well below its 512-token window even with the title prefix.
HARD_LIMIT_CHARS = 450
MIN_SECTION_CHARS = 60
MAX_OVERLAP_CHARS = 150

# A sentence ends after 。！？；… or ! ? ; (plus closing quotes/brackets), or at a line break.
_SENTENCE_END = re.compile(r"(?:[。！？；!?;]|…+|\.{3,})[”’」』）)》\"']*|\n+")
_MD_HEADING = re.compile(r"^(#{1,6})\s+\S")
_LIST_ITEM = re.compile(r"^(?:[-*+•·▪●◆■]\s*|\d{1,3}[.、)）]\s*|[（(]\d{1,3}[)）]\s*|[一二三四五六七八九十]+[、.]\s*|[✅❌✔✘☑])")
_PLAIN_HEADING_END = re.compile(r"[。，,；;：:！!…、”\"]$")
_SOFT_BREAK = re.compile(r"[，,、：:]")


@dataclass
class _Unit:
    start: int
    end: int
    kind: str  # "heading" | "item" | "text"
    level: int = 0  # heading level
    line_start: bool = False


def _line_heading(line: str) -> tuple[bool, int]:
    """Markdown '## x' headings, or a short plain line with no sentence punctuation."""
    m = _MD_HEADING.match(line)
    if m:
        return True, len(m.group(1))
    stripped = line.strip()
    if (
        2 <= len(stripped) <= 30
        and not _PLAIN_HEADING_END.search(stripped)
        and not _LIST_ITEM.match(stripped)
    ):
        return True, 2
    return False, 0


def _sentence_units(body: str) -> list[_Unit]:
    """Units that tile the body exactly: every character belongs to one unit.

    Lines are classified first (a heading line is one unit even when it holds
    a question mark), then ordinary lines are cut into sentences. Newlines
    stay attached to the unit before them.
    """
    units: list[_Unit] = []
    pos = 0
    for line_with_nl in body.splitlines(keepends=True):
        line_end = pos + len(line_with_nl)
        line = line_with_nl.rstrip("\n")
        if not line.strip():
            if units:
                units[-1].end = line_end
            else:
                units.append(_Unit(pos, line_end, "text", line_start=True))
            pos = line_end
            continue
        is_heading, level = _line_heading(line)
        if is_heading:
            units.append(_Unit(pos, line_end, "heading", level, True))
            pos = line_end
            continue
        kind = "item" if _LIST_ITEM.match(line.strip()) else "text"
        sent_start = pos
        first = True
        for m in _SENTENCE_END.finditer(line_with_nl):
            end = pos + m.end()
            if end <= sent_start:
                continue
            units.append(_Unit(sent_start, end, kind if first else "text", line_start=first))
            sent_start, first = end, False
        if sent_start < line_end:
            units.append(_Unit(sent_start, line_end, kind if first else "text", line_start=first))
        pos = line_end
    return _split_long(body, units)


def _split_long(body: str, units: list[_Unit]) -> list[_Unit]:
    """A single sentence over the hard limit is cut at commas, else by length."""
    out: list[_Unit] = []
    for u in units:
        if u.end - u.start <= HARD_LIMIT_CHARS:
            out.append(u)
            continue
        start = u.start
        first = True
        while u.end - start > HARD_LIMIT_CHARS:
            window = body[start : start + HARD_LIMIT_CHARS]
            cuts = [m.end() for m in _SOFT_BREAK.finditer(window) if m.end() >= TARGET_CHARS // 2]
            cut = start + (cuts[-1] if cuts else TARGET_CHARS)
            out.append(_Unit(start, cut, u.kind if first else "text", u.level, u.line_start and first))
            start, first = cut, False
        out.append(_Unit(start, u.end, u.kind if first else "text", u.level, False))
    return out


def _trimmed(body: str, start: int, end: int) -> tuple[int, int]:
    while start < end and body[start].isspace():
        start += 1
    while end > start and body[end - 1].isspace():
        end -= 1
    return start, end


def chunk_body(body: str) -> list[tuple[int, int, str]]:
    """Return (start, end, heading_path) for each passage of `body`.

    Spans are trimmed of surrounding whitespace; together they cover every
    non-whitespace character of the body. An article with headings is cut
    along its structure (`ingest.structure`: sections, whole lists); one
    without (a statute, a plain note) by packing sentences.
    """
    if has_structure(body, _line_heading, _LIST_ITEM):
        return structured_passages(body, _line_heading, _LIST_ITEM, lambda s, e: _sentence_pieces(body, s, e))
    return _packed_sentences(body)


def _sentence_pieces(body: str, start: int, end: int) -> list[tuple[int, int]]:
    """body[start:end] cut between sentences into pieces of at most SECTION_CHARS (no overlap)."""
    pieces: list[tuple[int, int]] = []
    cur_start = cur_end = None
    for u in _sentence_units(body[start:end]):
        s, e = start + u.start, start + u.end
        if cur_start is not None and e - cur_start > SECTION_CHARS:
            pieces.append(_trimmed(body, cur_start, cur_end))
            cur_start = None
        cur_start = s if cur_start is None else cur_start
        cur_end = e
    if cur_start is not None:
        pieces.append(_trimmed(body, cur_start, cur_end))
    return [(s, e) for s, e in pieces if e > s]


def _packed_sentences(body: str) -> list[tuple[int, int, str]]:
    """Sentences packed to TARGET_CHARS with one sentence of overlap, headings starting passages."""
    units = _sentence_units(body)
    spans: list[tuple[int, int, str]] = []
    headings: dict[int, str] = {}
    cur: list[_Unit] = []
    cur_heading = ""

    def size(us: list[_Unit]) -> int:
        return us[-1].end - us[0].start if us else 0

    def content(us: list[_Unit]) -> int:
        return sum(len(body[u.start : u.end].strip()) for u in us if u.kind != "heading")

    def flush() -> None:
        if cur:
            s, e = _trimmed(body, cur[0].start, cur[-1].end)
            if e > s:
                spans.append((s, e, cur_heading))

    def heading_path() -> str:
        return " > ".join(headings[k] for k in sorted(headings))

    for u in units:
        if u.kind == "heading":
            if cur and content(cur) >= MIN_SECTION_CHARS:
                flush()
                cur = []
            text = body[u.start : u.end].strip().lstrip("#").strip()
            for k in [k for k in headings if k >= u.level]:
                del headings[k]
            headings[u.level] = text
            if not cur or content(cur) == 0:
                cur_heading = heading_path()
            cur.append(u)
            continue
        if not cur:
            cur_heading = heading_path()
        if cur and size(cur) + (u.end - u.start) > TARGET_CHARS and content(cur) > 0:
            flush()
            prev = cur[-1]
            overlap = prev.kind != "heading" and prev.end - prev.start <= MAX_OVERLAP_CHARS
            cur = [prev] if overlap and (u.end - prev.start) <= HARD_LIMIT_CHARS else []
            cur_heading = heading_path()
        cur.append(u)
    flush()
    return spans


def chunk_article(article: Article) -> list[Passage]:
    """Passages of one article, each with its span, heading path and statutes.

    A statute named in the title ("民法典第1032条是什么意思") is what every
    passage of the article is about, so each passage carries it too: this is
    what `ingest inspect` shows and what the index stores.
    """
    from ingest.citations import display_key, parse_citations  # local: keeps chunk usable alone

    citations = parse_citations(article.body)
    title_citations = parse_citations(article.title)
    passages: list[Passage] = []
    for n, (start, end, heading) in enumerate(chunk_body(article.body)):
        inside = [c for c in citations if start <= c.span[0] and c.span[1] <= end]
        cited = inside + title_citations
        passages.append(
            Passage(
                id=f"{article.id}#{n}",
                article_id=article.id,
                text=article.body[start:end],
                start=start,
                end=end,
                heading=heading,
                statutes=list(dict.fromkeys(c.key for c in cited)),
                statute_labels=list(dict.fromkeys(display_key(c) for c in cited)),
            )
        )
    return passages
