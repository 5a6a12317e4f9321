"""The conditional-request cache of the web source: ETag / Last-Modified and the body, per URL, in SQLite.

An unchanged page then costs one 304 and is still returned as an Article. A
cache that cannot be opened or written is logged and ignored: the run fetches
without it.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_FILE = "http_cache.sqlite"


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

