"""The search page: `streamlit run app.py` (or `make run`).

Thin by design: every search, article lookup and status figure comes from
`index.Searcher`, and all HTML comes from `index.serving.render` (escaping through
`index.text.html`). This file holds the views and `main`; importing it runs nothing.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
from pathlib import Path
from urllib.parse import quote

import streamlit as st

from index.encoders.base import ModelUnavailable
from index.encoders.model import configure_threads
from index.firm.querylog import QueryLog
from index.search.request import MAX_QUERY_CHARS, InvalidQuery, link_filters
from index.search.searcher import ModelMismatch, Searcher
from index.serving.article_page import article_parts
from index.serving.page_messages import UNAVAILABLE, beijing_time, explain_unavailable
from index.serving.render import (
    CSS,
    TARGET_ID,
    article_head_html,
    esc,
    hit_html,
)
from index.serving.shared import IndexUnavailable, SharedSearcher
from index.settings import Settings, SettingsError, settings
from index.storage.layout import IndexDir, IndexNotFound
from index.text.pinyin import looks_like_pinyin

EXAMPLES = [
    "网贷逾期了，催收说要上门，是真的吗？",
    "被公司辞退能拿多少补偿？",
    "离婚冷静期是多少天？",
    "民法典1032条说的什么",
]
DISCLAIMER = "以上内容为一般性法律信息，不构成针对具体个案的法律意见；个案情况不同，建议咨询专业律师。"
log = logging.getLogger("lawfaq.page")


# ---------------------------------------------------------------- loading ----
@st.cache_resource(show_spinner="正在加载索引和模型…")
def load_service(index_dir: str, threads: int, public_url: str) -> SharedSearcher:
    # once per server process, before the model loads: LAWFAQ_TORCH_THREADS threads per query
    configure_threads(threads)
    service = SharedSearcher.of(Searcher.open(index_dir, base_url=public_url))
    with service.use() as searcher:
        searcher.search("预热", k=1)  # load the model and the tokenizer now, not on the first user query
    # Streamlit runs a full gc.collect() after every script run; walking the ~500k long-lived
    # objects of the model, jieba and the index takes ~250 ms and holds back the results that
    # were already rendered. Move them out of the collector's sight once they are loaded.
    gc.collect()
    gc.freeze()
    return service


@st.cache_resource
def load_query_log(path: str | None, retention_days: int) -> QueryLog:
    """One question log per server process (a no-op when LAWFAQ_QUERY_LOG=off)."""
    return QueryLog.open(Path(path) if path else None, retention_days)


def question_log() -> QueryLog:
    config = settings()
    path = config.query_log_path
    return load_query_log(str(path) if path else None, config.log_retention_days)


def log_question(query: str, filters: dict, hits) -> str | None:
    """Record the question once per search (Streamlit reruns the script on every click)."""
    key = (query, repr(sorted(filters.items())))
    if st.session_state.get("_logged_key") != key:
        st.session_state["_logged_key"] = key
        st.session_state["_qid"] = question_log().record(
            query, "page", filters, list(dict.fromkeys(h.article_id for h in hits)), hits.weak)
    return st.session_state.get("_qid")


def on_feedback(question_id: str, key: str) -> None:
    value = st.session_state.get(key)
    if value is not None:
        question_log().feedback(question_id, int(value))


def feedback_row(question_id: str | None) -> None:
    """👍/👎 under the results: the firm's signal for which answers help."""
    if not question_id:
        return
    key = f"fb_{question_id}"
    st.caption("这些结果有帮助吗？")
    st.feedback("thumbs", key=key, on_change=on_feedback, args=(question_id, key))
    if st.session_state.get(key) is not None:
        st.caption("谢谢反馈！")


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
def sync_from_url(categories: list[str]) -> None:
    """Put ?q=, ?category=, ?from=, ?to= into the widgets when the URL changed.

    A shared link (or the back button) reproduces the search with its filters. An unknown
    category or a malformed date is not applied, and the page says so (`url_notice`).
    """
    url = (st.query_params.get("q", ""), tuple(st.query_params.get_all("category")),
           st.query_params.get("from", ""), st.query_params.get("to", ""))
    if st.session_state.get("_url") == url:
        return
    st.session_state["_url"] = url
    st.session_state["q_input"] = url[0]
    chosen, d_from, d_to, problems = link_filters(categories, url[1], url[2], url[3])
    st.session_state.update(f_cat=chosen, f_from=d_from, f_to=d_to, _url_notice="；".join(problems))


def url_notice() -> str:
    """What the link asked for that could not be applied (empty when all of it was)."""
    problems = st.session_state.get("_url_notice") or ""
    return f"链接中的筛选条件无效，已忽略：{problems}。" if problems else ""


