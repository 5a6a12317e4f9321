"""FAISS inner-product search over normalised vectors (= cosine similarity).

Three kinds, chosen by corpus size (thresholds from bench/ measurements):
- exact (IndexFlatIP) below `approx_threshold`: perfect recall, and a scan of
  a few thousand vectors costs well under a millisecond;
- HNSW over the full vectors up to `compact_threshold`: many times faster
  than exact on STARD's real passage vectors, with recall@10 close to exact;
- HNSW over 8-bit scalar-quantised vectors beyond it: a fraction of the full
  vectors' bytes per vector, for corpora in the millions.
(Measured: docs/bench/results.md, "Scale: exact FAISS vs HNSW";
docs/decisions/search-path-figures.md.)
Filters restrict the search inside FAISS (an ID selector), never by
over-fetching and masking afterwards.
"""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

DEFAULT_APPROX_THRESHOLD = 20_000
DEFAULT_COMPACT_THRESHOLD = 500_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
# 8-bit codes blur near-ties: the compact graph searches wider for the same recall
HNSW_SQ_EF_SEARCH = 256
SQ_TRAIN_SAMPLE = 100_000


def build_dense(vectors: np.ndarray, approx_threshold: int = DEFAULT_APPROX_THRESHOLD,
                compact_threshold: int = DEFAULT_COMPACT_THRESHOLD) -> faiss.Index:
    """The index kind that fits `len(vectors)`, filled with them (positions = row numbers)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    if len(vectors) >= max(approx_threshold, compact_threshold):
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        sample = vectors[np.random.default_rng(0).choice(len(vectors), min(len(vectors), SQ_TRAIN_SAMPLE),
                                                         replace=False)]
        index.train(sample)
    elif len(vectors) >= approx_threshold:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexFlatIP(dim)
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = _ef_search(index)
    if len(vectors):
        index.add(vectors)
    return index


def _ef_search(index: faiss.Index) -> int:
    return HNSW_SQ_EF_SEARCH if isinstance(index, faiss.IndexHNSWSQ) else HNSW_EF_SEARCH


def kind(index: faiss.Index) -> str:
    if isinstance(index, faiss.IndexHNSWSQ):
        return "hnsw_sq8"
    return "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat"


def save_dense(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_dense(path: Path) -> faiss.Index:
    index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = max(index.hnsw.efSearch, _ef_search(index))
    return index


# A filter this selective is searched exactly over its own vectors: a graph walk
# (HNSW) with a sparse selector can end before it reaches the few allowed nodes.
EXACT_FILTER_MAX = 50_000


def search_dense(
    index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, positions) of the k nearest passages; positions -1 are dropped.

    `allowed` (a bool per passage) restricts the search to the passages a filter
    lets through, inside FAISS (an ID selector), so a rare category still gets
    its k best passages instead of whatever survives of the global top k.
    """
    k = min(k, index.ntotal)
    if k <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    if allowed is None:
        scores, ids = index.search(q, k)
    elif isinstance(index, faiss.IndexHNSW) and int(allowed.sum()) <= EXACT_FILTER_MAX:
        return _exact_subset(index, q[0], np.flatnonzero(allowed), k)
    else:
        bits = np.packbits(np.asarray(allowed, bool), bitorder="little")
        selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
        if isinstance(index, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(_ef_search(index), 4 * k))
        else:
            params = faiss.SearchParameters(sel=selector)
        scores, ids = index.search(q, k, params=params)
        del bits  # the selector reads it during search; keep it alive until here
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]


def _exact_subset(index: faiss.Index, query: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if not len(ids):
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    vectors = index.reconstruct_batch(ids.astype(np.int64))
    scores = vectors @ query
    top = np.argsort(-scores, kind="stable")[:k]
    return scores[top].astype(np.float32), ids[top].astype(np.int64)
