"""Query latency per mode, warm, with the component split from HitList.timings.

Baseline: the plain jieba BM25 (bench.baseline) answering the same questions
over the same articles in the same run.
"""
from __future__ import annotations

import time

import numpy as np

from bench.stats import rounded, summary

MODES = ("bm25", "dense", "hybrid")
COMPONENTS = ("encode_ms", "faiss_ms", "bm25_ms", "fusion_ms", "shaping_ms")


def measure_searcher(searcher, questions: list[str], warmup: list[str], modes=MODES, k: int = 5) -> dict:
    """{mode: {wall: summary, samples_ms, components: {name: median}}} for Searcher.search."""
    out: dict[str, dict] = {}
    for mode in modes:
        for q in warmup:
            searcher.search(q, k=k, mode=mode)
        walls: list[float] = []
        comps: dict[str, list[float]] = {c: [] for c in (*COMPONENTS, "total_ms", "other_ms")}
        for q in questions:
            t = time.perf_counter()
            hits = searcher.search(q, k=k, mode=mode)
            walls.append((time.perf_counter() - t) * 1000)
            tm = hits.timings
            for c in COMPONENTS:
                if c in tm:
                    comps[c].append(tm[c])
            if "total_ms" in tm:
                comps["total_ms"].append(tm["total_ms"])
                comps["other_ms"].append(tm["total_ms"] - sum(tm.get(c, 0.0) for c in COMPONENTS))
        out[mode] = {
            "wall": summary(walls),
            "samples_ms": rounded(walls),
            "components_median_ms": {c: (float(np.median(v)) if v else None) for c, v in comps.items()},
        }
    return out


def measure_baseline(baseline, questions: list[str], warmup: list[str], k: int = 100) -> dict:
    """The same questions through the plain jieba BM25 (top-100 articles)."""
    for q in warmup:
        baseline.rank(q, k)
    walls = []
    for q in questions:
        t = time.perf_counter()
        baseline.rank(q, k)
        walls.append((time.perf_counter() - t) * 1000)
    return {"wall": summary(walls), "samples_ms": rounded(walls), "docs": baseline.n_docs}
