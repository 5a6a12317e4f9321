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
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from index.evaluate import score_runs
from index.training.fusion import FixedVectors, FusionWeights, best_of, grid_scores, rank_all
from index.training.pairs import IndexVectors, Pair
from index.training.tower import TrainConfig, encode_questions, train_query_tower

log = logging.getLogger(__name__)

VARIANTS = ("base dense", "base hybrid", "trained dense", "trained hybrid 1:1", "trained hybrid learned, 2 lists",
            "trained hybrid learned")
REPORTED = ("recall@1", "recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10")


@dataclass
class FoldResult:
    fold: int
    train_questions: int
    test_questions: int
    train_seconds: float
    fusion: FusionWeights
    metrics: dict[str, dict[str, float]]  # variant -> metric -> value


@dataclass
class CrossValidation:
    folds: list[FoldResult]
    oof_vectors: dict[str, np.ndarray] = field(repr=False)  # cleaned question -> out-of-fold vector
    base_vectors: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # the base model's, same keys

    def summary(self) -> dict[str, dict[str, list[float]]]:
        """variant -> metric -> [mean, sd] over folds."""
        out: dict[str, dict[str, list[float]]] = {}
        for variant in VARIANTS:
            out[variant] = {}
            for metric in REPORTED:
                values = [f.metrics[variant][metric] for f in self.folds]
                out[variant][metric] = [round(float(np.mean(values)), 4), round(float(np.std(values)), 4)]
        return out

    def to_dict(self) -> dict:
        return {
            "folds": [{"fold": f.fold, "train_questions": f.train_questions, "test_questions": f.test_questions,
                       "train_seconds": round(f.train_seconds, 1), "fusion": f.fusion.to_dict(),
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


def _score(searcher, questions: dict[str, str], qrels, mode: str) -> dict[str, float]:
    return score_runs(rank_all(searcher, questions, mode), {q: qrels[q] for q in questions})


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
    questions = {p.key: searcher.clean_query(p.text) for p in labelled}
    texts = list(questions.values())
    base = FixedVectors(dict(zip(texts, searcher.embedder.encode_queries(texts), strict=True)), searcher.embedder.checksum)
    splits = split_folds(list(questions), folds, config.seed)
    oof, seconds = out_of_fold_vectors(matrices, base_dir, prompt, labelled, mined, splits,
                                       searcher.clean_query, config, progress)
    trained = FixedVectors(oof, searcher.embedder.checksum, judge=base.vectors)  # a served tower has both
    original_embedder, original_config = searcher._embedder, searcher.config
    results = []
    try:
        for f, test in enumerate(splits):
            test_q = {q: questions[q] for q in test}
            rest_q = {q: questions[q] for g, qs in enumerate(splits) if g != f for q in qs}
            metrics: dict[str, dict[str, float]] = {}
            searcher._embedder = base
            metrics["base dense"] = _score(searcher, test_q, qrels, "dense")
            metrics["base hybrid"] = _score(searcher, test_q, qrels, "hybrid")
            searcher._embedder = trained
            metrics["trained dense"] = _score(searcher, test_q, qrels, "dense")
            metrics["trained hybrid 1:1"] = _score(searcher, test_q, qrels, "hybrid")
            grid = grid_scores(searcher, rest_q, qrels)
            two_lists, _ = best_of([g for g in grid if not g[0].w_base])
            searcher.config = replace(original_config, **two_lists.to_dict())
            metrics["trained hybrid learned, 2 lists"] = _score(searcher, test_q, qrels, "hybrid")
            weights, _ = best_of(grid)
            searcher.config = replace(original_config, **weights.to_dict())
            metrics["trained hybrid learned"] = _score(searcher, test_q, qrels, "hybrid")
            searcher.config = original_config
            results.append(FoldResult(f, len(rest_q), len(test_q), seconds[f], weights, metrics))
            if progress:
                progress(f"fold {f + 1}/{len(splits)}: trained hybrid R@10 {metrics['trained hybrid learned']['recall@10']:.3f} "
                         f"(base {metrics['base hybrid']['recall@10']:.3f}), fusion {weights}")
    finally:
        searcher._embedder, searcher.config = original_embedder, original_config
    return CrossValidation(results, oof, base.vectors)