def write_url() -> None:
    """Mirror the question and filters into the address bar, so the link can be shared."""
    q = (st.session_state.get("q_input") or "").strip()
    cats = list(st.session_state.get("f_cat") or [])
    d_from, d_to = st.session_state.get("f_from"), st.session_state.get("f_to")
    params: dict[str, str | list[str]] = {}
    if q:
        params["q"] = q
    if cats:
        params["category"] = cats
    if d_from:
        params["from"] = d_from.isoformat()
    if d_to:
        params["to"] = d_to.isoformat()
    st.query_params.from_dict(params)
    st.session_state["_url"] = (q, tuple(cats), params.get("from", ""), params.get("to", ""))
    st.session_state["_url_notice"] = ""  # the filters are now the ones on the page


def on_example(text: str) -> None:
    st.session_state["q_input"] = text
    write_url()


# ---------------------------------------------------------------- views ------
def sidebar(service: SharedSearcher | None, root: str, show_status: bool) -> dict:
    filters: dict = {"k": 5, "category": None, "date_from": None, "date_to": None}
    with st.sidebar:
        if service is not None:
            st.subheader("筛选")
            with service.use() as searcher:
                cats = searcher.categories()
            sync_from_url(cats)
            if url_notice():
                st.warning(url_notice())
            chosen = st.multiselect("分类", cats, key="f_cat", placeholder="全部分类", on_change=write_url)
            c1, c2 = st.columns(2)
            d_from = c1.date_input("起始日期", key="f_from", format="YYYY-MM-DD",
                                   min_value=dt.date(1990, 1, 1), on_change=write_url)
            d_to = c2.date_input("截止日期", key="f_to", format="YYYY-MM-DD",
                                 min_value=dt.date(1990, 1, 1), on_change=write_url)
            k = st.slider("结果数量", 3, 20, 5, key="f_k")
            filters = {
                "k": int(k), "category": list(chosen) or None,
                "date_from": d_from.isoformat() if d_from else None,
                "date_to": d_to.isoformat() if d_to else None,
            }
            if d_from and d_to and d_from > d_to:
                st.warning("起始日期晚于截止日期，不会有结果。")
        if show_status:  # operators only: version, model and build time mean nothing to a visitor
            with st.expander("索引状态", expanded=False):
                status_panel(service, root)
    return filters


def status_panel(service: SharedSearcher | None, root: str) -> None:
    if service is None:
        st.write(f"索引目录：`{root}`（不可用）")
        return
    with service.use() as searcher:
        status = searcher.status()
    st.markdown(
        "\n".join(
            [
                f"- 版本：`{status.get('version')}`",
                f"- 构建时间：{beijing_time(status.get('built_at'))}",
                f"- 文章：{int(status.get('articles') or 0)} 篇，段落：{int(status.get('passages') or 0)} 段",
                f"- 模型：`{status.get('model') or '未知'}`",
            ]
        )
    )
    if IndexDir(Path(root)).build_running():
        st.caption("后台正在构建新版本，完成前继续使用当前版本。")
    counts = status.get("categories") or {}
    if counts:
        import pandas as pd

        frame = pd.DataFrame({"分类": list(counts), "文章数": list(counts.values())})
        st.bar_chart(frame, x="分类", y="文章数", horizontal=True, height=40 + 28 * len(counts))


