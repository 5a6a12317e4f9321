"""The Milvus backend's pure parts, without a model or a Milvus: term encoding, filters, URIs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.backends import PassageFilter, backend_kind
from index.backends.milvus_conn import MilvusUnavailable, is_remote, resolve_uri
from index.backends.milvus_schema import BM25_K1, bm25_score, encode_terms, filter_expr, term_word
from index.storage.fields import date_ordinal as ordinal


def test_terms_become_one_alphanumeric_word_each_so_any_analyzer_splits_where_jieba_did():
    tokens = ["离婚", "冷静期", "第1077条", "c++", "离婚"]
    words = encode_terms(tokens).split(" ")
    assert len(words) == 5 and words[0] == words[4] != words[1]
    assert all(w.isascii() and w.isalnum() and w == w.lower() and len(w) == 17 for w in words)
    assert term_word("离婚") == words[0]  # stable across processes: a hash, not a counter
    assert encode_terms([]) == "" and encode_terms(["", ""]) == ""


def test_very_long_passages_fit_the_varchar_limit():
    assert len(encode_terms(["词"] * 10_000).encode()) <= 65_535


def test_bm25_distance_on_the_bm25s_scale_whatever_its_sign():
    assert bm25_score(-2.2) == pytest.approx(2.2 / (BM25_K1 + 1))
    assert bm25_score(2.2) == bm25_score(-2.2)


def test_filter_expression_matches_the_mask_semantics():
    mask = np.ones(3, bool)
    assert filter_expr(None) == ""
    assert filter_expr(PassageFilter(mask)) == ""
    expr = filter_expr(PassageFilter(mask, ("劳动纠纷", 'a"b'), 738000, 739000))
    assert expr == 'category in ["劳动纠纷", "a\\"b"] and date >= 738000 and date > 0 and date <= 739000'
    assert filter_expr(PassageFilter(mask, None, None, 5)) == "date > 0 and date <= 5"
    assert PassageFilter(np.array([True, False]))[1] is False


def test_dates_as_the_searcher_reads_them():
    assert ordinal("2025-02-18") == 739300 and ordinal("2025-02-18T10:00:00") == 739300
    assert ordinal(None) == 0 and ordinal("soon") == 0


def test_uris(tmp_path: Path):
    assert resolve_uri("", tmp_path) == str((tmp_path / "milvus.db").resolve())
    assert resolve_uri("http://milvus:19530", tmp_path) == "http://milvus:19530"
    assert is_remote("https://x:443") and not is_remote("/srv/m.db")
    with pytest.raises(MilvusUnavailable, match=r"must end in \.db"):
        resolve_uri(str(tmp_path / "milvus"), tmp_path)


def test_versions_without_a_backend_field_are_faiss():
    assert backend_kind({}) == "faiss" and backend_kind({"backend": {"kind": "milvus"}}) == "milvus"
