"""The query adapter through the page's own ranking, on questions it never saw: STARD 5-fold CV.

`python -m index.training.adapter --folds-out DIR` keeps each fold's adapter and
its test questions; this scores each fold's questions through the Searcher
(hybrid with the default fusion, with the base model's list fused too, and dense
only) with that fold's adapter and with none, in one run:

    python -m bench.adapter --index var/stard/idx --folds DIR --queries Q --qrels R
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from index.encoders.adapter import AdaptedEmbedder, QueryAdapter
from index.encoders.factory import base_embedder
from index.search.config import SearchConfig
from index.search.evaluate import EvalSet, evaluate, load_eval_set
from index.search.searcher import Searcher

METRICS = ("recall@10", "mrr@10", "recall@100")


def fold_scores(index: Path, fold: Path, full: EvalSet, modes: tuple[str, ...]) -> dict:
    with np.load(fold, allow_pickle=False) as data:
        qids = [str(q) for q in data["test_qids"]]
    subset = EvalSet({q: full.queries[q] for q in qids}, {q: full.qrels[q] for q in qids})
    base = base_embedder()
    adapted = AdaptedEmbedder(base, QueryAdapter.load(fold))
    out = {}
    for name, encoder, config in (("base", base, SearchConfig()), ("adapter", adapted, SearchConfig()),
                                  ("adapter + base list", adapted, replace(SearchConfig(), w_base=1.0))):
        searcher = Searcher.open(index, embedder=encoder, config=config)
        out[name] = {mode: {m: r[m] for m in METRICS} for mode, r in evaluate(searcher, subset, modes).items()}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.adapter", description=__doc__.splitlines()[0])
    p.add_argument("--index", required=True)
    p.add_argument("--folds", required=True, help="the --folds-out folder of index.training.adapter")
    p.add_argument("--queries", required=True)
    p.add_argument("--qrels", required=True)
    args = p.parse_args(argv)
    full = load_eval_set(Path(args.queries), Path(args.qrels))
    modes = ("hybrid", "dense")
    folds = [fold_scores(Path(args.index), f, full, modes) for f in sorted(Path(args.folds).glob("fold*.npz"))]
    sides = list(folds[0])
    mean = {side: {mode: {m: round(float(np.mean([f[side][mode][m] for f in folds])), 4) for m in METRICS}
                   for mode in modes} for side in sides}
    print(json.dumps({"folds": folds, "mean": mean}, indent=2))
    print("\n| STARD, 5-fold CV, questions never seen | " + " | ".join(METRICS) + " |\n|---|---|---|---|")
    for side in sides:
        for mode in modes:
            print(f"| {side}, {mode} | " + " | ".join(f"{mean[side][mode][m]:.3f}" for m in METRICS) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
