"""The firm's report: what people ask that the articles do not answer.

    report = build_report(QueryLog.open(path), Searcher.open("var/index"), days=30)
    Path("report.html").write_text(render_html(report))

The question log (index/querylog.py) says which questions got only a weak
match. One unanswered question is noise; the same question asked twenty
ways is an article the firm should write. So weak questions (and questions a
reader marked 👎) are grouped by meaning: the redacted questions are embedded
with the search model and clustered greedily around their most frequent
member ("leader" clustering at cosine >= 0.9). Leaders, not running centroids:
the mean of a few different legal questions is a generic "legal question"
vector that attracts everything (on the shipped model, centroid clustering at
0.9 merged wages, loans and traffic accidents into one group; leader
clustering kept eight test topics apart with no group split; see
tests/index/test_insights.py). Each group then gets the nearest existing
article, which says whether the gap is a missing article or an article that
people cannot find.

The rest is plain counting: questions per day (in Beijing time, which is
when the firm's day starts), weak share, channels, the most opened articles,
and how often readers left feedback. The HTML is one self-contained file (an
inline SVG chart, no script, no external assets; every logged string
escaped), because it is mailed around and opened from disk.
"""
from __future__ import annotations

import datetime as dt
import html
import os
import re
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.querylog import QueryLog, QuestionRow

CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "北京时间")  # no daylight saving: a fixed offset is exact
SIMILARITY = 0.9
MAX_CLUSTERED = 1000  # distinct gap questions embedded; the rest are rarer than all of these
CHANNEL_NAMES = {"page": "网页", "api": "API", "cli": "命令行"}


@dataclass
class GapGroup:
    """Questions that mean the same thing and got no good answer."""

    label: str  # the most frequent wording
    count: int  # questions in the group (repeats included)
    examples: list[str]  # other wordings, most frequent first
    weak: int  # of `count`: the search itself judged the match weak
    disliked: int  # of `count`: a reader marked the answer 👎
    nearest_id: str | None = None
    nearest_title: str | None = None
    nearest_weak: bool = True  # still no good match today (False: an article answers it now)


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


# ---- building ------------------------------------------------------------------
_TRAIL = re.compile(r"[\s?？。.!！~～…,，;；]+$")


