"""What a client reads: one card per article, never template text, words marked, honest "no good match"."""
from __future__ import annotations

from pathlib import Path

import pytest

from index.build.pipeline import BuildOptions, build_index
from index.search.searcher import Searcher
from ingest.load import load
from ingest.template import learn_template

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"
CLOSING = "以上内容仅供参考，个案情况不同，建议咨询专业律师。"


@pytest.fixture(scope="module")
def planted_index(tmp_path_factory, embedder, tokenizer) -> Path:
    """The fixture corpus with a planted site template: every article ends in a statute list and the
    same closing advice, as a real firm's site does."""
    src = tmp_path_factory.mktemp("planted")
    for path in FIXTURES.glob("*.md"):
        text = path.read_text(encoding="utf-8").rstrip()
        (src / path.name).write_text(f"{text}\n\n## 相关法条参考\n\n- 《民法典》第1032条：自然人享有隐私权。\n\n"
                                     f"{CLOSING}\n", encoding="utf-8")
    root = tmp_path_factory.mktemp("planted-index") / "idx"
    report = build_index([str(src)], root, BuildOptions(progress=False), embedder, tokenizer)
    assert report.status == "published", report.message
    return root


@pytest.fixture(scope="module")
def planted(planted_index, embedder, tokenizer) -> Searcher:
    return Searcher.open(planted_index, embedder=embedder, tokenizer=tokenizer)


QUESTIONS = ["网贷逾期了，催收说要上门，是真的吗？", "被公司辞退能拿多少补偿", "交通事故对方全责怎么赔",
             "离婚冷静期多少天", "民法典第1032条是什么意思", "个案情况不同要咨询律师吗", "隐私权"]


def test_no_card_shows_the_planted_template(planted):
    for q in QUESTIONS:
        for hit in planted.search(q, k=5):
            assert CLOSING not in hit.passage and "相关法条参考" not in hit.passage, (q, hit.passage)
    # the statute list still counts for the article: asked about, the article comes first and says it cites it
    hit = planted.search("民法典第1032条是什么意思", k=3)[0]
    assert hit.cites_query_statute and "民法典第1032条" in hit.statutes + hit.article_statutes


def test_one_card_per_article_with_the_other_passages_one_click_away(planted):
    hits = planted.search("网贷逾期了，催收说要上门，是真的吗？", k=5)
    assert len({h.article_id for h in hits}) == len(hits)
    more = [m for h in hits for m in h.more]
    assert more and all(m.passage_id.split("#")[0] == h.article_id for h in hits for m in h.more)
    assert all(m.passage_id != h.passage_id for h in hits for m in h.more)
    raw = planted.search("网贷逾期了，催收说要上门，是真的吗？", k=5, per_article=3)  # the raw passages, on request
    assert max(sum(1 for h in raw if h.article_id == a) for a in {h.article_id for h in raw}) >= 2


def test_highlights_mark_words_not_stray_characters(planted):
    for q in QUESTIONS[:5] + ["房东不退押金怎么办", "被公司辞退能拿多少补偿，不给钱怎么办"]:
        for hit in planted.search(q, k=5):
            assert all(e - s >= 2 for s, e in hit.match_spans), (q, [hit.passage[s:e] for s, e in hit.match_spans])
    assert planted.tokenizer.highlight_terms("罪") == ["罪"]  # the whole question, or a one-character legal term


def test_a_five_article_site_is_not_padded_and_says_when_nothing_fits(tmp_path, embedder, tokenizer):
    src = tmp_path / "site"
    src.mkdir()
    for path in sorted(FIXTURES.glob("*.md"))[:5]:
        (src / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    report = build_index([str(src)], tmp_path / "idx", BuildOptions(progress=False), embedder, tokenizer)
    assert report.articles_total == 5
    site = Searcher.open(tmp_path / "idx", embedder=embedder, tokenizer=tokenizer)
    cat = site.search("我家猫把邻居的鱼吃了", k=5)
    assert cat.weak and cat.message
    overtime = site.search("加班费怎么算", k=5)  # nothing on the site is about overtime pay
    assert overtime.weak or len(overtime) < 5
    fits = site.search("被公司辞退能拿多少补偿", k=5)
    assert not fits.weak and fits[0].article_id == "cizhi-buchang" and len(fits) < 5


def test_learning_the_template_reads_the_corpus_not_a_phrase_list():
    """The shipped corpus's frame is found from repetition alone."""
    corpus = Path(__file__).resolve().parents[3] / "corpus"
    template = learn_template((a.body, a.category) for a in load(corpus).articles)
    assert template.headings == frozenset({"相关法条参考"})
