"""Query latency per mode, warm, with the component split from HitList.timings.

Baseline: the plain jieba BM25 (bench.baseline) answering the same questions
over the same articles in the same run. The modes and the baseline take
turns question by question (the order rotating), so a change in machine load
during the run hits them all alike instead of whichever mode ran last.
"""
from __future__ import annotations

import time

import numpy as np

from bench.stats import rounded, summary

MODES = ("bm25", "dense", "hybrid")
BASELINE = "jieba_bm25_baseline"
COMPONENTS = ("tokenize_ms", "encode_ms", "faiss_ms", "bm25_ms", "fusion_ms", "shaping_ms")


def measure(searcher, baseline, questions: list[str], warmup: list[str], modes=MODES, k: int = 5) -> dict:
    """{"modes": {mode: {wall, samples_ms, components_median_ms}}, "baseline": {...} | None}."""
    runners = list(modes) + ([BASELINE] if baseline is not None else [])
    for q in warmup:
        for r in runners:
            _run(searcher, baseline, r, q, k)
    walls: dict[str, list[float]] = {r: [] for r in runners}
    comps: dict[str, dict[str, list[float]]] = {m: {c: [] for c in (*COMPONENTS, "total_ms", "other_ms")} for m in modes}
    for i, q in enumerate(questions):
        for j in range(len(runners)):
            r = runners[(i + j) % len(runners)]
            t = time.perf_counter()
            hits = _run(searcher, baseline, r, q, k)
            walls[r].append((time.perf_counter() - t) * 1000)
            if r == BASELINE:
                continue
            tm = hits.timings
            for c in COMPONENTS:
                if c in tm:
                    comps[r][c].append(tm[c])
            if "total_ms" in tm:
                comps[r]["total_ms"].append(tm["total_ms"])
                comps[r]["other_ms"].append(tm["total_ms"] - sum(tm.get(c, 0.0) for c in COMPONENTS))
    out = {"modes": {}, "baseline": None, "k": k, "interleaved": True}
    for m in modes:
        out["modes"][m] = {
            "wall": summary(walls[m]),
            "samples_ms": rounded(walls[m]),
            "components_median_ms": {c: (float(np.median(v)) if v else None) for c, v in comps[m].items()},
        }
    if baseline is not None:
        out["baseline"] = {"wall": summary(walls[BASELINE]), "samples_ms": rounded(walls[BASELINE]),
                           "docs": baseline.n_docs, "k": 100}
    return out


def _run(searcher, baseline, runner: str, q: str, k: int):
    if runner == BASELINE:
        return baseline.rank(q, 100)
    return searcher.search(q, k=k, mode=runner)
