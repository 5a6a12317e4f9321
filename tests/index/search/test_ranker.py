"""The public seam training and benchmarks score through: `Searcher.ranker()` and its variants."""
from __future__ import annotations

import numpy as np
import pytest

from index.encoders.base import Encoder, QueryEncoder
from index.search.config import FusionWeights, SearchConfig
from index.search.searcher import Searcher
from index.training.weights import FixedVectors

pytestmark = pytest.mark.slow

QUESTIONS = ["网贷逾期会有人上门催收吗", "被公司辞退能拿多少补偿", "交通事故对方全责怎么赔"]


def test_the_served_encoders_meet_the_encoder_protocol(embedder):
    assert isinstance(embedder, Encoder) and isinstance(embedder, QueryEncoder)
    assert embedder.judge is None and embedder.trained_folder is None and embedder.query_model() is None


def test_a_ranker_ranks_exactly_as_search_does(built_index, embedder):
    searcher = Searcher.open(built_index, embedder=embedder)
    ranker = searcher.ranker()
    for q in QUESTIONS:
        assert ranker.rank_articles(q, k=10) == searcher.rank_articles(q, k=10)
        assert ranker.rank_articles(q, k=10)[0] == searcher.search(q, k=5)[0].article_id


def test_a_variant_with_fixed_vectors_changes_the_ranking_but_not_the_searcher(built_index, embedder):
    searcher = Searcher.open(built_index, embedder=embedder)
    before = {q: searcher.rank_articles(q, mode="dense", k=10) for q in QUESTIONS}
    read = {q: searcher.question_text(q) for q in QUESTIONS}
    same = FixedVectors({read[q]: embedder.encode_queries([read[q]])[0] for q in QUESTIONS}, embedder.checksum)
    # each question answered with another question's vector: the order must follow the vectors given
    shifted = FixedVectors({read[q]: same.vectors[read[QUESTIONS[(i + 1) % 3]]] for i, q in enumerate(QUESTIONS)},
                           embedder.checksum)
    assert {q: searcher.ranker(encoder=same).rank_articles(q, mode="dense", k=10) for q in QUESTIONS} == before
    moved = searcher.ranker(encoder=shifted)
    assert moved.rank_articles(QUESTIONS[0], mode="dense", k=10) == before[QUESTIONS[1]]
    assert searcher.embedder is embedder  # the Searcher itself is untouched
    assert {q: searcher.rank_articles(q, mode="dense", k=10) for q in QUESTIONS} == before


def test_with_weights_changes_only_the_fusion_weights(built_index, embedder):
    ranker = Searcher.open(built_index, embedder=embedder, config=SearchConfig(per_article=1)).ranker()
    bm25_only = ranker.with_weights(w_dense=0.0)
    assert FusionWeights.of(bm25_only.config) == FusionWeights(w_dense=0.0)
    assert bm25_only.config.per_article == 1 and ranker.config.w_dense == 1.0
    q = QUESTIONS[1]
    assert bm25_only.rank_articles(q, k=10)[:3] == ranker.rank_articles(q, mode="bm25", k=10)[:3]


def test_a_judge_is_consulted_only_when_the_encoder_has_one(built_index, embedder):
    searcher = Searcher.open(built_index, embedder=embedder)
    read = searcher.question_text(QUESTIONS[0])
    vector = embedder.encode_queries([read])[0]
    far = -vector  # a judge that finds nothing close: the base model's cosine decides "no good match"
    judged = FixedVectors({read: vector}, embedder.checksum, judge={read: far})
    ranking = searcher.ranker(encoder=judged, config=SearchConfig(w_base=1.0)).rank(read)
    assert ranking.judge_dense is not None and ranking.judge_dense < 0.5
    plain = searcher.ranker(encoder=FixedVectors({read: vector}, embedder.checksum)).rank(read)
    assert plain.judge_dense is None
    assert np.isfinite(list(plain.fused.values())).all()
