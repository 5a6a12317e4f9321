"""One Searcher shared by the threads of a server process (the page's sessions, the API's workers).

Streamlit serves every browser session from its own thread and uvicorn runs
`def` endpoints in a thread pool; both share one loaded model and index
through `SharedSearcher`.
"""
from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator

from index.encoders.base import ModelUnavailable
from index.search.searcher import ModelMismatch, Searcher
from index.storage.layout import IndexDamaged, IndexNotFound

log = logging.getLogger(__name__)

RETRY_OPEN_SECONDS = 1.0  # how often a missing/broken index is looked for again


class IndexUnavailable(RuntimeError):
    """No index can be served right now; the message says why (and how to build one)."""


class SharedSearcher:
    """One Searcher per process, opened lazily and shared by all request threads (`with shared.use() as s`).

    Opening is lazy and retried (at most every RETRY_OPEN_SECONDS) so the API
    starts, and answers 503 with a hint, before any index has been built, and
    starts serving once one is published.

    Searches run concurrently: nothing here serialises them. A Searcher call is
    safe from many threads because `Searcher.refresh` swaps versions under its
    own lock and never closes a version a search may still hold, and the shared
    read-only SQLite connection serialises its own calls. The only lock left is
    around the first open, so that two requests do not load the index twice.
    Torch's thread count is not touched here (see `index.encoders.model.configure_threads`).

    A served version found damaged while in use (its meta.sqlite garbled or
    truncated on disk: `IndexDamaged` from a refresh, or SQLite's own error in
    the middle of a search) makes that request an `IndexUnavailable` (the API's
    503 with the reason) rather than a 500, and is remembered (`damage`) so that
    /healthz reports it until another version is served.
    """

    def __init__(self, factory: Callable[[], Searcher], retry_seconds: float = RETRY_OPEN_SECONDS):
        self._factory = factory
        self._retry = retry_seconds
        self._open_lock = threading.Lock()
        self._searcher: Searcher | None = None
        self._error: str | None = None
        self._next_try = 0.0
        self._damaged: tuple[str, str] | None = None  # (version, why): a served version found unreadable

    @property
    def searcher(self) -> Searcher | None:
        return self._searcher

    def _ensure(self, timeout: float) -> Searcher:
        searcher = self._searcher
        if searcher is not None:
            return searcher
        if not self._open_lock.acquire(timeout=timeout):
            raise TimeoutError("the index is being opened")
        try:
            return self._open_locked()
        finally:
            self._open_lock.release()

    def _open_locked(self) -> Searcher:
        if self._searcher is not None:
            return self._searcher
        now = time.monotonic()
        if self._error is not None and now < self._next_try:
            raise IndexUnavailable(self._error)
        try:
            searcher = self._factory()
        except (IndexNotFound, ModelMismatch, ModelUnavailable, OSError) as exc:
            if str(exc) != self._error:
                log.warning("cannot open the index (will retry): %s", exc)
            self._error, self._next_try = str(exc), now + self._retry
            raise IndexUnavailable(self._error) from exc
        self._error = None
        self._searcher = searcher  # publish last: other threads read it without the lock
        log.info("serving index version %s", searcher.version)
        return searcher

    @contextlib.contextmanager
    def use(self, timeout: float = -1) -> Iterator[Searcher]:
        """The shared Searcher (not exclusively: other threads search at the same time).

        `timeout` bounds only the wait for another thread that is opening the
        index right now (TimeoutError after `timeout` s; -1 waits). A damaged
        served version met inside the block is raised as IndexUnavailable.
        """
        searcher = self._ensure(timeout)
        try:
            yield searcher
        except IndexDamaged as exc:  # refresh() found the served version's file damaged
            raise IndexUnavailable(self._note_damage(searcher.version, str(exc))) from exc
        except sqlite3.DatabaseError as exc:  # a search read a damaged page
            why = (f"index version {searcher.version} cannot be read ({exc}); roll back "
                   f"(python -m index rollback --index {searcher.layout.root}) or rebuild with --full")
            raise IndexUnavailable(self._note_damage(searcher.version, why)) from exc

    def _note_damage(self, version: str, why: str) -> str:
        if self._damaged != (version, why):
            log.error("cannot serve: %s", why)
        self._damaged = (version, why)
        return why

    def damage(self, searcher: Searcher) -> str | None:
        """Why the version `searcher` serves was found unreadable, or None (a newer version clears it)."""
        damaged = self._damaged
        if damaged is not None and damaged[0] == searcher.version:
            return damaged[1]
        return None

    def warm_up(self) -> None:
        """Open the index and load the model now, so the first real question is not the slow one."""
        try:
            with self.use() as searcher:
                searcher.search("预热", k=1)
        except IndexUnavailable:
            pass  # already logged; requests will retry
        except Exception:
            log.exception("warm-up search failed")

    @classmethod
    def of(cls, searcher: Searcher) -> SharedSearcher:
        """Share an already open Searcher (the page opens it eagerly to report errors itself)."""
        shared = cls(lambda: searcher)
        shared._searcher = searcher
        return shared
