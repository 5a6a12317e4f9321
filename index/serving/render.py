"""HTML for the search page: styles, escaping, highlights, result cards, the article body.

No Streamlit here, so the rendering is tested as plain functions and can serve
other front ends. Safety rule: every piece of text that comes from the index
(titles, passages, statutes, categories, URLs) or from the user (the query) is
passed through `esc` (the project's one escaper, `index.text.html.escape`: None
shows as nothing) before it goes into HTML, and only http(s) URLs or our own
`?article=` links are ever put into an href. No untrusted text goes into a
script.
"""
from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from index.search.repeal import repeal_label, successor_display
from index.text.html import escape as esc

TARGET_ID = "lf-target"  # the element the article view scrolls to (a constant: never from data)

CSS = """
<style>
.lf-sub { color: #5f6368; margin: -0.6rem 0 0.4rem 0; font-size: 0.95rem; }
.lf-hit { border: 1px solid rgba(128,128,128,.25); border-radius: 10px; padding: .8rem 1rem;
          margin: 0 0 .8rem 0; line-height: 1.7; }
.lf-hit.lf-weak { border-style: dashed; opacity: .92; }
.lf-title { font-size: 1.08rem; font-weight: 600; margin-bottom: .15rem; }
[data-testid="stMainBlockContainer"] { padding-top: 3rem; }
.lf-hit a, .lf-body a, .lf-back a, .lf-related a, .lf-meta a { color: #1a56db; }
.lf-title a { text-decoration: none; }
.lf-title a:hover { text-decoration: underline; }
.lf-meta { color: #6b7280; font-size: .82rem; margin-bottom: .35rem; }
.lf-meta span + span::before { content: "·"; margin: 0 .4rem; color: #9ca3af; }
.lf-heading { color: #6b7280; font-size: .82rem; }
.lf-passage { font-size: .95rem; overflow-wrap: anywhere; }
.lf-passage mark, .lf-body mark { background: #fff1a8; color: #1f2937; padding: 0 1px; border-radius: 2px; }
.lf-passage b.lf-h { font-weight: 600; }
.lf-passage .best { font-weight: 600; text-decoration: underline; text-decoration-color: #f59e0b;
                    text-underline-offset: 3px; }
.lf-tags { margin-top: .4rem; }
.lf-tags-label { font-size: .75rem; color: #6b7280; margin-right: .3rem; }
.lf-tag.lf-article { background: rgba(107,114,128,.06); color: #4b5563; border-style: dashed; }
.lf-tag { display: inline-block; font-size: .75rem; padding: 0 .45rem; margin: 0 .3rem .2rem 0;
          border-radius: 999px; background: rgba(37,99,235,.08); color: #1d4ed8;
          border: 1px solid rgba(37,99,235,.25); white-space: nowrap;
          max-width: 100%; overflow: hidden; text-overflow: ellipsis; vertical-align: bottom; }
.lf-tag.lf-plain { background: rgba(107,114,128,.08); color: #4b5563; border-color: rgba(107,114,128,.25); }
.lf-weak-badge { font-size: .72rem; color: #b45309; border: 1px solid #f59e0b; border-radius: 4px;
                 padding: 0 .35rem; margin-left: .4rem; vertical-align: middle; font-weight: 400; }
.lf-more { font-size: .85rem; margin-top: .3rem; }
.lf-copies { font-size: .82rem; color: #4b5563; margin-top: .35rem; }
.lf-others { font-size: .85rem; color: #374151; margin-top: .35rem; }
.lf-others summary { cursor: pointer; color: #4b5563; }
.lf-others p { margin: .3rem 0 .3rem .8rem; }
.lf-copies a { margin-right: .6rem; }
.lf-body { line-height: 1.85; overflow-wrap: anywhere; }
.lf-body h3, .lf-body h4 { margin: 1.1rem 0 .4rem 0; }
.lf-body p { margin: 0 0 .7rem 0; }
.lf-body .lf-psg { background: rgba(250,204,21,.22); border-radius: 2px; }
.lf-body .lf-in { border-left: 3px solid #f59e0b; padding-left: .6rem; }
#lf-target { scroll-margin-top: 4.5rem; }
.lf-related a { text-decoration: none; }
.lf-tag.lf-repealed { background: rgba(220,38,38,.06); color: #b91c1c; border-color: rgba(220,38,38,.35); }
.lf-tag .lf-now { color: #4b5563; }
</style>
"""


