"""Loading every source shape, and bad input that is reported and skipped, never fatal."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest.load import LoadConfig, load, load_many
from ingest.normalize import DecodeError, decode_bytes, normalize_text

FIX = Path(__file__).resolve().parent.parent / "fixtures"
SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "samples" / "firm-article-extracted.txt"

MD = """---
title: 试用期被辞退有补偿吗？
category: 劳动纠纷
date: 2025-03-02
tags: [试用期, 经济补偿]
---

## 先说结论

试用期也受《劳动合同法》保护。用人单位在试用期解除合同，需要证明劳动者不符合录用条件。

## 相关法条参考

- 《劳动合同法》第二十一条：在试用期中，除劳动者有本法第三十九条情形外，用人单位不得解除劳动合同。
"""


def test_firm_page_text_is_cleaned():
    res = load(FIX / "pages" / "firm-page-laodong.txt")
    assert res.skipped == []
    (a,) = res.articles
    assert a.title == "公司拖欠工资三个月，找谁要？别急，按这几步来！"
    assert a.category == "劳动纠纷"
    assert a.url == "https://www.example-law.cn/hf/20001.html"
    for boiler in ("扫描二维码", "版权声明", "本文链接", "相关文章", "本文为示例律师原创", "离职后公司不给结工资"):
        assert boiler not in a.body
    assert a.body.startswith("“老板说下个月一起发")
    assert a.body.rstrip().endswith("建议咨询专业律师。")


@pytest.mark.skipif(not SAMPLE.exists(), reason="the shared sample page is not beside this checkout")
def test_shared_sample_page_done_when():
    from ingest.citations import parse_citations, short_law_name

    (a,) = load(SAMPLE).articles
    assert a.title == "网贷逾期真的会有人上门吗？别慌，先搞清楚这几点！"
    assert a.category == "金融债务"
    assert a.url == "https://www.hefeilaws.com/hf/1287724.html"
    assert "扫描二维码" not in a.body and "的相关文章" not in a.body and "版权声明" not in a.body
    assert "网贷逾期真的会被拉进黑名单" not in a.body  # a teaser of another article
    cites = {(short_law_name(c.law), c.article) for c in parse_citations(a.body)}
    assert cites == {("民法典", 1032), ("互联网金融逾期债务催收自律公约", 13), ("治安管理处罚法", 42), ("刑法", 293)}


def test_markdown_front_matter(tmp_path):
    (tmp_path / "ld-shiyongqi.md").write_text(MD, encoding="utf-8")
    (a,) = load(tmp_path).articles
    assert a.id == "ld-shiyongqi"
    assert (a.title, a.category, a.published, a.tags) == ("试用期被辞退有补偿吗？", "劳动纠纷", "2025-03-02", ["试用期", "经济补偿"])
    assert a.url is None
    assert a.body.startswith("## 先说结论")


def test_bad_inputs_are_reported_and_good_ones_load(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.md").write_text(MD, encoding="utf-8")
    shutil.copy(FIX / "pages" / "firm-page-laodong.txt", folder / "page.txt")
    gbk = (FIX / "pages" / "firm-page-laodong.txt").read_text(encoding="utf-8").replace("20001", "20002")
    gbk = gbk.replace("•", "·").replace("✅", "√").replace("❌", "×")  # plain GBK has no emoji
    (folder / "gbk-page.txt").write_bytes(gbk.encode("gbk"))
    (folder / "empty.md").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "huge.txt").write_bytes(("很长的文章。" * 200).encode("utf-8"))
    (folder / "bad-front.md").write_text("---\ntitle: [unclosed\n---\n正文", encoding="utf-8")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n")
    res = load(folder, LoadConfig(max_bytes=3000))
    titles = sorted(a.title for a in res.articles)
    assert titles == sorted(["试用期被辞退有补偿吗？", "公司拖欠工资三个月，找谁要？别急，按这几步来！"] * 1 + [
        "公司拖欠工资三个月，找谁要？别急，按这几步来！"])
    gbk_article = next(a for a in res.articles if a.source.endswith("gbk-page.txt"))
    assert "劳动合同法" in gbk_article.body and gbk_article.url.endswith("20002.html")
    reasons = {Path(s.source).name: s.reason for s in res.skipped}
    assert set(reasons) == {"empty.md", "binary.txt", "huge.txt", "bad-front.md", "image.png"}
    assert "empty" in reasons["empty.md"]
    assert "binary" in reasons["binary.txt"]
    assert "limit" in reasons["huge.txt"]
    assert "YAML" in reasons["bad-front.md"]
    assert "unsupported" in reasons["image.png"]


def test_duplicate_ids_are_reported_not_merged(tmp_path):
    page = (FIX / "pages" / "firm-page-laodong.txt").read_text(encoding="utf-8")
    (tmp_path / "a.txt").write_text(page, encoding="utf-8")
    (tmp_path / "b.txt").write_text(page.replace("找谁要", "该找谁"), encoding="utf-8")  # same URL -> same id
    res = load(tmp_path)
    assert len(res.articles) == 1
    (dup,) = res.skipped
    assert "duplicate id" in dup.reason and dup.source.endswith("b.txt")


def test_jsonl_export_with_bad_lines(tmp_path):
    lines = [
        json.dumps({"id": "x1", "title": "标题一", "body": "正文一。", "category": "婚姻家事", "published": "2025-01-02"}, ensure_ascii=False),
        "{not json",
        json.dumps({"title": "只有标题"}, ensure_ascii=False),
        json.dumps({"url": "https://example.cn/a/1.html", "title": "标题二", "body": "正文二。"}, ensure_ascii=False),
        "",
    ]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    res = load(path)
    assert [a.title for a in res.articles] == ["标题一", "标题二"]
    assert res.articles[0].id == "x1" and res.articles[0].published == "2025-01-02"
    assert len(res.articles[1].id) == 16  # hash of the URL
    assert [s.source.rsplit(":", 1)[1] for s in res.skipped] == ["2", "3"]


def test_missing_source_is_a_skip_not_a_crash(tmp_path):
    res = load_many([str(tmp_path / "nope")])
    assert res.articles == [] and "no such file" in res.skipped[0].reason


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030", "gbk", "big5"])
def test_decoding(encoding):
    text = "網貸逾期會有人上門嗎？法院會強制執行嗎？" if encoding == "big5" else "网贷逾期会有人上门吗？法院会强制执行吗？"
    assert decode_bytes(text.encode(encoding)) == text


def test_binary_is_rejected():
    with pytest.raises(DecodeError):
        decode_bytes(b"\x00\x01\x02binary\x00" * 100)


def test_normalize_text():
    assert normalize_text("ＡＰＰ通知１２３") == "APP通知123"
    assert normalize_text("会有人上门吗?别慌,先看看!") == "会有人上门吗？别慌，先看看！"
    assert normalize_text("a\r\n\r\n\r\n\r\nb\u3000 c") == "a\n\nb c"
    assert normalize_text("https://x.cn/a?b=1") == "https://x.cn/a?b=1"
