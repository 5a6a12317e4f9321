"""Retrieval quality: index.search.evaluate.evaluate per mode, the plain jieba BM25 baseline, recall@k curves.

The Searcher is wrapped so the same pass that `evaluate` makes also records
each ranking; the recall@k curves (k = 1..100) come from those rankings, and
the baseline is scored by the very same `score_runs`.
"""
from __future__ import annotations

import time

import numpy as np

KS = list(range(1, 101))


class RecordingSearcher:
    """Delegates rank_articles and keeps what it returned, per mode and question."""

    def __init__(self, searcher):
        self.searcher = searcher
        self.runs: dict[str, dict[str, list[str]]] = {}

    def rank_articles(self, query: str, mode: str = "hybrid", k: int = 100) -> list[str]:
        ranked = self.searcher.rank_articles(query, mode=mode, k=k)
        self.runs.setdefault(mode, {})[query] = ranked
        return ranked


def recall_curve(run: dict[str, list[str]], qrels: dict[str, dict[str, int]], ks=KS) -> list[float]:
    """Mean over the qrels' queries of |relevant in top k| / |relevant| (a missing run counts 0)."""
    rows = []
    for qid, rels in qrels.items():
        relevant = {d for d, g in rels.items() if g >= 1}
        if not relevant:  # pytrec_eval scores such a query 0; so do we
            rows.append([0.0] * len(ks))
            continue
        ranked = run.get(qid, [])
        hit = np.zeros(max(ks) + 1)
        for i, d in enumerate(ranked[: max(ks)], start=1):
            if d in relevant:
                hit[i] += 1
        cum = np.cumsum(hit)
        rows.append([cum[k] / len(relevant) for k in ks])
    return np.mean(np.asarray(rows), axis=0).tolist() if rows else [0.0] * len(ks)


def evaluate_set(name: str, searcher, eval_set, baseline, modes=("hybrid", "bm25", "dense"), log=print) -> dict:
    from index.search.evaluate import evaluate, score_runs

    rec = RecordingSearcher(searcher)
    t = time.perf_counter()
    metrics = evaluate(rec, eval_set, modes=modes, k=100)
    log(f"  {name}: evaluated {len(eval_set.queries)} questions x {len(modes)} modes in {time.perf_counter() - t:.0f}s")
    curves = {}
    for mode in modes:
        by_qid = {qid: rec.runs.get(mode, {}).get(q, []) for qid, q in eval_set.queries.items()}
        curves[mode] = recall_curve(by_qid, eval_set.qrels)
    # the baseline, scored by the same function
    t = time.perf_counter()
    base_run = {qid: baseline.rank(q, 100) for qid, q in eval_set.queries.items()}
    base_ms = 1000 * (time.perf_counter() - t) / max(1, len(base_run))
    base = score_runs(base_run, eval_set.qrels)
    base.update(queries=len(base_run), ms_per_query=base_ms)
    curves["jieba_bm25_baseline"] = recall_curve(base_run, eval_set.qrels)
    # consistency: our curve must agree with pytrec_eval's recall at 1/5/10/100
    check = {m: max(abs(curves[m][k - 1] - metrics[m][f"recall@{k}"]) for k in (1, 5, 10, 100)) for m in modes}
    return {
        "set": name, "queries": len(eval_set.queries), "qrels_queries": len(eval_set.qrels),
        "mean_relevant": float(np.mean([len(v) for v in eval_set.qrels.values()])) if eval_set.qrels else 0.0,
        "modes": metrics, "baseline": base, "baseline_description": baseline.description,
        "baseline_docs": baseline.n_docs, "recall_at_k": {"k": KS, **curves},
        "curve_vs_pytrec_max_abs_diff": check,
    }
