"""The search page: `streamlit run app.py` (or `make run`).

Thin by design: every search, article lookup and status figure comes from
`index.searcher.Searcher`. This file only turns them into a page.

Safety rule: every piece of text that comes from the index (titles, passages,
statutes, categories, URLs) or from the user (the query) is passed through
`html.escape` before it goes into HTML, and only http(s) URLs or our own
`?article=` links are ever put into an href. No untrusted text goes into a script.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import gc
import html
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import streamlit as st

from index.layout import LOCK, IndexNotFound
from index.searcher import ModelMismatch, Searcher, display_key_from

MAX_QUERY_CHARS = 200
DEFAULT_INDEX = "var/index"
EXAMPLES = [
    "网贷逾期了，催收说要上门，是真的吗？",
    "被公司辞退能拿多少补偿？",
    "离婚冷静期是多少天？",
    "民法典1032条说的什么",
]
DISCLAIMER = "以上内容为一般性法律信息，不构成针对具体个案的法律意见；个案情况不同，建议咨询专业律师。"
BUILD_HELP = (
    "还没有可用的索引。请先构建索引：在项目目录运行 `make run`（会自动构建并启动页面），"
    "或者运行 `python -m ingest build --source corpus --index {index}`，然后刷新本页。"
)
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
.lf-body { line-height: 1.85; overflow-wrap: anywhere; }
.lf-body h3, .lf-body h4 { margin: 1.1rem 0 .4rem 0; }
.lf-body p { margin: 0 0 .7rem 0; }
.lf-body .lf-psg { background: rgba(250,204,21,.22); border-radius: 2px; }
.lf-body .lf-in { border-left: 3px solid #f59e0b; padding-left: .6rem; }
#lf-target { scroll-margin-top: 4.5rem; }
.lf-related a { text-decoration: none; }
</style>
"""


# ---------------------------------------------------------------- loading ----
class Service:
    """The process-wide Searcher, used by one session at a time (`with service.use() as searcher`).

    Streamlit serves every browser session from its own thread; the lock keeps
    one Searcher call at a time (a search takes ~25 ms) so a version switch in
    `refresh()` never closes a store another thread is still reading.

    While the lock is held, torch runs on LAWFAQ_TORCH_THREADS threads (default
    1): encoding one short query gains nothing from more threads, and on a busy
    machine several intra-op threads make a 30 ms encode take up to a second.
    """

    def __init__(self, searcher: Searcher):
        self.searcher = searcher
        self._lock = threading.Lock()
        try:
            self.threads = max(1, int(os.environ.get("LAWFAQ_TORCH_THREADS", "1")))
        except ValueError:
            self.threads = 1

    @contextlib.contextmanager
    def use(self) -> Iterator[Searcher]:
        with self._lock:
            torch = sys.modules.get("torch")  # loaded by the embedder
            before = torch.get_num_threads() if torch else None
            if torch:
                torch.set_num_threads(self.threads)
            try:
                yield self.searcher
            finally:
                if torch and before:
                    torch.set_num_threads(before)


@st.cache_resource(show_spinner="正在加载索引和模型…")
def load_service(index_dir: str) -> Service:
    service = Service(Searcher.open(index_dir))
    with service.use() as searcher:
        searcher.search("预热", k=1)  # load the model and the tokenizer now, not on the first user query
    # Streamlit runs a full gc.collect() after every script run; walking the ~500k long-lived
    # objects of the model, jieba and the index takes ~250 ms and holds back the results that
    # were already rendered. Move them out of the collector's sight once they are loaded.
    gc.collect()
    gc.freeze()
    return service


def index_dir() -> str:
    return os.environ.get("LAWFAQ_INDEX") or DEFAULT_INDEX


