"""The API's endpoints: /search, /articles/{id}, the article view at /?article=, /categories, /status, /healthz.

Each endpoint takes the app's shared state (`ApiState`, one Searcher per
process), checks its input the way `Searcher.search` and the CLI do
(`index.search.request.SearchRequest`), and hands what it found to
`index.serving.answers` to become JSON. They are plain `def`s: uvicorn runs them
in its thread pool, so searches run concurrently on the one Searcher.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from index.firm.querylog import QueryLog
from index.search.request import MAX_K, MAX_QUERY_CHARS, InvalidQuery, SearchRequest, clean_query
from index.serving.answers import article_out, finish_hits, page_base
from index.serving.article_page import article_document, landing_document, missing_document
from index.serving.errors import ApiError, invalid_message, unavailable_message
from index.serving.schemas import ArticleOut, CategoriesOut, ErrorOut, HealthOut, SearchOut, StatusOut
from index.serving.shared import IndexUnavailable, SharedSearcher
from index.settings import Settings

log = logging.getLogger(__name__)

HEALTH_LOCK_SECONDS = 2.0  # /healthz answers from what it knows rather than wait while the index opens
Mode = Literal["hybrid", "bm25", "dense"]


# ---------------------------------------------------------- shared state -----
@dataclass
class ApiState:
    """What the endpoints of one app share (kept in `app.state.api`).

    Searches run concurrently on the one Searcher in `service` (see SharedSearcher).
    """

    service: SharedSearcher
    settings: Settings
    query_log: QueryLog | None = None


async def _state(request: Request) -> ApiState:
    """Dependency: the shared state of the app serving this request."""
    return request.app.state.api


State = Annotated[ApiState, Depends(_state)]

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorOut, "description": "No index can be opened yet (the message says how to build one)"},
}
_SEARCH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "A parameter's value cannot be used"},
    422: {"model": ErrorOut, "description": "A parameter has the wrong type or range"},
    429: {"model": ErrorOut, "description": "Over the per-client rate limit (see Retry-After)"},
    **_UNAVAILABLE,
}


# ----------------------------------------------------------------- input -----
def _check_query(q: str) -> str:
    """The query as the Searcher will see it (`index.search.request.clean_query`), but not truncated:
    an empty or over-long question is refused with a message instead of silently cut."""
    cleaned = clean_query(q, limit=None)
    if not cleaned:
        raise ApiError(400, "请输入问题 / q must not be empty", {"param": "q"})
    if len(cleaned) > MAX_QUERY_CHARS:
        raise ApiError(400, f"问题太长，最多 {MAX_QUERY_CHARS} 个字 / q is too long: {len(cleaned)} characters, "
                            f"at most {MAX_QUERY_CHARS}", {"param": "q", "length": len(cleaned)})
    return cleaned


def _search_request(query: str, k: int, category: list[str] | None, date_from: str | None,
                    date_to: str | None, mode: str, per_article: int | None = None) -> SearchRequest:
    """The validated request, exactly as `Searcher.search` would build it; a bad value is a 400."""
    try:
        return SearchRequest.parse(query, k, category, date_from, date_to, mode,
                                   max_query_chars=MAX_QUERY_CHARS, per_article=per_article)
    except InvalidQuery as exc:
        raise ApiError(400, invalid_message(exc), {"param": exc.param}) from None


def _log_question(query_log: QueryLog | None, out: dict, filters: dict) -> None:
    """Record an answered search; sets out["question_id"]. Never raises: the log is a by-product
    and must never cost the asker their answer."""
    if query_log is None:
        return
    try:
        qid = query_log.record(
            query=out["query"], channel="api", filters=filters,
            result_ids=list(dict.fromkeys(h["article_id"] for h in out["hits"])), weak=bool(out["weak"]),
        )
        if qid is not None:
            out["question_id"] = qid
    except Exception:
        log.exception("query log failed; the answer is sent anyway")


# ------------------------------------------------------------- endpoints -----
search_router = APIRouter()
articles_router = APIRouter()
operations_router = APIRouter()


@search_router.get("/search", response_model=SearchOut, tags=["search"], responses=_SEARCH_ERRORS,
                   summary="Passages that answer a question")
def search(
    request: Request,
    state: State,
    q: Annotated[str, Query(description=f"The question in plain Chinese, 1..{MAX_QUERY_CHARS} characters "
                                        "after trimming", examples=["网贷逾期会有人上门催收吗"])],
    k: Annotated[int, Query(ge=1, le=MAX_K, description="How many passages at most")] = 5,
    category: Annotated[list[str] | None, Query(description="Only these categories (repeat the "
                                                            "parameter for several)")] = None,
    date_from: Annotated[str | None, Query(description="Published on or after (YYYY-MM-DD)",
                                           examples=["2023-01-01"])] = None,
    date_to: Annotated[str | None, Query(description="Published on or before (YYYY-MM-DD)",
                                         examples=["2025-12-31"])] = None,
    mode: Annotated[Mode, Query(description="hybrid (best), bm25 (words only) or dense "
                                            "(meaning only)")] = "hybrid",
    per_article: Annotated[int | None, Query(ge=1, le=MAX_K, description=(
        "Passages of one article as hits of their own, at most (default: one card per article, its other "
        "matching passages under `more`)"))] = None,
) -> dict:
    """Best passages first, one per article (its other matching passages under `more`), with
    highlights, cited statutes and absolute links. `weak` says when nothing answers well (show
    `message` then); cards that do not match well enough are left out rather than padded in."""
    wanted = _search_request(_check_query(q), k, category, date_from, date_to, mode, per_article)
    filters = {name: value for name, value in wanted.as_kwargs().items() if name != "query"}
    with state.service.use() as searcher:
        try:
            hits = searcher.search(**wanted.as_kwargs())
        except InvalidQuery as exc:  # a filter the index does not know (an unknown category)
            raise ApiError(400, invalid_message(exc), {"param": exc.param}) from None
    out = hits.to_dict()
    finish_hits(out["hits"], request, state.settings)
    _log_question(state.query_log, out, filters)
    return out


@articles_router.get("/articles/{article_id:path}", response_model=ArticleOut, tags=["articles"],
                     responses={404: {"model": ErrorOut, "description": "No article with this id"},
                                **_UNAVAILABLE}, summary="One article with its passages")
def article(request: Request, article_id: str, state: State) -> dict:
    """The whole article as indexed: body, and its passages as offsets into the body."""
    with state.service.use() as searcher:
        searcher.refresh()
        found = searcher.article(article_id)
    if found is None:
        raise ApiError(404, f"没有这篇文章 / no article with id {article_id[:100]!r}", {"id": article_id[:100]})
    row, passages = found
    return article_out(row, passages, page_base(state.settings, request))


@articles_router.get("/", response_class=HTMLResponse, tags=["articles"], responses=_UNAVAILABLE,
                     summary="The article view that hits link to (HTML)")
def article_view(state: State, article: Annotated[str | None, Query(max_length=1000)] = None,
                 passage: Annotated[str | None, Query(max_length=1000)] = None) -> HTMLResponse:
    """`?article=ID&passage=ID`: the whole article with the passage marked, as the search page shows
    it. Without LAWFAQ_PUBLIC_URL every `link` of a hit points here, so that it opens."""
    if not article:
        return HTMLResponse(landing_document())
    with state.service.use() as searcher:
        searcher.refresh()
        found = searcher.article(article)
        related = searcher.related(article) if found else []
    if found is None:
        return HTMLResponse(missing_document(), status_code=404)
    row, passages = found
    return HTMLResponse(article_document(row, passages, passage, related))


@articles_router.get("/categories", response_model=CategoriesOut, tags=["articles"], responses=_UNAVAILABLE,
                     summary="Categories to filter by")
def categories(state: State) -> dict:
    with state.service.use() as searcher:
        searcher.refresh()
        return {"categories": searcher.categories()}


@operations_router.get("/status", response_model=StatusOut, tags=["operations"], responses=_UNAVAILABLE,
                       summary="What is being served")
def status(state: State) -> dict:
    """The serving version, its counts and model; switches to a newly published version first."""
    with state.service.use() as searcher:
        searcher.refresh()
        return {**searcher.status(), "refresh_error": searcher.refresh_error}


@operations_router.get("/healthz", response_model=HealthOut, tags=["operations"],
                       responses={503: {"model": HealthOut, "description": "No index can be opened"}},
                       summary="Liveness and readiness")
def healthz(state: State) -> Any:
    """200 when an index is open (and which version), 503 with the reason otherwise: none can be
    opened, or the version served was found damaged on disk (by this check or by a search; the
    version is named then). Never queues behind a long search: when busy it reports the version
    it already serves."""
    service = state.service
    try:
        with service.use(timeout=HEALTH_LOCK_SECONDS) as searcher:
            searcher.refresh()
            damage = service.damage(searcher)
            if damage:
                return JSONResponse({"ok": False, "version": searcher.version,
                                     "error": unavailable_message(IndexUnavailable(damage))}, status_code=503)
            return {"ok": True, "version": searcher.version}
    except TimeoutError:
        current = service.searcher
        if current is not None:
            return {"ok": True, "version": current.version}
        return JSONResponse({"ok": False, "version": None, "error": "starting"}, status_code=503)
    except IndexUnavailable as exc:
        current = service.searcher
        version = current.version if current is not None and service.damage(current) else None
        return JSONResponse({"ok": False, "version": version, "error": unavailable_message(exc)}, status_code=503)


ROUTERS = (search_router, articles_router, operations_router)