def safe_href(url: str | None) -> str | None:
    """Only http(s) URLs and our own ?article= links may become an href."""
    if not url:
        return None
    if url.startswith("?article="):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url
    return None


def is_internal(url: str) -> bool:
    return url.startswith("?")


def with_query(link: str, query: str, question_id: str | None = None) -> str:
    """Our own article links carry the query along (the article view links back to it), and the
    question's log id, so the question log learns which result was opened."""
    if not is_internal(link):
        return link
    if query:
        link += f"&q={quote(query, safe='')}"
    if question_id:
        link += f"&qid={quote(question_id, safe='')}"
    return link


def link_html(url: str | None, label_html: str, cls: str = "") -> str:
    """An <a> for a vetted URL (label already escaped); plain text when the URL is not allowed."""
    href = safe_href(url)
    if href is None:
        return f'<span class="{cls}">{label_html}</span>' if cls else label_html
    attrs = f' class="{cls}"' if cls else ""
    if is_internal(href):
        attrs += ' target="_self"'
    else:
        attrs += ' target="_blank" rel="noopener noreferrer"'
    return f'<a href="{esc(href)}"{attrs}>{label_html}</a>'


def merge_spans(spans, length: int) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for a, b in sorted((max(0, int(a)), min(length, int(b))) for a, b in spans):
        if a >= b:
            continue
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _marks(text: str, spans, best: tuple[int, int] | None) -> tuple[list[list[bool]], list[bool], set[int]]:
    """Per character of `text`: its three flags (best sentence, heading line, matched word), whether
    it is dropped (Markdown markers), and where a list item's '- ' / '* ' becomes '• '."""
    n = len(text)
    flags = [[False, False, False] for _ in range(n)]
    for a, b in merge_spans(spans, n):
        for i in range(a, b):
            flags[i][2] = True
    if best and best[1] > best[0]:
        for i in range(max(0, best[0]), min(n, best[1])):
            flags[i][0] = True
    drop = [False] * n
    bullet: set[int] = set()  # '- ' / '* ' list markers, shown as '• '
    pos = 0
    for line in text.splitlines(keepends=True):
        if line.startswith("#"):
            j = pos
            while j < n and text[j] in "# ":
                drop[j] = True
                j += 1
            for t in range(j, pos + len(line.rstrip("\n"))):
                flags[t][1] = True
        elif line[:2] in ("- ", "* "):
            bullet.add(pos)
            drop[pos + 1] = True
        pos += len(line)
    for m in re.finditer(r"\*\*", text):  # Markdown bold markers the ingest kept in the body
        drop[m.start()] = drop[m.start() + 1] = True
    return flags, drop, bullet


def highlight(text: str, spans, best: tuple[int, int] | None = None) -> str:
    """Escaped HTML of `text`: <mark> around the spans, the best sentence in <span class="best">.

    Walks the raw text one character at a time with three flags (best sentence,
    heading line, matched word; outer to inner), opens and closes tags where a
    flag changes, and escapes each run of plain text on its own, so markup never
    lands inside an entity. Markdown heading markers are dropped (the heading
    text is shown bold); line breaks become <br>.
    """
    flags, drop, bullet = _marks(text, spans, best)
    opening = ('<span class="best">', '<b class="lf-h">', "<mark>")
    closing = ("</span>", "</b>", "</mark>")
    out: list[str] = []
    run: list[str] = []
    state = [False, False, False]

    def flush() -> None:
        if run:
            out.append(esc("".join(run)))
            run.clear()

    prev_nl = False
    for i, ch in enumerate(text):
        if drop[i]:
            continue
        if ch == "\n":
            if prev_nl:
                continue  # one break per paragraph gap is enough in a snippet
            prev_nl = True
            flush()
            for level in (2, 1, 0):
                if state[level]:
                    out.append(closing[level])
                    state[level] = False
            out.append("<br>")
            continue
        prev_nl = False
        want = flags[i]
        if want != state:
            first = next(level for level in range(3) if want[level] != state[level])
            flush()
            for level in range(2, first - 1, -1):
                if state[level]:
                    out.append(closing[level])
                    state[level] = False
            for level in range(first, 3):
                if want[level]:
                    out.append(opening[level])
                    state[level] = True
        run.append("• " if i in bullet else ch)
    flush()
    for level in (2, 1, 0):
        if state[level]:
            out.append(closing[level])
    return "".join(out)


