"""How the API fails: every error is JSON ``{"error": "<中文 / English message>", "detail": ...}``.

A client (the firm's website, a chatbot) shows `error` to a person, so it is
bilingual and says what to do; `detail` is for the client's code. Bad input is a
4xx with a readable message, never a 500; a real 500 is logged here and leaks
nothing (no traceback, no path) to the caller.

A request whose body is malformed on the wire (a broken chunked encoding) is
answered 400 by the server itself, which logs one warning ("Invalid HTTP request
received."); the app, already running for that request, then cannot send its
own answer. `DroppedResponseGuard` lets that answer go quietly instead of as
two ERROR tracebacks (this app's and uvicorn's), which any client could cause
at will to flood the alerts. (When the broken chunk comes after the app has
answered, uvicorn fails inside its own protocol instead; that traceback is
kept out of the log by `index.serving.server.RefusedAnswerFilter`.)
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from index.search.request import InvalidQuery
from index.serving.server import server_already_answered
from index.serving.shared import IndexUnavailable

log = logging.getLogger(__name__)

DISCONNECT_WAIT_SECONDS = 2.0  # how long a dropped answer waits for the server to close the connection


class ApiError(Exception):
    """An expected failure with a status and a message for the client."""

    def __init__(self, status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None):
        super().__init__(error)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


def invalid_message(exc: InvalidQuery) -> str:
    return f"{exc.zh} / {exc}"


def unavailable_message(exc: IndexUnavailable) -> str:
    return f"搜索索引暂不可用 / the search index is not available: {exc}"


def error_response(status: int, error: str, detail: Any = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    """422 naming each bad parameter (`q`, `k`, ...) rather than FastAPI's location tuples."""
    problems = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p not in ("query", "path")]
        problems.append({"param": ".".join(loc) or None, "message": str(e.get("msg", "")),
                         "type": str(e.get("type", ""))})
    said = "; ".join(f"{p['param']}: {p['message']}" for p in problems)
    return error_response(422, f"参数无效 / invalid parameter: {said}", problems)


def _http_response(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 404:
        msg = f"找不到这个地址 / not found: {request.url.path}"
    elif exc.status_code == 405:
        msg = f"不支持这个请求方法 / method {request.method} is not allowed on {request.url.path}"
    else:
        msg = str(exc.detail)
    return error_response(exc.status_code, msg, None, dict(exc.headers or {}) or None)


def install_error_handlers(app: FastAPI) -> None:
    """Bad input is a 4xx with a readable message, never a 500; a real 500 leaks nothing."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.detail, exc.headers)

    @app.exception_handler(InvalidQuery)
    async def invalid_query(request: Request, exc: InvalidQuery) -> JSONResponse:
        return error_response(400, invalid_message(exc), {"param": exc.param})

    @app.exception_handler(IndexUnavailable)
    async def index_unavailable(request: Request, exc: IndexUnavailable) -> JSONResponse:
        return error_response(503, unavailable_message(exc), None, {"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _http_response(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "服务器内部错误，请稍后再试 / internal server error (logged on the server)")


class DroppedResponseGuard:
    """Outermost of the app's middleware: when the server has already answered a request (a 400 for a
    malformed body) and so refuses the app's own answer, the answer is dropped without an error, and
    the request ends once the server has closed the connection. Any other failure to send is raised."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        dropped = False

        async def guarded_send(message: Message) -> None:
            nonlocal dropped
            if dropped:
                return
            try:
                await send(message)
            except Exception as exc:
                if not server_already_answered(exc):
                    raise
                dropped = True
                log.debug("answer to %s %s dropped: the server already answered the request",
                          scope.get("method"), scope.get("path"))

        await self.app(scope, receive, guarded_send)
        if dropped:
            # Returning while the connection is still open would make uvicorn log an ERROR
            # ("returned without completing response"); it closes it right after its 400.
            await _until_disconnected(receive)


async def _until_disconnected(receive: Receive) -> None:
    async def drain() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(drain(), DISCONNECT_WAIT_SECONDS)
    except Exception:  # timed out, or receive failed: the request is over either way
        pass
