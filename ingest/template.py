"""A site's template, learned from its own articles: text many articles repeat is boilerplate, not an answer.

A law firm's articles share a frame: a closing section every article carries
(相关法条参考 with the closing advice under it), a disclaimer, an author's
signature, "欢迎在评论区分享". Such text ranks well for many questions — it is
legal-sounding and everywhere — yet never answers one. The frame is learned
from the corpus itself, so any site's is found without a list of phrases:

- a **heading** that opens a section in a large share of articles: its whole
  section is template (the statute list and the closing advice under it);
- a **line** repeated word for word in many articles (signatures, disclaimers);
- a **clause** repeated in many articles: a line mostly made of such clauses
  ("个案情况不同，建议咨询专业律师。") is template too.

Repetition alone would also catch templated sister articles (the same page
for 三个月 / 七个月 / 十二个月), so a unit counts only when articles of more
than one category repeat it (when the corpus has categories at all), and in
at least `MIN_ARTICLES` of them. Template passages are never a card's passage;
their statutes still count for the article (see index.search).
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

MIN_ARTICLES = 4
HEADING_SHARE = 0.25  # a heading in at least this share of articles opens a template section
LINE_SHARE = 0.05  # a line in at least this share of articles is template
CLAUSE_SHARE = 0.10  # a clause in at least this share of articles is template
MIN_CLAUSE_CHARS = 4
MOSTLY = 0.5  # a line whose characters are at least this share template clauses is template
PASSAGE_SHARE = 0.6  # a passage at least this share template is template

_MD_HEADING = re.compile(r"^\s*(#{1,6})\s+(\S.*)$")
_CLAUSE_END = re.compile(r"[，。！？；：,.!?;:、…]+")
_NOISE = re.compile(r"[\s*_`>#\-•·]+")


def _norm(text: str) -> str:
    return _NOISE.sub("", unicodedata.normalize("NFKC", text))


def _heading(line: str) -> str | None:
    m = _MD_HEADING.match(line)
    return _norm(m.group(2)) if m else None


def _lines(body: str) -> Iterable[tuple[int, int, str]]:
    """(start, end, text) of each non-blank line of `body`."""
    pos = 0
    for raw in body.splitlines(keepends=True):
        text = raw.rstrip("\r\n")
        if text.strip():
            yield pos, pos + len(text), text
        pos += len(raw)


def _clauses(line: str) -> list[tuple[int, int, str]]:
    """(start, end, normalised text) of the clauses of `line` long enough to count."""
    out, start = [], 0
    for m in _CLAUSE_END.finditer(line + "。"):
        piece = _norm(line[start : m.start()])
        if len(piece) >= MIN_CLAUSE_CHARS:
            out.append((start, min(m.end(), len(line)), piece))
        start = m.end()
    return out


@dataclass(frozen=True)
class SiteTemplate:
    """What the corpus repeats: normalised headings, lines and clauses."""

    headings: frozenset[str] = frozenset()
    lines: frozenset[str] = frozenset()
    clauses: frozenset[str] = frozenset()

    def spans(self, body: str) -> list[tuple[int, int]]:
        """Character ranges of `body` that are template, in order."""
        out: list[tuple[int, int]] = []
        section_level = 0  # > 0 while inside a template section opened at that heading level
        for start, end, text in _lines(body):
            m = _MD_HEADING.match(text)
            if m:
                level = len(m.group(1))
                if section_level and level <= section_level:
                    section_level = 0
                if _norm(m.group(2)) in self.headings:
                    section_level = level
            if section_level or _norm(text) in self.lines:
                out.append((start, end))
                continue
            clauses = [(s, e) for s, e, c in _clauses(text) if c in self.clauses]
            if clauses and sum(e - s for s, e in clauses) >= MOSTLY * len(text.strip()):
                out.append((start, end))
        return out

    def share(self, spans: list[tuple[int, int]], start: int, end: int, body: str) -> float:
        """Share of the non-blank characters of body[start:end] inside template `spans`."""
        total = sum(1 for ch in body[start:end] if not ch.isspace())
        if total == 0:
            return 0.0
        inside = sum(1 for s, e in spans for ch in body[max(s, start) : min(e, end)] if not ch.isspace())
        return inside / total

    def is_template(self, spans: list[tuple[int, int]], start: int, end: int, body: str) -> bool:
        return bool(spans) and self.share(spans, start, end, body) >= PASSAGE_SHARE


def learn_template(articles: Iterable[tuple[str, str | None]]) -> SiteTemplate:
    """The template of a corpus of (body, category) pairs (see the module docstring)."""
    heading_arts: dict[str, set[int]] = defaultdict(set)
    line_arts: dict[str, set[int]] = defaultdict(set)
    clause_arts: dict[str, set[int]] = defaultdict(set)
    category_of: list[str] = []
    for n, (body, category) in enumerate(articles):
        category_of.append(category or "")
        for _, _, text in _lines(body):
            heading = _heading(text)
            if heading:
                heading_arts[heading].add(n)
                continue
            line_arts[_norm(text)].add(n)
            for _, _, clause in _clauses(text):
                clause_arts[clause].add(n)
    total = len(category_of)
    several_categories = len(set(category_of)) > 1

    def repeated(arts: dict[str, set[int]], share: float) -> frozenset[str]:
        need = max(MIN_ARTICLES, share * total)
        keep = set()
        for unit, where in arts.items():
            if unit and len(where) >= need and (not several_categories or
                                                 len(Counter(category_of[i] for i in where)) > 1):
                keep.add(unit)
        return frozenset(keep)

    return SiteTemplate(repeated(heading_arts, HEADING_SHARE), repeated(line_arts, LINE_SHARE),
                        repeated(clause_arts, CLAUSE_SHARE))