def tags_html(items, cls: str = "lf-tag") -> str:
    return "".join(f'<span class="{cls}">{esc(x)}</span>' for x in items if x)


def statute_tags_html(labels, cls: str = "lf-tag") -> str:
    """Statute tags; a repealed law is tagged 已废止 with its date and the provision now in force."""
    out = []
    for label in dict.fromkeys(x for x in labels if x):
        gone = repeal_label(label)
        if not gone:
            out.append(f'<span class="{cls}">{esc(label)}</span>')
            continue
        now = successor_display(label)
        title = gone + ("，现行规定：" + "、".join(now) if now else "")
        extra = f' <span class="lf-now">→ {esc("、".join(now))}</span>' if now else ""
        out.append(f'<span class="{cls} lf-repealed" title="{esc(title)}">{esc(label)} · {esc(gone)}{extra}</span>')
    return "".join(out)


def statutes_block(label: str, labels, cls: str = "lf-tag") -> str:
    """A labelled row of statute tags ('' when there are none)."""
    tags = statute_tags_html(labels, cls)
    return f'<div class="lf-tags">{esc(label)}{tags}</div>' if tags else ""


def copies_html(copies, query: str, question_id: str | None = None, shown: int = 5) -> str:
    """"相同内容也见于" and links to the articles whose passage is a near-copy of the hit's ('' when none):
    a templated sister page, or the same provision in another law, one line instead of another card."""
    if not copies:
        return ""
    links = "".join(link_html(with_query(c.link, query, question_id), esc(c.title), "lf-copy") for c in copies[:shown])
    more = f'<span class="lf-tags-label">等{len(copies)}篇</span>' if len(copies) > shown else ""
    return f'<div class="lf-copies"><span class="lf-tags-label">相同内容也见于</span>{links}{more}</div>'


def others_html(excerpts, query: str, question_id: str | None = None, chars: int = 120) -> str:
    """"本文其他相关段落": the card's article's other matching passages, folded away ('' when none).
    One card per article keeps the list to distinct answers; these stay one click away."""
    if not excerpts:
        return ""
    items = "".join(
        f'<p>{link_html(with_query(e.link, query, question_id), esc(e.heading.split(" > ")[-1] or "（开头）"), "lf-copy")}'
        f' {text_html(e.passage.lstrip("# ")[:chars])}{"…" if len(e.passage) > chars else ""}</p>' for e in excerpts)
    return f'<details class="lf-others"><summary>本文其他相关段落（{len(excerpts)}）</summary>{items}</details>'


def hit_html(hit, query: str, weak: bool, question_id: str | None = None) -> str:
    link = with_query(hit.link, query, question_id)
    title = esc(hit.title)
    badge = '<span class="lf-weak-badge">相关度较低</span>' if weak else ""
    meta = []
    if hit.category:
        meta.append(f'<span class="lf-cat">{esc(hit.category)}</span>')
    if hit.published:
        meta.append(f'<span class="lf-date">{esc(hit.published)}</span>')
    if hit.heading and not hit.passage.startswith("#"):  # else the passage shows its heading itself
        meta.append(f'<span class="lf-heading">{esc(hit.heading.lstrip("# "))}</span>')
    others = [x for x in getattr(hit, "article_statutes", []) if x not in hit.statutes]
    statutes = ""
    if hit.statutes:
        statutes += '<span class="lf-tags-label">本段引用</span>' + statute_tags_html(hit.statutes)
    if others:
        more = f'<span class="lf-tags-label">等{len(others)}条</span>' if len(others) > 6 else ""
        statutes += ('<span class="lf-tags-label">本文引用</span>'
                     + statute_tags_html(others[:6], "lf-tag lf-article") + more)
    source_note = "（原网站）" if not is_internal(hit.link) else ""
    return (
        f'<div class="lf-hit{" lf-weak" if weak else ""}" data-rank="{int(hit.rank)}" '
        f'data-article="{esc(hit.article_id)}">'
        f'<div class="lf-title">{link_html(link, title)}{badge}</div>'
        f'<div class="lf-meta">{"".join(meta)}</div>'
        f'<div class="lf-passage">{highlight(hit.passage, hit.match_spans, tuple(hit.best_sentence))}</div>'
        + (f'<div class="lf-tags">{statutes}</div>' if statutes else "")
        + copies_html(getattr(hit, "also_in", []), query, question_id)
        + others_html(getattr(hit, "more", []), query, question_id)
        + f'<div class="lf-more">{link_html(link, "阅读原文" + source_note, "lf-read")}</div>'
        "</div>"
    )


