"""The per-client rate limit (LAWFAQ_RATE_LIMIT requests per minute per client IP).

The API is public (the firm's website calls it from browsers), and one search
costs a model call; a limit per IP keeps one client from taking every core.
/healthz is exempt so that probes never lock a client out. The count is kept
in memory, so each server process counts on its own.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from index.serving.errors import error_response

EXEMPT_FROM_RATE_LIMIT = frozenset({"/healthz"})


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
            response = error_response(
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
