"""The question log: what people asked, what they opened, whether it helped.

    log = QueryLog.open(settings().query_log_path, settings().log_retention_days)
    qid = log.record(query, "page", {"category": cat}, [h.article_id for h in hits], hits.weak)
    log.opened(qid, article_id); log.feedback(qid, 1)

It exists for the firm's content-gap report (index/firm/insights.py): which questions
the articles do not answer. Three rules shape it:

* Personal data never reaches the disk: every question (and free-text filter
  value) goes through index.firm.redact before it is written.
* Logging never slows or breaks a search. The caller's thread only builds a
  small tuple and puts it on a bounded queue (no I/O, no redaction); one
  background thread (index/firm/logwriter.py) writes to SQLite. A full queue
  drops the entry and counts it. A locked database, a full disk or a read-only
  directory is logged once at WARNING and otherwise ignored; the writer retries
  the database later.
* Old questions go: rows older than `retention_days` are deleted, at most once
  an hour, by the writer thread.

The file lives beside the index versions, not inside one, so that publishing
or rolling back an index never loses or duplicates the log. Its tables and SQL
are in index/firm/logstore.py.

This module is the side the page, the API and the CLI see: recording (cheap,
never raises for I/O), flushing and closing, and reading for the report.
"""
from __future__ import annotations

import atexit
import datetime as dt
import logging
import queue
import re
import sqlite3
import threading
import time
import uuid
import weakref
from pathlib import Path

from index.firm.logstore import QuestionRow, open_for_reading, read_questions, utc
from index.firm.logwriter import STOP, Flush, LogStats, Problems, Writer, prune
from ingest.fields import MAX_ID_CHARS  # the longest article id the log accepts

__all__ = ["QueryLog", "QuestionRow", "LogStats"]

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000

_QID = re.compile(r"[0-9a-f]{32}")


class QueryLog:
    """Append-only question log in SQLite, written by one background thread.

    `QueryLog.open(None)` is the switched-off log: every method does nothing
    and returns None, so callers never need an `if log:`.
    """

    def __init__(self, path: Path | None, retention_days: int = 90, queue_size: int = QUEUE_SIZE):
        self.path = Path(path) if path is not None else None
        self.retention_days = int(retention_days)
        self.stats = LogStats()
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._problems = Problems(self.path)

    @classmethod
    def open(cls, path: Path | str | None, retention_days: int = 90) -> QueryLog:
        """A log writing to `path` (created on first write), or the switched-off log for None."""
        return cls(Path(path) if path is not None else None, retention_days)

    @property
    def enabled(self) -> bool:
        return self.path is not None

    # ---- the caller's side: cheap, never raises for I/O -------------------------
    def record(self, query: str, channel: str, filters: dict | None, result_ids: list[str], weak: bool,
               *, at: dt.datetime | None = None) -> str | None:
        """Queue one question; returns its id (uuid hex) for opened()/feedback(), None when off.

        Redaction happens on the writer thread (before anything is written), so
        the search pays only for a uuid, a timestamp and a queue put. `at` lets
        imports and tests place a question in the past.
        """
        if self.path is None or self._closed:
            return None
        qid = uuid.uuid4().hex
        # copies: the caller may reuse its dict or list before the writer gets to them
        item = ("q", qid, at or dt.datetime.now(dt.UTC), channel, query, dict(filters or {}),
                list(result_ids or ()), bool(weak))
        self._put(item)
        return qid

    def opened(self, question_id: str | None, article_id: str) -> None:
        """Note that the reader opened `article_id` from the results of `question_id`."""
        if self.path is None or self._closed or not question_id:
            return None
        self._check_qid(question_id)
        if not isinstance(article_id, str) or not article_id or len(article_id) > MAX_ID_CHARS:
            raise ValueError(f"article_id must be a non-empty string of at most {MAX_ID_CHARS} characters")
        self._put(("o", question_id, dt.datetime.now(dt.UTC), article_id))
        return None

    def feedback(self, question_id: str | None, value: int) -> None:
        """Record 👍 (1) or 👎 (0) for a question; a second answer replaces the first."""
        if self.path is None or self._closed or not question_id:
            return None
        self._check_qid(question_id)
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int) or value not in (0, 1):
            raise ValueError(f"feedback must be 1 (helpful) or 0 (not helpful), not {value!r}")
        self._put(("f", question_id, dt.datetime.now(dt.UTC), value))
        return None

    @staticmethod
    def _check_qid(question_id: str) -> None:
        if not isinstance(question_id, str) or not _QID.fullmatch(question_id):
            raise ValueError(f"not a question id: {question_id!r}")

    def _put(self, item: tuple) -> None:
        if self._thread is None:
            self._start()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.stats.dropped += 1
            if self.stats.dropped == 1 or self.stats.dropped % 1000 == 0:
                log.warning("question log queue full: %d entries dropped so far", self.stats.dropped)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                return
            assert self.path is not None
            writer = Writer(self.path, self.retention_days, self._queue, self.stats, self._problems)
            self._thread = threading.Thread(target=self._run, args=(writer,), name="querylog-writer", daemon=True)
            self._thread.start()
            ref = weakref.ref(self)
            atexit.register(lambda: (lg := ref()) is not None and lg.close(timeout=2.0))

    def _run(self, writer: Writer) -> None:
        # the thread runs a method of the log, not only of its writer: the log stays alive while
        # its thread does, so the exit hook above still finds it and writes what is queued
        writer.run()

    def flush(self, timeout: float = 5.0) -> bool | None:
        """Wait until everything queued so far is written (or given up); False on timeout."""
        if self.path is None:
            return None
        if self._thread is None or not self._thread.is_alive():
            return True
        marker = Flush()
        deadline = time.monotonic() + timeout
        try:
            self._queue.put(marker, timeout=max(0.0, timeout))
        except queue.Full:
            return False
        return marker.done.wait(max(0.0, deadline - time.monotonic()))

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, stop the writer and close the database."""
        if self.path is None or self._closed:
            return None
        self._closed = True
        thread = self._thread
        if thread is not None and thread.is_alive():
            try:
                self._queue.put(STOP, timeout=timeout)
            except queue.Full:
                pass
            thread.join(timeout)
        return None

    # ---- readers (the report, prune on demand) -----------------------------------
    def prune(self, now: dt.datetime | None = None) -> int | None:
        """Delete questions (and their clicks and feedback) older than the retention; how many went."""
        if self.path is None:
            return None
        try:
            conn = open_for_reading(self.path, write=True)
            if conn is None:
                return 0
            try:
                return prune(conn, utc(now), self.retention_days, self._problems)
            finally:
                conn.close()
        except (OSError, sqlite3.Error) as exc:
            self._problems.report("prune failed:", exc)
            return 0

    def questions(self, since: dt.datetime | None = None) -> list[QuestionRow]:
        """Logged questions (oldest first) with their opened articles and feedback.

        The switched-off or not-yet-written log has no questions: an empty list.
        """
        if self.path is None:
            return []
        try:
            conn = open_for_reading(self.path)
            if conn is None:
                return []
            try:
                return read_questions(conn, since)
            finally:
                conn.close()
        except (OSError, sqlite3.Error) as exc:
            self._problems.report("cannot be read:", exc)
            return []
