"""Passage-level quality: does the card a client reads hold the sentences that answer?

Article-level figures (`index.search.evaluate`) score which article ranks
first; a client reads the passage on the card. This module scores the cards
themselves against answer spans: for each question and each article that
answers it, the verbatim sentences of the article that answer
(`eval/answers.jsonl`). Spans are chunking-independent: they are located in
the stored article body, and a card counts when its passage covers at least
half of one span (`MIN_COVER`) — a passage that only grazes an answer's first
characters does not.

Figures, all over the first `k` cards of `Searcher.search` as served:
- answer@1, answer@3: share of answerable questions whose first card / one of
  the first three cards holds an answer span;
- repeated_article: share of questions with two or more cards from one article;
- one_char_marks: share of highlight marks one character long (stray marks);
- noanswer_flagged: share of unanswerable questions the search flags as weak;
- answerable_flagged: share of answerable questions wrongly flagged as weak.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from index.search.evaluate import json_lines

MIN_COVER = 0.5  # a card holds a span when it covers at least this share of the span's characters
# Markdown marks and whitespace are not part of what a sentence says: ignored when locating it
_IGNORED = set(" \t\r\n\u3000*#`>_")

ANSWER_METRICS = ("answer@1", "answer@3", "repeated_article", "one_char_marks", "noanswer_flagged",
                  "answerable_flagged")


@dataclass
class AnswerSet:
    """Questions, their answer sentences per article, and questions nothing answers."""

    queries: dict[str, str]
    answers: dict[str, dict[str, list[str]]]  # qid -> article id -> verbatim sentences
    noanswer: dict[str, str] = field(default_factory=dict)


def load_answers(path: Path) -> dict[str, dict[str, list[str]]]:
    """`{"qid", "article_id", "sentences": [...]}` per line; ValueError naming the line otherwise."""
    out: dict[str, dict[str, list[str]]] = {}
    shape = '{"qid", "article_id", "sentences"}'
    for n, rec in json_lines(path, shape):
        try:
            sentences = [str(s) for s in rec["sentences"] if str(s).strip()]
            out.setdefault(str(rec["qid"]), {}).setdefault(str(rec["article_id"]), []).extend(sentences)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: expected {shape}: {exc}") from exc
    return out


def _squeezed(text: str) -> tuple[str, list[int]]:
    """`text` without ignored characters, and each kept character's offset in `text`."""
    kept, where = [], []
    for i, ch in enumerate(text):
        if ch not in _IGNORED:
            kept.append(ch)
            where.append(i)
    return "".join(kept), where


def locate(body: str, sentence: str) -> tuple[int, int] | None:
    """(start, end) of `sentence` in `body`, ignoring whitespace and Markdown marks; None if absent."""
    hay, where = _squeezed(body)
    needle, _ = _squeezed(sentence)
    if not needle:
        return None
    at = hay.find(needle)
    if at < 0:
        return None
    return where[at], where[at + len(needle) - 1] + 1


def holds_answer(start: int, end: int, spans: Iterable[tuple[int, int]]) -> bool:
    """Whether the passage body[start:end] covers at least MIN_COVER of one span."""
    for s, e in spans:
        if min(end, e) - max(start, s) >= MIN_COVER * (e - s):
            return True
    return False


class SpanIndex:
    """Answer spans located in the served articles' bodies, cached per article."""

    def __init__(self, searcher, answers: dict[str, dict[str, list[str]]]):
        self.searcher = searcher
        self.answers = answers
        self._spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self.missing: list[tuple[str, str, str]] = []  # (qid, article, sentence) not found in the body

    def spans(self, qid: str, article_id: str) -> list[tuple[int, int]]:
        key = (qid, article_id)
        if key not in self._spans:
            sentences = self.answers.get(qid, {}).get(article_id, [])
            found = self.searcher.article(article_id) if sentences else None
            body = found[0].body if found else ""
            located = []
            for sentence in sentences:
                span = locate(body, sentence)
                if span is None:
                    self.missing.append((qid, article_id, sentence))
                else:
                    located.append(span)
            self._spans[key] = located
        return self._spans[key]


def score_answers(searcher, answer_set: AnswerSet, k: int = 5, **search_kwargs) -> dict[str, float]:
    """The ANSWER_METRICS over the first `k` cards of every question (see the module docstring)."""
    index = SpanIndex(searcher, answer_set.answers)
    first = top3 = repeated = flagged = 0
    marks = single = 0
    answerable = [q for q in answer_set.queries if answer_set.answers.get(q)]
    for qid in answerable:
        hits = searcher.search(answer_set.queries[qid], k=k, **search_kwargs)
        held = [holds_answer(h.start, h.end, index.spans(qid, h.article_id)) for h in hits]
        first += bool(held[:1] and held[0])
        top3 += any(held[:3])
        articles = [h.article_id for h in hits]
        repeated += len(articles) != len(set(articles))
        flagged += hits.weak
        for h in hits:
            marks += len(h.match_spans)
            single += sum(1 for s, e in h.match_spans if e - s == 1)
    noanswer_flagged = sum(searcher.search(q, k=k, **search_kwargs).weak for q in answer_set.noanswer.values())
    n = max(1, len(answerable))
    return {
        "answer@1": first / n, "answer@3": top3 / n, "repeated_article": repeated / n,
        "one_char_marks": single / marks if marks else 0.0,
        "noanswer_flagged": noanswer_flagged / len(answer_set.noanswer) if answer_set.noanswer else float("nan"),
        "answerable_flagged": flagged / n,
        "questions": len(answerable), "unanswerable": len(answer_set.noanswer),
        "spans_not_found": len(index.missing),
    }


def format_answers(results: dict[str, float]) -> str:
    """One line per figure, as `index eval` prints it."""
    names = {"answer@1": "answer in card 1", "answer@3": "answer in cards 1-3",
             "repeated_article": "questions with two cards from one article",
             "one_char_marks": "one-character highlight marks", "noanswer_flagged": "unanswerable questions flagged",
             "answerable_flagged": "answerable questions flagged"}
    lines = [f"{names[m]:<44} {results[m]:.3f}" for m in ANSWER_METRICS]
    lines.append(f"({results['questions']} answerable, {results['unanswerable']} unanswerable questions; "
                 f"{results['spans_not_found']} answer sentences not found in the index)")
    return "\n".join(lines)
