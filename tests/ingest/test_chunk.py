"""Chunking: exact spans, full coverage, sentence boundaries, headings (property-based)."""
from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.chunk import HARD_LIMIT_CHARS, chunk_article, chunk_body
from ingest.records import Article

SENTENCE_ENDS = "。！？；"
pieces = st.one_of(
    st.text(alphabet="网贷逾期催收征信法院执行劳动合同赔偿补偿离婚财产", min_size=1, max_size=80),
    st.sampled_from(["。", "！", "？", "；", "，", "\n", "\n\n", "## 小标题\n", "1. ", "- ✅ ", "《民法典》第1032条", "  ", "……"]),
)
bodies = st.lists(pieces, min_size=0, max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(bodies)
def test_spans_are_exact_and_cover_every_character(body: str) -> None:
    spans = chunk_body(body)
    covered = [False] * len(body)
    for start, end, _heading in spans:
        assert 0 <= start < end <= len(body)
        text = body[start:end]
        assert text == text.strip(), "passages are trimmed"
        for i in range(start, end):
            covered[i] = True
    missing = [i for i, ch in enumerate(body) if not ch.isspace() and not covered[i]]
    assert missing == [], f"uncovered characters at {missing[:5]}"


@settings(max_examples=200, deadline=None)
@given(bodies)
def test_passages_stay_under_the_hard_limit(body: str) -> None:
    for start, end, _ in chunk_body(body):
        # a passage is at most the hard limit plus one overlapped sentence
        assert end - start <= 2 * HARD_LIMIT_CHARS


@settings(max_examples=100, deadline=None)
@given(bodies)
def test_article_passages_match_body(body: str) -> None:
    art = Article(id="a", title="t", body=body)
    for p in chunk_article(art):
        assert art.body[p.start : p.end] == p.text
        assert p.article_id == "a"


def _sentences(n: int, length: int = 40) -> str:
    return "".join(f"第{i}句" + "网" * (length - 4) + "。" for i in range(n))


def test_cuts_fall_on_sentence_ends():
    body = _sentences(30)
    spans = chunk_body(body)
    assert len(spans) > 3
    for start, end, _ in spans:
        assert body[end - 1] in SENTENCE_ENDS
        assert start == 0 or body[start - 1] in SENTENCE_ENDS


def test_neighbours_share_one_sentence_when_cut_for_length():
    body = _sentences(30)
    spans = chunk_body(body)
    for (_, e1, _), (s2, _, _) in zip(spans, spans[1:], strict=False):
        assert s2 < e1, "neighbouring passages overlap"
        overlap = body[s2:e1]
        assert len(re.findall("。", overlap)) == 1, "by exactly one sentence"


def test_a_single_overlong_sentence_is_split():
    body = "，".join(["这是一个很长的分句没有句号"] * 80) + "。"
    spans = chunk_body(body)
    assert len(spans) > 1
    assert all(e - s <= HARD_LIMIT_CHARS for s, e, _ in spans)


def test_headings_start_passages_and_give_the_heading_path():
    body = (
        "# 网贷逾期\n\n开头的话" + "说" * 80 + "。\n\n"
        "## 会不会上门\n\n" + "一般不会上门。" * 12 + "\n\n"
        "## 相关法条参考\n\n- 《民法典》第1032条：隐私权。\n- 《刑法》第293条：寻衅滋事罪。\n"
    )
    art = Article(id="x", title="t", body=body)
    passages = chunk_article(art)
    by_heading = {p.heading: p for p in passages}
    assert "网贷逾期 > 会不会上门" in by_heading
    assert by_heading["网贷逾期 > 会不会上门"].text.startswith("## 会不会上门")
    law = by_heading["网贷逾期 > 相关法条参考"]
    assert law.statutes == ["中华人民共和国民法典 第1032条", "中华人民共和国刑法 第293条"]


def test_plain_text_headings_are_recognised():
    body = "开头一段话，讲清楚问题。" * 8 + "\n\n正常情况下上门催收并不常见\n\n" + "正规平台很少上门。" * 10
    spans = chunk_body(body)
    assert any(h == "正常情况下上门催收并不常见" for _, _, h in spans)


def test_empty_and_whitespace_bodies_give_no_passages():
    assert chunk_body("") == []
    assert chunk_body("  \n\n ") == []
