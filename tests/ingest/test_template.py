"""The site's template learned from its own articles (ingest.template)."""
from __future__ import annotations

from ingest.template import learn_template

CLOSING = "以上内容仅供参考，个案情况不同，建议咨询专业律师。"
SIGNATURE = "作者：张律师（执业证号12345），转载请注明出处"


def planted(n: int = 8) -> list[tuple[str, str]]:
    """n articles in three categories sharing a frame, plus three sister pages sharing a whole section."""
    cats = ["劳动纠纷", "婚姻家事", "交通事故"]
    arts = []
    for i in range(n):
        body = (f"第{i}篇的开头，讲一个不同的故事{i}。\n\n## 第{i}篇的正题\n\n这里是第{i}篇真正回答问题的内容，每篇都不一样{i}。\n\n"
                f"## 相关法条参考\n\n- 《民法典》第{1000 + i}条：第{i}条的内容。\n\n{CLOSING}\n\n{SIGNATURE}\n")
        arts.append((body, cats[i % 3]))
    shared = "## 逾期后果\n\n逾期三个月以上，平台通常会委托第三方催收，并可能起诉。\n"
    for months in ("三", "七", "十二"):
        arts.append((f"逾期{months}个月的开头。\n\n{shared}\n## 相关法条参考\n\n- 《民法典》第675条：借款人应当按期返还借款。\n",
                     "金融债务"))
    return arts


def test_the_frame_is_learned_and_the_sister_pages_shared_section_is_not():
    template = learn_template(planted())
    assert "相关法条参考" in template.headings
    assert any("作者" in line for line in template.lines)
    body, _ = planted()[-1]
    spans = template.spans(body)
    marked = "".join(body[s:e] for s, e in spans)
    assert "相关法条参考" in marked and "第675条" in marked  # the closing section, its statute list included
    assert "逾期三个月以上" not in marked  # three sister pages of one category are content, not template


def test_template_share_of_a_passage():
    arts = planted()
    template = learn_template(arts)
    body = arts[0][0]
    spans = template.spans(body)
    closing_at = body.index("## 相关法条参考")
    assert template.is_template(spans, closing_at, len(body), body)
    answer_at = body.index("## 第0篇的正题")
    assert not template.is_template(spans, answer_at, closing_at, body)


def test_a_corpus_too_small_to_repeat_itself_has_no_template():
    template = learn_template(planted(3)[:3])
    assert not template.headings and not template.lines and not template.clauses