def _key(text: str) -> str:
    """What makes two wordings "the same question": case, width, spacing, end punctuation."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _TRAIL.sub("", re.sub(r"\s+", " ", text).strip())


def _display(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def cluster(texts: list[str], counts: list[int], vectors: np.ndarray,
            threshold: float = SIMILARITY) -> list[list[int]]:
    """Greedy leader clustering: indices of `texts` per group, biggest group first.

    Questions are taken most frequent first (ties: the one with the most
    neighbours above the threshold, so a central wording leads); each joins
    the group whose leader it is most similar to, if that is >= threshold,
    else it leads a new group. Comparing with the fixed leader, not with a
    moving centroid, keeps groups from drifting into "any legal question".
    """
    n = len(texts)
    if n == 0:
        return []
    sims = vectors @ vectors.T
    neighbours = (sims >= threshold).sum(axis=1)
    order = sorted(range(n), key=lambda i: (-counts[i], -int(neighbours[i]), i))
    leaders: list[int] = []
    groups: list[list[int]] = []
    for i in order:
        if leaders:
            s = sims[i, leaders]
            j = int(np.argmax(s))
            if s[j] >= threshold:
                groups[j].append(i)
                continue
        leaders.append(i)
        groups.append([i])
    groups.sort(key=lambda g: (-sum(counts[i] for i in g), g[0]))
    return groups


def _gaps(rows: list[QuestionRow], searcher, top: int, threshold: float) -> tuple[list[GapGroup], list[str]]:
    notes: list[str] = []
    by_key: dict[str, list[QuestionRow]] = {}
    for r in rows:
        if (r.weak or r.feedback == 0) and _key(r.query):
            by_key.setdefault(_key(r.query), []).append(r)
    if not by_key:
        return [], notes
    keys = sorted(by_key, key=lambda k: (-len(by_key[k]), k))
    if len(keys) > MAX_CLUSTERED:
        notes.append(f"未答上的问题共有 {len(keys)} 种不同说法，只对最常见的 {MAX_CLUSTERED} 种做了归并。")
        keys = keys[:MAX_CLUSTERED]
    texts = [Counter(_display(r.query) for r in by_key[k]).most_common(1)[0][0] for k in keys]
    counts = [len(by_key[k]) for k in keys]
    vectors = np.asarray(searcher.embedder.encode_queries(texts), dtype=np.float32)
    out: list[GapGroup] = []
    for members in cluster(texts, counts, vectors, threshold)[:top]:
        qs = [r for i in members for r in by_key[keys[i]]]
        ordered = sorted(members, key=lambda i: (-counts[i], i))
        group = GapGroup(
            label=texts[ordered[0]], count=len(qs), examples=[texts[i] for i in ordered[1:6]],
            weak=sum(r.weak for r in qs), disliked=sum(r.feedback == 0 for r in qs),
        )
        hits = searcher.search(group.label, k=1)
        if len(hits):
            group.nearest_id, group.nearest_title, group.nearest_weak = hits[0].article_id, hits[0].title, hits.weak
        out.append(group)
    return out, notes


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

    gaps, notes = _gaps(rows, searcher, top, threshold)
    return Report(
        generated_at=now, days=days, start=start, end=end, total=len(rows), weak=sum(r.weak for r in rows),
        by_channel=by_channel, per_day=[DayCount(d, c, w) for d, (c, w) in per_day.items()], gaps=gaps,
        top_opened=[ArticleCount(a, _title(searcher, a), n) for a, n in opened.most_common(top)],
        opened_questions=sum(bool(r.opened) for r in rows),
        with_feedback=sum(r.feedback is not None for r in rows), thumbs_up=sum(r.feedback == 1 for r in rows),
        index_version=getattr(searcher, "version", None), notes=notes,
    )


# ---- rendering -----------------------------------------------------------------
def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _channels(report: Report) -> str:
    return "，".join(f"{CHANNEL_NAMES.get(c, c)} {n}" for c, n in report.by_channel.items()) or "—"


def _gap_status(g: GapGroup) -> str:
    """What the firm should do: write an article, improve one, or nothing (the index caught up)."""
    if g.nearest_weak:
        return "仍无贴切文章"
    if not g.weak:
        return "有相关文章，但读者认为没帮助"
    return "现已有较贴切的文章"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!{}~])")


def _md(text: object) -> str:
    """Text safe inside a Markdown table cell: no HTML, no table breaks, no formatting."""
    return _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", str(text)).strip())


def render_markdown(report: Report) -> str:
    """The report as Markdown (for e-mail bodies and wikis); every logged string escaped."""
    r = report
    out = [
        "# 法律问答检索 · 用户提问洞察报告",
        "",
        f"统计区间：{r.start} 至 {r.end}（{r.days} 天，北京时间）；生成于 {r.generated_at:%Y-%m-%d %H:%M}"
        + (f"；索引版本 {_md(r.index_version)}" if r.index_version else ""),
        "",
        "## 概览",
        "",
        "| 指标 | 数值 |",
        "|---|---|",
        f"| 提问总数 | {r.total} |",
        f"| 未答上（匹配较弱） | {r.weak}（{_pct(r.weak_share)}） |",
        f"| 按渠道 | {_md(_channels(r))} |",
        f"| 打开了文章的提问 | {r.opened_questions}（{_pct(r.open_rate)}） |",
        f"| 留下反馈的提问 | {r.with_feedback}（{_pct(r.feedback_rate)}） |",
        f"| 其中 👍 有帮助 | {r.thumbs_up}（{_pct(r.up_share)}） |",
        "",
        "## 内容缺口：最常见的未答上问题",
        "",
    ]
    if r.gaps:
        out += ["| # | 问题（最常见说法） | 次数 | 其他说法 | 最接近的现有文章 | 状态 |", "|---|---|---|---|---|---|"]
        for i, g in enumerate(r.gaps, 1):
            near = f"{_md(g.nearest_title)}（{_md(g.nearest_id)}）" if g.nearest_id else "—"
            out.append(f"| {i} | {_md(g.label)} | {g.count} | {'；'.join(_md(e) for e in g.examples) or '—'} | "
                       f"{near} | {_gap_status(g)} |")
    else:
        out.append("这段时间没有未答上的问题。")
    out += ["", "## 最常被打开的文章", ""]
    if r.top_opened:
        out += ["| # | 文章 | 编号 | 打开次数 |", "|---|---|---|---|"]
        out += [f"| {i} | {_md(a.title)} | {_md(a.article_id)} | {a.count} |" for i, a in enumerate(r.top_opened, 1)]
    else:
        out.append("这段时间没有打开文章的记录。")
    out += ["", "## 每日提问数", "", "| 日期 | 提问 | 未答上 |", "|---|---|---|"]
    out += [f"| {d.day} | {d.count} | {d.weak} |" for d in r.per_day]
    if r.notes:
        out += ["", "## 说明", ""] + [f"- {_md(n)}" for n in r.notes]
    out.append("")
    return "\n".join(out)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _svg_per_day(days: list[DayCount], width: int = 760, height: int = 220) -> str:
    """Stacked bars (answered / weak) per day, inline SVG with native <title> tooltips."""
    left, right, top, bottom = 36, 8, 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((d.count for d in days), default=0)
    step = max(1, _nice_step(peak))
    y_max = max(step, -(-peak // step) * step)
    n = max(1, len(days))
    slot = plot_w / n
    bar = max(1.0, slot * 0.72)
    label_every = max(1, -(-n // 10))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="每日提问数">']
    for v in range(0, y_max + 1, step):
        y = top + plot_h - plot_h * v / y_max
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#6b7280">{v}</text>')
    for i, d in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        h_all = plot_h * d.count / y_max
        h_weak = plot_h * d.weak / y_max
        y0 = top + plot_h
        tip = _e(f"{d.day}：{d.count} 个提问，其中 {d.weak} 个未答上")
        parts.append(f"<g><title>{tip}</title>")
        parts.append(f'<rect x="{x:.1f}" y="{y0 - h_all:.1f}" width="{bar:.1f}" height="{h_all - h_weak:.1f}" '
                     'fill="#2563eb"/>')
        parts.append(f'<rect x="{x:.1f}" y="{y0 - h_weak:.1f}" width="{bar:.1f}" height="{h_weak:.1f}" fill="#f59e0b"/>')
        parts.append("</g>")
        if i % label_every == 0 or i == n - 1:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                         f'font-size="11" fill="#374151">{_e(d.day.strftime("%m-%d"))}</text>')
    parts.append(f'<rect x="{left}" y="{height - 12}" width="10" height="10" fill="#2563eb"/>'
                 f'<text x="{left + 14}" y="{height - 3}" font-size="11" fill="#374151">已答上</text>'
                 f'<rect x="{left + 70}" y="{height - 12}" width="10" height="10" fill="#f59e0b"/>'
                 f'<text x="{left + 84}" y="{height - 3}" font-size="11" fill="#374151">未答上</text>')
    parts.append("</svg>")
    return "".join(parts)


def _nice_step(peak: int) -> int:
    """A round grid step giving about four lines."""
    raw = max(1, peak) / 4
    magnitude = 10 ** int(np.floor(np.log10(raw))) if raw >= 1 else 1
    for m in (1, 2, 5, 10):
        if m * magnitude >= raw:
            return int(m * magnitude)
    return int(10 * magnitude)


_CSS = """
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:2rem auto;
max-width:60rem;padding:0 1rem;color:#111827;line-height:1.5}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #e5e7eb;padding-bottom:.25rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border:1px solid #e5e7eb;padding:.35rem .5rem;
text-align:left;vertical-align:top}th{background:#f9fafb}td.n{text-align:right;white-space:nowrap}
.meta{color:#6b7280;font-size:.85rem}.ex{color:#4b5563;font-size:.85rem}.gap{color:#b45309}.ok{color:#047857}
.kpi{display:flex;flex-wrap:wrap;gap:.75rem}.kpi div{border:1px solid #e5e7eb;border-radius:.5rem;padding:.5rem .8rem;
min-width:9rem}.kpi b{display:block;font-size:1.3rem}
"""


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (no script, no external assets)."""
    r = report
    kpis = [
        ("提问总数", str(r.total), ""),
        ("未答上", str(r.weak), _pct(r.weak_share)),
        ("打开了文章", str(r.opened_questions), _pct(r.open_rate)),
        ("留下反馈", str(r.with_feedback), _pct(r.feedback_rate)),
        ("👍 有帮助", str(r.thumbs_up), f"占反馈 {_pct(r.up_share)}"),
    ]
    out = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>用户提问洞察报告</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>法律问答检索 · 用户提问洞察报告</h1>",
        f'<p class="meta">统计区间：{_e(r.start)} 至 {_e(r.end)}（{r.days} 天，北京时间）；'
        f"生成于 {_e(r.generated_at.strftime('%Y-%m-%d %H:%M'))}"
        + (f"；索引版本 {_e(r.index_version)}" if r.index_version else "") + "</p>",
        "<h2>概览</h2>",
        '<div class="kpi">'
        + "".join(f"<div>{_e(name)}<b>{_e(value)}</b>{_e(sub)}</div>" for name, value, sub in kpis)
        + "</div>",
        f'<p>按渠道：{_e(_channels(r))}</p>',
        "<h2>每日提问数</h2>",
        _svg_per_day(r.per_day),
        "<h2>内容缺口：最常见的未答上问题</h2>",
    ]
    if r.gaps:
        out.append('<p class="meta">意思相近的提问已归为一组（按“最常见说法”显示）；“最接近的现有文章”是用该说法检索时的第一条结果。</p>')
        out.append("<table><thead><tr><th>#</th><th>问题（最常见说法）</th><th>次数</th><th>其他说法</th>"
                   "<th>最接近的现有文章</th><th>状态</th></tr></thead><tbody>")
        for i, g in enumerate(r.gaps, 1):
            examples = "<br>".join(_e(x) for x in g.examples) or "—"
            near = (f"{_e(g.nearest_title)}<br><span class=\"meta\">{_e(g.nearest_id)}</span>"
                    if g.nearest_id else "—")
            status = f'<span class="{"gap" if g.nearest_weak else "ok"}">{_e(_gap_status(g))}</span>'
            detail = f'<br><span class="meta">检索判为弱匹配 {g.weak}，👎 {g.disliked}</span>'
            out.append(f'<tr><td class="n">{i}</td><td>{_e(g.label)}</td><td class="n">{g.count}</td>'
                       f'<td class="ex">{examples}</td><td>{near}</td><td>{status}{detail}</td></tr>')
        out.append("</tbody></table>")
    else:
        out.append("<p>这段时间没有未答上的问题。</p>")
    out.append("<h2>最常被打开的文章</h2>")
    if r.top_opened:
        out.append("<table><thead><tr><th>#</th><th>文章</th><th>编号</th><th>打开次数</th></tr></thead><tbody>")
        out += [f'<tr><td class="n">{i}</td><td>{_e(a.title)}</td><td>{_e(a.article_id)}</td>'
                f'<td class="n">{a.count}</td></tr>' for i, a in enumerate(r.top_opened, 1)]
        out.append("</tbody></table>")
    else:
        out.append("<p>这段时间没有打开文章的记录。</p>")
    if r.notes:
        out.append("<h2>说明</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in r.notes) + "</ul>")
    out.append('<p class="meta">提问在写入日志前已去除手机号、身份证号、银行卡号等个人信息。</p>')
    out.append("</body></html>")
    return "\n".join(out)


# ---- the command ---------------------------------------------------------------
def write_report(log_path: str | Path | None, index_path: str | Path | None, out_path: str | Path,
                 fmt: str = "html", days: int = 30, searcher=None) -> Path:
    """Build the report from a log file and an index and write it (atomically) to `out_path`.

    `searcher` reuses an open Searcher (the page, tests); otherwise `index_path` is opened.
    """
    if fmt not in ("html", "md"):
        raise ValueError(f"fmt must be 'html' or 'md', not {fmt!r}")
    if searcher is None:
        from index.searcher import Searcher

        if index_path is None:
            raise ValueError("write_report needs index_path or searcher")
        searcher = Searcher.open(index_path)
    log = QueryLog.open(Path(log_path) if log_path is not None else None)
    try:
        report = build_report(log, searcher, days=days)
    finally:
        log.close()
    text = render_html(report) if fmt == "html" else render_markdown(report)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the report is meant to be read by others
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
