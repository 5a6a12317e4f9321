"""Reciprocal-rank fusion and result shaping (per-article cap, near-copies folded into the hit they copy).

RRF needs no score calibration between BM25 and cosine, which have nothing
in common but their order; weights let one list count more than the other.
"""
from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

import numpy as np


def rrf(rankings: Sequence[Sequence[int]], weights: Sequence[float], k: float = 60.0) -> dict[int, float]:
    """{item: sum_i w_i / (k + rank_i)} with ranks starting at 1."""
    return rrf_ranked(rankings, weights, k)[1]


def rrf_ranked(rankings: Sequence[Sequence[int]] | Sequence[np.ndarray], weights: Sequence[float],
               k: float = 60.0) -> tuple[list[int], dict[int, float]]:
    """`order(rrf(...))` and `rrf(...)` in one pass, in numpy.

    Why: a hybrid search fuses two lists of 300 candidates; the per-item Python
    loop and the keyed sort held the GIL for a measurable part of every search,
    and the GIL is what two concurrent searches queue for (measured:
    docs/decisions/serving-concurrency-screens.md). Sums are added in the
    same order as the loop they replace (list by list, rank by rank), so the
    scores are the same floats.
    """
    ids_parts: list[np.ndarray] = []
    weight_parts: list[np.ndarray] = []
    for ranking, w in zip(rankings, weights, strict=True):
        if w == 0 or len(ranking) == 0:
            continue
        ids_parts.append(np.asarray(ranking, dtype=np.int64))
        weight_parts.append(w / (k + np.arange(1, len(ranking) + 1, dtype=np.float64)))
    if not ids_parts:
        return [], {}
    items, where = np.unique(np.concatenate(ids_parts), return_inverse=True)
    sums = np.bincount(where, weights=np.concatenate(weight_parts))
    ranked = items[np.lexsort((items, -sums))]  # best first; ties by item, as `order`
    return ranked.tolist(), dict(zip(items.tolist(), sums.tolist(), strict=True))


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


def shape(ranked: Iterable[int], article_of: np.ndarray | dict[int, str], text_of, k: int, **options) -> list[int]:
    """The passages `shape_grouped` takes (the near-copies it folds into them left out); same options."""
    return shape_grouped(ranked, article_of, text_of, k, **options)[0]


def shape_grouped(
    ranked: Iterable[int],
    article_of: np.ndarray | dict[int, str],
    text_of,
    k: int,
    per_article: int = 2,
    dup_threshold: float = 0.7,
    max_articles: int | None = None,
    more: dict[int, list[int]] | None = None,
    more_per_card: int = 3,
) -> tuple[list[int], dict[int, list[int]]]:
    """Passages in order, at most `per_article` per article; a near-duplicate of one already taken is
    folded into it instead of shown again.

    The firm's site has templated near-copies of one article (逾期三个月 / 七个月 / 十二个月), and a
    statute corpus repeats the same text in several laws (民法典 and the law it replaced, a national
    rule copied into a local one); a passage sharing most of its 3-grams with one already shown adds
    nothing to read. Its *article* still answers, though, and dropping it hid answers: so it is kept
    as the taken passage's duplicate, one per article not already in the list (the page shows them
    as "相同内容也见于", and article rankings list them right after the hit they copy). Folding
    instead of dropping raised recall both on STARD (5-fold CV, served path) and on the shipped
    relevance set (measured: docs/decisions/search-path-figures.md).

    Returns (taken positions, taken position -> folded positions). Stops after `k` taken
    passages, or once `max_articles` distinct articles (taken or folded) are in (evaluation needs
    the first 100 articles, not every candidate shaped). `more`, when given, collects for each
    article's first taken passage the article's further ranked passages that the cap left out
    (at most `more_per_card`, in ranked order): the card's "本文其他相关段落".
    """
    taken: list[int] = []
    folded: dict[int, list[int]] = {}
    per: dict = {}
    listed: set = set()  # articles taken or folded
    seen = _ShownShingles(dup_threshold)
    first_of: dict = {}  # article -> its first taken passage
    for pos in ranked:
        art = article_of[pos]
        if per.get(art, 0) >= per_article:
            # not a card of its own, but still what the article's card stands for: a later near-copy of
            # it folds into that card, as it would into this passage's card without the cap
            seen.add(shingles(text_of(pos)), first_of[art])
            if more is not None and len(more.setdefault(first_of[art], [])) < more_per_card:
                more[first_of[art]].append(pos)
            continue
        sh = shingles(text_of(pos))
        original = seen.original_of(sh)
        if original is not None:
            if art not in listed:
                folded.setdefault(original, []).append(pos)
                listed.add(art)
                if max_articles is not None and len(listed) >= max_articles:
                    break
            continue
        taken.append(pos)
        first_of.setdefault(art, pos)
        per[art] = per.get(art, 0) + 1
        listed.add(art)
        seen.add(sh, pos)
        if len(taken) >= k or (max_articles is not None and len(listed) >= max_articles):
            break
    return taken, folded


class _ShownShingles:
    """The shingle sets already shown, kept sorted by size so a new one meets only those it could match.

    Why: Jaccard(a, b) <= min(|a|, |b|) / max(|a|, |b|), so only sets within a
    factor `threshold` of each other in size can reach the threshold. Comparing
    every shown passage was most of the time spent ranking 100 articles
    (`index eval`, the fusion fits of `index train`); skipping the sets that
    cannot match cuts it, every ranking the same (measured:
    docs/decisions/search-path-figures.md).
    """

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.sizes: list[int] = []
        self.sets: list[frozenset[str]] = []
        self.owners: list[int] = []  # the passage each set came from
        self.order: list[int] = []  # insertion number of each set: the earliest match wins

    def near_duplicate(self, sh: frozenset[str]) -> bool:
        return self.original_of(sh) is not None

    def original_of(self, sh: frozenset[str]) -> int | None:
        """The earliest-added passage `sh` is a near-duplicate of, else None."""
        if self.threshold <= 0:  # everything is a near-duplicate of something; no size bound applies
            lo, hi = 0, len(self.sets)
        else:
            n = len(sh)
            # a hair wider than the bound: 100 * 0.07 is 7.000000000000001 in floats, and 7 of 100 is a copy at 0.07
            lo = bisect.bisect_left(self.sizes, n * self.threshold * (1 - 1e-9))
            hi = bisect.bisect_right(self.sizes, n / self.threshold * (1 + 1e-9))
        best = None
        for i in range(lo, hi):
            if jaccard(sh, self.sets[i]) >= self.threshold and (best is None or self.order[i] < self.order[best]):
                best = i
        return None if best is None else self.owners[best]

    def add(self, sh: frozenset[str], owner: int = -1) -> None:
        at = bisect.bisect_right(self.sizes, len(sh))
        self.sizes.insert(at, len(sh))
        self.sets.insert(at, sh)
        self.owners.insert(at, owner)
        self.order.insert(at, len(self.order))
