"""index.serving.render: escaping, safe links, highlights and statute tags, as plain functions (no model)."""
from __future__ import annotations

from types import SimpleNamespace

from index.serving.render import (
    article_head_html,
    highlight,
    hit_html,
    link_html,
    safe_href,
    statute_tags_html,
)


def test_only_safe_links_become_hrefs():
    assert safe_href("javascript:alert(1)") is None
    assert safe_href("data:text/html,x") is None
    assert safe_href("//evil.example/x") is None
    assert safe_href("https://example.com/a?b=1#:~:text=x") == "https://example.com/a?b=1#:~:text=x"
    assert safe_href("?article=a&passage=a%230") == "?article=a&passage=a%230"
    assert link_html("javascript:alert(1)", "x") == "x"
    out = link_html('https://e.com/"onmouseover="alert(1)', "t")
    assert '"onmouseover' not in out and "&quot;onmouseover" in out


def test_highlight_escapes_text_and_nests_marks_inside_the_best_sentence():
    assert highlight("<b>网贷</b>", [(3, 5)], (0, 9)) == (
        '<span class="best">&lt;b&gt;<mark>网贷</mark>&lt;/b&gt;</span>'
    )


def test_repealed_statute_is_tagged_with_its_date_and_successor():
    out = statute_tags_html(["合同法第52条", "劳动合同法第47条"])
    assert "合同法第52条 · 已废止（2021-01-01）" in out
    assert "民法典第153条" in out and "lf-repealed" in out
    # a law in force gets a plain tag
    assert '<span class="lf-tag">劳动合同法第47条</span>' in out


def test_statute_tags_escape_hostile_labels():
    out = statute_tags_html(['<img src=x onerror=alert(1)>第1条'])
    assert "<img" not in out and "&lt;img" in out


def _hit(**over):
    base = dict(rank=1, passage_id="a#0", article_id="a", title="标题<script>", url=None, link="?article=a",
                category="劳动纠纷", published="2024-01-01", passage="根据《合同法》第五十二条，合同无效。",
                start=0, end=10, heading="", score=1.0, dense_score=None, bm25_score=None,
                statutes=["合同法第52条"], matched_terms=[], match_spans=[], best_sentence=(0, 5),
                article_statutes=["合同法第52条", "婚姻法第32条"])
    base.update(over)
    return SimpleNamespace(**base)


def test_card_shows_repeal_tags_for_passage_and_article_statutes():
    card = hit_html(_hit(), "合同无效", weak=False)
    assert "本段引用" in card and "已废止（2021-01-01）" in card
    assert "婚姻法第32条 · 已废止" in card and "民法典第1079条" in card
    assert "<script>" not in card and "标题&lt;script&gt;" in card
    assert 'href="?article=a&amp;q=' in card  # our own links carry the query back


def test_article_head_drops_unsafe_source_links():
    row = SimpleNamespace(title="t", category=None, published=None, tags=[], url="javascript:alert(1)")
    head = article_head_html(row, "?q=x")
    assert "javascript:" not in head and "原网站" not in head


def test_none_escapes_to_nothing_and_the_page_uses_the_one_escaper():
    from index.firm import report_render
    from index.serving import render
    from index.text.html import escape

    assert escape(None) == ""
    assert escape('<a href="x">&</a>') == "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
    assert escape(0) == "0" and escape(False) == "False"  # only None is "nothing"
    assert render.esc is escape and report_render.escape is escape


def test_page_times_are_beijing_time_and_visitors_get_no_paths():
    from index.serving.page_messages import UNAVAILABLE, beijing_time, explain_unavailable

    assert beijing_time("2026-12-07T20:30:00+00:00") == "2026-12-08 04:30（北京时间）"
    assert beijing_time("2026-12-07T20:30:00") == "2026-12-08 04:30（北京时间）"  # no zone: UTC
    assert beijing_time(None) == "未知" and beijing_time("soon") == "soon"
    explained, _ = explain_unavailable("notfound", "", "/srv/idx")
    assert "/srv/idx" in explained and "/" not in UNAVAILABLE