def search_view(service: SharedSearcher, filters: dict) -> None:
    st.text_input(
        "你的问题", key="q_input", on_change=write_url,
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
    try:
        with service.use() as searcher:
            hits = searcher.search(
                query, k=filters["k"], category=filters["category"],
                date_from=filters["date_from"], date_to=filters["date_to"],
            )
    except InvalidQuery as exc:  # e.g. a start date after the end date: the sidebar already says which
        st.info(f"筛选条件无效，没有检索：{exc.zh}。")
        return
    question_id = log_question(query, filters, hits)
    if not hits:
        st.info("没有找到相关内容。可以换个说法、少用专业词，或者放宽左侧的分类和日期筛选再试。")
        return
    if hits.weak:
        message = hits.message or "没有找到很贴切的答案，下面是最接近的结果，仅供参考。"
        if "换个说法" not in message:
            message += "建议换个说法，或者补充具体情况（比如发生了什么、涉及谁、多少钱）再搜。"
        st.warning(message)
    if hits.read_as:  # pinyin or Traditional characters: say how it was read, so a wrong reading is visible
        how = "拼音" if looks_like_pinyin(hits.query) else "简体中文"
        st.caption(f"已按{how}理解为：{hits.read_as}")
    ms = hits.timings.get("total_ms")
    st.caption(f"找到 {len(hits)} 条相关段落" + (f"（{ms:.0f} 毫秒）" if ms is not None else ""))
    cards = "".join(hit_html(h, query, hits.weak, question_id) for h in hits)
    st.html(f'<div class="lf-results" data-query="{esc(query)}">{cards}</div>')
    feedback_row(question_id)


def article_view(service: SharedSearcher, article_id: str) -> None:
    q = st.query_params.get("q", "")[:MAX_QUERY_CHARS]
    passage_id = st.query_params.get("passage", "")
    back = f"?q={quote(q, safe='')}" if q else "?"
    with service.use() as searcher:
        found = searcher.article(article_id)
        related = searcher.related(article_id) if found else []
    if found is None:
        st.error("文章不存在。链接可能已过期，或者文章已被删除。")
        st.html(f'<div class="lf-back"><a href="{esc(back)}" target="_self">← 返回搜索</a></div>')
        return
    row, passages = found
    note_opened(st.query_params.get("qid"), article_id)
    chosen = next((p for p in passages if p.id == passage_id), None)
    st.html(article_head_html(row, back))
    for part in article_parts(row, passages, chosen, related, q):
        st.html(part)
    if chosen is not None:
        scroll_to_target()


def note_opened(question_id: str | None, article_id: str) -> None:
    """Tell the question log which result of a question was opened (once per page view)."""
    key = (question_id, article_id)
    if question_id and st.session_state.get("_opened") != key:
        st.session_state["_opened"] = key
        with contextlib.suppress(ValueError):  # a hand-edited link: not worth an error on the page
            question_log().opened(question_id, article_id)


def open_service(config: Settings) -> tuple[SharedSearcher | None, str | None, str]:
    """(service, error kind or message, detail) for the configured index."""
    try:
        return load_service(str(Path(config.index).resolve()), config.torch_threads, config.public_url), None, ""
    except IndexNotFound as exc:
        return None, "notfound", str(exc)
    except ModelMismatch as exc:
        return None, f"索引是用另一个模型构建的，和当前配置的模型不一致：{exc}", ""
    except ModelUnavailable as exc:  # e.g. a serving-only install without the model cache
        return None, f"检索模型无法加载：{exc}", ""


def follow_new_version(service: SharedSearcher, show_status: bool) -> tuple[SharedSearcher | None, str | None]:
    """Switch to a newly published version; say so, or say why the old one keeps serving."""
    try:
        with service.use() as searcher:
            switched = searcher.refresh()
            version = searcher.version
    except ModelMismatch as exc:
        # A newly published version needs another model. The Searcher would raise this again
        # on every search (search() refreshes first), so say what is wrong instead of crashing.
        return None, f"新发布的索引版本和当前模型不一致，暂时无法检索：{exc}"
    except IndexUnavailable as exc:  # the served version was found damaged: say so instead of crashing
        return None, f"索引文件已损坏，暂时无法检索，请联系网站管理员。（{exc}）"
    if searcher.refresh_error:  # the old version keeps serving: the visitor loses nothing, the log says why
        if st.session_state.get("_logged_refresh") != searcher.refresh_error:
            st.session_state["_logged_refresh"] = searcher.refresh_error
            log.warning("new index version not used, %s keeps serving: %s", version, searcher.refresh_error)
        if show_status:
            st.warning(f"新发布的索引版本无法使用，页面继续使用版本 {version} 检索。原因：{searcher.refresh_error}")
    seen = st.session_state.get("_seen_version")
    if switched or (seen is not None and seen != version):
        said = f"索引已更新至版本 {version}" if show_status else "文章库已更新"
        st.toast(said)
        st.caption(said)
    st.session_state["_seen_version"] = version
    return service, None


def unavailable(error: str | None, detail: str, root: str, show_status: bool) -> None:
    """Nothing can be searched: the operator's explanation goes to the log (and to the page
    with LAWFAQ_SHOW_STATUS=1); a visitor reads that the service is unavailable, no path."""
    explained, extra = explain_unavailable(error, detail, root)
    if st.session_state.get("_logged_unavailable") != explained:
        st.session_state["_logged_unavailable"] = explained
        log.error("the page cannot search: %s %s", explained, detail)
    st.error(explained if show_status else UNAVAILABLE)
    if show_status and extra:
        st.caption(extra) if error == "notfound" else st.markdown(extra)


def main() -> None:
    st.set_page_config(page_title="法律问答检索", page_icon="⚖️", layout="centered")
    st.html(CSS)
    try:
        config = settings()
    except SettingsError as exc:
        st.error(f"配置有误：{exc}")
        return
    root = config.index
    service, error, detail = open_service(config)
    if service is not None:
        service, error = follow_new_version(service, bool(config.show_status))

    filters = sidebar(service, root, bool(config.show_status))
    article_id = st.query_params.get("article")
    if not article_id:
        st.title("法律问答检索")
        st.html('<div class="lf-sub">用大白话提问，从律所的常见问题文章里找到答案所在的段落。</div>')

    if service is None:
        unavailable(error, detail, root, bool(config.show_status))
    elif article_id:
        article_view(service, article_id)
    else:
        search_view(service, filters)

    st.divider()
    st.caption(DISCLAIMER)


if __name__ == "__main__":
    main()
