"""The question log's writer thread: queued entries in, redacted rows in SQLite out.

One background thread per log takes entries off the queue in batches, redacts
them (personal data never reaches the disk) and writes each batch in one
transaction. It must outlive every problem, or the queue fills up and the log
stops: a locked database is retried briefly, then the batch is given up; a full
disk, a read-only directory or a damaged file closes the connection and the
database is tried again later. Each such episode is logged once at WARNING.
Old questions are pruned from here, at most once an hour, so that no search
ever waits for a DELETE.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.firm.logstore import (
    Rows,
    delete_older,
    insert,
    is_busy,
    iso,
    open_for_writing,
    utc,
)
from index.firm.redact import redact
from ingest.fields import MAX_ID_CHARS  # the longest article id the log keeps of a result id

# the whole question log reports under one logger name, whichever module speaks
log = logging.getLogger("index.firm.querylog")

CHANNELS = ("page", "api", "cli")
MAX_LOGGED_CHARS = 2000  # the longest question text the log keeps (a longer one is clipped, then redacted)
MAX_FILTER_CHARS = 500  # the longest free-text filter value the log keeps
BATCH = 500
PRUNE_EVERY_S = 3600.0
RETRY_OPEN_S = 30.0
RETRY_LOCKED_S = 0.5
LOCKED_RETRIES = (0.1, 0.3)  # seconds the writer waits before trying a locked batch again


@dataclass
class LogStats:
    """Counters that say whether logging is keeping up (for status pages and tests)."""

    written: int = 0
    dropped: int = 0  # queue full: the entry was never written
    failed: int = 0  # entries whose write hit a database error


class Flush:
    """A marker in the queue: everything put before it has been handled once it is set."""

    def __init__(self) -> None:
        self.done = threading.Event()


STOP = object()  # the marker that ends the writer thread


class Problems:
    """Say it once per episode (until a write succeeds again), at WARNING."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.warned = False

    def report(self, what: str, exc: BaseException) -> None:
        if not self.warned:
            self.warned = True
            log.warning("question log %s: %s %s (searches continue; entries are dropped until it works)",
                        self.path, what, exc)
        else:
            log.debug("question log %s: %s %s", self.path, what, exc)

    def recovered(self) -> None:
        if self.warned:
            log.info("question log %s: writing again", self.path)
            self.warned = False


