"""bench/full_finetune.py: the both-sides fine-tune it screens really trains, and its metric scores articles by
their best passage."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.full_finetune import article_metrics, fine_tune, hard_negatives
from index.build import embed_text
from index.searcher import Searcher
from index.store import MetaStore
from index.training.pairs import IndexVectors

# Hand-written lay questions about fixture articles (not the eval set): title -> questions.
QUESTIONS = {
    "被公司辞退，能拿到多少经济补偿？": ["老板把我开了给多少钱", "被炒鱿鱼了公司要赔吗"],
    "协议离婚要等三十天冷静期吗？": ["两个人都同意离婚还要等一个月吗", "离婚冷静期多长时间"],
    "网贷逾期后催收说要上门，是真的吗？": ["欠网贷不还会有人来家里吗", "催债的说要来我家是吓唬人吗"],
}


def test_article_metrics_score_an_article_by_its_best_passage():
    passages = np.eye(4, dtype=np.float32)  # passages 0, 1 -> article a; 2 -> b; 3 -> c
    article_of = np.array([0, 0, 1, 2])
    question = np.array([[0.0, 0.9, 0.5, 0.1]], np.float32)  # a's second passage wins
    ids = ["a", "b", "c"] + [f"x{i}" for i in range(200)]  # enough articles for a top 100
    article_of_full = np.concatenate([article_of, np.arange(3, 203)])
    passages_full = np.vstack([passages, np.zeros((200, 4), np.float32)])
    perfect = article_metrics(question, passages_full, article_of_full, len(ids), ["q"], {"q": {"a": 1}}, ids)
    assert perfect == {"recall@10": 1.0, "mrr@10": 1.0, "recall@100": 1.0}
    second = article_metrics(question, passages_full, article_of_full, len(ids), ["q"], {"q": {"b": 1}}, ids)
    assert second["mrr@10"] == 0.5


@pytest.mark.slow
def test_fine_tune_moves_questions_towards_their_answers(built_index, embedder):
    from sentence_transformers import SentenceTransformer

    version = Searcher.open(built_index, embedder=embedder).layout.current()
    vectors = IndexVectors.load(version)
    store = MetaStore(version / "meta.sqlite", readonly=True)
    rows = store.db.execute("SELECT p.pos, a.title, p.text, a.id FROM passages p JOIN articles a "
                            "ON a.id = p.article_id ORDER BY p.pos").fetchall()
    store.close()
    passages = [embed_text(title, text) for _pos, title, text, _aid in rows]
    examples = []
    for title, questions in QUESTIONS.items():
        positives = np.array([pos for pos, t, _text, _aid in rows if t == title])
        for q in questions:
            negatives = hard_negatives(vectors, embedder.encode_queries([q])[0], positives, n=3)
            assert negatives and not set(vectors.article_of[negatives]) & set(vectors.article_of[positives])
            examples += [(q, int(p), negatives) for p in positives[:2]]
    model = SentenceTransformer(str(Path(embedder.model_dir)), device="cpu")
    model.max_seq_length = 128

    def margin() -> float:
        """Mean cosine to the answer minus cosine to the hardest negative."""
        q = model.encode([f"query: {e[0]}" for e in examples], normalize_embeddings=True)
        pos = model.encode([f"passage: {passages[e[1]]}" for e in examples], normalize_embeddings=True)
        neg = model.encode([f"passage: {passages[e[2][0]]}" for e in examples], normalize_embeddings=True)
        return float(np.mean((q * pos).sum(1) - (q * neg).sum(1)))

    before = margin()
    seconds = fine_tune(model, examples, passages, epochs=3, learning_rate=5e-5, temperature=0.05, batch_size=8,
                        seed=0, log=lambda _m: None)
    after = margin()
    assert seconds > 0 and after > before + 0.01, (before, after)
