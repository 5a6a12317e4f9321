"""The HTTP JSON API: the same search as the page, for the firm's website, CMS and chatbots.

Run it (it opens the index named by LAWFAQ_INDEX, default var/index)::

    uvicorn index.api:create_app --factory --host 0.0.0.0 --port 8000   # one process
    # one process per core (what `make api` runs); index.api_server is uvicorn's CLI keeping
    # TCP_NODELAY under --workers (uvicorn #3149: +40 ms per keep-alive request without it)
    python -m index.api_server index.api:create_app --factory --host 0.0.0.0 --port 8000 --workers 2
    uvicorn index.api:app --port 8000                # the same, via the lazily built module-level app
    # behind a reverse proxy, so that client IPs (rate limit) and link hosts are right:
    uvicorn index.api:create_app --factory --proxy-headers --forwarded-allow-ips 127.0.0.1

Ask it::

    curl -G 'http://localhost:8000/search' --data-urlencode 'q=网贷逾期会有人上门催收吗' -d k=3
    curl -G 'http://localhost:8000/search' --data-urlencode 'q=被公司辞退能拿多少补偿' \\
         --data-urlencode 'category=劳动纠纷' --data-urlencode 'category=金融债务' \\
         -d date_from=2023-01-01 -d date_to=2025-12-31 -d mode=bm25
    curl 'http://localhost:8000/articles/ld-beicitui-buchang-n-2n'   # ids: the corpus/ file names
    curl 'http://localhost:8000/status'
    curl 'http://localhost:8000/healthz'
    open http://localhost:8000/docs            # interactive OpenAPI documentation

Settings (environment, see index/settings.py): LAWFAQ_INDEX, LAWFAQ_PUBLIC_URL (base of the search
page: internal "?article=" links are made absolute with it, else with this API's own base URL),
LAWFAQ_CORS_ORIGINS (comma-separated; empty: no CORS headers), LAWFAQ_RATE_LIMIT (requests per
minute per client IP, 0: off; /healthz is exempt so probes never lock a client out),
LAWFAQ_TORCH_THREADS (torch threads of this process, set once at startup; default 1).

Errors are JSON ``{"error": "<中文 / English message>", "detail": ...}``: 422 when a parameter has
the wrong type or range, 400 when its value cannot be used (the search parameters are checked by
the same `index.query.SearchRequest` as `Searcher.search` and the CLI; its InvalidQuery is a 400), 404 for an unknown article or path,
429 over the rate limit (with Retry-After), 503 while no index can be opened (the message says
how to build one; the API keeps retrying, so it starts working as soon as an index is published).
"""
from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from index import __version__
from index.hits import article_link
from index.model import configure_threads
from index.query import MAX_K, InvalidQuery, SearchRequest, clean_query
from index.querylog import QueryLog
from index.repeal import repeal_label, successor_display
from index.searcher import SearchConfig, Searcher
from index.serving import IndexUnavailable, SharedSearcher
from index.settings import Settings
from index.settings import settings as read_settings
from index.store import ArticleRow, PassageRow

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = SearchConfig().max_query_chars
HEALTH_LOCK_SECONDS = 2.0  # /healthz answers from what it knows rather than wait while the index opens
EXEMPT_FROM_RATE_LIMIT = frozenset({"/healthz"})
Mode = Literal["hybrid", "bm25", "dense"]


# ---------------------------------------------------------------- models -----
class ErrorOut(BaseModel):
    """Every error response: a bilingual message a client can show, plus machine-readable detail."""

    error: str = Field(description="What went wrong, in Chinese and English")
    detail: Any = Field(None, description="Per-parameter problems, the bad value, or null")


class RepealedOut(BaseModel):
    statute: str = Field(description="The cited provision as shown, e.g. 合同法第52条")
    status: str = Field(description="A short badge, e.g. 已废止（2021-01-01）")
    now: list[str] = Field(description="The provisions that replaced it, e.g. 民法典第153条 (may be empty)")


