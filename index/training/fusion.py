"""Learned fusion: the BM25 weight and RRF constant, fitted on questions the tower never saw.

A trained query tower changes how far the vectors can be trusted; the fixed
1:1 reciprocal-rank fusion that suits the base model can then pull good dense
results down. The weights are chosen by grid search through the real
`Searcher.rank_articles` (statute boost, per-article cap and near-duplicate
collapse included), scored on out-of-fold vectors only: each question's
vector comes from a tower that was not trained on it.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace

import numpy as np

from index.evaluate import score_runs

log = logging.getLogger(__name__)

BM25_WEIGHTS = (0.0, 0.25, 0.5, 1.0)
RRF_KS = (20.0, 60.0)


@dataclass(frozen=True)
class FusionWeights:
    w_dense: float = 1.0
    w_bm25: float = 1.0
    rrf_k: float = 60.0

    def to_dict(self) -> dict:
        return asdict(self)


class FixedVectors:
    """An embedder that answers from precomputed query vectors (the out-of-fold ones).

    It claims the checksum of the index's own model because its vectors live in
    that model's space: the tower that made them was trained against that index.
    """

    def __init__(self, vectors: dict[str, np.ndarray], checksum: str, name: str = "out-of-fold"):
        self.vectors = vectors
        self.checksum = checksum
        self.name = name

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)


def rank_all(searcher, questions: dict[str, str], mode: str = "hybrid", k: int = 100) -> dict[str, list[str]]:
    return {qid: searcher.rank_articles(text, mode=mode, k=k) for qid, text in questions.items()}


def objective(metrics: dict[str, float]) -> float:
    """What the page is judged by: the first screen (Recall@10) and the first answer (MRR@10)."""
    return metrics["recall@10"] + metrics["mrr@10"]


def fit_fusion(searcher, questions: dict[str, str], qrels: dict[str, dict[str, int]]) -> tuple[FusionWeights, dict]:
    """The grid point with the best objective on `questions`; ties keep the earlier (simpler) point.

    `searcher` must already embed `questions` the out-of-fold way (FixedVectors).
    Returns the weights and the metrics they scored.
    """
    original = searcher.config
    qrels = {q: qrels[q] for q in questions}
    best: tuple[float, FusionWeights, dict] | None = None
    try:
        for w_bm25 in BM25_WEIGHTS:
            for rrf_k in RRF_KS if w_bm25 else RRF_KS[:1]:
                weights = FusionWeights(1.0, w_bm25, rrf_k)
                searcher.config = replace(original, w_dense=1.0, w_bm25=w_bm25, rrf_k=rrf_k)
                metrics = score_runs(rank_all(searcher, questions), qrels)
                log.info("fusion w_bm25=%.2f rrf_k=%.0f: R@10 %.4f MRR@10 %.4f", w_bm25, rrf_k,
                         metrics["recall@10"], metrics["mrr@10"])
                if best is None or objective(metrics) > best[0] + 1e-9:
                    best = (objective(metrics), weights, metrics)
    finally:
        searcher.config = original
    assert best is not None
    return best[1], best[2]
