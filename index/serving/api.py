"""The HTTP JSON API: the same search as the page, for the firm's website, CMS and chatbots.

Run it (it opens the index named by LAWFAQ_INDEX, default var/index)::

    uvicorn index.serving.api:create_app --factory --host 0.0.0.0 --port 8000   # one process
    # one process per core (what `make api` runs); index.serving.server is uvicorn's CLI keeping
    # TCP_NODELAY under --workers (why: its docstring, uvicorn #3149; figures: docs/bench/results.md)
    python -m index.serving.server index.serving.api:create_app --factory --host 0.0.0.0 --port 8000 --workers 2
    uvicorn index.serving.api:app --port 8000                # the same, via the lazily built module-level app
    # behind a reverse proxy, so that client IPs (rate limit) and link hosts are right:
    uvicorn index.serving.api:create_app --factory --proxy-headers --forwarded-allow-ips 127.0.0.1

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
page: internal "?article=" links are made absolute with it, else with this API's own base URL; when
set, `article_url` takes its scheme and host too, with the API's --root-path, so that no link is ever
written from a request's Host header),
LAWFAQ_CORS_ORIGINS (comma-separated; empty: no CORS headers), LAWFAQ_RATE_LIMIT (requests per
minute per client IP, 0: off; /healthz is exempt so probes never lock a client out),
LAWFAQ_TORCH_THREADS (torch threads of this process, set once at startup; default 1).

Errors are JSON ``{"error": "<中文 / English message>", "detail": ...}``: 422 when a parameter has
the wrong type or range, 400 when its value cannot be used (the search parameters are checked by
the same `index.search.request.SearchRequest` as `Searcher.search` and the CLI; its InvalidQuery is a 400), 404 for an unknown article or path,
429 over the rate limit (with Retry-After), 503 while no index can be opened (the message says
how to build one; the API keeps retrying, so it starts working as soon as an index is published).

This module builds the app; the parts live beside it: the endpoints in
index/serving/routes.py, their JSON shapes in schemas.py, the finishing of
results in answers.py, errors in errors.py, the rate limit in ratelimit.py.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from index import __version__
from index.encoders.model import configure_threads
from index.firm.querylog import QueryLog
from index.search.searcher import Searcher
from index.serving.errors import DroppedResponseGuard, install_error_handlers
from index.serving.ratelimit import RateLimiter, RateLimitMiddleware
from index.serving.routes import ROUTERS, ApiState
from index.serving.server import install_log_redaction
from index.serving.shared import SharedSearcher
from index.settings import Settings
from index.settings import settings as read_settings

__all__ = ["create_app"]


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
    """The per-client rate limit and CORS, as configured (each off when not set), and outside them
    the guard that drops quietly an answer the server has refused (see index.serving.errors)."""
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
    app.add_middleware(DroppedResponseGuard)  # outermost: see index.serving.errors


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
    (`index.encoders.model.configure_threads`). Pass `set_threads=False` to mount it in a process
    that chooses its own threads.

    Logs never keep a question: `python -m index.serving.server` configures uvicorn so; for
    any other launcher the same filters go on uvicorn's loggers here (`install_log_redaction`)."""
    cfg = settings or read_settings()
    install_log_redaction()
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
    install_error_handlers(app)
    _add_middleware(app, cfg)
    for router in ROUTERS:
        app.include_router(router)
    return app


_app: FastAPI | None = None
_app_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    """`index.serving.api.app`, built on first use from the environment (so importing stays cheap)."""
    global _app
    if name == "app":
        with _app_lock:
            if _app is None:
                _app = create_app()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