# ---- redaction ---------------------------------------------------------------------
def clip_redact(text: str, limit: int = MAX_LOGGED_CHARS) -> str:
    """Redacted text, at most `limit` characters.

    A cut through the raw text could leave the first digits of a phone number
    that the patterns no longer recognise, so a clipped tail of digits and
    letters is dropped before redacting.
    """
    text = str(text)
    if len(text) > limit:
        # ASCII and full-width digits and letters, and digits written as Chinese numerals (一三九…, 幺)
        text = re.sub(r"[0-9A-Za-z０-９Ａ-Ｚａ-ｚ@＠.\-+ 〇零一二三四五六七八九幺壹贰叁肆伍陆柒捌玖]+$", "", text[:limit])
    return redact(text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return clip_redact(value, MAX_FILTER_CHARS)
    if isinstance(value, dict):
        return {str(k): _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_redact_value(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return clip_redact(str(value), MAX_FILTER_CHARS)  # dates and the like


def entry_rows(items: list[tuple]) -> Rows:
    """SQL rows for queued entries; this is where questions are redacted."""
    rows = Rows()
    for item in items:
        kind = item[0]
        if kind == "q":
            _, qid, at, channel, query, filters, result_ids, weak = item
            if channel not in CHANNELS:
                log.debug("question log: unknown channel %r", channel)
            try:
                filters_json = json.dumps(_redact_value(filters or {}), ensure_ascii=False, sort_keys=True)
            except (TypeError, ValueError):
                filters_json = "{}"
            ids = [str(a)[:MAX_ID_CHARS] for a in dict.fromkeys(result_ids)]
            rows.questions.append((qid, iso(at), str(channel)[:20], clip_redact(query or ""), filters_json,
                                   json.dumps(ids, ensure_ascii=False), int(weak)))
        elif kind == "o":
            _, qid, at, article_id = item
            rows.opens.append((qid, article_id, iso(at)))
        elif kind == "f":
            _, qid, at, value = item
            rows.feedback.append((qid, value, iso(at)))
    return rows


def prune(conn: sqlite3.Connection, now: dt.datetime, retention_days: int, problems: Problems) -> int:
    """Delete what is past the retention; how many questions went (0 when the delete failed)."""
    try:
        n = delete_older(conn, now, retention_days)
    except sqlite3.Error as exc:
        problems.report("prune failed:", exc)
        return 0
    if n:
        log.info("question log: deleted %d questions older than %d days", n, retention_days)
    return n


# ---- the thread ----------------------------------------------------------------------
class Writer:
    """The loop of the writer thread and the one connection it owns."""

    def __init__(self, path: Path, retention_days: int, entries: queue.Queue, stats: LogStats,
                 problems: Problems) -> None:
        self.path, self.retention_days = path, retention_days
        self.entries, self.stats, self.problems = entries, stats, problems
        self._conn: sqlite3.Connection | None = None
        self._next_open = 0.0
        self._open_busy = False  # the last open failed only because another connection held a lock
        self._last_prune = 0.0

    def run(self) -> None:
        """Write batches until the STOP marker; then close the database."""
        while True:
            batch = [self.entries.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self.entries.get_nowait())
                except queue.Empty:
                    break
            stop = any(b is STOP for b in batch)
            items = [b for b in batch if isinstance(b, tuple)]
            if items:
                try:
                    self._write(items)
                except Exception as exc:  # the writer must outlive any surprise, or the queue fills up
                    self.stats.failed += len(items)
                    self.problems.report("unexpected error:", exc)
            for b in batch:
                if isinstance(b, Flush):
                    b.done.set()
            if stop:
                break
        self._drop_connection(retry_in=0.0)

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is not None:
            return self._conn
        if time.monotonic() < self._next_open:
            return None
        try:
            conn = open_for_writing(self.path)
        except (OSError, sqlite3.Error) as exc:
            # another process holding the lock is over in a moment; a bad directory is not
            self._open_busy = is_busy(exc)
            self._next_open = time.monotonic() + (RETRY_LOCKED_S if self._open_busy else RETRY_OPEN_S)
            self.problems.report("cannot be opened:", exc)
            return None
        self._conn, self._open_busy = conn, False
        return conn

    def _write(self, items: list[tuple]) -> None:
        try:
            rows = entry_rows(items)
        except Exception as exc:  # a bug here must not stop the writer (and so fill the queue)
            self.stats.failed += len(items)
            self.problems.report("cannot prepare entries:", exc)
            return
        for pause in (0.0, *LOCKED_RETRIES):
            if pause:
                time.sleep(pause)
            if self._open_busy:
                self._next_open = 0.0  # it was only locked while opening: worth another try now
            conn = self._connection()
            if conn is None:
                if self._open_busy:
                    continue
                break
            try:
                insert(conn, rows)
            except sqlite3.Error as exc:
                self.problems.report("write failed:", exc)
                if is_busy(exc):
                    continue
                self._drop_connection(retry_in=RETRY_OPEN_S)  # disk full, file gone or damaged: reopen later
                break
            self.stats.written += len(items)
            self.problems.recovered()
            self._prune_now_and_then(conn)
            return
        self.stats.failed += len(items)

    def _prune_now_and_then(self, conn: sqlite3.Connection) -> None:
        if self._last_prune == 0.0 or time.monotonic() - self._last_prune >= PRUNE_EVERY_S:
            self._last_prune = time.monotonic()
            prune(conn, utc(), self.retention_days, self.problems)

    def _drop_connection(self, retry_in: float) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
        self._conn = None
        self._next_open = time.monotonic() + retry_in