def text_html(text: str) -> str:
    """Escaped text without the Markdown bold markers the ingest kept in article bodies."""
    return esc(text.replace("**", ""))


def body_html(body: str, start: int | None, end: int | None) -> str:
    """The article body as escaped paragraphs; '#' lines become headings; [start, end) highlighted."""
    pieces: list[str] = []
    para: list[str] = []
    para_in = False
    target_done = False

    def seg(a: int, b: int) -> str:
        """Escaped body[a:b] with the passage part wrapped."""
        if start is None or end is None or b <= start or a >= end:
            return text_html(body[a:b])
        s, e = max(a, start), min(b, end)
        return f'{text_html(body[a:s])}<span class="lf-psg">{text_html(body[s:e])}</span>{text_html(body[e:b])}'

    def anchor(a: int, b: int) -> str:
        nonlocal target_done
        if target_done or start is None or end is None or b <= start or a >= end:
            return ""
        target_done = True
        return f' id="{TARGET_ID}"'

    def close_para() -> None:
        nonlocal para_in
        if para:
            cls = ' class="lf-in"' if para_in else ""
            pieces.append(f"<p{cls}{para[0]}>" + "<br>".join(para[1:]) + "</p>")
        para.clear()
        para_in = False

    pos = 0
    for line in body.splitlines(keepends=True):
        a, b = pos, pos + len(line.rstrip("\r\n"))
        pos += len(line)
        text = body[a:b]
        overlaps = start is not None and end is not None and a < end and b > start
        if not text.strip():
            close_para()
            continue
        if text.lstrip().startswith("#"):
            close_para()
            lead = len(text) - len(text.lstrip())
            hashes = len(text.lstrip()) - len(text.lstrip().lstrip("#"))
            level = 3 if hashes <= 2 else 4
            ha = a + lead + hashes
            while ha < b and body[ha] == " ":
                ha += 1
            cls = ' class="lf-in"' if overlaps else ""
            pieces.append(f"<h{level}{cls}{anchor(a, b)}>{seg(ha, b)}</h{level}>")
            continue
        if not para:
            para.append(anchor(a, b))
        elif overlaps and not target_done:
            para[0] = anchor(a, b)
        para_in = para_in or overlaps
        if text[:2] in ("- ", "* "):  # a Markdown list item: a bullet instead of the marker
            para.append("• " + seg(a + 2, b))
        else:
            para.append(seg(a, b))
    close_para()
    return f'<div class="lf-body">{"".join(pieces)}</div>'


def article_head_html(row, back_href: str) -> str:
    """Back link (none when `back_href` is empty), title, category, date, source link and tags of the article view."""
    meta = "".join(f"<span>{esc(m)}</span>" for m in (row.category, row.published) if m)
    source = f' · {link_html(row.url, "原网站")}' if safe_href(row.url) else ""
    tags = f'<div class="lf-tags">{tags_html(row.tags, "lf-tag lf-plain")}</div>' if row.tags else ""
    back = f'<div class="lf-back"><a href="{esc(back_href)}" target="_self">← 返回搜索</a></div>' if back_href else ""
    return (
        f'{back}<h2 class="lf-article-title">{esc(row.title)}</h2>'
        f'<div class="lf-meta">{meta}{source}</div>{tags}'
    )


def related_html(related: list[tuple[str, str]], query: str) -> str:
    """The 相关文章 list: (article id, title) pairs as links to our article view."""
    if not related:
        return ""
    items = "".join(
        f"<li>{link_html(with_query('?article=' + quote(i, safe=''), query), esc(t))}</li>" for i, t in related
    )
    return f'<div class="lf-related"><h4>相关文章</h4><ul>{items}</ul></div>'
