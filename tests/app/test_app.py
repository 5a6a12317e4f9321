"""The search page under Streamlit's AppTest, on a real index built from the fixture corpus."""
from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
QUESTION = "网贷逾期了，催收说要上门，是真的吗？"
EXPECTED_TITLE = "网贷逾期后催收说要上门，是真的吗？"
XSS_TITLE = "物业费<script>alert(1)</script>可以不交吗？"
DISCLAIMER = "以上内容为一般性法律信息，不构成针对具体个案的法律意见；个案情况不同，建议咨询专业律师。"

_CARD = re.compile(
    r'<div class="lf-hit(?P<weak> lf-weak)?" data-rank="\d+" data-article="(?P<article>[^"]*)">'
    r'<div class="lf-title"><a href="(?P<href>[^"]*)"[^>]*>(?P<title>.*?)</a>'
    r'.*?<div class="lf-meta">(?P<meta>.*?)</div>'
)


# ---------------------------------------------------------------- helpers ----
def make_app(monkeypatch, index: Path, operator: bool = False) -> AppTest:
    """The page as visitors see it, or with operator details (LAWFAQ_SHOW_STATUS=1)."""
    monkeypatch.setenv("LAWFAQ_INDEX", str(index))
    monkeypatch.setenv("LAWFAQ_SHOW_STATUS", "1" if operator else "0")
    return AppTest.from_file(APP, default_timeout=60)


