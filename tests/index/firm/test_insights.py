"""The content-gap report on a real index and model: planted gaps come out on top, output is safe."""
from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest

from index import Searcher
from index.firm.gaps import cluster
from index.firm.insights import write_report
from index.firm.querylog import QueryLog
from index.firm.report import CHINA_TZ, build_report
from index.firm.report_render import render_html, render_markdown

pytestmark = pytest.mark.slow

# Not covered by the fixture corpus (labour, traffic, divorce, online loans, property fees).
DOG = [
    "邻居家的狗把我咬了，能要求赔偿吗？",
    "被邻居的狗咬伤了，狗主人要负责吗",
    "遛狗不拴绳咬伤小孩，谁负责",
    "宠物狗咬人，主人承担什么责任？",
    "被狗咬了打狂犬疫苗的钱谁出",
]
PHONE = "13812345678"
HOSTILE = "<script>alert('x')</script>买到假货怎么维权"
OTHER_WEAK = [
    "房东不退押金怎么办",
    "租房到期房东扣着押金不给",
    f"房东不退押金，他电话{PHONE}一直不接",
    "父母去世没有遗嘱，遗产怎么分",
    HOSTILE,
]
ANSWERED = [
    "网贷逾期了，催收说要上门，是真的吗？",
    "被公司开除了能拿多少钱",
    "两口子去民政局离婚要等多久",
    "撞车了第一时间该干嘛",
    "被公司开除了能拿多少钱",
    "物业服务差可以不交物业费吗",
]


@pytest.fixture(scope="module")
def searcher(built_index):
    return Searcher.open(built_index)


@pytest.fixture(scope="module")
def logged(tmp_path_factory, searcher):
    """A log with the planted gap, other weak questions and answered ones, spread over a few days."""
    path = tmp_path_factory.mktemp("qlog") / "query_log.sqlite"
    log = QueryLog.open(path)
    now = dt.datetime.now(dt.UTC)
    weak_seen = {}
    for i, q in enumerate(DOG + OTHER_WEAK + ANSWERED):
        hits = searcher.search(q, k=5)
        weak_seen[q] = hits.weak
        qid = log.record(q, ("page", "api", "cli")[i % 3], {}, [h.article_id for h in hits], hits.weak,
                         at=now - dt.timedelta(days=i % 4, minutes=i))
        if q == HOSTILE:
            log.feedback(qid, 0)  # it matches the fixture's own <script> article lexically; no help to the reader
        elif not hits.weak:
            log.opened(qid, hits[0].article_id)
            log.feedback(qid, 1)
    log.record("很久以前被狗咬了", "page", {}, [], True, at=now - dt.timedelta(days=45))  # outside the window
    assert log.flush()
    yield path, weak_seen
    log.close()


def test_planted_questions_really_are_weak(logged):
    _, weak_seen = logged
    assert all(weak_seen[q] for q in DOG), {q: weak_seen[q] for q in DOG}
    assert not any(weak_seen[q] for q in ANSWERED)


def test_the_planted_gap_is_the_top_group(logged, searcher):
    path, weak_seen = logged
    report = build_report(QueryLog.open(path), searcher, days=30)
    top = report.gaps[0]
    assert top.count == 5 and top.weak == 5
    assert {top.label, *top.examples} == set(DOG)
    assert top.nearest_id and top.nearest_title and top.nearest_weak  # the nearest article does not answer it
    # the other gaps are not swallowed into the dog group, and answered questions are not gaps
    labels = [g.label for g in report.gaps]
    assert any("押金" in g.label and g.count == 3 for g in report.gaps), labels
    assert not any(g.label in ANSWERED for g in report.gaps)

    n = len(DOG + OTHER_WEAK + ANSWERED)
    assert report.total == n
    assert report.weak == sum(weak_seen.values())
    assert sum(d.count for d in report.per_day) == n and len(report.per_day) == 30
    assert report.per_day[-1].day == dt.datetime.now(CHINA_TZ).date()
    assert report.by_channel == {"page": 6, "api": 5, "cli": 5}
    assert report.thumbs_up == len(ANSWERED) and report.with_feedback == len(ANSWERED) + 1
    assert report.up_share == pytest.approx(6 / 7) and report.feedback_rate == pytest.approx(7 / n)
    assert any(g.label == HOSTILE and g.disliked == 1 for g in report.gaps)
    opened = {a.article_id: a.count for a in report.top_opened}
    assert opened["cizhi-buchang"] == 2  # asked twice, opened both times
    assert report.top_opened[0].article_id == "cizhi-buchang" and report.top_opened[0].title


