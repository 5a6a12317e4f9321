"""Passages shaped like answers (ingest.structure): sections whole, lists whole with their lead-in,
no passage starting mid-list or mid-sentence — over every passage of the shipped corpus and the seed page."""
from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunk import _LIST_ITEM, chunk_article, chunk_body
from ingest.load import load

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT.parent / "shared" / "samples" / "firm-article-extracted.txt"
SENTENCE_END = "。！？；!?;…：:）)”\"」』】]*"


def _previous_line(body: str, start: int) -> str:
    before = body[:start].rstrip("\n").rsplit("\n", 1)
    return before[-1].strip() if before and before[-1].strip() else ""


def _check(body: str, spans: list[tuple[int, int, str]]) -> list[str]:
    """Every way a passage starts badly, as readable strings (empty when all start well)."""
    bad = []
    for start, end, heading in spans:
        line_start = start == 0 or body[start - 1] == "\n" or body[:start].rstrip(" \t").endswith("\n")
        prev_text = body[:start].rstrip()
        if not line_start and prev_text and prev_text[-1] not in SENTENCE_END:
            bad.append(f"mid-sentence: {body[start:start + 30]!r}")
        first = body[start:end].split("\n", 1)[0].strip()
        if _LIST_ITEM.match(first) and _LIST_ITEM.match(_previous_line(body, start)) and " > " not in heading:
            bad.append(f"mid-list without its lead-in as context: {first[:30]!r}")
    return bad


def test_no_passage_of_the_shipped_corpus_starts_mid_list_or_mid_sentence():
    articles = load(ROOT / "corpus").articles
    assert len(articles) == 68
    bad = {a.id: _check(a.body, chunk_body(a.body)) for a in articles}
    assert {k: v for k, v in bad.items() if v} == {}


@pytest.mark.skipif(not SAMPLE.exists(), reason="the shared sample page is not beside this checkout")
def test_no_passage_of_the_seed_page_starts_mid_list_or_mid_sentence():
    (article,) = load(SAMPLE).articles
    spans = chunk_body(article.body)
    assert len(spans) >= 4 and _check(article.body, spans) == []
    texts = [article.body[s:e] for s, e, _ in spans]
    # the list of red lines stays whole, with the sentence that says what it lists
    red_lines = next(t for t in texts if "不能冒充公检法人员威胁你" in t)
    assert "记住这几条" in red_lines and "不能非法入侵住宅或跟踪你" in red_lines


def test_a_section_is_one_passage_with_its_heading_and_a_list_stays_with_its_lead_in():
    body = ("开头的一段故事。\n\n## N到底怎么算\n\n经济补偿按工作年限计算：\n\n- 满一年的部分，一年算一个月；\n"
            "- 六个月以上不满一年的，按一年算；\n- 不满六个月的，支付半个月工资。\n\n举个例子：干了3年8个月，N就是4个月工资。\n\n"
            "## 什么情况属于违法辞退\n\n没有任何理由就让人走。\n")
    spans = chunk_body(body)
    texts = [body[s:e] for s, e, _ in spans]
    assert texts[0] == "开头的一段故事。"
    assert texts[1].startswith("## N到底怎么算") and "不满六个月的" in texts[1] and "举个例子" in texts[1]
    assert spans[1][2] == "N到底怎么算" and texts[2].startswith("## 什么情况属于违法辞退")


def test_a_long_list_is_cut_between_items_and_later_pieces_carry_heading_and_lead_in():
    items = "\n".join(f"{n}. 第{n}种情形：" + "这是一条很长的说明文字，" * 8 + "到此为止。" for n in range(1, 9))
    body = f"## 哪些情况可以解除合同\n\n有下列情形之一的，可以解除合同：\n\n{items}\n"
    spans = chunk_body(body)
    assert len(spans) >= 2 and _check(body, spans) == []
    assert body[spans[0][0]:spans[0][1]].startswith("## 哪些情况") and "有下列情形之一的" in body[spans[0][0]:spans[0][1]]
    for start, end, heading in spans[1:]:
        assert _LIST_ITEM.match(body[start:end]) and heading.startswith("哪些情况可以解除合同 > 有下列情形之一的")
    assert all(body[s:e].rstrip().endswith("到此为止。") for s, e, _ in spans)  # never cut inside an item


def test_every_passage_keeps_its_span_and_the_body_is_covered(tmp_path):
    for article in load(ROOT / "corpus").articles:
        passages = chunk_article(article)
        covered = bytearray(len(article.body))
        for p in passages:
            assert article.body[p.start:p.end] == p.text
            covered[p.start:p.end] = b"\x01" * (p.end - p.start)
        assert all(covered[i] or ch.isspace() for i, ch in enumerate(article.body)), article.id
