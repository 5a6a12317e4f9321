"""Grouping the questions the articles do not answer, by meaning.

One unanswered question is noise; the same question asked twenty ways is an
article the firm should write. So weak questions (and questions a reader
marked 👎) are grouped by meaning: the redacted questions are embedded with the
search model and clustered greedily around their most frequent member
("leader" clustering at cosine >= 0.9). Leaders, not running centroids: the
mean of a few different legal questions is a generic "legal question" vector
that attracts everything (on the shipped model, centroid clustering at 0.9
merged wages, loans and traffic accidents into one group; leader clustering
kept eight test topics apart with no group split; see
tests/index/firm/test_insights.py). Each group then gets the nearest existing
article, which says whether the gap is a missing article or an article that
people cannot find.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

import numpy as np

from index.firm.querylog import QuestionRow

SIMILARITY = 0.9
MAX_CLUSTERED = 1000  # distinct gap questions embedded; the rest are rarer than all of these


@dataclass
class GapGroup:
    """Questions that mean the same thing and got no good answer."""

    label: str  # the most frequent wording
    count: int  # questions in the group (repeats included)
    examples: list[str]  # other wordings, most frequent first
    weak: int  # of `count`: the search itself judged the match weak
    disliked: int  # of `count`: a reader marked the answer 👎
    nearest_id: str | None = None
    nearest_title: str | None = None
    nearest_weak: bool = True  # still no good match today (False: an article answers it now)


_TRAIL = re.compile(r"[\s?？。.!！~～…,，;；]+$")


def _key(text: str) -> str:
    """What makes two wordings "the same question": case, width, spacing, end punctuation."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _TRAIL.sub("", re.sub(r"\s+", " ", text).strip())


def _display(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def cluster(texts: list[str], counts: list[int], vectors: np.ndarray,
            threshold: float = SIMILARITY) -> list[list[int]]:
    """Greedy leader clustering: indices of `texts` per group, biggest group first.

    Questions are taken most frequent first (ties: the one with the most
    neighbours above the threshold, so a central wording leads); each joins
    the group whose leader it is most similar to, if that is >= threshold,
    else it leads a new group. Comparing with the fixed leader, not with a
    moving centroid, keeps groups from drifting into "any legal question".
    """
    n = len(texts)
    if n == 0:
        return []
    sims = vectors @ vectors.T
    neighbours = (sims >= threshold).sum(axis=1)
    order = sorted(range(n), key=lambda i: (-counts[i], -int(neighbours[i]), i))
    leaders: list[int] = []
    groups: list[list[int]] = []
    for i in order:
        if leaders:
            s = sims[i, leaders]
            j = int(np.argmax(s))
            if s[j] >= threshold:
                groups[j].append(i)
                continue
        leaders.append(i)
        groups.append([i])
    groups.sort(key=lambda g: (-sum(counts[i] for i in g), g[0]))
    return groups


def find_gaps(rows: list[QuestionRow], searcher, top: int,
              threshold: float = SIMILARITY) -> tuple[list[GapGroup], list[str]]:
    """The `top` biggest groups of weak or 👎 questions, each with its nearest article, and notes
    for the reader of the report (what was left out)."""
    notes: list[str] = []
    by_key: dict[str, list[QuestionRow]] = {}
    for r in rows:
        if (r.weak or r.feedback == 0) and _key(r.query):
            by_key.setdefault(_key(r.query), []).append(r)
    if not by_key:
        return [], notes
    keys = sorted(by_key, key=lambda k: (-len(by_key[k]), k))
    if len(keys) > MAX_CLUSTERED:
        notes.append(f"未答上的问题共有 {len(keys)} 种不同说法，只对最常见的 {MAX_CLUSTERED} 种做了归并。")
        keys = keys[:MAX_CLUSTERED]
    texts = [Counter(_display(r.query) for r in by_key[k]).most_common(1)[0][0] for k in keys]
    counts = [len(by_key[k]) for k in keys]
    # the base model's vectors (a tower's or the adapter's judge): the 0.9 grouping was calibrated on them
    encoder = searcher.embedder.judge or searcher.embedder
    vectors = np.asarray(encoder.encode_queries(texts), dtype=np.float32)
    out: list[GapGroup] = []
    for members in cluster(texts, counts, vectors, threshold)[:top]:
        qs = [r for i in members for r in by_key[keys[i]]]
        ordered = sorted(members, key=lambda i: (-counts[i], i))
        group = GapGroup(
            label=texts[ordered[0]], count=len(qs), examples=[texts[i] for i in ordered[1:6]],
            weak=sum(r.weak for r in qs), disliked=sum(r.feedback == 0 for r in qs),
        )
        hits = searcher.search(group.label, k=1)
        if len(hits):
            group.nearest_id, group.nearest_title, group.nearest_weak = hits[0].article_id, hits[0].title, hits.weak
        out.append(group)
    return out, notes