def test_report_renders_safely_in_both_formats(logged, searcher, tmp_path):
    path, _ = logged
    html_path = write_report(path, None, tmp_path / "out" / "report.html", "html", days=30, searcher=searcher)
    md_path = write_report(path, None, tmp_path / "out" / "report.md", "md", days=30, searcher=searcher)
    page = html_path.read_text(encoding="utf-8")
    md = md_path.read_text(encoding="utf-8")
    for text in (page, md):
        assert PHONE not in text and "138 1234" not in text
        assert "宠物狗咬人" in text or "狗" in text
    assert "内容缺口" in page and "<svg" in page and "每日提问数" in page
    assert "<script" not in page.lower()  # neither the hostile question nor the fixture's hostile title
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;买到假货怎么维权" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # self-contained
    assert "<script" not in md.replace("\\<script", "")  # Markdown: escaped, so no renderer runs it
    assert "# 法律问答检索" in md and "| 提问总数 |" in md


def test_empty_and_switched_off_logs(searcher, tmp_path):
    for log in (QueryLog.open(None), QueryLog.open(tmp_path / "empty.sqlite")):
        report = build_report(log, searcher, days=7)
        assert report.total == 0 and report.gaps == [] and len(report.per_day) == 7
        assert "没有未答上的问题" in render_html(report) and "没有未答上的问题" in render_markdown(report)


def test_threshold_keeps_topics_apart(searcher):
    """Why 0.9 and leaders: real paraphrases stay together, neighbouring topics stay apart."""
    topics = {
        "dog": DOG,
        "deposit": ["房东不退押金怎么办", "租房到期房东扣着押金不给", "退租时房东找理由不退押金合法吗"],
        "inherit": ["父母去世没有遗嘱，遗产怎么分", "爷爷的房子遗产继承顺序是什么", "遗产继承儿女平分吗"],
        "injury": ["上班路上摔伤算工伤吗", "工伤认定需要什么材料", "工伤赔偿标准是多少"],
        "custody": ["离婚孩子抚养权归谁", "离婚后孩子跟谁", "抚养费一个月给多少"],
        "fake": ["买到假货怎么维权", "网购买到假货能退一赔三吗", "商家卖假货怎么投诉"],
        "wage": ["老板拖欠工资怎么办", "公司不发工资去哪里投诉", "欠薪怎么讨回"],
        "loan": ["借钱不还怎么起诉", "朋友借钱不还没有借条怎么办", "欠钱不还可以报警吗"],
    }
    singles = ["劳动仲裁要多久", "交通事故对方全责不赔钱", "离婚冷静期能撤回吗", "高空抛物砸坏车谁负责",
               "彩礼能要回来吗", "试用期被辞退有补偿吗", "信用卡逾期会坐牢吗", "婚前财产怎么认定"]
    items = [(t, q) for t, qs in topics.items() for q in qs] + [(q, q) for q in singles]
    vectors = np.asarray((searcher.embedder.judge or searcher.embedder).encode_queries([q for _, q in items]))
    groups = cluster([q for _, q in items], [1] * len(items), vectors, 0.9)
    for g in groups:
        assert len({items[i][0] for i in g}) == 1, [items[i][1] for i in g]
    assert len(groups) <= len(topics) + len(singles) + 2  # at most a couple of paraphrases split off