def run_ok(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def htmls(at: AppTest) -> list[str]:
    return [h.value for h in at.html]


def results_html(at: AppTest) -> str:
    found = [v for v in htmls(at) if 'class="lf-results"' in v]
    assert len(found) <= 1
    return found[0] if found else ""


def cards(at: AppTest) -> list[dict]:
    out = []
    for m in _CARD.finditer(results_html(at)):
        cat = re.search(r'<span class="lf-cat">(.*?)</span>', m["meta"])
        out.append({
            "article": html.unescape(m["article"]), "href": html.unescape(m["href"]),
            "title": html.unescape(m["title"]), "category": html.unescape(cat[1]) if cat else None,
            "weak": bool(m["weak"]),
        })
    return out


def search(at: AppTest, query: str) -> AppTest:
    at.text_input[0].input(query)
    return run_ok(at)


def all_text(at: AppTest) -> list[str]:
    """Every markdown-ish element the page rendered (main and sidebar)."""
    texts = htmls(at) + [m.value for m in at.markdown] + [c.value for c in at.caption]
    for kind in (at.title, at.header, at.subheader, at.error, at.warning, at.info, at.success):
        texts += [e.value for e in kind]
    return texts


@pytest.fixture
def app(monkeypatch, built_index) -> AppTest:
    return make_app(monkeypatch, built_index)


# ---------------------------------------------------------------- search -----
def test_first_visit_shows_title_examples_and_disclaimer(app):
    at = run_ok(app)
    assert [t.value for t in at.title] == ["法律问答检索"]
    labels = [b.label for b in at.button]
    for example in ("网贷逾期了，催收说要上门，是真的吗？", "被公司辞退能拿多少补偿？", "离婚冷静期是多少天？",
                    "民法典1032条说的什么"):
        assert example in labels
    assert not results_html(at)
    assert DISCLAIMER in [c.value for c in at.caption]
    assert "q" not in at.query_params


def test_query_shows_highlighted_results_and_sets_url(app):
    at = search(run_ok(app), QUESTION)
    found = cards(at)
    assert found and found[0]["title"] == EXPECTED_TITLE
    assert found[0]["href"].startswith("?article=shangmen-cuishou&passage=")
    page = results_html(at)
    assert "<mark>" in page and 'class="best"' in page
    assert '民法典第1032条</span>' in page  # on the card's passage, or among what its article cites
    assert "阅读原文" in page
    # a passage that cites nothing itself still shows what its article cites, marked as such
    assert page.count('class="lf-tags"') == len(found)
    assert "本文引用" in page
    assert at.query_params["q"] == QUESTION
    assert 1 <= len(found) <= 5  # the default number at most: a small site is not padded with unrelated cards


def test_a_templated_sister_page_is_a_link_on_the_card_not_another_card(app):
    at = search(run_ok(app), QUESTION)
    page = results_html(at)
    assert page.count("相同内容也见于") == 1, page
    copies = re.search(r'<div class="lf-copies">(.*?)</div>', page)[1]
    assert 'href="?article=shangmen-cuishou-bayue&amp;passage=' in copies and "&amp;q=" in copies
    assert [c["href"].split("&")[0] for c in cards(at)].count("?article=shangmen-cuishou-bayue") == 0


def test_query_from_url_runs_the_search(app):
    app.query_params["q"] = QUESTION
    at = run_ok(app)
    assert at.text_input[0].value == QUESTION
    assert cards(at)[0]["title"] == EXPECTED_TITLE


def test_example_button_runs_the_search(app):
    at = run_ok(app)
    next(b for b in at.button if b.label == QUESTION).click()
    run_ok(at)
    assert at.query_params["q"] == QUESTION
    assert cards(at)[0]["title"] == EXPECTED_TITLE
    assert not any(b.label == QUESTION for b in at.button)  # the examples give way to the results


def test_number_of_results_follows_the_slider(app):
    at = run_ok(app)
    at.sidebar.slider[0].set_value(1)
    at = search(at, QUESTION)
    assert len(cards(at)) == 1
    at.sidebar.slider[0].set_value(3)
    at = search(at, "网贷逾期")  # one card per article; cards below the match threshold are left out
    assert 1 <= len(cards(at)) <= 3


def test_category_filter_restricts_results(app):
    at = run_ok(app)
    assert "劳动纠纷" in at.sidebar.multiselect[0].options
    at.sidebar.multiselect[0].select("劳动纠纷")
    at = search(at, QUESTION)
    found = cards(at)
    assert found
    assert {c["category"] for c in found} == {"劳动纠纷"}
    assert {c["article"] for c in found} == {"cizhi-buchang"}


def test_off_topic_question_says_no_good_match_but_shows_nearest(app):
    at = search(run_ok(app), "怎么做红烧肉")
    warnings = " ".join(w.value for w in at.warning)
    assert "没有找到很贴切的答案" in warnings and "换个说法" in warnings
    found = cards(at)
    assert found and all(c["weak"] for c in found)
    assert "相关度较低" in results_html(at)


def test_a_question_in_pinyin_says_how_it_was_read(app):
    at = search(run_ok(app), "cuishou shuo yao shangmen 是真的吗")
    read = [c.value for c in at.caption if c.value.startswith("已按拼音理解为")]
    assert read and "催收" in read[0] and "上门" in read[0]
    assert cards(at)[0]["article"] in ("shangmen-cuishou", "shangmen-cuishou-bayue")
    at = search(at, QUESTION)  # a question in characters: no such line
    assert not [c.value for c in at.caption if c.value.startswith("已按拼音理解为")]


def test_a_question_in_traditional_characters_says_it_was_read_as_simplified(app):
    at = search(run_ok(app), "網貸逾期會有人上門嗎")
    read = [c.value for c in at.caption if c.value.startswith("已按简体中文理解为")]
    assert read == ["已按简体中文理解为：网贷逾期会有人上门吗"]
    assert not [c.value for c in at.caption if c.value.startswith("已按拼音理解为")]
    assert cards(at)[0]["article"] == cards(search(at, "网贷逾期会有人上门吗"))[0]["article"]


def test_filters_that_exclude_everything_say_so(app):
    import datetime as dt

    at = run_ok(app)
    at.sidebar.date_input[0].set_value(dt.date(2030, 1, 1))
    at = search(at, QUESTION)
    assert not cards(at)
    assert any("没有找到相关内容" in i.value for i in at.info)


def test_long_query_is_truncated_and_says_so(app):
    at = search(run_ok(app), "网贷逾期" * 80)
    assert any("200" in i.value for i in at.info)
    assert cards(at)


# ---------------------------------------------------------------- articles ---
def test_article_view_shows_whole_article_with_passage(app, built_index, embedder, tokenizer):
    from index.search.searcher import Searcher

    passages = Searcher.open(built_index, embedder=embedder, tokenizer=tokenizer).article("shangmen-cuishou")[1]
    passage = next(p for p in passages[1:] if "正规平台很少真的上门" not in p.text)
    app.query_params["article"] = "shangmen-cuishou"
    app.query_params["passage"] = passage.id
    app.query_params["q"] = QUESTION
    at = run_ok(app)
    page = "".join(htmls(at))
    assert EXPECTED_TITLE in page
    assert "持牌机构的催收以电话、短信和App提醒为主" in page and "欠钱要还，但催收也有红线" in page
    assert "<h3>正规平台很少真的上门</h3>" in page  # '## ' lines are headings
    assert 'id="lf-target"' in page and 'class="lf-psg"' in page  # the passage is marked and scrolled to
    assert "民法典第1032条" in page
    assert "相关文章" in page and "?article=shangmen-cuishou-bayue" in page
    back = re.search(r'<a href="([^"]*)"[^>]*>← 返回搜索</a>', page)
    assert back and html.unescape(back[1]).startswith("?q=%E7%BD%91")
    assert not results_html(at)


def test_article_view_without_passage_or_query(app):
    app.query_params["article"] = "lihun-lengjingqi"
    at = run_ok(app)
    page = "".join(htmls(at))
    assert "协议离婚要等三十天冷静期吗？" in page
    assert 'id="lf-target"' not in page
    assert '<a href="?" target="_self">← 返回搜索</a>' in page


def test_unknown_article_says_it_does_not_exist(app):
    app.query_params["article"] = "nope"
    at = run_ok(app)
    assert any("文章不存在" in e.value for e in at.error)


# ---------------------------------------------------------------- states -----
@pytest.mark.parametrize("kind", ["empty", "missing"])
def test_no_index_explains_how_to_build_one(monkeypatch, tmp_path, kind):
    index = tmp_path / "idx"
    if kind == "empty":
        index.mkdir()
    at = run_ok(make_app(monkeypatch, index, operator=True))
    errors = " ".join(e.value for e in at.error)
    assert "make run" in errors
    assert f"python -m index build --source corpus --index {index}" in errors
    assert not at.text_input  # nothing to search in


def test_no_index_tells_a_visitor_only_that_search_is_unavailable(monkeypatch, tmp_path, caplog):
    index = tmp_path / "idx"
    with caplog.at_level("ERROR", logger="lawfaq.page"):
        at = run_ok(make_app(monkeypatch, index))
    errors = " ".join(e.value for e in at.error)
    assert "暂时不可用" in errors
    shown = errors + " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert str(tmp_path) not in shown and "make run" not in shown and "python -m" not in shown
    assert not at.sidebar.expander  # no 索引状态 for visitors
    assert str(index) in caplog.text  # the operator's explanation went to the server log


def _other_model(version_dir: Path) -> None:
    manifest = json.loads((version_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["model"] = {**manifest.get("model", {}), "name": "some-other-model", "checksum": "0" * 16}
    (version_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_index_built_with_another_model_is_a_clear_error(monkeypatch, tmp_path, built_index):
    index = tmp_path / "idx"
    shutil.copytree(built_index, index)
    _other_model(index / "versions" / (index / "CURRENT").read_text().strip())
    at = run_ok(make_app(monkeypatch, index, operator=True))
    errors = " ".join(e.value for e in at.error)
    assert "模型不一致" in errors and "some-other-model" in errors
    assert not at.text_input


def test_new_version_with_another_model_does_not_crash_the_page(monkeypatch, tmp_path, built_index):
    from index.storage.layout import IndexDir

    index = tmp_path / "idx"
    shutil.copytree(built_index, index)
    old = (index / "CURRENT").read_text().strip()
    at = search(run_ok(make_app(monkeypatch, index, operator=True)), QUESTION)
    assert cards(at)
    new = old + "m"
    shutil.copytree(index / "versions" / old, index / "versions" / new)
    _other_model(index / "versions" / new)
    IndexDir(index).switch(new)
    at = run_ok(at)
    # the old version keeps serving, and the page says why the new one is not used
    warnings = " ".join(w.value for w in at.warning)
    assert "some-other-model" in warnings and old in warnings
    assert not at.error
    assert cards(at)
    at = search(at, "信用卡逾期会坐牢吗")
    assert cards(at) and not at.error


def test_status_panel_shows_version_counts_and_categories(monkeypatch, built_index):
    at = run_ok(make_app(monkeypatch, built_index, operator=True))
    exp = next(e for e in at.sidebar.expander if e.label == "索引状态")
    text = " ".join(m.value for m in exp.markdown)
    version = (built_index / "CURRENT").read_text().strip()
    manifest = json.loads((built_index / "versions" / version / "manifest.json").read_text(encoding="utf-8"))
    passages = manifest["counts"]["passages"]  # what the chunker made of the fixture
    assert version in text and "6 篇" in text and f"{passages} 段" in text
    assert "北京时间" in text  # the time the insights report uses too, not UTC


def test_visitors_see_no_operator_details(app, built_index):
    at = run_ok(app)
    assert not [e for e in at.sidebar.expander if e.label == "索引状态"]
    version = (built_index / "CURRENT").read_text().strip()
    shown = " ".join([*(m.value for m in at.markdown), *(c.value for c in at.caption), *htmls(at)])
    assert version not in shown and "e5" not in shown


def test_new_version_is_picked_up_without_restart(monkeypatch, tmp_path, built_index):
    from index.storage.layout import IndexDir

    index = tmp_path / "idx"
    shutil.copytree(built_index, index)
    old = (index / "CURRENT").read_text().strip()
    at = run_ok(make_app(monkeypatch, index, operator=True))
    assert not any("索引已更新" in c.value for c in at.caption)
    new = old + "x"
    shutil.copytree(index / "versions" / old, index / "versions" / new)
    IndexDir(index).switch(new)
    at = search(at, QUESTION)
    assert any(f"索引已更新至版本 {new}" in c.value for c in at.caption)
    assert cards(at)[0]["title"] == EXPECTED_TITLE


# ---------------------------------------------------------------- safety -----
def assert_escaped(at: AppTest) -> None:
    texts = all_text(at)
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in t for t in texts)
    for t in texts:
        assert "<script" not in t.lower()
        assert "<img" not in t.lower()


def test_xss_article_is_escaped_in_results(app):
    at = search(run_ok(app), "物业费可以不交吗")
    assert any(c["title"] == XSS_TITLE for c in cards(at))  # shown literally after unescaping once
    assert_escaped(at)


def test_xss_article_is_escaped_in_article_view(app):
    app.query_params["article"] = "xss-test"
    app.query_params["passage"] = "xss-test#0"
    at = run_ok(app)
    assert_escaped(at)
    page = "".join(htmls(at))
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_hostile_query_is_escaped(app):
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(1)>'
    at = search(run_ok(app), hostile)
    for t in all_text(at):
        assert "<script" not in t.lower() and "<img" not in t.lower()
    assert 'data-query="&quot;&gt;&lt;script&gt;' in results_html(at)


def test_importing_the_app_runs_nothing():
    """`app.py` holds views and main; only `streamlit run` (or AppTest) runs the page."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("lawfaq_app_module", APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.main) and callable(module.search_view)


# ---------------------------------------------------------------- source URLs
URL_ARTICLE = """---
title: 网贷逾期被起诉了怎么办？
category: 金融债务
date: 2025-03-01
url: https://example.com/faq/wangdai-qisu?from=list
---

网贷逾期以后，平台可能会向法院起诉。收到法院传票不要躲，按时出庭，核对借款本金和利息。

## 利息过高的部分可以不还

超过法定上限的利息，法院一般不予支持，可以在庭审中提出抗辩。
"""


@pytest.fixture(scope="module")
def url_index(tmp_path_factory, embedder, tokenizer) -> Path:
    from index.build.pipeline import BuildOptions, build_index

    root = tmp_path_factory.mktemp("urlidx")
    (root / "src").mkdir()
    (root / "src" / "wangdai-qisu.md").write_text(URL_ARTICLE, encoding="utf-8")
    report = build_index([str(root / "src")], root / "idx", BuildOptions(progress=False), embedder, tokenizer)
    assert report.status == "published", report.message
    return root / "idx"


def test_article_with_url_links_to_source_with_text_fragment(url_index, embedder, tokenizer):
    from index.search.searcher import Searcher

    s = Searcher.open(url_index, embedder=embedder, tokenizer=tokenizer)
    hit = s.search("网贷逾期被起诉了怎么办", k=1)[0]
    assert hit.url == "https://example.com/faq/wangdai-qisu?from=list"
    assert hit.link.startswith("https://example.com/faq/wangdai-qisu?from=list#:~:text=")


def test_page_opens_source_links_in_a_new_tab(monkeypatch, url_index):
    at = search(run_ok(make_app(monkeypatch, url_index)), "网贷逾期被起诉了怎么办")
    first = cards(at)[0]
    assert first["href"].startswith("https://example.com/faq/wangdai-qisu?from=list#:~:text=")
    page = results_html(at)
    assert 'target="_blank" rel="noopener noreferrer"' in page
    assert "&q=" not in first["href"]  # the query is only passed along to our own article view


def test_bad_filters_in_the_link_are_named_not_silently_dropped(app):
    """Issue 29 item 4: ?category=不存在的分类&from=2024-13-45 says which filters it could not apply."""
    app.query_params["q"] = QUESTION
    app.query_params["category"] = ["不存在的分类", " 劳动纠纷 "]
    app.query_params["from"] = "2024-13-45"
    at = run_ok(app)
    warnings = " ".join(w.value for w in at.warning)
    assert "不存在的分类" in warnings and "2024-13-45" in warnings and "起始日期" in warnings, warnings
    assert at.sidebar.multiselect[0].value == ["劳动纠纷"]  # the good one (spelled with spaces) still applies
    at.sidebar.multiselect[0].set_value([])  # choosing filters on the page clears the notice
    at = run_ok(at)
    assert not any("不存在的分类" in w.value for w in at.warning)
