"""index.storage.dense without a model: the kind by size, and filters applied inside FAISS."""
from __future__ import annotations

import numpy as np
import pytest

from index.storage.dense import build_dense, kind, load_dense, save_dense, search_dense

N, DIM = 20_000, 64


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    x = np.random.default_rng(7).standard_normal((N, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("approx,compact,expected", [(10**9, 10**9, "flat"), (1000, 10**9, "hnsw"),
                                                     (1000, 1000, "hnsw_sq8")])
def test_a_rare_category_gets_its_own_best_matches(vectors, approx, compact, expected, tmp_path):
    """A filter holding 0.1% of the passages returns exactly their nearest, not the global top k masked."""
    index = build_dense(vectors, approx, compact)
    assert kind(index) == expected
    save_dense(index, tmp_path / "d.faiss")
    index = load_dense(tmp_path / "d.faiss")
    rng = np.random.default_rng(3)
    allowed = np.zeros(N, bool)
    allowed[rng.choice(N, N // 1000, replace=False)] = True
    for q in vectors[:5]:
        scores, ids = search_dense(index, q, 10, allowed)
        truth = np.flatnonzero(allowed)[np.argsort(-(vectors[allowed] @ q))[:10]]
        assert allowed[ids].all() and len(ids) == 10
        assert set(ids.tolist()) == set(truth.tolist())


def test_a_broad_filter_keeps_recall(vectors):
    index = build_dense(vectors, 1000)
    allowed = np.arange(N) % 2 == 0
    hits = 0
    for q in vectors[100:120]:
        _, ids = search_dense(index, q, 10, allowed)
        truth = np.flatnonzero(allowed)[np.argsort(-(vectors[allowed] @ q))[:10]]
        assert allowed[ids].all()
        hits += len(set(ids.tolist()) & set(truth.tolist()))
    assert hits / 200 >= 0.9


def test_compact_index_uses_under_a_kilobyte_per_vector(vectors, tmp_path):
    x = np.random.default_rng(1).standard_normal((5000, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    save_dense(build_dense(x, 1000, 1000), tmp_path / "sq.faiss")
    save_dense(build_dense(x, 1000), tmp_path / "flat.faiss")
    assert (tmp_path / "sq.faiss").stat().st_size / 5000 < 1024
    assert (tmp_path / "flat.faiss").stat().st_size / 5000 > 1536
