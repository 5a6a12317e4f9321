"""The live site: a sitemap, a page URL, or a text file of URLs -> Articles.

Polite and incremental:

* one ``httpx.Client`` with a clear User-Agent and at most
  ``max_connections`` requests in flight (thread pool of that size on top of
  ``httpx.Limits``);
* robots.txt is honoured per host (a missing robots.txt, 4xx, means allowed;
  a 5xx means the whole host is off limits, as RFC 9309 asks);
* retries with exponential backoff on connection errors, timeouts, 429 and
  5xx, waiting ``Retry-After`` when the server gives one (capped);
* conditional requests: ETag / Last-Modified and the body are kept in
  ``state_dir/http_cache.sqlite``; an unchanged page costs one 304 and is
  still returned as an Article;
* a page larger than ``max_bytes`` is not read past the limit;
* only public internet addresses are fetched unless ``allow_private`` is set:
  every host is resolved and checked before a URL is fetched, and again on
  every request, so a redirect cannot lead to ``127.0.0.1`` either.

Nothing raises out of `load_web`: every failure is a `Skipped` with a reason.
"""
from __future__ import annotations

import email.utils
import gzip
import logging
import re
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx
from lxml import etree

from ingest.ids import url_key
from ingest.normalize import DecodeError, decode_bytes
from ingest.records import DEFAULT_MAX_BYTES, Article, LoadResult, Skipped
from ingest.sources.addresses import AddressGuard

log = logging.getLogger(__name__)

CACHE_FILE = "http_cache.sqlite"
MAX_SITEMAP_DEPTH = 3
MAX_SITEMAP_BYTES = 50_000_000  # the sitemap protocol's own limit, uncompressed
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


# --- cache --------------------------------------------------------------------


class HttpCache:
    """url -> (etag, last_modified, body, content_type, fetched_at) in SQLite; thread-safe."""

    def __init__(self, path: Path | None):
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
            db.execute(
                "CREATE TABLE IF NOT EXISTS http_cache (url TEXT PRIMARY KEY, etag TEXT,"
                " last_modified TEXT, body BLOB NOT NULL, content_type TEXT, fetched_at REAL NOT NULL)"
            )
            db.commit()
            self._db = db
        except (OSError, sqlite3.Error) as exc:
            log.warning("HTTP cache %s unusable, fetching without it: %s", path, exc)

    def get(self, url: str) -> tuple[str | None, str | None, bytes, str] | None:
        if self._db is None:
            return None
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT etag, last_modified, body, content_type FROM http_cache WHERE url = ?", (url,)
                ).fetchone()
            except sqlite3.Error as exc:
                log.warning("HTTP cache read failed: %s", exc)
                return None
        return (row[0], row[1], bytes(row[2]), row[3] or "") if row else None

    def put(self, url: str, etag: str | None, last_modified: str | None, body: bytes, content_type: str) -> None:
        if self._db is None:
            return
        with self._lock:
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO http_cache VALUES (?, ?, ?, ?, ?, ?)",
                    (url, etag, last_modified, body, content_type, time.time()),
                )
                self._db.commit()
            except sqlite3.Error as exc:
                log.warning("HTTP cache write failed: %s", exc)

    def touch(self, url: str, etag: str | None, last_modified: str | None) -> None:
        if self._db is None:
            return
        with self._lock:
            try:
                self._db.execute(
                    "UPDATE http_cache SET etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified),"
                    " fetched_at = ? WHERE url = ?",
                    (etag, last_modified, time.time(), url),
                )
                self._db.commit()
            except sqlite3.Error as exc:
                log.warning("HTTP cache write failed: %s", exc)

    def close(self) -> None:
        if self._db is not None:
            with self._lock:
                self._db.close()
                self._db = None


# --- fetching -----------------------------------------------------------------


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


# --- robots.txt ---------------------------------------------------------------