class CopyOut(BaseModel):
    article_id: str
    passage_id: str
    title: str
    link: str = Field(description="Absolute deep link to the copy's passage (source page or article view)")
    article_url: str = Field(description="This API's URL for that article")
    category: str | None
    published: str | None


class HitOut(BaseModel):
    rank: int = Field(description="1 = best")
    passage_id: str
    article_id: str
    title: str
    url: str | None = Field(description="The article's source page, when it has one")
    link: str = Field(description="Absolute deep link: the source page scrolled to the passage "
                                  "(text fragment), else the search page's article view")
    article_url: str = Field(description="This API's URL for the whole article")
    category: str | None
    published: str | None = Field(description="Publication date, YYYY-MM-DD")
    passage: str = Field(description="The answering passage, verbatim from the article body")
    start: int = Field(description="Offset of the passage in the article body")
    end: int
    heading: str = Field(description="The section heading the passage sits under")
    score: float = Field(description="Fused ranking score (relative; not comparable across queries)")
    dense_score: float | None = Field(description="Embedding cosine similarity, when computed")
    bm25_score: float | None = Field(description="BM25 score, when the passage matched lexically")
    rerank_score: float | None = Field(None, description="Cross-encoder reranker logit, when a reranker read the passage")
    statutes: list[str] = Field(description="Statutes the passage cites, e.g. 民法典第1077条")
    matched_terms: list[str] = Field(description="Query words found in the passage")
    match_spans: list[tuple[int, int]] = Field(description="[start, end) of each match in `passage`")
    best_sentence: tuple[int, int] = Field(description="[start, end) of the sentence to emphasise")
    cites_query_statute: bool = Field(description="The passage cites a statute named in the query")
    article_statutes: list[str] = Field(description="Statutes cited anywhere in the article")
    repealed_statutes: list[RepealedOut] = Field(
        description="Those of `statutes` and `article_statutes` that cite a repealed law")
    also_in: list[CopyOut] = Field(default_factory=list, description=(
        "Other articles whose passage is a near-copy of this one (a templated sister page, the same "
        "provision in another law), folded into this hit instead of shown again; best ranked first"))


class SearchOut(BaseModel):
    query: str = Field(description="The query as searched (normalised)")
    read_as: str | None = Field(None, description="How the query was read when that differs from what was "
                                                  "typed: Traditional characters read as Simplified, toneless pinyin read "
                                                  "into Chinese words")
    weak: bool = Field(description="True when nothing matches well: show `message` with the hits")
    message: str = Field(description="A note for the reader (Chinese), empty when the match is good")
    version: str | None = Field(description="The index version that answered")
    timings_ms: dict[str, float]
    hits: list[HitOut]
    question_id: int | str | None = Field(None, description="Id of this question in the question log, "
                                                             "when the log is on")


class PassageOut(BaseModel):
    id: str
    start: int = Field(description="Offset in the article body")
    end: int
    heading: str
    text: str
    statutes: list[str]


class ArticleOut(BaseModel):
    id: str
    title: str
    url: str | None = Field(description="The source page, when the article has one")
    page_url: str = Field(description="The search page's view of this article")
    category: str | None
    published: str | None
    tags: list[str]
    body: str
    passages: list[PassageOut]
    repealed_statutes: list[RepealedOut] = Field(description="Statutes cited in the article that belong "
                                                             "to a repealed law")


class StatusOut(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())

    index: str
    version: str
    built_at: str | None = None
    articles: int
    passages: int
    model: str | None = None
    model_checksum: str | None = None
    dense: str | None = None
    categories: dict[str, int] = Field(description="Articles per category")
    versions: list[str] = Field(description="Published versions kept on disk, oldest first")
    code_version: str | None = None
    refresh_error: str | None = Field(None, description="Why a newer published version is not served")


class HealthOut(BaseModel):
    ok: bool
    version: str | None = Field(description="The index version being served")
    error: str | None = None


