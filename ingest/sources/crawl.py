"""One crawl of the web source: discover pages through sitemaps, then fetch and parse them in parallel.

Every URL passes the `AddressGuard` and robots.txt before it is fetched; a
sitemap index is followed at most `MAX_SITEMAP_DEPTH` levels deep; the same
page reached twice (fragment, utm_*, http/https) is fetched once. Every
failure becomes a `Skipped` entry in `Crawl.result`; nothing raises.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin, urlsplit

from ingest.ids import url_key
from ingest.normalize import DecodeError
from ingest.records import Article, LoadResult, Skipped
from ingest.sources.addresses import AddressGuard
from ingest.sources.fetch import FetchConfig, Fetched, Fetcher, FetchError, WebStats, content_charset
from ingest.sources.robots import Robots
from ingest.sources.sitemaps import (
    MAX_SITEMAP_BYTES,
    MAX_SITEMAP_DEPTH,
    is_http,
    looks_like_sitemap,
    parse_sitemap,
)

log = logging.getLogger(__name__)


class Crawl:
    """The state of one run: pages queued (`add_page`, `discover`), then fetched (`fetch_pages`) into `result`."""

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
        if not expect_sitemap and not looks_like_sitemap(url, fetched):
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
                if is_http(child):
                    self.discover(child, depth + 1, expect_sitemap=True)
                else:
                    self.skip(url, f"sitemap index lists a non-http URL: {loc[:100]!r}")
            return
        if not locs:
            self.skip(url, "sitemap lists no pages")
        for loc in locs:
            page = urljoin(url, loc)
            if is_http(page):
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
            charset = content_charset(fetched.content_type)
            article = parse_html(fetched.body, source=url, url=url, charset=charset, notes=notes)
            return article, notes
        except DecodeError as exc:
            return f"cannot decode page: {exc}"
        except (ValueError, UnicodeError) as exc:
            return f"cannot parse page: {exc}"
        except Exception as exc:
            log.exception("unexpected error parsing %s", url)
            return f"unexpected error while parsing: {type(exc).__name__}: {exc}"
