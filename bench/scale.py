"""FAISS at scale: exact IndexFlatIP (the baseline) vs HNSW, on clustered synthetic vectors.

Data: 1000 gaussian centres on the unit sphere, each point = centre +
gaussian noise, normalised (cosine within a cluster ~0.75, across ~0), so
neighbourhoods have structure instead of uniform noise. Queries are data
points perturbed by smaller noise and renormalised. Both indexes are built
with the project's own `index.storage.dense.build_dense` (a low `approx_threshold`
gives HNSW, M=32, efSearch=128, as shipped).
Optionally (full mode) the same comparison on the real STARD passage
vectors with real question embeddings.
"""
from __future__ import annotations

import gc
import time

import numpy as np

from bench.rss import current_rss
from bench.stats import summary

DIM = 384
CENTRES = 1000
NOISE = 0.03  # per-dimension sigma: noise norm ~0.59 against a unit centre
QUERY_NOISE = 0.01  # perturbation of a data point, norm ~0.2
K = 10


def clustered(n: int, dim: int = DIM, centres: int = CENTRES, noise: float = NOISE, seed: int = 0,
              chunk: int = 100_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim), dtype=np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    x = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        block = c[rng.integers(0, centres, m)] + noise * rng.standard_normal((m, dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        x[s : s + m] = block
    return x


def perturbed_queries(x: np.ndarray, n: int, noise: float = QUERY_NOISE, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = x[rng.choice(len(x), n, replace=False)] + noise * rng.standard_normal((n, x.shape[1]), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return np.ascontiguousarray(q, dtype=np.float32)


def _one_by_one(index, queries: np.ndarray, k: int) -> tuple[list[float], np.ndarray]:
    """Latency of single-query searches (how the Searcher calls FAISS) and the ids found."""
    times, found = [], np.empty((len(queries), k), dtype=np.int64)
    index.search(queries[:5], k)  # warm-up
    for i in range(len(queries)):
        t = time.perf_counter()
        _, ids = index.search(queries[i : i + 1], k)
        times.append((time.perf_counter() - t) * 1000)
        found[i] = ids[0]
    return times, found


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    return float(np.mean([len(set(f[f >= 0].tolist()) & set(t.tolist())) / k for f, t in zip(found, truth, strict=True)]))


def compare(x: np.ndarray, queries: np.ndarray, label: str, log=print) -> list[dict]:
    """Build exact then HNSW over `x`; time, size and recall@10 of each (exact = 1.0 by definition)."""
    import faiss

    from index.storage.dense import HNSW_EF_CONSTRUCTION, HNSW_M, build_dense, kind

    n = len(x)
    rows = []
    truth = None
    for name, threshold in (("exact (IndexFlatIP)", n + 1), ("HNSW", 1)):
        gc.collect()
        rss0 = current_rss()
        t = time.perf_counter()
        index = build_dense(x, approx_threshold=threshold)
        build_s = time.perf_counter() - t
        rss_delta = current_rss() - rss0
        serialized = int(len(faiss.serialize_index(index)))
        gc.collect()
        times, found = _one_by_one(index, queries, K)
        if truth is None:
            truth = found
        row = {
            "set": label, "n": n, "dim": x.shape[1], "index": name, "kind": kind(index),
            "build_seconds": build_s, "index_bytes": serialized, "bytes_per_vector": serialized / n,
            "rss_delta_bytes": rss_delta, "latency": summary(times),
            "recall_at_10": _recall(found, truth), "queries": len(queries),
        }
        if kind(index).startswith("hnsw"):
            row.update(M=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION, ef_search=int(index.hnsw.efSearch))
            row["index"] = name = "HNSW over 8-bit codes" if kind(index) == "hnsw_sq8" else "HNSW"
        log(f"  {label} n={n:,} {name}: build {build_s:.1f}s, {serialized / 2**20:.0f} MiB, "
            f"p50 {row['latency']['p50']:.2f} ms, recall@10 {row['recall_at_10']:.3f}")
        rows.append(row)
        del index
        gc.collect()
    return rows


def synthetic(sizes: list[int], n_queries: int = 200, log=print) -> dict:
    rows = []
    for n in sizes:
        t = time.perf_counter()
        x = clustered(n)
        q = perturbed_queries(x, n_queries)
        log(f"  generated {n:,} clustered vectors in {time.perf_counter() - t:.1f}s")
        rows += compare(x, q, "synthetic clustered", log)
        del x, q
        gc.collect()
    return {
        "data": f"{CENTRES} gaussian centres on the unit sphere + N(0, {NOISE}^2) noise per dim, normalised, d={DIM}",
        "queries": f"{n_queries} data points + N(0, {QUERY_NOISE}^2) noise, normalised; searched one at a time, k={K}",
        "rows": rows,
    }


def real_vectors(index_dir, searcher, questions: list[str], log=print) -> dict:
    """The same comparison on the real passage vectors of a built index, with real question vectors."""
    from index.storage.dense import load_dense
    from index.storage.layout import IndexDir

    dense = load_dense(IndexDir(index_dir).current() / "dense.faiss")
    x = np.ascontiguousarray(dense.reconstruct_n(0, dense.ntotal), dtype=np.float32)
    del dense
    q = np.ascontiguousarray(searcher.embedder.encode_queries(questions), dtype=np.float32)
    rows = compare(x, q, "STARD passages (real)", log)
    return {"data": f"{len(x):,} real passage vectors of the STARD index", "queries": f"{len(q)} STARD questions",
            "rows": rows}
