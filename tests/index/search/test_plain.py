"""Passages as plain text for the API and the CLI: the marks off, the offsets kept."""
from __future__ import annotations

from index.search.plain import plain_hit, plain_text

MARKDOWN = "## 物业无权停水停电\n\n物业公司**不能**以欠费为由停水。\n\n- 先协商\n- 再投诉\n\n详见[民法典](https://x.cn/a)第944条。"


def test_marks_are_dropped_and_words_kept():
    plain = plain_text(MARKDOWN)
    assert plain.text == "物业无权停水停电\n\n物业公司不能以欠费为由停水。\n\n• 先协商\n• 再投诉\n\n详见民法典第944条。"
    assert len(plain.origin) == len(plain.text)
    assert all(MARKDOWN[o] == ch or ch == "•" for o, ch in zip(plain.origin, plain.text, strict=True))


def test_spans_move_onto_the_plain_text():
    plain = plain_text(MARKDOWN)
    for word in ("停水停电", "不能", "民法典", "再投诉"):
        a = MARKDOWN.index(word)
        s, e = plain.span(a, a + len(word))
        assert plain.text[s:e] == word


def test_a_hit_keeps_its_markdown_beside_the_plain_passage():
    a = MARKDOWN.index("不能")
    hit = {"passage": MARKDOWN, "match_spans": [(a, a + 2)], "best_sentence": (a - 4, a + 12),
           "more": [{"passage": "**要点**：先协商"}]}
    out = plain_hit(hit)
    assert out["passage_markdown"] == MARKDOWN and out["passage"].startswith("物业无权停水停电")
    s, e = out["match_spans"][0]
    assert out["passage"][s:e] == "不能"
    assert out["more"][0] == {"passage": "要点：先协商", "passage_markdown": "**要点**：先协商"}


def test_text_without_marks_is_unchanged():
    text = "劳动合同法第47条：经济补偿按劳动者在本单位工作的年限，每满一年支付一个月工资。"
    plain = plain_text(text)
    assert plain.text == text and plain.span(3, 8) == (3, 8)