class Robots:
    """robots.txt per host, fetched once with the same client."""

    def __init__(self, fetcher: Fetcher, config: FetchConfig):
        self.fetcher = fetcher
        self.config = config
        self._hosts: dict[str, RobotFileParser | str | None] = {}
        self._lock = threading.Lock()

    def check(self, url: str) -> str | None:
        """None when allowed, else the reason it is not."""
        if not self.config.respect_robots:
            return None
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            if origin not in self._hosts:
                self._hosts[origin] = self._load(origin)
            rules = self._hosts[origin]
        if rules is None:
            return None
        if isinstance(rules, str):
            return rules
        if rules.can_fetch(self.config.user_agent, url):
            return None
        return f"disallowed by {origin}/robots.txt"

    def _load(self, origin: str) -> RobotFileParser | str | None:
        robots_url = f"{origin}/robots.txt"
        try:
            fetched = self.fetcher.get(robots_url, use_cache=False, max_bytes=500_000)
        except FetchError as exc:
            reason = str(exc)
            if reason.startswith("HTTP 4"):
                return None  # no robots.txt: everything is allowed
            if reason.startswith("HTTP 5"):
                return f"robots.txt unavailable ({reason}); the host is treated as disallowed (RFC 9309)"
            return f"host unreachable: robots.txt could not be fetched: {reason}"
        try:
            text = decode_bytes(fetched.body, _charset(fetched.content_type))
        except DecodeError:
            return None  # garbage robots.txt: as if none
        parser = RobotFileParser(robots_url)
        parser.parse(text.splitlines())
        return parser


# --- sitemaps and URL lists ---------------------------------------------------


def _charset(content_type: str) -> str | None:
    m = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", content_type or "", re.I)
    return m.group(1) if m else None


def _gunzip(data: bytes, limit: int) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(data, limit + 1)
    if len(out) > limit or d.unconsumed_tail:
        raise FetchError(f"sitemap too large when uncompressed (over {limit:,} bytes)")
    return out


