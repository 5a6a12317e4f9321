"""k-fold cross-validation by question: every trained figure is on questions the tower never saw.

For each fold a tower is trained on the other folds' labelled questions
(plus the mined pairs, which carry no labels), then the fold's questions are
encoded with it: their out-of-fold vectors. All scoring goes through the real
`Searcher.rank_articles` — the page's ranking, statute boost and shaping —
with those vectors. Learned fusion for fold f is fitted on the other folds'
out-of-fold vectors only (nested, so fold f's figures never see fold f).
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.search.answered import FoldMemory, QuestionMemory, build_memory
from index.search.config import FusionWeights
from index.search.evaluate import score_runs
from index.search.ranker import Ranker
from index.training.pairs import IndexVectors, Pair
from index.training.tower import TrainConfig, encode_questions, train_query_tower
from index.training.weights import (
    FixedVectors,
    best_of,
    grid_scores,
    memory_scores,
    rank_all,
    tail_objective,
    tail_scores,
)

log = logging.getLogger(__name__)

VARIANTS = ("base dense", "base hybrid", "trained dense", "trained hybrid 1:1", "trained hybrid learned, 2 lists",
            "trained hybrid learned")
MEMORY_VARIANTS = ("base hybrid + answered questions", "trained hybrid learned + answered questions",
                   "trained hybrid learned + answered questions + recall tail")
REPORTED = ("recall@1", "recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10")


@dataclass
class FoldResult:
    fold: int
    train_questions: int
    test_questions: int
    train_seconds: float
    fusion: FusionWeights
    metrics: dict[str, dict[str, float]]  # variant -> metric -> value
    # memory variant -> its fitted w_memory (the recall-tail variant: its fitted w_memory_tail)
    memory_votes: dict[str, float] = field(default_factory=dict)


@dataclass
class CrossValidation:
    folds: list[FoldResult]
    oof_vectors: dict[str, np.ndarray] = field(repr=False)  # cleaned question -> out-of-fold vector
    base_vectors: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # the base model's, same keys
    splits: list[list[str]] = field(default_factory=list, repr=False)  # fold -> question keys

    def summary(self) -> dict[str, dict[str, list[float]]]:
        """variant -> metric -> [mean, sd] over folds."""
        out: dict[str, dict[str, list[float]]] = {}
        for variant in [v for v in (*VARIANTS, *MEMORY_VARIANTS) if all(v in f.metrics for f in self.folds)]:
            out[variant] = {}
            for metric in REPORTED:
                values = [f.metrics[variant][metric] for f in self.folds]
                out[variant][metric] = [round(float(np.mean(values)), 4), round(float(np.std(values)), 4)]
        return out

    def to_dict(self) -> dict:
        return {
            "folds": [{"fold": f.fold, "train_questions": f.train_questions, "test_questions": f.test_questions,
                       "train_seconds": round(f.train_seconds, 1), "fusion": f.fusion.to_dict(),
                       "memory_votes": f.memory_votes,
                       "metrics": {v: {m: round(x, 4) for m, x in ms.items()} for v, ms in f.metrics.items()}}
                      for f in self.folds],
            "summary": self.summary(),
        }

    def table(self) -> str:
        rows = ["| variant | " + " | ".join(REPORTED) + " |", "|---" * (len(REPORTED) + 1) + "|"]
        for variant, metrics in self.summary().items():
            cells = [f"{mean:.3f} ± {sd:.3f}" for mean, sd in (metrics[m] for m in REPORTED)]
            rows.append(f"| {variant} | " + " | ".join(cells) + " |")
        return "\n".join(rows)


def split_folds(keys: list[str], k: int, seed: int = 0) -> list[list[str]]:
    """Questions shuffled once (seeded) and dealt round-robin into `k` folds."""
    if k < 2 or k > len(keys):
        raise ValueError(f"cross-validation needs 2 <= folds <= questions ({len(keys)}), not {k}")
    order = sorted(keys)
    random.Random(seed).shuffle(order)
    return [order[i::k] for i in range(k)]


def _score(ranker: Ranker, questions: dict[str, str], qrels, mode: str) -> dict[str, float]:
    return score_runs(rank_all(ranker, questions, mode), {q: qrels[q] for q in questions})


def out_of_fold_vectors(matrices: list[np.ndarray], base_dir: Path, prompt: str, labelled: list[Pair],
                        mined: list[Pair], folds: list[list[str]], clean: Callable[[str], str],
                        config: TrainConfig, progress=None) -> tuple[dict[str, np.ndarray], list[float]]:
    """Train one tower per fold; each fold's questions are encoded by the tower that never saw them."""
    oof: dict[str, np.ndarray] = {}
    seconds: list[float] = []
    for f, test in enumerate(folds):
        held = set(test)
        t = time.perf_counter()
        train = [p for p in labelled if p.key not in held]
        tower = train_query_tower(base_dir, prompt, matrices, train, mined, config,
                                  progress=(lambda m, f=f: progress(f"fold {f + 1}/{len(folds)} {m}")) if progress else None)
        seconds.append(time.perf_counter() - t)
        texts = [clean(p.text) for p in labelled if p.key in held]
        oof.update(zip(texts, encode_questions(tower, texts, prompt), strict=True))
        del tower
    return oof, seconds


