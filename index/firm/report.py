"""What the firm's report says, counted from the question log.

Plain counting: questions per day (in Beijing time, which is when the firm's
day starts), weak share, channels, the most opened articles, and how often
readers left feedback; plus the groups of unanswered questions
(index/firm/gaps.py). `Report` holds the figures; index/firm/report_render.py
only lays them out.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from index.firm.gaps import SIMILARITY, GapGroup, find_gaps
from index.firm.querylog import QueryLog

CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "北京时间")  # no daylight saving: a fixed offset is exact
CHANNEL_NAMES = {"page": "网页", "api": "API", "cli": "命令行"}


@dataclass
class ArticleCount:
    article_id: str
    title: str
    count: int  # questions from which it was opened


@dataclass
class DayCount:
    day: dt.date
    count: int
    weak: int


@dataclass
class Report:
    """Everything the report shows; render_markdown / render_html only lay it out."""

    generated_at: dt.datetime
    days: int
    start: dt.date
    end: dt.date
    total: int
    weak: int
    by_channel: dict[str, int]
    per_day: list[DayCount]
    gaps: list[GapGroup]
    top_opened: list[ArticleCount]
    opened_questions: int  # questions after which at least one article was opened
    with_feedback: int
    thumbs_up: int
    index_version: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def weak_share(self) -> float:
        return self.weak / self.total if self.total else 0.0

    @property
    def open_rate(self) -> float:
        return self.opened_questions / self.total if self.total else 0.0

    @property
    def feedback_rate(self) -> float:
        return self.with_feedback / self.total if self.total else 0.0

    @property
    def up_share(self) -> float | None:
        return self.thumbs_up / self.with_feedback if self.with_feedback else None


def _title(searcher, article_id: str) -> str:
    found = searcher.article(article_id)
    return found[0].title if found is not None else "（文章已不在索引中）"


def build_report(log: QueryLog, searcher, days: int = 30, *, now: dt.datetime | None = None, top: int = 20,
                 threshold: float = SIMILARITY, tz: dt.tzinfo = CHINA_TZ) -> Report:
    """The report over the last `days` calendar days (today included, in `tz`)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    now = (now or dt.datetime.now(dt.UTC)).astimezone(tz)
    end = now.date()
    start = end - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(start, dt.time(), tz)
    log.flush(timeout=2.0)  # this process's latest questions belong in it too
    rows = [r for r in log.questions(since=since) if r.ts.astimezone(tz).date() <= end]

    per_day = {start + dt.timedelta(days=i): [0, 0] for i in range(days)}
    channels: Counter[str] = Counter()
    opened: Counter[str] = Counter()
    for r in rows:
        day = per_day.get(r.ts.astimezone(tz).date())
        if day is not None:
            day[0] += 1
            day[1] += r.weak
        channels[r.channel] += 1
        opened.update(r.opened)
    by_channel = {c: channels[c] for c in CHANNEL_NAMES if channels[c]}
    by_channel.update({c: n for c, n in channels.most_common() if c not in by_channel})

    gaps, notes = find_gaps(rows, searcher, top, threshold)
    return Report(
        generated_at=now, days=days, start=start, end=end, total=len(rows), weak=sum(r.weak for r in rows),
        by_channel=by_channel, per_day=[DayCount(d, c, w) for d, (c, w) in per_day.items()], gaps=gaps,
        top_opened=[ArticleCount(a, _title(searcher, a), n) for a, n in opened.most_common(top)],
        opened_questions=sum(bool(r.opened) for r in rows),
        with_feedback=sum(r.feedback is not None for r in rows), thumbs_up=sum(r.feedback == 1 for r in rows),
        index_version=getattr(searcher, "version", None), notes=notes,
    )
