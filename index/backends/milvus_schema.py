"""The Milvus collection one index version lives in: fields, indexes, term encoding, filters.

BM25 runs in Milvus, but over *our* tokens: each passage's jieba tokens (the
same legal dictionary, stopwords, Traditional->Simplified and synonym
expansion the FAISS backend uses) are written as one opaque ASCII word per
token. Any analyzer then splits exactly where our tokenizer did: lite's
"standard" regex and a server's "standard" tokenizer alike. That keeps the
two backends' BM25 rankings identical (same tokens, same k1/b), and avoids
shipping a 250k-word dictionary into the collection schema, which a server
caps in size.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from index.backends.base import PassageFilter

PK, TERMS, SPARSE, VEC, CATEGORY, DATE = "pid", "terms", "sparse", "vec", "category", "date"
PK_MAX = 1024
TERMS_MAX = 65_535  # bytes: Milvus's VARCHAR limit
CATEGORY_MAX = 512
# bm25s "lucene" uses these, and scores without the (k1 + 1) factor Milvus applies
BM25_K1, BM25_B = 1.2, 0.75
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 128
UNCATEGORISED = "未分类"


@lru_cache(maxsize=500_000)
def term_word(token: str) -> str:
    """An alphanumeric stand-in for one token: 'w' + 64 bits of its SHA-1 (collisions negligible)."""
    return "w" + hashlib.sha1(token.encode("utf-8")).hexdigest()[:16]


def encode_terms(tokens: list[str]) -> str:
    """The passage's or query's tokens as the text Milvus's BM25 function analyses."""
    words = [term_word(t) for t in tokens if t]
    limit = TERMS_MAX // 18  # 17 characters and a space per word
    return " ".join(words[:limit])


def bm25_score(distance: float) -> float:
    """A Milvus BM25 distance on bm25s's scale (lite reports it negated; a server positive)."""
    return abs(float(distance)) / (BM25_K1 + 1.0)


def filter_expr(filt: PassageFilter | None) -> str:
    """The Milvus boolean expression for a filter ("" for none); same semantics as `PassageFilter.allowed`."""
    if filt is None:
        return ""
    parts = []
    if filt.categories is not None:
        parts.append(f"{CATEGORY} in [{', '.join(json.dumps(c, ensure_ascii=False) for c in filt.categories)}]")
    if filt.date_from is not None:
        parts.append(f"{DATE} >= {int(filt.date_from)}")
    if filt.date_to is not None:
        parts.append(f"{DATE} > 0 and {DATE} <= {int(filt.date_to)}")
    return " and ".join(parts)


def _both_forms(params: dict) -> dict:
    """Index parameters as flat keys (pymilvus 3 sends them so) and as the nested "params" JSON.

    milvus-lite 3.2 reads only the nested form (it silently used k1=1.5 and its
    own HNSW defaults without it); a server reads both and merges them.
    """
    return {**params, "params": dict(params)}


def create_collection(client, name: str, dim: int) -> None:
    """An empty collection for one version: pk, BM25 terms, vector, category and date filters."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field(PK, DataType.VARCHAR, is_primary=True, max_length=PK_MAX)
    schema.add_field(TERMS, DataType.VARCHAR, max_length=TERMS_MAX, enable_analyzer=True,
                     analyzer_params={"tokenizer": "standard"})
    schema.add_field(SPARSE, DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field(VEC, DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field(CATEGORY, DataType.VARCHAR, max_length=CATEGORY_MAX)
    schema.add_field(DATE, DataType.INT64)  # ordinal day, 0 = unknown
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=[TERMS], output_field_names=[SPARSE]))
    index = client.prepare_index_params()
    index.add_index(SPARSE, index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                    params=_both_forms({"bm25_k1": BM25_K1, "bm25_b": BM25_B}))
    index.add_index(VEC, index_type="HNSW", metric_type="COSINE",
                    params=_both_forms({"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}))
    index.add_index(CATEGORY, index_type="INVERTED")
    index.add_index(DATE, index_type="INVERTED")
    client.create_collection(name, schema=schema)
    # sync=False: waiting asks the server for a timestamp (AllocTimestamp), which
    # milvus-lite lacks (an error logged, then 2 s of polling per collection);
    # the build loads the collection and checks its row count before publishing.
    client.create_index(name, index, sync=False)
