"""Reciprocal-rank fusion and result shaping (per-article cap, near-duplicate collapse).

RRF needs no score calibration between BM25 and cosine, which have nothing
in common but their order; weights let one list count more than the other.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def rrf(rankings: Sequence[Sequence[int]], weights: Sequence[float], k: float = 60.0) -> dict[int, float]:
    """{item: sum_i w_i / (k + rank_i)} with ranks starting at 1."""
    fused: dict[int, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        if w == 0:
            continue
        for rank, item in enumerate(ranking, start=1):
            fused[int(item)] = fused.get(int(item), 0.0) + w / (k + rank)
    return fused


def order(scores: dict[int, float]) -> list[int]:
    return sorted(scores, key=lambda i: (-scores[i], i))


def shingles(text: str, n: int = 3) -> frozenset[str]:
    """Character n-grams of the text with all whitespace removed.

    `str.split()` drops exactly the characters `str.isspace()` accepts, in C:
    the per-character generator it replaces was half of `shape`'s time.
    """
    compact = "".join(text.split())
    if len(compact) <= n:
        return frozenset([compact]) if compact else frozenset()
    return frozenset({compact[i : i + n] for i in range(len(compact) - n + 1)})


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)  # |a ∪ b| without building the union


def shape(
    ranked: Iterable[int],
    article_of: np.ndarray | dict[int, str],
    text_of,
    k: int,
    per_article: int = 2,
    dup_threshold: float = 0.7,
    max_articles: int | None = None,
) -> list[int]:
    """Take passages in order, at most `per_article` per article, skipping near-duplicates.

    The firm's site has templated near-copies of one article; a passage that
    shares most of its 3-grams with one already shown adds nothing. Stops after
    `k` passages, or once `max_articles` distinct articles are in (evaluation
    needs the first 100 articles, not every candidate shaped).
    """
    taken: list[int] = []
    per: dict = {}
    seen: list[frozenset[str]] = []
    for pos in ranked:
        art = article_of[pos]
        if per.get(art, 0) >= per_article:
            continue
        sh = shingles(text_of(pos))
        if any(jaccard(sh, other) >= dup_threshold for other in seen):
            continue
        taken.append(pos)
        per[art] = per.get(art, 0) + 1
        seen.append(sh)
        if len(taken) >= k or (max_articles is not None and len(per) >= max_articles):
            break
    return taken
