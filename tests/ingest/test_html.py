"""ingest.sources.html: firm pages in HTML -> clean Articles (trafilatura + firm boilerplate).

All pages here are invented, in the shape of the firm's site: nav, breadcrumb,
title, body with headings and lists, "相关法条参考", then the site tail
("本文为…原创", "扫描二维码…", "版权声明…", "本文链接:…") and a "…的相关文章"
teaser list.
"""
from __future__ import annotations

import pytest

from ingest.ids import article_id
from ingest.normalize import DecodeError
from ingest.sources.html import clean_extracted, parse_html, sniff_charset

TITLE = "试用期被辞退有补偿吗?一文讲清楚"
TITLE_NORMALIZED = "试用期被辞退有补偿吗？一文讲清楚"
URL = "https://www.example-law.cn/hf/123.html"

BODY_HTML = """
<p>“刚入职两个月,公司说我不符合录用条件,让我明天别来了。”这种情况在职场新人中并不少见,今天咱们就把试用期辞退这件事说明白。</p>
<h2>试用期不是“随便辞”</h2>
<p>很多老板以为试用期想辞就辞,其实法律对试用期解除劳动合同有严格限制,用人单位必须证明劳动者不符合录用条件,并且要说明理由。</p>
<h2>哪些情况可以主张补偿</h2>
<ol>
<li>公司没有事先告知录用条件,却以不符合录用条件为由辞退;</li>
<li>试用期超过法定期限,超出部分应视为正式用工;</li>
<li>公司无故辞退,属于违法解除,可以主张赔偿金。</li>
</ol>
<p>遇到这些情况,建议先保留好劳动合同、聊天记录和辞退通知,再去申请劳动仲裁。赔偿金按2*N计算。</p>
<h3>相关法条参考</h3>
<ul>
<li>《中华人民共和国劳动合同法》第21条:在试用期中,用人单位不得解除劳动合同,除非劳动者有法定情形。</li>
<li>《劳动合同法》第87条:用人单位违法解除劳动合同的,应当依照经济补偿标准的二倍支付赔偿金。</li>
</ul>
"""

TEASERS = ["加班费怎么算?周末和节假日不一样", "离职后公司不给开证明怎么办?"]


