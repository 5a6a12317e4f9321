"""Learned fusion: the BM25 weight, the RRF constant and (with a tower) the base model's own list,
fitted on questions the tower never saw.

A trained query tower changes how far the vectors can be trusted; the fixed
1:1 reciprocal-rank fusion that suits the base model can then pull good dense
results down. The weights are chosen by grid search through the real
`Ranker.rank_articles` (statute boost, per-article cap and near-duplicate
collapse included), scored on out-of-fold vectors only: each question's
vector comes from a tower that was not trained on it.
"""
from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from index.search.config import FusionWeights
from index.search.evaluate import score_runs
from index.search.ranker import Ranker

log = logging.getLogger(__name__)

BM25_WEIGHTS = (0.0, 0.25, 0.5, 1.0)
RRF_KS = (20.0, 60.0)
BASE_WEIGHTS = (0.0, 0.25, 0.5, 1.0)  # the base model's own dense list beside the tower's (SearchConfig.w_base)
MEMORY_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)  # the answered questions' vote (SearchConfig.w_memory)
TAIL_WEIGHTS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0)  # their vote past the first screen (SearchConfig.w_memory_tail)


class FixedVectors:
    """A question encoder that answers from precomputed vectors (the out-of-fold ones).

    It claims the checksum of the index's own model because its vectors live in
    that model's space: the tower that made them was trained against that index.
    `judge`: the base model's vectors of the same questions, as a served tower has them.
    """

    def __init__(self, vectors: dict[str, np.ndarray], checksum: str, name: str = "out-of-fold",
                 judge: dict[str, np.ndarray] | None = None):
        self.vectors = vectors
        self.checksum = checksum
        self.name = name
        self.judge: FixedVectors | None = FixedVectors(judge, checksum, f"{name} judge") if judge else None

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)


def rank_all(ranker: Ranker, questions: dict[str, str], mode: str = "hybrid",
             k: int = 100) -> dict[str, list[str]]:
    return {qid: ranker.rank_articles(text, mode=mode, k=k) for qid, text in questions.items()}


def objective(metrics: dict[str, float]) -> float:
    """What the page is judged by: the first screen (Recall@10) and the first answer (MRR@10)."""
    return metrics["recall@10"] + metrics["mrr@10"]


def score_points(ranker: Ranker, questions: dict[str, str], qrels: dict[str, dict[str, int]],
                 points: list[FusionWeights], what: str = "fusion") -> list[tuple[FusionWeights, dict]]:
    """Metrics on `questions` of each point, in order: every point a full ranking of every question
    through the served path (`ranker` with the point's weights)."""
    qrels = {q: qrels[q] for q in questions}
    out = []
    for point in points:
        metrics = score_runs(rank_all(ranker.with_weights(**point.to_dict()), questions), qrels)
        log.info("%s %s: R@10 %.4f MRR@10 %.4f R@100 %.4f", what, point, metrics["recall@10"], metrics["mrr@10"],
                 metrics["recall@100"])
        out.append((point, metrics))
    return out


def grid_scores(ranker: Ranker, questions: dict[str, str],
                qrels: dict[str, dict[str, int]]) -> list[tuple[FusionWeights, dict]]:
    """Metrics on `questions` of each point tried, in the order tried (simpler first).

    Two stages, because every point is a full ranking of every question through
    the real page path: first the BM25 weight and RRF constant with two lists;
    then, only when the ranker's encoder has a judge (the base model's question
    vectors: a tower), the base model's own list at each `BASE_WEIGHTS` weight on
    top of the best two-list point. `ranker` must already embed `questions` the
    out-of-fold way (FixedVectors).
    """
    two = [FusionWeights(1.0, w_bm25, rrf_k) for w_bm25 in BM25_WEIGHTS for rrf_k in (RRF_KS if w_bm25 else RRF_KS[:1])]
    out = score_points(ranker, questions, qrels, two)
    if ranker.encoder.judge is not None:
        best, _ = best_of(out)
        more = [replace(best, w_base=w_base, rrf_k=best.rrf_k if best.w_bm25 else RRF_KS[0])
                for w_base in BASE_WEIGHTS[1:]]
        out += score_points(ranker, questions, qrels, more)
    return out


def memory_scores(ranker: Ranker, questions: dict[str, str], qrels: dict[str, dict[str, int]],
                  weights: FusionWeights) -> list[tuple[FusionWeights, dict]]:
    """`weights` with each `MEMORY_WEIGHTS` vote of the answered questions (`ranker.memory`, which
    must never hold the asking question: `index.search.answered.FoldMemory`), scored as `grid_scores` does."""
    points = [replace(weights, w_memory=w_memory) for w_memory in MEMORY_WEIGHTS]
    return score_points(ranker, questions, qrels, points, "memory")


def tail_scores(ranker: Ranker, questions: dict[str, str], qrels: dict[str, dict[str, int]],
                weights: FusionWeights) -> list[tuple[FusionWeights, dict]]:
    """`weights` with each `TAIL_WEIGHTS` vote past the first screen (0: off, and any point not above
    `weights.w_memory` is off too), scored as `memory_scores` does (same memory rules)."""
    points = [replace(weights, w_memory_tail=w) for w in [0.0] + [w for w in TAIL_WEIGHTS if w > weights.w_memory]]
    return score_points(ranker, questions, qrels, points, "tail")


def tail_objective(metrics: dict[str, float]) -> float:
    """The tail is for depth (Recall@100); the first screen still counts, should the tail ever reach it."""
    return metrics["recall@100"] + objective(metrics)


def best_of(grid: list[tuple[FusionWeights, dict]], score=objective) -> tuple[FusionWeights, dict]:
    """The point with the best `score`; ties keep the earlier (simpler) point."""
    best: tuple[float, FusionWeights, dict] | None = None
    for weights, metrics in grid:
        if best is None or score(metrics) > best[0] + 1e-9:
            best = (score(metrics), weights, metrics)
    if best is None:
        raise ValueError("an empty fusion grid")
    return best[1], best[2]


def fit_fusion(ranker: Ranker, questions: dict[str, str],
               qrels: dict[str, dict[str, int]]) -> tuple[FusionWeights, dict]:
    """The grid point with the best objective on `questions` (see `grid_scores`, `best_of`).

    Returns the weights and the metrics they scored.
    """
    return best_of(grid_scores(ranker, questions, qrels))