def cross_validate(searcher, base_dir: Path, labelled: list[Pair], mined: list[Pair],
                   qrels: dict[str, dict[str, int]], config: TrainConfig, folds: int = 5,
                   progress: Callable[[str], None] | None = None,
                   matrices: list[np.ndarray] | None = None) -> CrossValidation:
    """Figures for base vs trained (dense, hybrid 1:1, hybrid with learned fusion of two lists — tower and
    BM25 — and of three, the base model's own dense list added), mean ± sd over folds.

    `searcher` is opened on the index with its base embedder; it is reused
    with fixed vectors (base, then out-of-fold) so nothing is loaded twice.
    """
    matrices = matrices or [IndexVectors.load(searcher.layout.current()).vectors]
    prompt = searcher.embedder.query_prompt
    questions = {p.key: searcher.question_text(p.text) for p in labelled}
    texts = list(questions.values())
    base = FixedVectors(dict(zip(texts, searcher.embedder.encode_queries(texts), strict=True)), searcher.embedder.checksum)
    splits = split_folds(list(questions), folds, config.seed)
    oof, seconds = out_of_fold_vectors(matrices, base_dir, prompt, labelled, mined, splits,
                                       searcher.question_text, config, progress)
    trained = FixedVectors(oof, searcher.embedder.checksum, judge=base.vectors)  # a served tower has both
    base_ranker, trained_ranker = searcher.ranker(encoder=base, memory=None), searcher.ranker(encoder=trained, memory=None)
    results = []
    for f, test in enumerate(splits):
        test_q = {q: questions[q] for q in test}
        rest_q = {q: questions[q] for g, qs in enumerate(splits) if g != f for q in qs}
        metrics: dict[str, dict[str, float]] = {}
        metrics["base dense"] = _score(base_ranker, test_q, qrels, "dense")
        metrics["base hybrid"] = _score(base_ranker, test_q, qrels, "hybrid")
        metrics["trained dense"] = _score(trained_ranker, test_q, qrels, "dense")
        metrics["trained hybrid 1:1"] = _score(trained_ranker, test_q, qrels, "hybrid")
        grid = grid_scores(trained_ranker, rest_q, qrels)
        two_lists, _ = best_of([g for g in grid if not g[0].w_base])
        metrics["trained hybrid learned, 2 lists"] = _score(trained_ranker.with_weights(**two_lists.to_dict()),
                                                            test_q, qrels, "hybrid")
        weights, _ = best_of(grid)
        metrics["trained hybrid learned"] = _score(trained_ranker.with_weights(**weights.to_dict()), test_q, qrels,
                                                   "hybrid")
        results.append(FoldResult(f, len(rest_q), len(test_q), seconds[f], weights, metrics))
        if progress:
            progress(f"fold {f + 1}/{len(splits)}: trained hybrid R@10 {metrics['trained hybrid learned']['recall@10']:.3f} "
                     f"(base {metrics['base hybrid']['recall@10']:.3f}), fusion {weights}")
    return CrossValidation(results, oof, base.vectors, splits)


