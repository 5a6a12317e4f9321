"""Hybrid search on a real index (real model, FAISS, BM25, SQLite) over the fixture corpus."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from index.search.hits import text_fragment
from index.search.request import InvalidQuery
from index.search.searcher import ModelMismatch, Searcher
from index.storage.dense import build_dense, search_dense
from index.storage.layout import IndexDir, IndexNotFound

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s(built_index, embedder, tokenizer):
    return Searcher.open(built_index, embedder=embedder, tokenizer=tokenizer)


def test_colloquial_question_finds_the_answer(s):
    hits = s.search("网贷逾期了，催收说要上门，是真的吗？", k=5)
    assert hits[0].article_id in ("shangmen-cuishou", "shangmen-cuishou-bayue")
    assert not hits.weak
    h = hits[0]
    assert h.passage == h.passage.strip() and h.title and h.category == "金融债务"
    assert {"上门"} & set(h.matched_terms)
    for a, b in h.match_spans:
        assert h.passage[a:b] in h.matched_terms
    s0, e0 = h.best_sentence
    assert 0 <= s0 < e0 <= len(h.passage)


@pytest.mark.parametrize(
    "query, article",
    [
        ("被公司开除了能拿多少钱", "cizhi-buchang"),
        ("两口子去民政局离婚要等多久", "lihun-lengjingqi"),
        ("撞车了第一时间该干嘛", "jiaotong-shigu"),
        ("物业服务差可以不给物业费吗", "xss-test"),
    ],
)
def test_each_topic_ranks_first(s, query, article):
    assert s.search(query, k=3)[0].article_id == article


def test_traditional_query_finds_the_same_article(s):
    simp = s.search("离婚冷静期是多少天", k=1)[0].article_id
    trad = s.search("離婚冷靜期是多少天", k=1)[0].article_id
    assert simp == trad == "lihun-lengjingqi"


@pytest.mark.parametrize("query, key, article", [
    ("民法典1077条说的什么", "民法典第1077条", "lihun-lengjingqi"),
    ("民法典第一千二百一十三条", "民法典第1213条", "jiaotong-shigu"),
    ("劳动合同法87条", "劳动合同法第87条", "cizhi-buchang"),
])
def test_statute_queries_rank_citing_passages_first(s, query, key, article):
    hits = s.search(query, k=3)
    assert hits[0].article_id == article
    # the card may be a section standing in for the article's statute list (template): the article cites it
    assert hits[0].cites_query_statute and key in hits[0].statutes + hits[0].article_statutes


def test_at_most_two_passages_per_article_and_near_duplicates_collapsed(s):
    hits = s.search("网贷逾期催收上门怎么办", k=10)
    per = {}
    for h in hits:
        per[h.article_id] = per.get(h.article_id, 0) + 1
    assert max(per.values()) <= 2
    texts = [h.passage for h in hits]
    # the two templated variants share their middle sections; those must not both appear
    dup = "持牌机构的催收以电话、短信和App提醒为主"
    assert sum(dup in t for t in texts) <= 1


def test_a_folded_near_copy_is_listed_with_its_hit_and_next_in_the_article_ranking(s):
    """The templated sister page is not a second card but a "相同内容也见于" link on the first; the
    article ranking (what evaluation scores) lists it right after the hit it copies."""
    query = "网贷逾期催收上门怎么办"
    hits = s.search(query, k=10)
    with_copies = [h for h in hits if h.also_in]
    assert with_copies, [(h.article_id, h.passage[:30]) for h in hits]
    hit = with_copies[0]
    variants = {"shangmen-cuishou", "shangmen-cuishou-bayue"}
    assert {hit.article_id, *(c.article_id for c in hit.also_in)} <= variants and hit.article_id not in {
        c.article_id for c in hit.also_in}
    copy = hit.also_in[0]
    assert copy.title and copy.link and copy.passage_id.startswith(copy.article_id)
    ranked = s.rank_articles(query, k=20)
    assert ranked.index(copy.article_id) == ranked.index(hit.article_id) + 1
    assert hit.to_dict()["also_in"][0]["article_id"] == copy.article_id


def test_off_topic_question_is_marked_weak(s):
    hits = s.search("红烧肉怎么做才好吃", k=5)
    assert hits.weak and "没有找到" in hits.message
    assert len(hits) > 0  # nearest results are still shown, marked weak


@pytest.mark.parametrize("query", ["", "   ", "\n\t", "？？？", "😀😀😀", "how to get a divorce in China",
                                   "'; DROP TABLE articles; --", "<script>alert(1)</script>", "网贷" * 5000,
                                   "網貸overdue会怎样\x00\x1b[31m"])
def test_bad_queries_never_raise(s, query):
    hits = s.search(query, k=5)
    assert isinstance(hits.message, str)
    if not query.strip():
        assert len(hits) == 0 and hits.message


def test_category_and_date_filters(s):
    hits = s.search("怎么办", k=10, category="劳动纠纷")
    assert hits and all(h.category == "劳动纠纷" for h in hits)
    hits = s.search("网贷逾期", k=10, date_from="2025-06-01")
    assert hits and all(h.published >= "2025-06-01" for h in hits)
    with pytest.raises(InvalidQuery, match="category"):  # named, never an empty answer blamed on the wording
        s.search("网贷逾期", k=5, category="不存在的分类")


@pytest.mark.parametrize("kwargs, param", [
    ({"k": 0}, "k"), ({"k": -3}, "k"), ({"k": 51}, "k"), ({"k": "abc"}, "k"), ({"k": float("nan")}, "k"),
    ({"k": float("inf")}, "k"), ({"k": None}, "k"), ({"k": True}, "k"),
    ({"category": 123}, "category"), ({"category": {"劳动纠纷": 1}}, "category"), ({"category": ["劳动纠纷", 7]}, "category"),
    ({"date_from": "2024-13-01"}, "date_from"), ({"date_to": "2024-13-01"}, "date_to"),
    ({"date_from": "2025-06-02", "date_to": "2025-06-01"}, "date_from"), ({"mode": "fuzzy"}, "mode"),
])
def test_bad_arguments_are_clear_errors_not_silent_results(s, kwargs, param):
    """k<=0 used to return one hit, an invalid date_from to be ignored, category=123 a TypeError."""
    with pytest.raises(InvalidQuery, match=f"^{param}: ") as err:
        s.search("网贷逾期", **kwargs)
    assert isinstance(err.value, ValueError) and err.value.param == param
    with pytest.raises(InvalidQuery, match="^query: "):
        s.search(None)


def test_categories_are_normalised_and_digit_strings_accepted(s):
    plain = s.search("被公司开除了能拿多少钱", k=5, category="劳动纠纷", mode="bm25")
    assert plain and all(h.category == "劳动纠纷" for h in plain)
    for spelled in (" 劳动纠纷 ", ["劳动纠纷\u3000", "  "], ("劳动纠纷",), {"劳动纠纷"}):
        got = s.search("被公司开除了能拿多少钱", k="5", category=spelled, mode="bm25")
        assert [h.passage_id for h in got] == [h.passage_id for h in plain], spelled
    assert s.search("被公司开除了能拿多少钱", k=5, category=[], mode="bm25")  # empty list: no filter


def test_links(s):
    h = s.search("离婚冷静期", k=1)[0]
    assert h.url is None and h.link == "?article=lihun-lengjingqi&passage=" + h.passage_id.replace("#", "%23")
    link = s.link_for("https://www.example-law.cn/hf/1.html#top", "x", "x#0", "催收人员不得骚扰无关第三人，否则违法。")
    assert link.startswith("https://www.example-law.cn/hf/1.html#:~:text=")
    assert text_fragment("“上门”不等于“暴力催收”！关键在于合法。") == "关键在于合法"
    assert text_fragment("x") == ""


def test_hits_carry_every_statute_their_article_cites(s):
    hits = s.search("网贷逾期了，催收说要上门，是真的吗？", k=10)
    assert hits
    for h in hits:
        _, passages = s.article(h.article_id)
        cited = {label for p in passages for label in p.labels}
        assert set(h.article_statutes) == cited and set(h.statutes) <= cited
    assert any(h.article_statutes for h in hits)


def test_search_frame_and_rank_articles(s):
    df = s.search_frame("交通事故交强险怎么赔", k=3)
    assert list(df.columns)[:3] == ["rank", "title", "category"] and len(df) >= 1
    ranked = s.rank_articles("交通事故交强险怎么赔", "hybrid", k=10)
    assert ranked[0] == "jiaotong-shigu" and len(ranked) == len(set(ranked))
    for mode in ("bm25", "dense"):
        assert s.rank_articles("交通事故交强险怎么赔", mode, k=10)


def test_missing_or_damaged_index_is_a_clear_error(tmp_path, embedder, tokenizer, built_index):
    with pytest.raises(IndexNotFound, match="python -m index build"):
        Searcher.open(tmp_path / "nothing", embedder=embedder, tokenizer=tokenizer)
    broken = tmp_path / "broken"
    shutil.copytree(built_index, broken)
    (broken / "CURRENT").write_text("20000101T000000Z\n")
    with pytest.raises(IndexNotFound, match="manifest.json is missing"):
        Searcher.open(broken, embedder=embedder, tokenizer=tokenizer)


def test_opening_with_another_model_is_a_clear_error(tmp_path, embedder, tokenizer, built_index):
    other = tmp_path / "other"
    shutil.copytree(built_index, other)
    manifest_path = IndexDir(other).current() / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model"]["checksum"] = "0123456789abcdef"
    manifest["model"]["name"] = "bge-small-zh-v1.5"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ModelMismatch, match="bge-small-zh-v1.5"):
        Searcher.open(other, embedder=embedder, tokenizer=tokenizer)


def test_refresh_keeps_serving_when_the_new_version_cannot_be_used(tmp_path, embedder, tokenizer, built_index):
    root = tmp_path / "idx"
    shutil.copytree(built_index, root)
    layout = IndexDir(root)
    old = layout.current_name()
    searcher = Searcher.open(root, embedder=embedder, tokenizer=tokenizer)

    bad = old + "b"
    shutil.copytree(root / "versions" / old, root / "versions" / bad)
    manifest_path = root / "versions" / bad / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model"].update(name="bge-small-zh-v1.5", checksum="0123456789abcdef")
    manifest_path.write_text(json.dumps(manifest))
    layout.switch(bad)

    hits = searcher.search("网贷逾期了，催收说要上门，是真的吗？", k=3)  # search() refreshes first
    assert hits and hits.version == old and searcher.version == old
    assert "bge-small-zh-v1.5" in searcher.refresh_error
    assert searcher.refresh() is False  # the failed version is not retried on every query

    good = old + "c"
    shutil.copytree(root / "versions" / old, root / "versions" / good)
    layout.switch(good)
    assert searcher.refresh() is True
    assert searcher.version == good and searcher.refresh_error is None


def test_manifest_is_complete(built_index):
    manifest = json.loads((IndexDir(built_index).current() / "manifest.json").read_text())
    for key in ("model", "counts", "built_at", "source_fingerprint", "code_version"):
        assert manifest[key]
    assert manifest["model"]["dim"] == 384 and manifest["counts"]["articles"] == 6


def test_hnsw_recall_against_exact_search():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(200, 384)).astype(np.float32)
    data = centres[rng.integers(0, 200, 20_000)] + 0.5 * rng.normal(size=(20_000, 384)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    exact = build_dense(data, approx_threshold=10**9)
    approx = build_dense(data, approx_threshold=1000)
    assert type(exact).__name__ == "IndexFlatIP" and type(approx).__name__ == "IndexHNSWFlat"
    queries = data[rng.integers(0, len(data), 200)] + 0.05 * rng.normal(size=(200, 384)).astype(np.float32)
    recalls = []
    for q in queries:
        q = q / np.linalg.norm(q)
        truth = set(search_dense(exact, q, 10)[1].tolist())
        got = set(search_dense(approx, q, 10)[1].tolist())
        recalls.append(len(truth & got) / 10)
    assert float(np.mean(recalls)) >= 0.95


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "dense"])
@pytest.mark.parametrize("query", ["公司辞退我能拿多少补偿", "网贷逾期了，催收说要上门，是真的吗？",
                                   "民法典第1077条 离婚冷静期", "交通事故交强险怎么赔", "养宠物的邻居太吵"])
def test_eval_scores_the_order_the_page_shows(s, query, mode):
    """`index eval` ranks articles exactly as the page lists them (same boost, cap and folding: a card's
    "相同内容也见于" articles right after it)."""
    hits = s.search(query, k=20, mode=mode)
    page_order = list(dict.fromkeys(a for h in hits for a in (h.article_id, *(c.article_id for c in h.also_in))))
    assert page_order or mode == "bm25", query  # BM25 alone may find nothing off-topic
    assert s.rank_articles(query, mode=mode, k=len(page_order)) == page_order


REPEAL_ARTICLES = {
    "hetong-wuxiao.md": """---
