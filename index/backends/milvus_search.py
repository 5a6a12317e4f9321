"""Candidates from Milvus: BM25 and HNSW top-n under a filter, as the version's positions.

Milvus knows passages by id; the ranking code works on the version's `pos`
(row numbers of its meta.sqlite). Each answer is translated id -> pos with one
indexed SQLite lookup, so Hits, highlights, statute boost, per-article cap and
near-duplicate collapse run on the same rows as with FAISS.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.backends.base import PassageFilter
from index.backends.milvus_conn import MilvusUnavailable, connect, is_remote
from index.backends.milvus_schema import (
    HNSW_EF_SEARCH,
    PK,
    SPARSE,
    VEC,
    bm25_score,
    encode_terms,
    filter_expr,
)
from index.storage.store import MetaStore, select_in

_EMPTY = (np.zeros(0, np.float32), np.zeros(0, np.int64))


@dataclass
class MilvusRetrieval:
    """One published version's collection, searched through a shared client."""

    client: object
    collection: str
    store: MetaStore

    def bm25_top(self, tokens: list[str], n: int, filt: PassageFilter | None) -> tuple[np.ndarray, np.ndarray]:
        text = encode_terms(tokens)
        if not text or (filt is not None and filt.categories == ()):
            return _EMPTY
        hits = self._search(SPARSE, text, n, filt, {"metric_type": "BM25"})
        return self._positions(hits, bm25_score)

    def dense_top(self, query: np.ndarray, n: int, filt: PassageFilter | None) -> tuple[np.ndarray, np.ndarray]:
        if filt is not None and filt.categories == ():
            return _EMPTY
        params = {"metric_type": "COSINE", "params": {"ef": max(n, HNSW_EF_SEARCH)}}
        hits = self._search(VEC, np.asarray(query, np.float32).tolist(), n, filt, params)
        return self._positions(hits, float)

    def _search(self, field: str, data, n: int, filt: PassageFilter | None, params: dict) -> list[dict]:
        result = self.client.search(self.collection, data=[data], anns_field=field, limit=n,
                                    filter=filter_expr(filt), search_params=params, output_fields=[PK])
        return list(result[0]) if result else []

    def _positions(self, hits: list[dict], score) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions) in Milvus's order; ids unknown to this version's rows are dropped."""
        if not hits:
            return _EMPTY
        ids = [h.get(PK, h.get("id")) for h in hits]
        pos_of = dict(select_in(self.store.db, "SELECT id, pos FROM passages WHERE id IN ({})", ids))
        keep = [(score(h["distance"]), pos_of[i]) for h, i in zip(hits, ids, strict=True) if i in pos_of]
        if not keep:
            return _EMPTY
        scores, positions = zip(*keep, strict=True)
        return np.asarray(scores, np.float32), np.asarray(positions, np.int64)


def open_milvus_retrieval(manifest: dict, store: MetaStore) -> MilvusRetrieval:
    """The retrieval for a version built on Milvus: LAWFAQ_MILVUS_URI if set, else the URI it was built on."""
    from index.settings import settings

    info = manifest["backend"]
    uri = settings().milvus_uri or info["uri"]
    uri = uri if is_remote(uri) else str(Path(uri).resolve())
    client = connect(uri)
    try:
        if not client.has_collection(info["collection"]):
            raise MilvusUnavailable(f"collection {info['collection']} is missing from Milvus at {uri}")
        client.load_collection(info["collection"])
    except MilvusUnavailable:
        raise
    except Exception as exc:
        raise MilvusUnavailable(f"Milvus at {uri}: {type(exc).__name__}: {exc}") from exc
    return MilvusRetrieval(client, info["collection"], store)
