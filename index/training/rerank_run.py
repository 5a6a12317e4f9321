"""`python -m index train-reranker`: cross-validate the reranker by question, then train the final one.

Every figure is on questions the fold's reranker never saw, through the real
`Searcher.rank_articles` (the page's ranking) with the reranker attached:
- behind the base model's hybrid search, and
- behind a trained query tower (`--tower`), whose own out-of-fold question
  vectors (kept by `index train`) and per-fold learned fusion stand in for it —
  so "tower + reranker" is what serving both would give on unseen questions.
The folds are the tower's (same questions, same seed), so no fold's reranker
or tower has seen the questions it is scored on.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from index.evaluate import score_runs
from index.training.crossval import REPORTED, split_folds
from index.training.fusion import FixedVectors, rank_all
from index.training.pairs import mined_pairs
from index.training.reranker import (
    RerankConfig,
    RerankExample,
    rerank_examples,
    save_reranker,
    score_examples,
    train_reranker,
)

log = logging.getLogger(__name__)


class ModuleScorer:
    """The `Reranker.score` interface over a just-trained module (no save/load round trip)."""

    def __init__(self, module, tokenizer, max_length: int):
        self.module, self.tokenizer, self.max_length = module, tokenizer, max_length

    def score(self, question: str, passages: list[str]) -> np.ndarray:
        return score_examples(self.module, self.tokenizer, question, passages, self.max_length)


@dataclass
class TowerFolds:
    """What cross-validation needs of a trained tower: its out-of-fold vectors and per-fold fusion."""

    name: str
    vectors: dict[str, np.ndarray]  # cleaned question -> out-of-fold vector
    fusion: list[dict]  # fold -> learned weights (w_dense, w_bm25, rrf_k, w_base)
    folds: int
    seed: int

    @classmethod
    def load(cls, folder: Path) -> TowerFolds:
        from index.training.artifact import read_record
        from index.training.run import OOF_FILE

        record = read_record(folder)
        cv = record.get("cross_validation") or {}
        path = folder / OOF_FILE
        if not cv.get("folds") or not path.exists():
            raise ValueError(f"{folder}: the tower was trained without cross-validation (no out-of-fold vectors), "
                             "so a reranker cannot be judged behind it on unseen questions")
        data = np.load(path)
        vectors = dict(zip(data["questions"].tolist(), data["vectors"], strict=True))
        fusion = [f["fusion"] for f in cv["folds"]]
        return cls(record.get("name", folder.name), vectors, fusion, len(fusion),
                   int(record.get("training", {}).get("config", {}).get("seed", 0)))


@dataclass
class RerankCV:
    variants: list[str]
    folds: list[dict[str, dict[str, float]]]  # fold -> variant -> metric -> value
    seconds: list[float]

    def summary(self) -> dict[str, dict[str, list[float]]]:
        return {v: {m: [round(float(np.mean([f[v][m] for f in self.folds])), 4),
                        round(float(np.std([f[v][m] for f in self.folds])), 4)] for m in REPORTED}
                for v in self.variants}

    def to_dict(self) -> dict:
        return {"summary": self.summary(), "train_seconds": [round(s, 1) for s in self.seconds],
                "folds": [{v: {m: round(x, 4) for m, x in ms.items()} for v, ms in f.items()} for f in self.folds]}

    def table(self) -> str:
        rows = ["| first stage | " + " | ".join(REPORTED) + " |", "|---" * (len(REPORTED) + 1) + "|"]
        for variant, metrics in self.summary().items():
            rows.append(f"| {variant} | " + " | ".join(f"{a:.3f} ± {b:.3f}" for a, b in (metrics[m] for m in REPORTED))
                        + " |")
        return "\n".join(rows)


def mined_examples(searcher, depth: int) -> list[RerankExample]:
    """Titles and specific headings of the index `searcher` serves, as questions for their own article."""
    pairs = mined_pairs(searcher.layout.current())
    questions = {f"{p.source}:{i}": p.text for i, p in enumerate(pairs)}
    relevant = {f"{p.source}:{i}": {p.key} for i, p in enumerate(pairs)}
    return rerank_examples(searcher, questions, relevant, depth)


def _score_variant(searcher, questions: dict[str, str], qrels, reranker) -> dict[str, float]:
    searcher.reranker = reranker
    try:
        return score_runs(rank_all(searcher, questions, "hybrid"), {q: qrels[q] for q in questions})
    finally:
        searcher.reranker = None


def cross_validate_reranker(searcher, base_dir: Path, queries: dict[str, str], qrels: dict[str, dict[str, int]],
                            mined: list[RerankExample], config: RerankConfig, folds: int = 5,
                            tower: TowerFolds | None = None,
                            progress: Callable[[str], None] | None = None) -> RerankCV:
    say = progress or (lambda m: log.info("%s", m))
    keys = [q for q in queries if any(g > 0 for g in qrels.get(q, {}).values())]
    relevant = {q: {a for a, g in qrels[q].items() if g > 0} for q in keys}
    seed = tower.seed if tower else config.seed
    if tower and tower.folds != folds:
        raise ValueError(f"the tower was cross-validated with {tower.folds} folds, not {folds}: use --folds {tower.folds}")
    splits = split_folds(keys, folds, seed)
    labelled = {ex.key: ex for ex in rerank_examples(searcher, {q: queries[q] for q in keys}, relevant, config.depth)}
    cleaned = {q: searcher.question_text(queries[q]) for q in keys}
    base_vectors = dict(zip(cleaned.values(), searcher.embedder.encode_queries(list(cleaned.values())), strict=True))
    variants = ["base hybrid", "base hybrid + reranker"]
    if tower:
        missing = [t for t in cleaned.values() if t not in tower.vectors]
        if missing:
            raise ValueError(f"{len(missing)} questions have no out-of-fold vector in tower {tower.name} "
                             f"(e.g. {missing[0]!r}): it was trained on other questions")
        variants += [f"tower {tower.name}, learned fusion", f"tower {tower.name}, learned fusion + reranker"]
    original_embedder, original_config = searcher._embedder, searcher.config
    results, seconds = [], []
    try:
        for f, test in enumerate(splits):
            held = set(test)
            train = [ex for k, ex in labelled.items() if k not in held] + list(mined)
            t = time.perf_counter()
            module, tokenizer, _ = train_reranker(base_dir, train, config,
                                                  progress=lambda m, f=f: say(f"fold {f + 1}/{folds} {m}"))
            seconds.append(time.perf_counter() - t)
            scorer = ModuleScorer(module, tokenizer, config.max_length)
            test_q = {q: queries[q] for q in test}
            metrics: dict[str, dict[str, float]] = {}
            searcher._embedder = FixedVectors(base_vectors, original_embedder.checksum)
            metrics["base hybrid"] = _score_variant(searcher, test_q, qrels, None)
            metrics["base hybrid + reranker"] = _score_variant(searcher, test_q, qrels, scorer)
            if tower:
                searcher._embedder = FixedVectors(tower.vectors, original_embedder.checksum, judge=base_vectors)
                searcher.config = replace(original_config, **tower.fusion[f])
                metrics[variants[2]] = _score_variant(searcher, test_q, qrels, None)
                metrics[variants[3]] = _score_variant(searcher, test_q, qrels, scorer)
                searcher.config = original_config
            searcher._embedder = original_embedder
            results.append(metrics)
            last = variants[-1]
            say(f"fold {f + 1}/{folds}: {last} R@10 {metrics[last]['recall@10']:.3f} MRR@10 "
                f"{metrics[last]['mrr@10']:.3f} (without: {metrics[variants[-2]]['recall@10']:.3f} / "
                f"{metrics[variants[-2]]['mrr@10']:.3f})")
    finally:
        searcher._embedder, searcher.config, searcher.reranker = original_embedder, original_config, None
    return RerankCV(variants, results, seconds)


def train_and_save(searcher, base_dir: Path, queries: dict[str, str], qrels: dict[str, dict[str, int]],
                   mined: list[RerankExample], config: RerankConfig, out_root: Path, name: str,
                   cv: RerankCV | None, progress: Callable[[str], None] | None = None) -> tuple[Path, dict]:
    """The final reranker from every labelled question plus the mined pairs; returns (folder, record)."""
    keys = [q for q in queries if any(g > 0 for g in qrels.get(q, {}).values())]
    relevant = {q: {a for a, g in qrels[q].items() if g > 0} for q in keys}
    labelled = rerank_examples(searcher, {q: queries[q] for q in keys}, relevant, config.depth)
    examples = labelled + list(mined)
    if not examples:
        raise ValueError("nothing to train a reranker on: no labelled questions and no titles or headings")
    t = time.perf_counter()
    module, tokenizer, losses = train_reranker(base_dir, examples, config,
                                               progress=lambda m: (progress or log.info)(f"final {m}"))
    record = {
        "base_model_dir": str(base_dir),
        "trained_against": {"index": str(searcher.layout.root), "version": searcher.version},
        "config": config.to_dict(),
        "training": {"labelled": len(labelled), "mined": len(mined), "losses": [round(x, 4) for x in losses],
                     "seconds": round(time.perf_counter() - t, 1)},
        "cross_validation": cv.to_dict() if cv else None,
    }
    return save_reranker(module, tokenizer, out_root, name, record), record