title: 哪些合同是无效的？
category: 合同纠纷
date: 2024-05-01
---

签了合同不等于一定有效。违反法律、行政法规的强制性规定的民事法律行为无效，这是《民法典》第153条的规定；
恶意串通，损害他人合法权益的，依照《民法典》第154条同样无效。
""",
    "lihun-susong.md": """---
title: 起诉离婚，法院什么情况下会判离？
category: 婚姻家庭
date: 2019-06-01
---

根据《婚姻法》第三十二条，感情确已破裂，调解无效的，应准予离婚。分居满二年的，也会被认定为感情破裂。
""",
    "zufang.md": """---
title: 房东提前收房怎么办？
category: 房产纠纷
date: 2024-03-01
---

租期没到房东就要收房，属于违约，租客可以要求赔偿搬家费和差价损失。
""",
}


@pytest.fixture(scope="module")
def repeal_index(tmp_path_factory, embedder, tokenizer):
    from index.build.pipeline import BuildOptions, build_index

    root = tmp_path_factory.mktemp("repeal")
    (root / "src").mkdir()
    for name, text in REPEAL_ARTICLES.items():
        (root / "src" / name).write_text(text, encoding="utf-8")
    report = build_index([str(root / "src")], root / "idx", BuildOptions(progress=False), embedder, tokenizer)
    assert report.status == "published", report.message
    return Searcher.open(root / "idx", embedder=embedder, tokenizer=tokenizer)


def test_a_query_citing_a_repealed_article_finds_passages_citing_its_successor(repeal_index):
    hits = repeal_index.search("合同法第五十二条 合同无效", k=3)
    assert hits[0].article_id == "hetong-wuxiao" and hits[0].cites_query_statute
    assert {"民法典第153条", "民法典第154条"} <= set(hits[0].statutes)


def test_a_query_citing_the_new_code_finds_passages_citing_the_old_law(repeal_index):
    hits = repeal_index.search("民法典第1079条", k=3)
    assert hits[0].article_id == "lihun-susong" and hits[0].cites_query_statute
    assert hits[0].statutes == ["婚姻法第32条"]


def test_a_pinyin_question_is_read_into_chinese_and_finds_the_same_answer(s):
    """Typed with the input method off: the models and BM25 read the Chinese, the page says how."""
    typed = s.search("cuishou shuo yao shangmen 是真的吗", k=3)
    chinese = s.search("催收说要上门是真的吗", k=3)
    assert typed.read_as is not None and "催收" in typed.read_as and "上门" in typed.read_as
    assert typed.to_dict()["read_as"] == typed.read_as and typed.query.startswith("cuishou")
    assert typed[0].article_id == chinese[0].article_id
    assert typed[0].article_id in ("shangmen-cuishou", "shangmen-cuishou-bayue")
    assert "上门" in typed[0].matched_terms  # highlighted in the characters, not the pinyin
    assert s.rank_articles("cuishou shuo yao shangmen 是真的吗")[0] == typed[0].article_id


def test_a_traditional_question_is_read_as_simplified_by_every_model(s):
    """BM25 always folded the two scripts; the embedding model now reads the Simplified question too,
    so a question typed in Traditional characters ranks exactly as the same question in Simplified."""
    typed = s.search("網貸逾期會有人上門嗎", k=5)
    simplified = s.search("网贷逾期会有人上门吗", k=5)
    assert typed.read_as == "网贷逾期会有人上门吗" and typed.query == "網貸逾期會有人上門嗎"
    assert simplified.read_as is None
    assert [(h.passage_id, h.dense_score, h.bm25_score) for h in typed] == \
        [(h.passage_id, h.dense_score, h.bm25_score) for h in simplified]
    assert s.rank_articles("網貸逾期會有人上門嗎") == s.rank_articles("网贷逾期会有人上门吗")


def test_english_in_a_question_is_not_read_as_pinyin(s):
    hits = s.search("催收 can I sue them", k=3)
    assert hits.read_as is None and hits.to_dict()["read_as"] is None