def firm_page(
    *,
    title: str = TITLE,
    category: str = "劳动纠纷",
    url: str | None = URL,
    canonical: str | None = URL,
    body_html: str = BODY_HTML,
    head_extra: str = "",
    charset: str = "utf-8",
    tail_inside_content: bool = False,
    sidebar_first: bool = False,
) -> str:
    """An invented firm page; every piece of site furniture is present."""
    canonical_tag = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    url_line = f'<p>本文链接:<a href="{url}">{url}</a></p>' if url else ""
    tail = f"""
<p>{title},本文为示例律师原创,未经授权禁止转载,个案情况不同,建议咨询专业律师制定方案。</p>
"""
    furniture = f"""
<div class="qrcode"><img src="/qr.png" alt="二维码"><p>扫描二维码推送至手机访问。</p></div>
<div class="copyright"><p>版权声明：本文由示例律师事务所结合法律法规原创并发布,如需转载请附上来源链接。</p>
{url_line}</div>
<div class="related"><h3>{title}的相关文章</h3>
<ul>
<li><a href="/hf/124.html">{TEASERS[0]}</a><p>很多人加班了却不知道加班费怎么算,今天就来讲讲周末和法定节假日的区别...</p></li>
<li><a href="/hf/125.html">{TEASERS[1]}</a><p>离职证明是劳动者的权利,公司拒绝出具的可以投诉...</p></li>
</ul></div>
"""
    sidebar = """<div class="sidebar"><h3>热门文章</h3><ul><li><a href="/hf/9.html">借条怎么写才有效</a></li>
<li><a href="/hf/8.html">交通事故赔偿标准</a></li></ul></div>"""
    content = f"""
<div class="article">
<h1 class="title">{title}</h1>
<div class="info"><span>发布时间:2024-03-15</span><span>浏览:1024次</span></div>
<div class="content">
{body_html}
{tail}
{furniture if tail_inside_content else ""}
</div>
{"" if tail_inside_content else furniture}
</div>"""
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="{charset}">
<title>{title} - 示例律师事务所</title>
<meta name="keywords" content="试用期,辞退,经济补偿">
{canonical_tag}
{head_extra}
<style>.nav {{ color: red }} body {{ font-size: 14px }}</style>
<script>var _hmt = _hmt || []; window.trackVisit = function () {{ console.log("tracking"); }};</script>
</head>
<body>
<div class="header"><div class="logo">示例律师事务所</div><div class="nav"><ul>
<li><a href="/">网站首页</a></li><li><a href="/ldjf/">劳动纠纷</a></li><li><a href="/jrzw/">金融债务</a></li>
<li><a href="/hyjt/">婚姻家庭</a></li></ul></div></div>
<div class="main">
{sidebar if sidebar_first else ""}
<div class="breadcrumb">当前位置:<a href="/">首页</a>&gt;<a href="/c/">{category}</a>&gt; 正文内容</div>
{content}
</div>
<div class="footer">Copyright &copy; 示例律师事务所 浙ICP备00000000号 <script>document.write("统计代码")</script></div>
</body>
</html>"""


BOILERPLATE = [
    "本文为", "原创", "扫描二维码", "版权声明", "本文链接", "相关文章", "网站首页", "当前位置",
    "正文内容", "ICP", "浏览", TEASERS[0], TEASERS[1], "加班费", "_hmt", "tracking", "统计代码",
    "font-size", "热门文章", "借条",
]


def assert_clean(body: str) -> None:
    for word in BOILERPLATE:
        assert word not in body, f"boilerplate {word!r} left in body:\n{body}"


def test_full_firm_page():
    art = parse_html(firm_page().encode("utf-8"), "page.html")
    assert art.title == TITLE_NORMALIZED
    assert art.category == "劳动纠纷"
    assert art.url == URL
    assert art.id == article_id(URL, TITLE_NORMALIZED)
    assert art.source == "page.html"
    assert_clean(art.body)
    lines = art.body.split("\n")
    # headings and list items survive as lines of their own
    assert "## 试用期不是“随便辞”" in lines
    assert "### 相关法条参考" in lines
    assert any(ln.startswith("1. 公司没有事先告知录用条件") for ln in lines)
    assert any(ln.startswith("3. 公司无故辞退") for ln in lines)
    assert sum(ln.startswith("- 《") for ln in lines) == 2
    assert art.body.startswith("“刚入职两个月")
    assert art.body.rstrip().endswith("支付赔偿金。")
    assert "2*N" in art.body  # trafilatura's Markdown escapes ('2\\*N') are undone
    assert "\\" not in art.body
    assert TITLE_NORMALIZED not in art.body  # the title is not repeated in the body


def test_date_from_meta_wins():
    head = '<meta property="article:published_time" content="2023-11-02T09:30:00+08:00">'
    art = parse_html(firm_page(head_extra=head), "p.html")
    assert art.published == "2023-11-02"


def test_date_from_time_element_or_page_text():
    art = parse_html(firm_page(), "p.html")
    assert art.published == "2024-03-15"  # '发布时间:2024-03-15' found by trafilatura's date detection
    html = firm_page().replace(
        '<div class="info"><span>发布时间:2024-03-15</span>', '<div class="info"><time datetime="2022-05-06">五月</time>'
    )
    assert parse_html(html, "p.html").published == "2022-05-06"


def test_chinese_date_label_and_no_false_date_from_copyright_year():
    html = firm_page().replace("Copyright", "Copyright 2019-2021")
    assert parse_html(html.replace("发布时间:2024-03-15", "发布时间：2024年3月5日"), "p").published == "2024-03-05"
    assert parse_html(html.replace("发布时间:2024-03-15", "人气"), "p").published is None
    info = html.replace("发布时间:2024-03-15", "时间：2022-8-9 来源：本站")
    assert parse_html(info, "p").published == "2022-08-09"
    # a date inside the article text is not its publication date
    in_body = html.replace("发布时间:2024-03-15", "人气").replace(
        "<li>试用期超过法定期限", "<li>入职日期：2018-01-02,试用期超过法定期限"
    )
    assert parse_html(in_body, "p").published is None


def test_url_line_glued_to_following_text():
    html = firm_page(canonical=None, url=None).replace(
        "</div>\n<div class=\"related\">",
        "<p>本文链接:https://www.example-law.cn/hf/321.html版权所有,转载请注明。</p></div>\n<div class=\"related\">",
        1,
    )
    assert parse_html(html, "p").url == "https://www.example-law.cn/hf/321.html"


def test_url_from_tail_line_without_canonical():
    art = parse_html(firm_page(canonical=None, url="https://www.example-law.cn/hf/777.html"), "p.html")
    assert art.url == "https://www.example-law.cn/hf/777.html"
    assert art.id == article_id(art.url, art.title)


def test_relative_canonical_is_resolved_against_fetch_url():
    art = parse_html(firm_page(canonical="/hf/555.html", url=None), "x", url="https://www.example-law.cn/c/p?id=5")
    assert art.url == "https://www.example-law.cn/hf/555.html"


def test_canonical_pointing_at_home_page_loses_to_tail_line():
    art = parse_html(firm_page(canonical="https://www.example-law.cn/"), "p.html")
    assert art.url == URL


def test_fetch_url_is_last_resort_and_none_without_any():
    html = firm_page(canonical=None, url=None)
    assert parse_html(html, "x", url="https://mirror.example.cn/a.html").url == "https://mirror.example.cn/a.html"
    art = parse_html(html, "x")
    assert art.url is None
    assert art.id == article_id(None, TITLE_NORMALIZED)


def test_tail_inside_content_block_is_removed():
    art = parse_html(firm_page(tail_inside_content=True), "p.html")
    assert_clean(art.body)
    assert "### 相关法条参考" in art.body


def test_sidebar_before_article_does_not_take_the_article_along():
    art = parse_html(firm_page(sidebar_first=True), "p.html")
    assert_clean(art.body)
    assert "## 哪些情况可以主张补偿" in art.body
    assert art.category == "劳动纠纷"


def test_gbk_bytes_with_meta_charset():
    html = firm_page(charset="gbk", category="婚姻家庭")
    data = html.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert sniff_charset(data) == "gbk"
    art = parse_html(data, "gbk.html")
    assert art.title == TITLE_NORMALIZED
    assert art.category == "婚姻家庭"
    assert "《中华人民共和国劳动合同法》第21条" in art.body
    assert_clean(art.body)


def test_gbk_bytes_with_header_charset_only():
    html = firm_page().replace('<meta charset="utf-8">', "")
    art = parse_html(html.encode("gbk"), "x", charset="GBK")
    assert art.title == TITLE_NORMALIZED
    assert "试用期超过法定期限" in art.body


SCRIPTY_BODY = BODY_HTML + """
<script>document.write('<p>广告代码</p>'); var stolen = document.cookie;</script>
<style>p.evil { display: none }</style>
<pre><code>function track() { return "埋点代码"; }</code></pre>
<p>有人在留言里贴了 &lt;script&gt;alert("注入")&lt;/script&gt; 这样的文字,我们不会执行。</p>
<noscript>请开启JavaScript</noscript>
<iframe src="https://ads.example.com/">广告框</iframe>
<!-- 编辑备注:不要发布 -->
"""


def test_scripts_styles_and_code_never_reach_the_body():
    art = parse_html(firm_page(body_html=SCRIPTY_BODY), "p.html")
    for bad in ("document", "cookie", "display", "<script", "</script", "alert", "JavaScript", "广告", "编辑备注", "`"):
        assert bad not in art.body, bad
    # the <pre> text stays as plain prose, without code formatting
    assert "埋点代码" in art.body
    assert "我们不会执行" in art.body
    assert_clean(art.body)


def test_clean_extracted_undoes_markdown_artifacts():
    text = "## 标题\n**加粗**和*强调*,\\*号与\\_线\n`代码`\n当前位置:首页>x\n# 试用期"
    assert clean_extracted(text, title="试用期") == "## 标题\n加粗和强调,*号与_线\n代码"


def test_page_without_article_text_raises():
    html = """<html><head><title>示例律师事务所</title></head><body>
    <div class="nav"><a href="/">网站首页</a></div>
    <div class="copyright"><p>版权声明：本文由示例律师事务所原创。</p></div></body></html>"""
    with pytest.raises(ValueError):
        parse_html(html, "empty.html")
    with pytest.raises(ValueError):
        parse_html(b"   ", "blank.html")


def test_binary_data_raises_decode_error():
    with pytest.raises(DecodeError):
        parse_html(b"%PDF-1.7\x00\x01\x02\x03" * 100, "file.pdf.html")


def test_xml_declaration_and_str_input():
    html = '<?xml version="1.0" encoding="utf-8"?>\n' + firm_page()
    art = parse_html(html, "x.xhtml")
    assert art.title == TITLE_NORMALIZED


def test_title_from_head_when_no_h1():
    html = firm_page().replace('<h1 class="title">', '<div class="title">').replace("</h1>", "</div>")
    art = parse_html(html, "p.html")
    assert art.title == TITLE_NORMALIZED


def test_load_dispatches_html_files(tmp_path):
    from ingest.load import load

    (tmp_path / "a.html").write_bytes(firm_page().encode("utf-8"))
    (tmp_path / "b.htm").write_bytes(
        firm_page(title="借钱不还怎么起诉", url="https://www.example-law.cn/hf/9.html", canonical=None).encode("gbk")
    )
    result = load(tmp_path)
    assert not result.skipped
    assert sorted(a.title for a in result.articles) == sorted([TITLE_NORMALIZED, "借钱不还怎么起诉"])
    for art in result.articles:
        assert_clean(art.body)
