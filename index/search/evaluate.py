"""Article-level retrieval quality with pytrec_eval (the TREC reference implementation).

Recall@1/5/10/100, MRR@10 and nDCG@10 for hybrid, BM25-only and dense-only,
all from the same index in the same run, so the figures compare fairly.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytrec_eval

METRICS = ("recall@1", "recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10")


@dataclass
class EvalSet:
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def json_lines(path: Path, shape: str):
    """(line number, record) of each non-blank JSON line; ValueError naming the line and the `shape`
    expected when one is not JSON (a missing key is the caller's to report the same way)."""
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: expected {shape}: {exc}") from exc


def load_queries(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, rec in json_lines(path, '{"qid", "question"}'):
        try:
            out[str(rec["qid"])] = str(rec["question"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: expected {{\"qid\", \"question\"}}: {exc}") from exc
    return out


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """`qid<TAB>article_id[<TAB>grade]`; grade defaults to 1; a header line is allowed."""
    out: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            parts = line.rstrip("\n").split("\t")
            if not line.strip() or (n == 1 and parts[0].lower() in ("qid", "query_id", "query-id")):
                continue
            if len(parts) < 2:
                raise ValueError(f"{path}:{n}: expected qid<TAB>article_id[<TAB>grade]")
            grade = int(parts[2]) if len(parts) > 2 and parts[2].strip() else 1
            out.setdefault(parts[0], {})[parts[1]] = grade
    return out


def load_eval_set(queries: Path, qrels: Path) -> EvalSet:
    q = load_queries(queries)
    r = load_qrels(qrels)
    return EvalSet({k: v for k, v in q.items() if k in r}, r)


def score_runs(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean metrics over queries. Recall counts any grade >= 1 as relevant."""
    trec_run = {q: {d: float(len(docs) - i) for i, d in enumerate(docs)} for q, docs in run.items()}
    trec_run10 = {q: {d: float(10 - i) for i, d in enumerate(docs[:10])} for q, docs in run.items()}
    for q in qrels:  # a query with no results still counts, as zeros
        trec_run.setdefault(q, {"__none__": 0.0})
        trec_run10.setdefault(q, {"__none__": 0.0})
    full = pytrec_eval.RelevanceEvaluator(qrels, {"recall.1,5,10,100", "ndcg_cut.10"}).evaluate(trec_run)
    top10 = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(trec_run10)
    qs = list(qrels)
    return {
        "recall@1": float(np.mean([full[q]["recall_1"] for q in qs])),
        "recall@5": float(np.mean([full[q]["recall_5"] for q in qs])),
        "recall@10": float(np.mean([full[q]["recall_10"] for q in qs])),
        "recall@100": float(np.mean([full[q]["recall_100"] for q in qs])),
        "mrr@10": float(np.mean([top10[q]["recip_rank"] for q in qs])),
        "ndcg@10": float(np.mean([full[q]["ndcg_cut_10"] for q in qs])),
    }


def evaluate(searcher, eval_set: EvalSet, modes: Iterable[str] = ("hybrid", "bm25", "dense"), k: int = 100,
             progress: bool = False) -> dict[str, dict[str, float]]:
    """{mode: metrics (+ queries, ms_per_query)} over the eval set."""
    results: dict[str, dict[str, float]] = {}
    for mode in modes:
        run: dict[str, list[str]] = {}
        t = time.perf_counter()
        items = list(eval_set.queries.items())
        if progress:
            from tqdm import tqdm

            items = tqdm(items, desc=f"eval {mode}", unit="q")
        for qid, question in items:
            run[qid] = searcher.rank_articles(question, mode=mode, k=k)
        elapsed = time.perf_counter() - t
        metrics = score_runs(run, eval_set.qrels)
        metrics["queries"] = len(run)
        metrics["ms_per_query"] = 1000 * elapsed / max(1, len(run))
        results[mode] = metrics
    return results


def format_table(results: dict[str, dict[str, float]]) -> str:
    head = "| mode | " + " | ".join(METRICS) + " |"
    sep = "|---|" + "---|" * len(METRICS)
    rows = [f"| {m} | " + " | ".join(f"{r[k]:.3f}" for k in METRICS) + " |" for m, r in results.items()]
    return "\n".join([head, sep, *rows])