def answered_memory(questions: dict[str, str], qrels: dict[str, dict[str, int]],
                    base_vectors: dict[str, np.ndarray]) -> QuestionMemory:
    """The labelled questions (cleaned texts, base-model vectors) and the articles answering each."""
    keys = list(questions)
    return build_memory([questions[q] for q in keys], np.stack([base_vectors[questions[q]] for q in keys]),
                        [sorted(a for a, g in qrels[q].items() if g > 0) for q in keys])


def add_memory_variants(searcher, cv: CrossValidation, questions: dict[str, str],
                        qrels: dict[str, dict[str, int]], progress: Callable[[str], None] | None = None) -> None:
    """Score the answered-question memory on top of base hybrid and of the learned tower fusion, per fold.

    Fold f's memory holds every other fold's questions; its vote weight is fitted on those other
    folds, each question answered from a memory without its own fold (FoldMemory). Adds the
    MEMORY_VARIANTS to each fold's metrics; `questions`: key -> cleaned text.
    """
    memory = answered_memory(questions, qrels, cv.base_vectors)
    fold_of = {questions[q]: f for f, qs in enumerate(cv.splits) for q in qs}
    base = FixedVectors(cv.base_vectors, searcher.embedder.checksum)
    trained = FixedVectors(cv.oof_vectors, searcher.embedder.checksum, judge=cv.base_vectors)
    config = searcher.config
    defaults = FusionWeights(config.w_dense, config.w_bm25, config.rrf_k)
    for f, (fold, test) in enumerate(zip(cv.folds, cv.splits, strict=True)):
        test_q = {q: questions[q] for q in test}
        rest_q = {q: questions[q] for g, qs in enumerate(cv.splits) if g != f for q in qs}
        for variant, encoder, start in ((MEMORY_VARIANTS[0], base, defaults),
                                        (MEMORY_VARIANTS[1], trained, fold.fusion)):
            ranker = searcher.ranker(encoder=encoder, memory=FoldMemory(memory, fold_of, held_out=f))
            weights, _ = best_of(memory_scores(ranker, rest_q, qrels, start))
            fold.metrics[variant] = _score(ranker.with_weights(**weights.to_dict()), test_q, qrels, "hybrid")
            fold.memory_votes[variant] = weights.w_memory
            if variant == MEMORY_VARIANTS[1]:  # the served path: the tail's vote, fitted on the same folds
                weights, _ = best_of(tail_scores(ranker, rest_q, qrels, weights), tail_objective)
                fold.metrics[MEMORY_VARIANTS[2]] = _score(ranker.with_weights(**weights.to_dict()), test_q, qrels,
                                                          "hybrid")
                fold.memory_votes[MEMORY_VARIANTS[2]] = weights.w_memory_tail
        if progress:
            m, was = fold.metrics[MEMORY_VARIANTS[2]], fold.metrics["trained hybrid learned"]
            votes = fold.memory_votes
            progress(f"fold {f + 1}/{len(cv.splits)}: + answered questions (vote {votes[MEMORY_VARIANTS[1]]}, "
                     f"tail {votes[MEMORY_VARIANTS[2]]}): "
                     f"R@10 {was['recall@10']:.3f} -> {m['recall@10']:.3f}, MRR@10 {was['mrr@10']:.3f} -> "
                     f"{m['mrr@10']:.3f}, R@100 {was['recall@100']:.3f} -> {m['recall@100']:.3f}")


def fit_memory_vote(searcher, cv: CrossValidation, questions: dict[str, str], qrels: dict[str, dict[str, int]],
                    weights: FusionWeights) -> tuple[QuestionMemory, FusionWeights, dict]:
    """The served memory (every labelled question) and its vote weights (the first screen's, then the
    tail's), fitted on all out-of-fold vectors with each question answered from a memory without its
    own fold."""
    memory = answered_memory(questions, qrels, cv.base_vectors)
    fold_of = {questions[q]: f for f, qs in enumerate(cv.splits) for q in qs}
    ranker = searcher.ranker(encoder=FixedVectors(cv.oof_vectors, searcher.embedder.checksum, judge=cv.base_vectors),
                             memory=FoldMemory(memory, fold_of, held_out=None))
    best, _ = best_of(memory_scores(ranker, questions, qrels, weights))
    best, metrics = best_of(tail_scores(ranker, questions, qrels, best), tail_objective)
    return memory, best, metrics
