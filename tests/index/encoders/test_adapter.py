"""The shipped query adapter: it loads, it is small, it was measured to help, and it serves by default."""
from __future__ import annotations

import numpy as np
import pytest

from index.encoders.adapter import SHIPPED_ADAPTER, AdaptedEmbedder, AdapterMismatch, QueryAdapter

MAX_BYTES = 10 * 1024 * 1024


def test_the_shipped_adapter_is_small_and_records_its_held_out_gain():
    assert SHIPPED_ADAPTER.exists() and SHIPPED_ADAPTER.stat().st_size <= MAX_BYTES
    adapter = QueryAdapter.load(SHIPPED_ADAPTER)
    assert adapter.delta.shape == (384, 384) and np.isfinite(adapter.delta).all()
    cv = adapter.record["cross_validation"]  # questions each fold's adapter never saw
    assert cv["adapter"]["recall@10"] >= cv["base"]["recall@10"] + 0.10, cv
    assert cv["adapter"]["mrr@10"] > cv["base"]["mrr@10"], cv
    assert adapter.record["trained_on"]["labelled_questions"] >= 1000


def test_apply_moves_questions_and_keeps_unit_length():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(3, 4)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    none = QueryAdapter(np.zeros((4, 4), np.float32), {}, SHIPPED_ADAPTER)
    np.testing.assert_allclose(none.apply(q), q, atol=1e-6)
    some = QueryAdapter(np.eye(4, dtype=np.float32)[::-1] * 0.5, {}, SHIPPED_ADAPTER)
    moved = some.apply(q)
    np.testing.assert_allclose(np.linalg.norm(moved, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(moved, q)


def test_an_adapter_for_another_model_is_refused():
    adapter = QueryAdapter(np.zeros((4, 4), np.float32), {"model_name": "e5@x+int8"}, SHIPPED_ADAPTER)
    adapter.check(4, "e5@x+fp32-like")  # the same model run another way: accepted
    with pytest.raises(AdapterMismatch):
        adapter.check(8, "e5@x")
    with pytest.raises(AdapterMismatch):
        adapter.check(4, "bge-small-zh")


@pytest.mark.slow
def test_served_by_default_one_setting_from_the_base_model(monkeypatch, served_embedder):
    from index.encoders.factory import adapted_embedder, base_embedder

    embedder = served_embedder
    assert isinstance(embedder, AdaptedEmbedder)  # what the page, the API and the CLI serve
    assert adapted_embedder("off") is base_embedder()
    question = ["被公司开除了能拿多少钱"]
    base = base_embedder().encode_queries(question)
    adapted = embedder.encode_queries(question)
    assert float(adapted[0] @ base[0]) < 0.99  # moved (far: a sharp softmax trained it), judged on the base
    # the judge gets the base vector of the question just encoded, without encoding it again
    calls = []
    monkeypatch.setattr(embedder.judge.base, "encode_queries", lambda texts: calls.append(texts) or base)
    np.testing.assert_array_equal(embedder.judge.encode_queries(question), base)
    assert calls == []
    # passages are the base model's: an index is the same with or without the adapter
    np.testing.assert_array_equal(embedder.encode_passages(["劳动合同法第四十七条"]),
                                  base_embedder().encode_passages(["劳动合同法第四十七条"]))


def test_an_adapters_articles_keep_their_places_and_their_cards_come_from_the_base_order():
    from types import SimpleNamespace

    from index.search.ranker import Ranker

    # passages 0-5; articles: 0,0,1,1,2,0
    ranker = SimpleNamespace(version=SimpleNamespace(article_idx=np.array([0, 0, 1, 1, 2, 0])))
    ranked = [1, 3, 0, 4, 2, 5]  # the adapter's order: article 0 first (its passage 1), then 1, ...
    fused = {p: 1.0 - i / 10 for i, p in enumerate(ranked)}
    base_order = [5, 2, 0, 3, 1]  # the base model prefers passage 5 of article 0, passage 2 of article 1
    out = Ranker._passages_in_order(ranker, ranked, fused, base_order)
    assert out == [5, 2, 0, 4, 3, 1]  # article 0, 1, 0, 2, 1, 0 at the same places as before
    assert [fused[p] for p in out] == sorted(fused.values(), reverse=True)  # scores still read best first


@pytest.mark.slow
def test_the_adapter_brings_the_base_list_into_the_fusion_on_any_corpus(built_index, served_embedder):
    from index.search.searcher import Searcher

    searcher = Searcher.open(built_index, embedder=served_embedder)
    assert searcher.config.w_base == AdaptedEmbedder.FUSION["w_base"]
    hits = searcher.search("被公司开除了能拿多少钱", k=3)
    assert hits and hits[0].article_id == "cizhi-buchang" and "base_ms" in hits.timings