def build_running(root: Path) -> bool:
    """Whether a build holds build.lock, read from /proc/locks (never takes the lock itself)."""
    try:
        inode = (root / LOCK).stat().st_ino
        locks = Path("/proc/locks").read_text()
    except OSError:
        return False
    for line in locks.splitlines():
        parts = line.split()
        if len(parts) > 5 and parts[1] == "FLOCK" and parts[5].rsplit(":", 1)[-1] == str(inode):
            return True
    return False


# ---------------------------------------------------------------- html -------
def esc(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


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


def with_query(link: str, query: str) -> str:
    """Our own article links carry the query along, so the article view can link back to it."""
    if is_internal(link) and query:
        return f"{link}&q={quote(query, safe='')}"
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


def highlight(text: str, spans, best: tuple[int, int] | None = None) -> str:
    """Escaped HTML of `text`: <mark> around the spans, the best sentence in <span class="best">.

    Walks the raw text one character at a time with three flags (best sentence,
    heading line, matched word; outer to inner), opens and closes tags where a
    flag changes, and escapes each run of plain text on its own, so markup never
    lands inside an entity. Markdown heading markers are dropped (the heading
    text is shown bold); line breaks become <br>.
    """
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


def hit_html(hit, query: str, weak: bool) -> str:
    link = with_query(hit.link, query)
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
        statutes += '<span class="lf-tags-label">本段引用</span>' + tags_html(hit.statutes)
    if others:
        more = f'<span class="lf-tags-label">等{len(others)}条</span>' if len(others) > 6 else ""
        statutes += ('<span class="lf-tags-label">本文引用</span>'
                     + tags_html(others[:6], "lf-tag lf-article") + more)
    source_note = "（原网站）" if not is_internal(hit.link) else ""
    return (
        f'<div class="lf-hit{" lf-weak" if weak else ""}" data-rank="{int(hit.rank)}" '
        f'data-article="{esc(hit.article_id)}">'
        f'<div class="lf-title">{link_html(link, title)}{badge}</div>'
        f'<div class="lf-meta">{"".join(meta)}</div>'
        f'<div class="lf-passage">{highlight(hit.passage, hit.match_spans, tuple(hit.best_sentence))}</div>'
        + (f'<div class="lf-tags">{statutes}</div>' if statutes else "")
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


def scroll_to_target() -> None:
    """Scroll the highlighted passage into view. The script is a constant: no data in it."""
    import streamlit.components.v1 as components

    components.html(
        "<script>(function(){var n=0;function go(){var d=window.parent.document;"
        "var el=d.getElementById('" + TARGET_ID + "');"
        "if(el){el.scrollIntoView({block:'center'});}else if(n++<40){setTimeout(go,100);}}go();})();</script>",
        height=0,
    )


# ---------------------------------------------------------------- state ------
def sync_query_from_url() -> str:
    """Put ?q= into the search box when the URL changed (first visit, shared link, back button)."""
    url_q = st.query_params.get("q", "")
    if st.session_state.get("_url_q") != url_q:
        st.session_state["_url_q"] = url_q
        st.session_state["q_input"] = url_q
    return url_q


def set_query(value: str) -> None:
    value = (value or "").strip()
    st.session_state["q_input"] = value
    st.session_state["_url_q"] = value
    if value:
        st.query_params["q"] = value
    elif "q" in st.query_params:
        del st.query_params["q"]


def on_query_change() -> None:
    set_query(st.session_state.get("q_input", ""))


def on_example(text: str) -> None:
    set_query(text)


# ---------------------------------------------------------------- views ------
def sidebar(service: Service | None, root: str) -> dict:
    filters: dict = {"k": 5, "category": None, "date_from": None, "date_to": None}
    with st.sidebar:
        if service is not None:
            st.subheader("筛选")
            with service.use() as searcher:
                cats = searcher.categories()
            chosen = st.multiselect("分类", cats, key="f_cat", placeholder="全部分类")
            c1, c2 = st.columns(2)
            d_from = c1.date_input("起始日期", value=None, key="f_from", format="YYYY-MM-DD",
                                   min_value=dt.date(1990, 1, 1))
            d_to = c2.date_input("截止日期", value=None, key="f_to", format="YYYY-MM-DD",
                                 min_value=dt.date(1990, 1, 1))
            k = st.slider("结果数量", 3, 20, 5, key="f_k")
            filters = {
                "k": int(k), "category": list(chosen) or None,
                "date_from": d_from.isoformat() if d_from else None,
                "date_to": d_to.isoformat() if d_to else None,
            }
            if d_from and d_to and d_from > d_to:
                st.warning("起始日期晚于截止日期，不会有结果。")
        with st.expander("索引状态", expanded=False):
            if service is None:
                st.write(f"索引目录：`{root}`（不可用）")
            else:
                with service.use() as searcher:
                    status = searcher.status()
                st.markdown(
                    "\n".join(
                        [
                            f"- 版本：`{status.get('version')}`",
                            f"- 构建时间：{str(status.get('built_at') or '未知').replace('T', ' ')}",
                            f"- 文章：{int(status.get('articles') or 0)} 篇，段落：{int(status.get('passages') or 0)} 段",
                            f"- 模型：`{status.get('model') or '未知'}`",
                        ]
                    )
                )
                if build_running(Path(root)):
                    st.caption("后台正在构建新版本，完成前继续使用当前版本。")
                counts = status.get("categories") or {}
                if counts:
                    import pandas as pd

                    frame = pd.DataFrame({"分类": list(counts), "文章数": list(counts.values())})
                    st.bar_chart(frame, x="分类", y="文章数", horizontal=True, height=40 + 28 * len(counts))
    return filters


def search_view(service: Service, filters: dict) -> None:
    sync_query_from_url()
    st.text_input(
        "你的问题", key="q_input", on_change=on_query_change,
        placeholder="用自己的话描述问题，例如：网贷逾期了，催收说要上门，是真的吗？",
        label_visibility="collapsed", icon=":material/search:",
    )
    raw = (st.session_state.get("q_input") or "").strip()
    if not raw:
        st.markdown("**试试这些问题：**")
        cols = st.columns(2)
        for i, ex in enumerate(EXAMPLES):
            cols[i % 2].button(ex, key=f"ex{i}", on_click=on_example, args=(ex,), width="stretch")
        return
    query = raw
    if len(query) > MAX_QUERY_CHARS:
        query = query[:MAX_QUERY_CHARS]
        st.info(f"问题太长，只按前 {MAX_QUERY_CHARS} 个字检索。")
    with service.use() as searcher:
        hits = searcher.search(
            query, k=filters["k"], category=filters["category"],
            date_from=filters["date_from"], date_to=filters["date_to"],
        )
    if not hits:
        st.info("没有找到相关内容。可以换个说法、少用专业词，或者放宽左侧的分类和日期筛选再试。")
        return
    if hits.weak:
        message = hits.message or "没有找到很贴切的答案，下面是最接近的结果，仅供参考。"
        if "换个说法" not in message:
            message += "建议换个说法，或者补充具体情况（比如发生了什么、涉及谁、多少钱）再搜。"
        st.warning(message)
    ms = hits.timings.get("total_ms")
    st.caption(f"找到 {len(hits)} 条相关段落" + (f"（{ms:.0f} 毫秒）" if ms is not None else ""))
    cards = "".join(hit_html(h, query, hits.weak) for h in hits)
    st.html(f'<div class="lf-results" data-query="{esc(query)}">{cards}</div>')


def article_view(service: Service, article_id: str) -> None:
    q = st.query_params.get("q", "")[:MAX_QUERY_CHARS]
    passage_id = st.query_params.get("passage", "")
    back = f"?q={quote(q, safe='')}" if q else "?"
    back_html = f'<a href="{esc(back)}" target="_self">← 返回搜索</a>'
    with service.use() as searcher:
        found = searcher.article(article_id)
        related = searcher.related(article_id) if found else []
    if found is None:
        st.error("文章不存在。链接可能已过期，或者文章已被删除。")
        st.html(f'<div class="lf-back">{back_html}</div>')
        return
    row, passages = found
    chosen = next((p for p in passages if p.id == passage_id), None)
    meta = [x for x in (row.category, row.published) if x]
    source = ""
    href = safe_href(row.url)
    if href:
        source = f' · {link_html(href, "原网站")}'
    head = (
        f'<div class="lf-back">{back_html}</div>'
        f'<h2 class="lf-article-title">{esc(row.title)}</h2>'
        f'<div class="lf-meta">{"".join(f"<span>{esc(m)}</span>" for m in meta)}{source}</div>'
        + (f'<div class="lf-tags">{tags_html(row.tags, "lf-tag lf-plain")}</div>' if row.tags else "")
    )
    st.html(head)
    if chosen is not None and chosen.statutes:
        st.html(
            '<div class="lf-tags">本段引用的法条：'
            + tags_html(display_key_from(k) for k in chosen.statutes)
            + "</div>"
        )
    start = chosen.start if chosen else None
    end = chosen.end if chosen else None
    st.html(body_html(row.body, start, end))
    all_statutes = list(dict.fromkeys(k for p in passages for k in p.statutes))
    if all_statutes:
        st.html('<div class="lf-tags">全文引用的法条：' + tags_html(display_key_from(k) for k in all_statutes) + "</div>")
    if related:
        items = "".join(
            f"<li>{link_html(with_query('?article=' + quote(i, safe=''), q), esc(t))}</li>" for i, t in related
        )
        st.html(f'<div class="lf-related"><h4>相关文章</h4><ul>{items}</ul></div>')
    if chosen is not None:
        scroll_to_target()


def main() -> None:
    st.set_page_config(page_title="法律问答检索", page_icon="⚖️", layout="centered")
    st.html(CSS)
    root = index_dir()
    service: Service | None = None
    error: str | None = None
    detail = ""
    try:
        service = load_service(str(Path(root).resolve()))
    except IndexNotFound as exc:
        error, detail = "notfound", str(exc)
    except ModelMismatch as exc:
        error = f"索引是用另一个模型构建的，和当前配置的模型不一致：{exc}"

    if service is not None:
        try:
            with service.use() as searcher:
                switched = searcher.refresh()
                version = searcher.version
        except ModelMismatch as exc:
            # A newly published version needs another model. The Searcher would raise this again
            # on every search (search() refreshes first), so say what is wrong instead of crashing.
            service, error = None, f"新发布的索引版本和当前模型不一致，暂时无法检索：{exc}"
        else:
            if searcher.refresh_error:
                st.warning(
                    f"新发布的索引版本无法使用，页面继续使用版本 {version} 检索。"
                    f"原因：{searcher.refresh_error}"
                )
            seen = st.session_state.get("_seen_version")
            if switched or (seen is not None and seen != version):
                st.toast(f"索引已更新至版本 {version}")
                st.caption(f"索引已更新至版本 {version}")
            st.session_state["_seen_version"] = version

    filters = sidebar(service, root)
    article_id = st.query_params.get("article")

    if not article_id:
        st.title("法律问答检索")
        st.html('<div class="lf-sub">用大白话提问，从律所的常见问题文章里找到答案所在的段落。</div>')

    if service is None:
        if error == "notfound":
            st.error(BUILD_HELP.format(index=root))
            if "damaged" in detail or "cannot be opened" in detail:
                st.caption(detail)
        else:
            st.error(error or "索引无法打开。")
            st.markdown(f"重新构建：`python -m ingest build --full --source corpus --index {root}`")
    elif article_id:
        article_view(service, article_id)
    else:
        search_view(service, filters)

    st.divider()
    st.caption(DISCLAIMER)


main()
