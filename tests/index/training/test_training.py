"""A tiny real training run: the real e5 weights, the real index, a few dozen pairs, under a minute or two."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.encoders.base import ModelUnavailable
from index.encoders.int8 import EXPORT_VERSION
from index.search.searcher import Searcher
from index.storage.store import MetaStore
from index.training.artifact import RECORD, read_record
from index.training.crossval import MEMORY_VARIANTS, VARIANTS, split_folds
from index.training.pairs import IndexVectors, _only_citations, labelled_pairs, mined_pairs
from index.training.run import OOF_FILE
from index.training.tower import TrainConfig, encode_questions, train_query_tower

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]

# Hand-written lay questions about the fixture articles (not the eval set): title -> questions.
QUESTIONS = {
    "被公司辞退，能拿到多少经济补偿？": ["老板把我开了给多少钱", "被炒鱿鱼了公司要赔吗"],
    "发生交通事故后，第一步应该做什么？": ["撞车了先干嘛", "出车祸以后要不要报警"],
    "协议离婚要等三十天冷静期吗？": ["两个人都同意离婚还要等一个月吗", "离婚冷静期多长时间"],
    "网贷逾期后催收说要上门，是真的吗？": ["欠网贷不还会有人来家里吗", "催债的说要来我家是吓唬人吗"],
}
TINY = TrainConfig(epochs=2, batch_size=8, learning_rate=5e-5, mined_per_epoch=40)


def _labelled(index_dir: Path) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    store = MetaStore(Searcher.open(index_dir).layout.current() / "meta.sqlite", readonly=True)
    titles = {t: aid for aid, t in store.db.execute("SELECT id, title FROM articles")}
    store.close()
    queries, qrels = {}, {}
    for title, questions in QUESTIONS.items():
        for n, q in enumerate(questions):
            qid = f"{titles[title]}-{n}"
            queries[qid], qrels[qid] = q, {titles[title]: 1}
    return queries, qrels


def _write_labelled(folder: Path, queries: dict[str, str], qrels: dict[str, dict[str, int]]) -> tuple[Path, Path]:
    """The labelled questions as the CLI reads them: queries JSONL and qrels TSV."""
    qfile, rfile = folder / "q.jsonl", folder / "qrels.tsv"
    qfile.write_text("".join(json.dumps({"qid": k, "question": v}, ensure_ascii=False) + "\n"
                             for k, v in queries.items()), encoding="utf-8")
    rfile.write_text("".join(f"{k}\t{a}\n" for k, r in qrels.items() for a in r), encoding="utf-8")
    return qfile, rfile


def test_statute_names_are_not_mined_as_questions():
    assert _only_citations("中华人民共和国民法典第五十四条")
    assert _only_citations("《刑法》第293条")
    assert not _only_citations("网贷逾期真的会有人上门吗？")
    assert not _only_citations("《民法典》第1032条说的隐私权是什么")


def test_pairs_point_at_the_right_passages(built_index):
    vectors = IndexVectors.load(Searcher.open(built_index).layout.current())
    mined = mined_pairs(vectors.path)
    titles = [p for p in mined if p.source == "title"]
    assert {p.text for p in titles} >= set(QUESTIONS)
    for pair in titles:  # a title's positives are exactly its own article's passages
        assert {vectors.article_ids[vectors.article_of[p]] for p in pair.positives} == {pair.key}
    assert all(p.source == "heading" and len(p.positives) >= 1 for p in mined if p not in titles)
    queries, qrels = _labelled(built_index)
    queries["nowhere"], qrels["nowhere"] = "不在索引里的问题", {"no-such-article": 1}
    pairs = labelled_pairs(vectors, queries, qrels)
    assert len(pairs) == len(queries) - 1 and "nowhere" not in {p.key for p in pairs}


def test_folds_split_by_question_without_overlap():
    folds = split_folds([str(i) for i in range(23)], 5)
    assert sorted(q for f in folds for q in f) == sorted(str(i) for i in range(23))
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    with pytest.raises(ValueError):
        split_folds(["a"], 2)


def test_tiny_training_lands_questions_on_their_answers(built_index, embedder):
    """Two epochs over a few dozen pairs: the trained tower ranks the answers higher than the base model."""
    searcher = Searcher.open(built_index, embedder=embedder)
    vectors = IndexVectors.load(searcher.layout.current())
    queries, qrels = _labelled(built_index)
    pairs = labelled_pairs(vectors, queries, qrels)
    tower = train_query_tower(Path(embedder.model_dir), embedder.query_prompt, vectors.vectors, pairs,
                              mined_pairs(vectors.path), TINY)

    def answer_probability(qv: np.ndarray) -> float:
        scores = qv @ vectors.vectors.T / TINY.temperature
        probs = np.exp(scores - scores.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        return float(np.mean([probs[i, p.positives].sum() for i, p in enumerate(pairs)]))

    texts = [p.text for p in pairs]
    before = answer_probability(embedder.encode_queries(texts))
    after = answer_probability(encode_questions(tower, texts, embedder.query_prompt))
    assert after > before + 0.05, (before, after)


def test_train_command_cross_validates_saves_and_serves(built_index, tmp_path):
    """The CLI end to end: 2-fold CV + final tower, then search and eval with LAWFAQ_QUERY_MODEL (int8 export)."""
    queries, qrels = _labelled(built_index)
    qfile, rfile = _write_labelled(tmp_path, queries, qrels)
    env = {**os.environ, "LAWFAQ_QUERY_LOG": "off"}
    env.pop("LAWFAQ_QUERY_MODEL", None)
    cmd = [sys.executable, "-m", "index", "train", "--index", str(built_index), "--queries", str(qfile),
           "--qrels", str(rfile), "--folds", "2", "--epochs", "1", "--batch-size", "8", "--loss", "every", "--name", "tiny",
           "--out", str(tmp_path / "towers"), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    folder = Path(result["model"]["path"])
    assert folder == tmp_path / "towers" / "tiny" and (folder / "modules.json").exists()
    summary = result["cross_validation"]["summary"]
    assert set(summary) == set(VARIANTS) | set(MEMORY_VARIANTS)
    assert all(0.0 <= mean <= 1.0 for v in summary.values() for mean, _sd in v.values())
    record = read_record(folder)
    from index.search.answered import MEMORY_FILE, QuestionMemory

    memory = QuestionMemory.load(folder / MEMORY_FILE)  # the labelled questions, answered
    assert len(memory) == len(queries) and "w_memory" in record["fusion"]
    manifest = json.loads((Searcher.open(built_index).layout.current() / "manifest.json").read_text())
    assert record["index_model"]["checksum"] == manifest["model"]["checksum"]
    assert record["training"]["pairs"]["labelled"] == len(queries)
    assert record["training"]["config"]["loss"] == "every"
    assert set(record["fusion"]) == {"w_dense", "w_bm25", "rrf_k", "w_base", "w_memory", "w_memory_tail"}
    oof = np.load(folder / OOF_FILE)  # every labelled question's vector from the fold tower that never saw it
    assert 0 < len(oof["questions"]) <= len(queries) and oof["vectors"].shape == (len(oof["questions"]), 384)
    assert np.allclose(np.linalg.norm(oof["vectors"], axis=1), 1.0, atol=1e-3)

    served = {**env, "LAWFAQ_QUERY_MODEL": str(folder)}
    search = subprocess.run([sys.executable, "-m", "index", "search", "老板把我开了给多少钱", "--index",
                             str(built_index), "--json"], capture_output=True, text=True, env=served, cwd=ROOT,
                            timeout=600)
    assert search.returncode == 0, search.stderr[-3000:]
    assert json.loads(search.stdout)["hits"][0]["title"] == "被公司辞退，能拿到多少经济补偿？"
    # the tower's int8 export lives with it, named by the export version
    assert (folder / f".int8-{EXPORT_VERSION}" / "model_int8.onnx").exists()
    ev = subprocess.run([sys.executable, "-m", "index", "eval", "--index", str(built_index), "--queries", str(qfile),
                         "--qrels", str(rfile), "--modes", "dense", "--query-model", str(folder), "--json"],
                        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert ev.returncode == 0, ev.stderr[-3000:]
    variants = json.loads(ev.stdout)["variants"]
    assert list(variants) == ["base model", f"query tower {folder}"]


def test_a_tower_for_other_vectors_is_refused(built_index, embedder, tmp_path):
    from index.encoders.tower import query_tuned

    folder = tmp_path / "tower"
    folder.mkdir()
    (folder / RECORD).write_text(json.dumps({"kind": "query-tower", "name": "x",
                                             "index_model": {"name": "other", "checksum": "0000"}}))
    with pytest.raises(ModelUnavailable, match="trained against passage vectors of 'other'"):
        query_tuned(embedder, folder, "int8")
    (folder / RECORD).write_text("{not json")
    with pytest.raises(ModelUnavailable, match="cannot be read"):
        query_tuned(embedder, folder, "int8")


def test_a_tower_brings_its_fusion_weights(built_index, embedder, tmp_path):
    from index.encoders.tower import QueryTunedEmbedder

    sources = sorted(json.loads((Searcher.open(built_index).layout.current() / "manifest.json").read_text())["sources"])
    fusion = {"w_dense": 1.0, "w_bm25": 0.25, "rrf_k": 20.0}
    tuned = QueryTunedEmbedder(embedder, embedder, {"name": "t", "fusion": fusion, "fusion_sources": sources},
                               tmp_path)
    searcher = Searcher.open(built_index, embedder=tuned)
    assert (searcher.config.w_bm25, searcher.config.rrf_k) == (0.25, 20.0)
    assert searcher.status()["fusion"]["w_bm25"] == 0.25
    hits = searcher.search("网贷逾期会上门吗", k=3)
    assert len(hits) >= 1 and "judge_ms" in hits.timings  # "no good match" judged on the base model's cosine
    # weights fitted on another corpus stay there: this index keeps the 1:1 fusion
    elsewhere = QueryTunedEmbedder(embedder, embedder, {"name": "t", "fusion": fusion,
                                                        "fusion_sources": ["/srv/statutes.jsonl"]}, tmp_path)
    assert Searcher.open(built_index, embedder=elsewhere).config.w_bm25 == 1.0


def test_a_tower_can_fuse_the_base_models_own_list(built_index, embedder, tmp_path):
    """SearchConfig.w_base: hybrid fuses a third list, the base model's dense candidates, and judges
    "no good match" from its best cosine without a second search. With the base model as the "tower"
    the third list repeats the first, so the ranking must equal two lists with the dense weight doubled."""
    from index.encoders.tower import QueryTunedEmbedder
    from index.search.config import SearchConfig

    sources = sorted(json.loads((Searcher.open(built_index).layout.current() / "manifest.json").read_text())["sources"])
    fusion = {"w_dense": 1.0, "w_bm25": 1.0, "rrf_k": 60.0, "w_base": 1.0}
    tuned = QueryTunedEmbedder(embedder, embedder, {"name": "t", "fusion": fusion, "fusion_sources": sources},
                               tmp_path)
    three = Searcher.open(built_index, embedder=tuned)
    assert three.config.w_base == 1.0 and three.status()["fusion"]["w_base"] == 1.0
    doubled = Searcher.open(built_index, embedder=embedder, config=SearchConfig(w_dense=2.0, w_bm25=1.0))
    for q in ("网贷逾期会上门吗", "老板把我开了给多少钱", "邻居装修太吵怎么办"):
        assert three.rank_articles(q, k=20) == doubled.rank_articles(q, k=20), q
    hits = three.search("网贷逾期会上门吗", k=3)
    assert "base_ms" in hits.timings and "judge_ms" not in hits.timings
    assert [h.passage_id for h in hits] == [h.passage_id for h in doubled.search("网贷逾期会上门吗", k=3)]
    assert hits.weak == doubled.search("网贷逾期会上门吗", k=3).weak


# ---- answered questions (index.search.answered) ----------------------------------------------------------------

def test_answered_questions_vote_for_their_articles_and_save(tmp_path):
    from index.search.answered import FoldMemory, QuestionMemory, build_memory

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(6, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    memory = build_memory([f"q{i}" for i in range(6)], vecs, [["a"], ["b"], ["c"], ["a", "d"], ["e"], ["f"]],
                          neighbors=3, temperature=0.02, null_cosine=0.9)
    near = memory.article_scores(vecs[1])  # asking (a twin of) q1: its article carries almost all the weight
    assert max(near, key=near.get) == "b" and near["b"] > 0.9 and len(near) <= 4
    far = memory.article_scores(-vecs[1])  # nothing close: the "none of them" option takes the weight
    assert sum(far.values()) < 0.05
    memory.save(tmp_path / "m.npz")
    again = QuestionMemory.load(tmp_path / "m.npz")
    assert again.texts == memory.texts and again.articles == memory.articles and again.null_cosine == 0.9
    np.testing.assert_array_equal(again.vectors, memory.vectors)
    # cross-validation: a question never hears its own fold, nor the held-out fold
    folds = FoldMemory(memory, {"q0": 0, "q1": 0, "q2": 1, "q3": 1, "q4": 2, "q5": 2}, held_out=2)
    heard = folds.article_scores(vecs[1], "q1")
    assert "b" not in heard and "e" not in heard and "f" not in heard
    with pytest.raises(KeyError):
        folds.article_scores(vecs[1], "not asked in any fold")


def test_answered_questions_lift_their_answer_in_search(built_index, embedder):
    """A question answered before pulls its article up; the weight 0 leaves the ranking as it was."""
    from dataclasses import replace

    from index.search.answered import build_memory

    searcher = Searcher.open(built_index, embedder=embedder)
    question = "楼上漏水把我家泡了怎么办"
    before = searcher.rank_articles(question, k=10)
    dense_before = searcher.rank_articles(question, mode="dense", k=10)
    target = before[-1]  # an article the first stage ranks low for this question
    clean = searcher.clean_query(question)
    searcher.memory = build_memory([clean], embedder.encode_queries([clean]), [[target]])
    searcher.config = replace(searcher.config, w_memory=0.0)
    assert searcher.rank_articles(question, k=10) == before
    searcher.config = replace(searcher.config, w_memory=2.0)
    assert searcher.rank_articles(question, k=10)[0] == target
    hits = searcher.search(question, k=3)
    assert hits[0].article_id == target and "memory_ms" in hits.timings
    assert searcher.rank_articles(question, mode="dense", k=10) == dense_before  # only hybrid hears it


def test_the_recall_tail_reorders_only_past_the_first_screen(built_index, embedder):
    """The tail's vote lifts an answered question's article to the first place past the head; the head
    (what the page shows) stays as ranked, and scores still read best first."""
    from dataclasses import replace

    from index.search.answered import build_memory

    searcher = Searcher.open(built_index, embedder=embedder)
    question = "楼上漏水把我家泡了怎么办"
    before = searcher.rank_articles(question, k=20)
    target = before[-1]
    clean = searcher.clean_query(question)
    searcher.memory = build_memory([clean], embedder.encode_queries([clean]), [[target]])
    searcher.config = replace(searcher.config, w_memory=0.0, w_memory_tail=8.0, head_articles=3)
    after = searcher.rank_articles(question, k=20)
    hits = searcher.search(question, k=12)
    # the head's cards keep their folded copies ("相同内容也见于") right after them; the target comes next
    copies = {c.article_id for h in hits if h.article_id in before[:3] for c in h.also_in}
    first_past_head = next(i for i, a in enumerate(after) if a not in set(before[:3]) | copies)
    assert after[:3] == before[:3] and after[first_past_head] == target != before[first_past_head], (before, after)
    assert sorted(after) == sorted(before)
    assert [h.article_id for h in hits][:1] == before[:1]
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    searcher.config = replace(searcher.config, w_memory=8.0, w_memory_tail=8.0)  # not above the head's: off
    assert searcher.rank_articles(question, k=20)[0] == target
