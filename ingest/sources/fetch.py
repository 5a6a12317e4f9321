"""Fetching one URL politely and safely: the HTTP client, retries, size and time limits.

* one ``httpx.Client`` with a clear User-Agent and at most ``max_connections``
  connections (`open_client`);
* retries with exponential backoff on connection errors, timeouts, 429 and
  5xx, waiting ``Retry-After`` when the server gives one (capped);
* conditional requests through the `HttpCache` (ETag / Last-Modified);
* a body larger than ``max_bytes`` is not read past the limit;
* every request, redirects included, passes the `AddressGuard` first
  (`guard_hook`), so a redirect cannot lead to ``127.0.0.1``.

`Fetcher.get` raises `FetchError` whose message is the Skipped reason.
"""
from __future__ import annotations

import email.utils
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import httpx

from ingest.records import DEFAULT_MAX_BYTES
from ingest.sources.addresses import AddressGuard
from ingest.sources.http_cache import HttpCache

RETRY_STATUSES = {429, 500, 502, 503, 504, 507, 508, 509, 520, 521, 522, 523, 524}


@dataclass(frozen=True)
class FetchConfig:
    user_agent: str = "LawFAQ-Indexer/0.1 (+https://github.com/; contact: IT of the firm)"
    max_connections: int = 4
    timeout: float = 15.0
    retries: int = 3  # retries after the first attempt
    backoff: float = 0.5  # seconds, doubled each retry (Retry-After wins when given)
    max_bytes: int = DEFAULT_MAX_BYTES
    respect_robots: bool = True
    max_retry_after: float = 60.0  # never wait longer than this for one Retry-After
    # Loopback, private, link-local and other non-public addresses are refused unless this is set
    # (`ingest.sources.addresses`): the indexer must not fetch the firm's internal pages for the public index.
    allow_private: bool = False


DEFAULT_CONFIG = FetchConfig()


@dataclass
class WebStats:
    """What one `load_web` run did on the wire."""

    pages_ok: int = 0  # pages answered 200 (and parsed or not)
    not_modified: int = 0  # pages answered 304 and served from the cache
    failures: int = 0  # pages (and sitemaps) that became Skipped entries
    robots_blocked: int = 0
    sitemaps: int = 0  # sitemap documents read
    requests: int = 0  # HTTP requests sent, retries and robots.txt included
    retries: int = 0
    bytes_downloaded: int = 0
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)


class FetchError(Exception):
    """A URL that could not be fetched; the message is the Skipped reason."""


@dataclass
class Fetched:
    url: str
    status: int  # 200, or 304 when the body came from the cache
    body: bytes
    content_type: str


def content_charset(content_type: str) -> str | None:
    """The ``charset=`` of a Content-Type header, if any."""
    m = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", content_type or "", re.I)
    return m.group(1) if m else None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc or type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Fetcher:
    """GETs one URL at a time through the shared client, cache and stats (thread-safe)."""

    def __init__(self, client: httpx.Client, cache: HttpCache, config: FetchConfig, stats: WebStats):
        self.client = client
        self.cache = cache
        self.config = config
        self.stats = stats

    def get(self, url: str, *, use_cache: bool = True, max_bytes: int | None = None) -> Fetched:
        """GET with retries and the conditional cache; raises FetchError with a readable reason."""
        cfg = self.config
        limit = max_bytes or cfg.max_bytes
        cached = self.cache.get(url) if use_cache else None
        headers = {}
        if cached:
            etag, last_modified, _, _ = cached
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
        attempts = cfg.retries + 1
        last_problem = "no attempt made"
        for attempt in range(attempts):
            if attempt:
                self.stats.add(retries=1)
            wait: float | None = None
            try:
                self.stats.add(requests=1)
                with self.client.stream("GET", url, headers=headers) as response:
                    status = response.status_code
                    if status == 304 and cached:
                        new_etag = response.headers.get("etag")
                        new_lm = response.headers.get("last-modified")
                        self.cache.touch(url, new_etag, new_lm)
                        return Fetched(url, 304, cached[2], cached[3])
                    if status == 200:
                        body = self._read_limited(response, url, limit)
                        ctype = response.headers.get("content-type", "")
                        etag = response.headers.get("etag")
                        last_modified = response.headers.get("last-modified")
                        if use_cache and (etag or last_modified):
                            self.cache.put(url, etag, last_modified, body, ctype)
                        return Fetched(url, 200, body, ctype)
                    reason = f"HTTP {status} {response.reason_phrase}".strip()
                    if status not in RETRY_STATUSES:
                        raise FetchError(reason)
                    last_problem = reason
                    wait = _retry_after(response)
            except httpx.TransportError as exc:
                last_problem = _describe(exc)
            except httpx.HTTPError as exc:  # e.g. too many redirects, invalid URL
                raise FetchError(_describe(exc)) from exc
            if attempt + 1 < attempts:
                delay = cfg.backoff * (2**attempt)
                if wait is not None:
                    delay = min(wait, cfg.max_retry_after)
                time.sleep(max(0.0, delay))
        if attempts > 1:
            raise FetchError(f"{last_problem} (gave up after {attempts} attempts)")
        raise FetchError(last_problem)

    def _read_limited(self, response: httpx.Response, url: str, limit: int) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise FetchError(f"too large: {int(declared):,} bytes (Content-Length), over the {limit:,}-byte limit")
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + max(self.config.timeout * 4, 30.0)
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise FetchError(f"too large: over the {limit:,}-byte limit")
            if time.monotonic() > deadline:
                raise FetchError("timed out while reading the body (server too slow)")
            chunks.append(chunk)
        self.stats.add(bytes_downloaded=size)
        return b"".join(chunks)


def guard_hook(guard: AddressGuard) -> Callable[[httpx.Request], None]:
    """An httpx request hook: every request, redirects included, goes to a public address only."""

    def check(request: httpx.Request) -> None:
        refused = guard.refusal(str(request.url))
        if refused:
            raise FetchError(refused)

    return check


def open_client(config: FetchConfig, guard: AddressGuard) -> httpx.Client:
    """The one HTTP client of a run: User-Agent, timeout, connection limit, guarded redirects."""
    return httpx.Client(
        headers={"User-Agent": config.user_agent},
        timeout=httpx.Timeout(config.timeout),
        limits=httpx.Limits(
            max_connections=max(1, config.max_connections),
            max_keepalive_connections=max(1, config.max_connections),
        ),
        follow_redirects=True,
        event_hooks={"request": [guard_hook(guard)]},
        max_redirects=10,
    )
