"""robots.txt per host: fetched once, then asked before every sitemap and page.

A missing robots.txt (4xx) means allowed; a 5xx means the whole host is off
limits, as RFC 9309 asks; an unreachable host is refused with the reason.
"""
from __future__ import annotations

import threading
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from ingest.normalize import DecodeError, decode_bytes
from ingest.sources.fetch import FetchConfig, Fetcher, FetchError, content_charset


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
            text = decode_bytes(fetched.body, content_charset(fetched.content_type))
        except DecodeError:
            return None  # garbage robots.txt: as if none
        parser = RobotFileParser(robots_url)
        parser.parse(text.splitlines())
        return parser
