"""The firm's report laid out: Markdown for e-mail bodies and wikis, HTML for a file.

The HTML is one self-contained file (an inline SVG chart, no script, no
external assets), because it is mailed around and opened from disk. Every
logged string is escaped on the way out: in the HTML with the project's one
escaper (`index.text.html.escape`), in Markdown so that it cannot break a table
or turn into formatting.
"""
from __future__ import annotations

import re

import numpy as np

from index.firm.gaps import GapGroup
from index.firm.report import CHANNEL_NAMES, DayCount, Report
from index.text.html import escape


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
    """Text safe inside a Markdown table cell: no HTML, no table breaks, no formatting ('' for None,
    like `escape`)."""
    return _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", "" if text is None else str(text)).strip())


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
        tip = escape(f"{d.day}：{d.count} 个提问，其中 {d.weak} 个未答上")
        parts.append(f"<g><title>{tip}</title>")
        parts.append(f'<rect x="{x:.1f}" y="{y0 - h_all:.1f}" width="{bar:.1f}" height="{h_all - h_weak:.1f}" '
                     'fill="#2563eb"/>')
        parts.append(f'<rect x="{x:.1f}" y="{y0 - h_weak:.1f}" width="{bar:.1f}" height="{h_weak:.1f}" fill="#f59e0b"/>')
        parts.append("</g>")
        if i % label_every == 0 or i == n - 1:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                         f'font-size="11" fill="#374151">{escape(d.day.strftime("%m-%d"))}</text>')
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
        f'<p class="meta">统计区间：{escape(r.start)} 至 {escape(r.end)}（{r.days} 天，北京时间）；'
        f"生成于 {escape(r.generated_at.strftime('%Y-%m-%d %H:%M'))}"
        + (f"；索引版本 {escape(r.index_version)}" if r.index_version else "") + "</p>",
        "<h2>概览</h2>",
        '<div class="kpi">'
        + "".join(f"<div>{escape(name)}<b>{escape(value)}</b>{escape(sub)}</div>" for name, value, sub in kpis)
        + "</div>",
        f'<p>按渠道：{escape(_channels(r))}</p>',
        "<h2>每日提问数</h2>",
        _svg_per_day(r.per_day),
        "<h2>内容缺口：最常见的未答上问题</h2>",
    ]
    if r.gaps:
        out.append('<p class="meta">意思相近的提问已归为一组（按“最常见说法”显示）；“最接近的现有文章”是用该说法检索时的第一条结果。</p>')
        out.append("<table><thead><tr><th>#</th><th>问题（最常见说法）</th><th>次数</th><th>其他说法</th>"
                   "<th>最接近的现有文章</th><th>状态</th></tr></thead><tbody>")
        for i, g in enumerate(r.gaps, 1):
            examples = "<br>".join(escape(x) for x in g.examples) or "—"
            near = (f"{escape(g.nearest_title)}<br><span class=\"meta\">{escape(g.nearest_id)}</span>"
                    if g.nearest_id else "—")
            status = f'<span class="{"gap" if g.nearest_weak else "ok"}">{escape(_gap_status(g))}</span>'
            detail = f'<br><span class="meta">检索判为弱匹配 {g.weak}，👎 {g.disliked}</span>'
            out.append(f'<tr><td class="n">{i}</td><td>{escape(g.label)}</td><td class="n">{g.count}</td>'
                       f'<td class="ex">{examples}</td><td>{near}</td><td>{status}{detail}</td></tr>')
        out.append("</tbody></table>")
    else:
        out.append("<p>这段时间没有未答上的问题。</p>")
    out.append("<h2>最常被打开的文章</h2>")
    if r.top_opened:
        out.append("<table><thead><tr><th>#</th><th>文章</th><th>编号</th><th>打开次数</th></tr></thead><tbody>")
        out += [f'<tr><td class="n">{i}</td><td>{escape(a.title)}</td><td>{escape(a.article_id)}</td>'
                f'<td class="n">{a.count}</td></tr>' for i, a in enumerate(r.top_opened, 1)]
        out.append("</tbody></table>")
    else:
        out.append("<p>这段时间没有打开文章的记录。</p>")
    if r.notes:
        out.append("<h2>说明</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in r.notes) + "</ul>")
    out.append('<p class="meta">提问在写入日志前已去除手机号、身份证号、银行卡号等个人信息。</p>')
    out.append("</body></html>")
    return "\n".join(out)
