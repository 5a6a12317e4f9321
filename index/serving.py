"""One Searcher shared by the threads of a server process (the page's sessions, the API's workers).

Streamlit serves every browser session from its own thread and uvicorn runs
`def` endpoints in a thread pool; both share one loaded model and index
through `SharedSearcher`.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator

from index.layout import IndexNotFound
from index.searcher import ModelMismatch, Searcher

log = logging.getLogger(__name__)

RETRY_OPEN_SECONDS = 1.0  # how often a missing/broken index is looked for again


class IndexUnavailable(RuntimeError):
    """No index can be served right now; the message says why (and how to build one)."""


class SharedSearcher:
    """One Searcher per process, opened lazily and shared by all request threads (`with shared.use() as s`).

    Opening is lazy and retried (at most every RETRY_OPEN_SECONDS) so the API
    starts, and answers 503 with a hint, before any index has been built, and
    starts serving once one is published. Every Searcher call holds one lock:
    a search takes ~25 ms, and the lock keeps `refresh()` from switching
    versions under a search in another thread (to be made lock-free later).
    """

    def __init__(self, factory: Callable[[], Searcher], torch_threads: int = 1,
                 retry_seconds: float = RETRY_OPEN_SECONDS):
        self._factory = factory
        self._threads = max(1, torch_threads)
        self._retry = retry_seconds
        self._lock = threading.Lock()
        self._searcher: Searcher | None = None
        self._error: str | None = None
        self._next_try = 0.0

    @property
    def searcher(self) -> Searcher | None:
        return self._searcher

    def _ensure(self) -> Searcher:
        if self._searcher is not None:
            return self._searcher
        now = time.monotonic()
        if self._error is not None and now < self._next_try:
            raise IndexUnavailable(self._error)
        try:
            self._searcher = self._factory()
        except (IndexNotFound, ModelMismatch, OSError) as exc:
            if str(exc) != self._error:
                log.warning("cannot open the index (will retry): %s", exc)
            self._error, self._next_try = str(exc), now + self._retry
            raise IndexUnavailable(self._error) from exc
        self._error = None
        log.info("serving index version %s", self._searcher.version)
        return self._searcher

    @contextlib.contextmanager
    def use(self, timeout: float = -1) -> Iterator[Searcher]:
        """The shared Searcher, exclusively; TimeoutError when busy for longer than `timeout` s."""
        if not self._lock.acquire(timeout=timeout):
            raise TimeoutError("the searcher is busy")
        try:
            searcher = self._ensure()
            torch = sys.modules.get("torch")  # loaded by the embedder on the first dense query
            if torch is not None and torch.get_num_threads() != self._threads:
                # one short query gains nothing from more threads, and on a busy machine
                # several intra-op threads make a 30 ms encode take up to a second
                torch.set_num_threads(self._threads)
            yield searcher
        finally:
            self._lock.release()

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
    def of(cls, searcher: Searcher, torch_threads: int = 1) -> SharedSearcher:
        """Share an already open Searcher (the page opens it eagerly to report errors itself)."""
        shared = cls(lambda: searcher, torch_threads)
        shared._searcher = searcher
        return shared