def parse_sitemap(data: bytes) -> tuple[str, list[str]]:
    """('urlset' | 'sitemapindex', [loc, ...]); raises ValueError when it is not a sitemap."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = _gunzip(data, MAX_SITEMAP_BYTES)
        except (zlib.error, EOFError, gzip.BadGzipFile) as exc:
            raise ValueError(f"broken gzip data: {exc}") from exc
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        root = etree.fromstring(data.strip(), parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not valid XML: {exc}") from exc
    if root is None:
        raise ValueError("empty XML document")
    kind = etree.QName(root).localname.lower()
    if kind not in ("urlset", "sitemapindex"):
        raise ValueError(f"not a sitemap (root element <{etree.QName(root).localname}>)")
    child = "url" if kind == "urlset" else "sitemap"
    locs = []
    for entry in root:
        if not isinstance(entry.tag, str) or etree.QName(entry).localname.lower() != child:
            continue
        for el in entry:
            if isinstance(el.tag, str) and etree.QName(el).localname.lower() == "loc" and (el.text or "").strip():
                locs.append(el.text.strip())
    return kind, locs


def _looks_like_sitemap(url: str, fetched: Fetched) -> bool:
    path = urlsplit(url).path.lower()
    if path.endswith((".xml", ".xml.gz", ".gz")):
        return True
    ctype = fetched.content_type.lower()
    if "xml" in ctype and "html" not in ctype:
        return True
    head = fetched.body[:2048].lstrip().lower()
    return fetched.body[:2] == b"\x1f\x8b" or b"<urlset" in head or b"<sitemapindex" in head


def read_url_list(path: Path) -> tuple[list[str], list[Skipped]]:
    """A text file of URLs, one per line; '#' starts a comment."""
    urls: list[str] = []
    skipped: list[Skipped] = []
    try:
        text = decode_bytes(path.read_bytes())
    except OSError as exc:
        return [], [Skipped(str(path), f"cannot read URL list: {exc.strerror or exc}")]
    except DecodeError as exc:
        return [], [Skipped(str(path), f"URL list is not text: {exc}")]
    for n, raw in enumerate(text.splitlines(), start=1):
        line = re.split(r"\s#", raw, maxsplit=1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if not _is_http(line) or " " in line:
            skipped.append(Skipped(f"{path}:{n}", f"not an http(s) URL: {line[:100]!r}"))
            continue
        urls.append(line)
    return urls, skipped


def _is_http(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


# --- the run ------------------------------------------------------------------


class _Run:
    def __init__(self, fetcher: Fetcher, robots: Robots, config: FetchConfig, stats: WebStats,
                 guard: AddressGuard | None = None):
        self.fetcher = fetcher
        self.guard = guard or AddressGuard(config.allow_private)
        self.robots = robots
        self.config = config
        self.stats = stats
        self.result = LoadResult()
        self.pages: list[str] = []
        self._seen_pages: set[str] = set()
        self._seen_sitemaps: set[str] = set()
        self._prefetched: dict[str, Fetched] = {}

    def skip(self, url: str, reason: str) -> None:
        self.result.skipped.append(Skipped(url, reason))
        self.stats.add(failures=1)

    def add_page(self, url: str) -> None:
        """Queue a page once: the same page with a fragment, utm_* or http/https is one page."""
        url = url.split("#", 1)[0]
        key = url_key(url) or url
        if key not in self._seen_pages:
            self._seen_pages.add(key)
            self.pages.append(url)

    def discover(self, url: str, depth: int = 0, expect_sitemap: bool = False) -> None:
        """A URL given by the user or a sitemap index: a sitemap (read it) or a page."""
        if url in self._seen_sitemaps:
            return
        path = urlsplit(url).path.lower()
        if not expect_sitemap and not path.endswith((".xml", ".xml.gz", ".gz")) and "sitemap" not in path:
            self.add_page(url)  # plainly a page: fetched with the others, in parallel
            return
        self._seen_sitemaps.add(url)
        refused = self.guard.refusal(url)
        if refused:
            self.skip(url, f"sitemap not fetched: {refused}")
            return
        blocked = self.robots.check(url)
        if blocked:
            if blocked.startswith("disallowed"):
                self.stats.add(robots_blocked=1)
            self.skip(url, f"sitemap not fetched: {blocked}")
            return
        try:
            fetched = self.fetcher.get(url, max_bytes=max(self.config.max_bytes, MAX_SITEMAP_BYTES))
        except FetchError as exc:
            self.skip(url, f"sitemap could not be fetched: {exc}")
            return
        if not expect_sitemap and not _looks_like_sitemap(url, fetched):
            self._prefetched[url] = fetched  # a page after all ('/sitemap-faq.html'): don't fetch twice
            self.add_page(url)
            return
        try:
            kind, locs = parse_sitemap(fetched.body)
        except (ValueError, FetchError) as exc:
            self.skip(url, f"sitemap could not be parsed: {exc}")
            return
        self.stats.add(sitemaps=1)
        if kind == "sitemapindex":
            if depth >= MAX_SITEMAP_DEPTH:
                self.skip(url, f"sitemap index nested deeper than {MAX_SITEMAP_DEPTH} levels")
                return
            for loc in locs:
                child = urljoin(url, loc)
                if _is_http(child):
                    self.discover(child, depth + 1, expect_sitemap=True)
                else:
                    self.skip(url, f"sitemap index lists a non-http URL: {loc[:100]!r}")
            return
        if not locs:
            self.skip(url, "sitemap lists no pages")
        for loc in locs:
            page = urljoin(url, loc)
            if _is_http(page):
                self.add_page(page)
            else:
                self.skip(url, f"sitemap lists a non-http URL: {loc[:100]!r}")

    def fetch_pages(self) -> None:
        todo: list[str] = []
        for url in self.pages:
            refused = self.guard.refusal(url)
            if refused:
                self.skip(url, refused)
                continue
            blocked = self.robots.check(url)
            if blocked:
                if blocked.startswith("disallowed"):
                    self.stats.add(robots_blocked=1)
                self.skip(url, f"not fetched: {blocked}")
            else:
                todo.append(url)
        workers = max(1, self.config.max_connections)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="web") as pool:
            outcomes = list(pool.map(self._page, todo))
        for url, outcome in zip(todo, outcomes, strict=True):
            if isinstance(outcome, str):
                self.skip(url, outcome)
            else:
                article, notes = outcome
                self.result.articles.append(article)
                self.result.skipped.extend(Skipped(url, note, kept=True) for note in notes)

    def _page(self, url: str) -> tuple[Article, list[str]] | str:
        """A fetched page as (article, warnings), or the reason it is skipped."""
        from ingest.sources.html import parse_html

        try:
            fetched = self._prefetched.pop(url, None) or self.fetcher.get(url)
        except FetchError as exc:
            return str(exc)
        except Exception as exc:  # never let one page stop the run
            log.exception("unexpected error fetching %s", url)
            return f"unexpected error while fetching: {type(exc).__name__}: {exc}"
        self.stats.add(**({"not_modified": 1} if fetched.status == 304 else {"pages_ok": 1}))
        ctype = fetched.content_type.split(";")[0].strip().lower()
        if ctype and not (ctype.startswith("text/") or "html" in ctype or "xml" in ctype):
            return f"not an HTML page (Content-Type: {ctype})"
        try:
            notes: list[str] = []
            charset = _charset(fetched.content_type)
            article = parse_html(fetched.body, source=url, url=url, charset=charset, notes=notes)
            return article, notes
        except DecodeError as exc:
            return f"cannot decode page: {exc}"
        except (ValueError, UnicodeError) as exc:
            return f"cannot parse page: {exc}"
        except Exception as exc:
            log.exception("unexpected error parsing %s", url)
            return f"unexpected error while parsing: {type(exc).__name__}: {exc}"


def _guard_hook(guard: AddressGuard) -> Callable[[httpx.Request], None]:
    """An httpx request hook: every request, redirects included, goes to a public address only."""

    def check(request: httpx.Request) -> None:
        refused = guard.refusal(str(request.url))
        if refused:
            raise FetchError(refused)

    return check


def load_web_with_stats(
    source: str, state_dir: Path | None, config: FetchConfig = DEFAULT_CONFIG
) -> tuple[LoadResult, WebStats]:
    """Load a sitemap / page URL / URL-list file; also return what happened on the wire."""
    stats = WebStats()
    guard = AddressGuard(config.allow_private)
    cache = HttpCache(Path(state_dir) / CACHE_FILE if state_dir is not None else None)
    try:
        client = httpx.Client(
            headers={"User-Agent": config.user_agent},
            timeout=httpx.Timeout(config.timeout),
            limits=httpx.Limits(
                max_connections=max(1, config.max_connections),
                max_keepalive_connections=max(1, config.max_connections),
            ),
            follow_redirects=True,
            event_hooks={"request": [_guard_hook(guard)]},
            max_redirects=10,
        )
    except Exception as exc:  # e.g. a broken proxy setting in the environment
        cache.close()
        return LoadResult(skipped=[Skipped(source, f"cannot start HTTP client: {exc}")]), stats
    fetcher = Fetcher(client, cache, config, stats)
    run = _Run(fetcher, Robots(fetcher, config), config, stats, guard)
    try:
        if _is_http(source):
            run.discover(source)
        else:
            path = Path(source)
            if not path.is_file():
                run.skip(source, "no such URL-list file (expected an http(s) URL or a text file of URLs)")
            else:
                urls, bad = read_url_list(path)
                run.result.skipped.extend(bad)
                stats.add(failures=len(bad))
                if not urls and not bad:
                    run.skip(source, "URL list is empty")
                for url in urls:
                    run.discover(url)
        run.fetch_pages()
    except Exception as exc:  # belt and braces: load_web never raises
        log.exception("web source %s failed", source)
        run.skip(source, f"unexpected error: {type(exc).__name__}: {exc}")
    finally:
        client.close()
        cache.close()
    return run.result, stats


def load_web(source: str, state_dir: Path | None, config: FetchConfig = DEFAULT_CONFIG) -> LoadResult:
    """Load a sitemap / page URL / URL-list file; never raises (failures are Skipped)."""
    return load_web_with_stats(source, state_dir, config)[0]
