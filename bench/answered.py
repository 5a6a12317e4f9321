"""Answered questions (index.search.answered) on STARD, cross-validated from a trained tower's out-of-fold vectors.

No retraining: `index train` keeps each labelled question's out-of-fold vector
(from the fold tower that never saw it) and each fold's learned fusion beside
the tower. Fold f's memory holds the other folds' questions; its vote weight
is fitted on those folds, each answered from a memory without its own fold
(`index.search.answered.FoldMemory`), then fold f is scored through the real
`Searcher.rank_articles`. Same folds and seed as the tower's cross-validation.

    python -m bench.answered --tower var/bench/towers/stard-shipped   # docs/bench/answered.md + .json
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parent.parent / "docs" / "bench"


def cross_validation_from_tower(searcher, tower: Path, queries: dict[str, str], qrels: dict[str, dict[str, int]]):
    """The tower's CrossValidation (figures, out-of-fold vectors, folds) rebuilt from its folder."""
    from index.training.artifact import read_record
    from index.training.crossval import CrossValidation, FoldResult, split_folds
    from index.training.pairs import IndexVectors, labelled_pairs
    from index.training.run import OOF_FILE
    from index.training.weights import FusionWeights

    record = read_record(tower)
    cv = record["cross_validation"]
    pairs = labelled_pairs(IndexVectors.load(searcher.layout.current()), queries, qrels)
    splits = split_folds([p.key for p in pairs], len(cv["folds"]), record["training"]["config"]["seed"])
    data = np.load(tower / OOF_FILE)
    oof = dict(zip(data["questions"].tolist(), data["vectors"], strict=True))
    texts = [searcher.question_text(p.text) for p in pairs]
    base = dict(zip(texts, (searcher.embedder.judge or searcher.embedder).encode_queries(texts), strict=True))
    folds = [FoldResult(f["fold"], f["train_questions"], f["test_questions"], f["train_seconds"],
                        FusionWeights(**f["fusion"]), f["metrics"]) for f in cv["folds"]]
    return CrossValidation(folds, oof, base, splits), {p.key: searcher.question_text(p.text) for p in pairs}


def attach(searcher, tower: Path, cv, questions: dict[str, str], qrels: dict[str, dict[str, int]], log=print) -> None:
    """Write the answered-question memory into `tower` and its vote into the record's fusion (atomic
    replace of the record), exactly what `index train` writes for a tower it trains."""
    import os

    from index.search.answered import MEMORY_FILE
    from index.training.artifact import RECORD, read_record
    from index.training.crossval import fit_memory_vote
    from index.training.weights import FusionWeights

    record = read_record(tower)
    memory, weights, metrics = fit_memory_vote(searcher, cv, questions, qrels, FusionWeights(**record["fusion"]))
    memory.save(tower / MEMORY_FILE)
    record["fusion"] = weights.to_dict()
    record["cross_validation"]["summary"] = cv.summary()
    for fold, entry in zip(cv.folds, record["cross_validation"]["folds"], strict=True):
        entry["memory_votes"] = fold.memory_votes
    tmp = tower / f".{RECORD}.tmp"
    tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, tower / RECORD)
    log(f"attached {len(memory)} answered questions to {tower}, fusion {record['fusion']} "
        f"(all out-of-fold: R@10 {metrics['recall@10']:.3f}, MRR@10 {metrics['mrr@10']:.3f})")


def main(argv: list[str] | None = None) -> int:
    """Cross-validate the answered-question memory behind a trained tower (STARD)."""
    import argparse

    from bench.data import find_stard
    from bench.indexes import STARD_INDEX
    from index.search.evaluate import load_qrels, load_queries
    from index.search.searcher import Searcher
    from index.training.crossval import add_memory_variants

    parser = argparse.ArgumentParser(prog="python -m bench.answered", description=main.__doc__)
    parser.add_argument("--tower", required=True, help="a tower folder from `index train` with cross-validation")
    parser.add_argument("--out", default=str(DOCS / "answered"), help="report path without suffix")
    parser.add_argument("--attach", action="store_true",
                        help="also give the tower its memory and fitted vote, as `index train` now does "
                             "(for a tower trained before answered questions existed)")
    args = parser.parse_args(argv)
    stard, why = find_stard()
    if stard is None or not STARD_INDEX.exists():
        print(f"skipped: {why or 'no STARD index (make train-stard)'}")
        return 0
    started = time.perf_counter()
    searcher = Searcher.open(STARD_INDEX)
    queries, qrels = load_queries(stard.queries), load_qrels(stard.qrels)
    cv, questions = cross_validation_from_tower(searcher, Path(args.tower), queries, qrels)
    add_memory_variants(searcher, cv, questions, qrels, progress=print)
    if args.attach:
        attach(searcher, Path(args.tower), cv, questions, qrels, log=print)
    result = {"tower": Path(args.tower).name, "summary": cv.summary(),
              "memory_votes": [f.memory_votes for f in cv.folds],
              "seconds": round(time.perf_counter() - started, 1)}
    Path(args.out + ".json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    lines = ["## Answered questions (issue 13)", "",
             f"STARD, 5-fold cross-validation by question, behind tower `{result['tower']}` (mean ± sd over folds; "
             "fold f's memory holds only the other folds' questions, its vote weight fitted on those folds):", "",
             cv.table(), "",
             "Fitted vote weight per fold (base hybrid / tower / tower past the first 10 articles): "
             + ", ".join("/".join(f"{w:g}" for w in v.values()) for v in result["memory_votes"]) + ".", "",
             f"Run time {result['seconds'] / 60:.1f} min on 2 cores (no training: the tower's out-of-fold vectors).", ""]
    Path(args.out + ".md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
