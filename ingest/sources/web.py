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

This module wires the parts together: `ingest.sources.fetch` (HTTP),
`ingest.sources.http_cache`, `ingest.sources.robots`, `ingest.sources.sitemaps`
and `ingest.sources.crawl`. Nothing raises out of `load_web`: every failure is
a `Skipped` with a reason.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ingest.records import LoadResult, Skipped
from ingest.sources.addresses import AddressGuard
from ingest.sources.crawl import Crawl
from ingest.sources.fetch import DEFAULT_CONFIG, FetchConfig, Fetcher, WebStats, open_client
from ingest.sources.http_cache import CACHE_FILE, HttpCache
from ingest.sources.robots import Robots
from ingest.sources.sitemaps import is_http, parse_sitemap, read_url_list

__all__ = ["DEFAULT_CONFIG", "FetchConfig", "WebStats", "load_web", "load_web_with_stats", "parse_sitemap"]

log = logging.getLogger(__name__)


def load_web_with_stats(
    source: str, state_dir: Path | None, config: FetchConfig = DEFAULT_CONFIG
) -> tuple[LoadResult, WebStats]:
    """Load a sitemap / page URL / URL-list file; also return what happened on the wire."""
    stats = WebStats()
    guard = AddressGuard(config.allow_private)
    cache = HttpCache(Path(state_dir) / CACHE_FILE if state_dir is not None else None)
    try:
        client = open_client(config, guard)
    except Exception as exc:  # e.g. a broken proxy setting in the environment
        cache.close()
        return LoadResult(skipped=[Skipped(source, f"cannot start HTTP client: {exc}")]), stats
    fetcher = Fetcher(client, cache, config, stats)
    run = Crawl(fetcher, Robots(fetcher, config), config, stats, guard)
    try:
        if is_http(source):
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