class CategoriesOut(BaseModel):
    categories: list[str]


# ---------------------------------------------------------------- errors -----
class ApiError(Exception):
    """An expected failure with a status and a message for the client."""

    def __init__(self, status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None):
        super().__init__(error)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


def _invalid_message(exc: InvalidQuery) -> str:
    return f"{exc.zh} / {exc}"


def _unavailable_message(exc: IndexUnavailable) -> str:
    return f"搜索索引暂不可用 / the search index is not available: {exc}"


def _error(status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    """Bad input is a 4xx with a readable message, never a 500; a real 500 leaks nothing."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.error, exc.detail, exc.headers)

    @app.exception_handler(InvalidQuery)
    async def invalid_query(request: Request, exc: InvalidQuery) -> JSONResponse:
        return _error(400, _invalid_message(exc), {"param": exc.param})

    @app.exception_handler(IndexUnavailable)
    async def index_unavailable(request: Request, exc: IndexUnavailable) -> JSONResponse:
        return _error(503, _unavailable_message(exc), None, {"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ()) if p not in ("query", "path")]
            problems.append({"param": ".".join(loc) or None, "message": str(e.get("msg", "")),
                             "type": str(e.get("type", ""))})
        said = "; ".join(f"{p['param']}: {p['message']}" for p in problems)
        return _error(422, f"参数无效 / invalid parameter: {said}", problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            msg = f"找不到这个地址 / not found: {request.url.path}"
        elif exc.status_code == 405:
            msg = f"不支持这个请求方法 / method {request.method} is not allowed on {request.url.path}"
        else:
            msg = str(exc.detail)
        return _error(exc.status_code, msg, None, dict(exc.headers or {}) or None)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "服务器内部错误，请稍后再试 / internal server error (logged on the server)")


# ------------------------------------------------------------- the searcher --
# ------------------------------------------------------------ rate limit -----
class RateLimiter:
    """Sliding-window log: at most `limit` requests per `window` seconds per key; thread-safe.

    Exact (no burst at window edges, unlike fixed windows) and small: at most
    `limit` timestamps per active client, idle clients are swept out.
    """

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def hit(self, key: str) -> tuple[bool, int, int]:
        """Count one request: (allowed, seconds until the next one is allowed, requests left)."""
        now = self.clock()
        with self._lock:
            self._calls += 1
            if self._calls % 1024 == 0:
                self._sweep(now)
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return False, max(1, math.ceil(q[0] + self.window - now)), 0
            q.append(now)
            return True, 0, self.limit - len(q)

    def _sweep(self, now: float) -> None:
        for key in [k for k, q in self._hits.items() if not q or q[-1] <= now - self.window]:
            del self._hits[key]


class RateLimitMiddleware:
    """429 with Retry-After once a client IP is over its budget (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter):
        self.app, self.limiter = app, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in EXEMPT_FROM_RATE_LIMIT:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        allowed, retry_after, left = self.limiter.hit(client[0] if client else "unknown")
        if not allowed:
            response = _error(
                429, f"请求过于频繁，请 {retry_after} 秒后再试 / too many requests: at most "
                     f"{self.limiter.limit} per minute, retry in {retry_after} s",
                {"limit_per_minute": self.limiter.limit, "retry_after": retry_after},
                {"Retry-After": str(retry_after), "X-RateLimit-Limit": str(self.limiter.limit),
                 "X-RateLimit-Remaining": "0"},
            )
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-ratelimit-limit", str(self.limiter.limit).encode()))
                headers.append((b"x-ratelimit-remaining", str(left).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ----------------------------------------------------------------- input -----
def _check_query(q: str) -> str:
    """The query as the Searcher will see it (`index.query.clean_query`), but not truncated:
    an empty or over-long question is refused with a message instead of silently cut."""
    cleaned = clean_query(q, limit=None)
    if not cleaned:
        raise ApiError(400, "请输入问题 / q must not be empty", {"param": "q"})
    if len(cleaned) > MAX_QUERY_CHARS:
        raise ApiError(400, f"问题太长，最多 {MAX_QUERY_CHARS} 个字 / q is too long: {len(cleaned)} characters, "
                            f"at most {MAX_QUERY_CHARS}", {"param": "q", "length": len(cleaned)})
    return cleaned


def _search_request(query: str, k: int, category: list[str] | None, date_from: str | None,
                    date_to: str | None, mode: str) -> SearchRequest:
    """The validated request, exactly as `Searcher.search` would build it; a bad value is a 400."""
    try:
        return SearchRequest.parse(query, k, category, date_from, date_to, mode,
                                   max_query_chars=MAX_QUERY_CHARS)
    except InvalidQuery as exc:
        raise ApiError(400, _invalid_message(exc), {"param": exc.param}) from None


def _page_base(settings: Settings, request: Request) -> str:
    """Where the search page lives: LAWFAQ_PUBLIC_URL, else this server's own base URL."""
    return settings.public_url or str(request.base_url)


def _api_base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _absolute(link: str, page_base: str) -> str:
    return page_base + link if link.startswith("?") else link


# ---------------------------------------------------------------- output -----
@lru_cache(maxsize=4096)
def _repeal_of_label(label: str) -> tuple[str, tuple[str, ...]] | None:
    """(status badge, display keys of the successors) when `label` cites a repealed law."""
    status = repeal_label(label)
    return None if status is None else (status, tuple(successor_display(label)))


def repealed_statutes(labels: Iterable[str]) -> list[dict[str, Any]]:
    """`{"statute", "status", "now"}` for each label (deduplicated, order kept) of a repealed law."""
    out = []
    for label in dict.fromkeys(labels):
        found = _repeal_of_label(label)
        if found is not None:
            out.append({"statute": label, "status": found[0], "now": list(found[1])})
    return out


def _finish_hits(hits: list[dict], request: Request, settings: Settings) -> None:
    """Complete each hit in place: absolute links, this API's article URL, repeal notes."""
    page, api = _page_base(settings, request), _api_base(request)
    for hit in hits:
        hit["link"] = _absolute(hit["link"], page)
        hit["article_url"] = f"{api}/articles/{quote(hit['article_id'], safe='')}"
        hit["repealed_statutes"] = repealed_statutes([*hit["statutes"], *hit["article_statutes"]])
        for copy in hit.get("also_in", []):
            copy["link"] = _absolute(copy["link"], page)
            copy["article_url"] = f"{api}/articles/{quote(copy['article_id'], safe='')}"


def _article_out(row: ArticleRow, passages: list[PassageRow], page_base: str) -> dict:
    """The /articles answer for one stored article and its passages."""
    # `labels` are the statutes as the hits show them (民法典第1077条); older stores lack them
    out_passages = [{"id": p.id, "start": p.start, "end": p.end, "heading": p.heading, "text": p.text,
                     "statutes": list(p.labels or p.statutes)} for p in passages]
    return {
        "id": row.id, "title": row.title, "url": row.url, "category": row.category,
        "published": row.published, "tags": list(row.tags or []), "body": row.body,
        "page_url": article_link(row.id, None, page_base),
        "passages": out_passages,
        "repealed_statutes": repealed_statutes(s for p in out_passages for s in p["statutes"]),
    }


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
) -> dict:
    """Best passages first, at most two per article, with highlights, cited statutes and
    absolute links. `weak` says when nothing answers well (show `message` then)."""
    wanted = _search_request(_check_query(q), k, category, date_from, date_to, mode)
    filters = {name: value for name, value in wanted.as_kwargs().items() if name != "query"}
    with state.service.use() as searcher:
        hits = searcher.search(**wanted.as_kwargs())
    out = hits.to_dict()
    _finish_hits(out["hits"], request, state.settings)
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
    return _article_out(row, passages, _page_base(state.settings, request))


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
    """200 when an index is open (and which version), 503 with the reason otherwise. Never
    queues behind a long search: when busy it reports the version it already serves."""
    service = state.service
    try:
        with service.use(timeout=HEALTH_LOCK_SECONDS) as searcher:
            searcher.refresh()
            return {"ok": True, "version": searcher.version}
    except TimeoutError:
        current = service.searcher
        if current is not None:
            return {"ok": True, "version": current.version}
        return JSONResponse({"ok": False, "version": None, "error": "starting"}, status_code=503)
    except IndexUnavailable as exc:
        return JSONResponse({"ok": False, "version": None, "error": _unavailable_message(exc)}, status_code=503)


# ------------------------------------------------------------------- app -----
def _searcher_factory(source: Callable[[], Searcher] | str | Path) -> Callable[[], Searcher]:
    """A zero-argument Searcher factory from a factory or an index path."""
    if callable(source):
        return source
    index_path = Path(source)

    def factory() -> Searcher:
        return Searcher.open(index_path)

    return factory


def _lifespan(service: SharedSearcher, warm_up: bool, torch_threads: int | None):
    """Startup: set this server process's torch threads (LAWFAQ_TORCH_THREADS) once, then warm the
    searcher up in the background (the port opens now, /healthz answers while the model loads)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if torch_threads is not None:
            configure_threads(torch_threads)
        if warm_up:
            threading.Thread(target=service.warm_up, name="lawfaq-warm-up", daemon=True).start()
        yield

    return lifespan


def _add_middleware(app: FastAPI, cfg: Settings) -> None:
    """The per-client rate limit and CORS, as configured (each off when not set)."""
    # Order matters: the last middleware added runs first. CORS sits outside the rate
    # limiter so that 429s carry CORS headers (a browser could not read them otherwise).
    if cfg.rate_limit > 0:
        app.add_middleware(RateLimitMiddleware, limiter=RateLimiter(cfg.rate_limit))
    origins = [o.strip().rstrip("/") for o in cfg.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["GET", "OPTIONS"], allow_headers=["*"],
            expose_headers=["Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining"], max_age=600,
        )


def create_app(
    source: Callable[[], Searcher] | str | Path | None = None,
    settings: Settings | None = None,
    query_log: QueryLog | None = None,
    *,
    warm_up: bool = True,
    set_threads: bool = True,
) -> FastAPI:
    """The API over one Searcher: `source` is a zero-argument factory or an index path
    (default: LAWFAQ_INDEX). Nothing is opened here, so the app starts without an index.
    Questions go to `query_log`, by default the log the settings name (LAWFAQ_QUERY_LOG).

    The app owns its process: at startup it gives torch `settings.torch_threads` threads
    (`index.model.configure_threads`). Pass `set_threads=False` to mount it in a process
    that chooses its own threads."""
    cfg = settings or read_settings()
    if query_log is None:
        query_log = QueryLog.open(cfg.query_log_path, cfg.log_retention_days)
    service = SharedSearcher(_searcher_factory(cfg.index if source is None else source))
    app = FastAPI(
        title="法律问答检索 API · Law FAQ Search API",
        version=__version__,
        description="Hybrid (BM25 + embedding) search over the firm's published FAQ articles. "
                    "Errors are `{\"error\": ..., \"detail\": ...}` with a bilingual message.",
        lifespan=_lifespan(service, warm_up, cfg.torch_threads if set_threads else None),
    )
    app.state.service = service
    app.state.api = ApiState(service, cfg, query_log)
    _install_error_handlers(app)
    _add_middleware(app, cfg)
    for router in (search_router, articles_router, operations_router):
        app.include_router(router)
    return app


_app: FastAPI | None = None
_app_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    """`index.api.app`, built on first use from the environment (so importing stays cheap)."""
    global _app
    if name == "app":
        with _app_lock:
            if _app is None:
                _app = create_app()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
