"""The question log: what people asked, what they opened, whether it helped.

    log = QueryLog.open(settings().query_log_path, settings().log_retention_days)
    qid = log.record(query, "page", {"category": cat}, [h.article_id for h in hits], hits.weak)
    log.opened(qid, article_id); log.feedback(qid, 1)

It exists for the firm's content-gap report (index/insights.py): which questions
the articles do not answer. Three rules shape it:

* Personal data never reaches the disk: every question (and free-text filter
  value) goes through index.redact before it is written.
* Logging never slows or breaks a search. The caller's thread only builds a
  small tuple and puts it on a bounded queue (a few microseconds); one
  background thread writes to SQLite. A full queue drops the entry and counts
  it. A locked database, a full disk or a read-only directory is logged once at
  WARNING and otherwise ignored; the writer retries the database later.
* Old questions go: rows older than `retention_days` are deleted, at most once
  an hour, by the writer thread.

The file lives beside the index versions, not inside one, so that publishing
or rolling back an index never loses or duplicates the log. SQLite in WAL mode
lets the page, the API and the CLI (separate processes) write to the same file
while the report reads it.
"""
from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import queue
import re
import sqlite3
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.redact import redact

log = logging.getLogger(__name__)

CHANNELS = ("page", "api", "cli")
MAX_QUERY_CHARS = 2000
MAX_ID_CHARS = 200
QUEUE_SIZE = 10_000
BATCH = 500
BUSY_TIMEOUT_MS = 50  # the writer thread waits this long for a lock, then gives the batch up
READ_BUSY_TIMEOUT_MS = 2000  # readers (report, prune) are not on a search path
PRUNE_EVERY_S = 3600.0
RETRY_OPEN_S = 30.0
RETRY_LOCKED_S = 0.5
LOCKED_RETRIES = (0.1, 0.3)  # seconds the writer waits before trying a locked batch again

_QID = re.compile(r"[0-9a-f]{32}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id TEXT PRIMARY KEY,
    ts TEXT NOT NULL,
    channel TEXT NOT NULL,
    query TEXT NOT NULL,
    filters TEXT NOT NULL,
    results TEXT NOT NULL,
    weak INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS questions_ts ON questions(ts);
CREATE TABLE IF NOT EXISTS opens (
    question_id TEXT NOT NULL,
    article_id TEXT NOT NULL,
    ts TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS opens_q ON opens(question_id);
CREATE INDEX IF NOT EXISTS opens_ts ON opens(ts);
CREATE TABLE IF NOT EXISTS feedback (
    question_id TEXT PRIMARY KEY,
    value INTEGER NOT NULL,
    ts TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_ts ON feedback(ts);
"""


@dataclass
class QuestionRow:
    """One logged question with what happened after it (for the report)."""

    id: str
    ts: dt.datetime  # UTC, timezone-aware
    channel: str
    query: str  # already redacted
    filters: dict[str, Any]
    result_ids: list[str]
    weak: bool
    opened: list[str] = field(default_factory=list)  # article ids, first open first, no repeats
    feedback: int | None = None  # 1 helpful, 0 not helpful, None no answer


@dataclass
class LogStats:
    """Counters that say whether logging is keeping up (for status pages and tests)."""

    written: int = 0
    dropped: int = 0  # queue full: the entry was never written
    failed: int = 0  # entries whose write hit a database error


def _utc(now: dt.datetime | None = None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    return now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now.astimezone(dt.UTC)


def _iso(t: dt.datetime) -> str:
    """One fixed format, so that timestamps compare correctly as text in SQL."""
    return _utc(t).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _clip_redact(text: str, limit: int = MAX_QUERY_CHARS) -> str:
    """Redacted text, at most `limit` characters.

    A cut through the raw text could leave the first digits of a phone number
    that the patterns no longer recognise, so a clipped tail of digits and
    letters is dropped before redacting.
    """
    text = str(text)
    if len(text) > limit:
        text = re.sub(r"[0-9A-Za-z０-９Ａ-Ｚａ-ｚ@＠.\-+ ]+$", "", text[:limit])
    return redact(text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return _clip_redact(value, 500)
    if isinstance(value, dict):
        return {str(k): _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_redact_value(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return _clip_redact(str(value), 500)  # dates and the like


class _Flush:
    """A marker in the queue: everything put before it has been handled once it is set."""

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


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
        self._warned = False
        self._conn: sqlite3.Connection | None = None
        self._next_open = 0.0
        self._open_busy = False  # the last open failed only because another connection held a lock
        self._last_prune = 0.0

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
            self._thread = threading.Thread(target=self._run, name="querylog-writer", daemon=True)
            self._thread.start()
            ref = weakref.ref(self)
            atexit.register(lambda: (lg := ref()) is not None and lg.close(timeout=2.0))

    def flush(self, timeout: float = 5.0) -> bool | None:
        """Wait until everything queued so far is written (or given up); False on timeout."""
        if self.path is None:
            return None
        if self._thread is None or not self._thread.is_alive():
            return True
        marker = _Flush()
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
                self._queue.put(_STOP, timeout=timeout)
            except queue.Full:
                pass
            thread.join(timeout)
        return None

    # ---- the writer thread ------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch = [item]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(b is _STOP for b in batch)
            rows = [b for b in batch if isinstance(b, tuple)]
            if rows:
                try:
                    self._write(rows)
                except Exception as exc:  # the writer must outlive any surprise, or the queue fills up
                    self.stats.failed += len(rows)
                    self._problem("unexpected error:", exc)
            for b in batch:
                if isinstance(b, _Flush):
                    b.done.set()
            if stop:
                break
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    def _problem(self, what: str, exc: BaseException) -> None:
        """Say it once per episode (until a write succeeds again), at WARNING."""
        if not self._warned:
            self._warned = True
            log.warning("question log %s: %s %s (searches continue; entries are dropped until it works)",
                        self.path, what, exc)
        else:
            log.debug("question log %s: %s %s", self.path, what, exc)

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is not None:
            return self._conn
        if time.monotonic() < self._next_open:
            return None
        assert self.path is not None
        conn = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            if conn is not None:
                conn.close()
            # another process holding the lock is over in a moment; a bad directory is not
            self._open_busy = _is_busy(exc)
            self._next_open = time.monotonic() + (RETRY_LOCKED_S if self._open_busy else RETRY_OPEN_S)
            self._problem("cannot be opened:", exc)
            return None
        self._conn, self._open_busy = conn, False
        return conn

    def _write(self, items: list[tuple]) -> None:
        try:
            rows = self._rows(items)
        except Exception as exc:  # a bug here must not stop the writer (and so fill the queue)
            self.stats.failed += len(items)
            self._problem("cannot prepare entries:", exc)
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
                with conn:  # one transaction per batch
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany("INSERT OR IGNORE INTO questions VALUES (?, ?, ?, ?, ?, ?, ?)", rows[0])
                    conn.executemany("INSERT INTO opens VALUES (?, ?, ?)", rows[1])
                    conn.executemany("INSERT OR REPLACE INTO feedback VALUES (?, ?, ?)", rows[2])
            except sqlite3.Error as exc:
                self._problem("write failed:", exc)
                if _is_busy(exc):
                    continue
                self._drop_connection()  # disk full, file gone or damaged: reopen later
                break
            self.stats.written += len(items)
            if self._warned:
                log.info("question log %s: writing again", self.path)
                self._warned = False
            if self._last_prune == 0.0 or time.monotonic() - self._last_prune >= PRUNE_EVERY_S:
                self._last_prune = time.monotonic()
                self._prune_on(conn, _utc())
            return
        self.stats.failed += len(items)

    @staticmethod
    def _rows(items: list[tuple]) -> tuple[list[tuple], list[tuple], list[tuple]]:
        """SQL rows for queued entries; this is where questions are redacted."""
        q_rows, o_rows, f_rows = [], [], []
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
                q_rows.append((qid, _iso(at), str(channel)[:20], _clip_redact(query or ""), filters_json,
                               json.dumps(ids, ensure_ascii=False), int(weak)))
            elif kind == "o":
                _, qid, at, article_id = item
                o_rows.append((qid, article_id, _iso(at)))
            elif kind == "f":
                _, qid, at, value = item
                f_rows.append((qid, value, _iso(at)))
        return q_rows, o_rows, f_rows

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
        self._conn = None
        self._next_open = time.monotonic() + RETRY_OPEN_S

    def _prune_on(self, conn: sqlite3.Connection, now: dt.datetime) -> int:
        cutoff = _iso(now - dt.timedelta(days=self.retention_days))
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                n = conn.execute("DELETE FROM questions WHERE ts < ?", (cutoff,)).rowcount
                # clicks and feedback go with their question (and alone once they are old)
                for table in ("opens", "feedback"):
                    conn.execute(f"DELETE FROM {table} WHERE ts < ? OR question_id NOT IN (SELECT id FROM questions)",
                                 (cutoff,))
        except sqlite3.Error as exc:
            self._problem("prune failed:", exc)
            return 0
        if n:
            log.info("question log: deleted %d questions older than %d days", n, self.retention_days)
        return n

    # ---- readers (the report, prune on demand) -----------------------------------
    def _read_connection(self, write: bool = False) -> sqlite3.Connection | None:
        assert self.path is not None
        if not self.path.exists():
            return None
        uri = self.path.resolve().as_uri()
        try:  # mode=rw: never creates the file; a WAL reader also wants to write the -shm file
            conn = sqlite3.connect(f"{uri}?mode=rw", uri=True, timeout=READ_BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None)
        except sqlite3.Error:
            if write:
                raise
            conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=READ_BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout={READ_BUSY_TIMEOUT_MS}")
        return conn

    def prune(self, now: dt.datetime | None = None) -> int | None:
        """Delete questions (and their clicks and feedback) older than the retention; how many went."""
        if self.path is None:
            return None
        try:
            conn = self._read_connection(write=True)
            if conn is None:
                return 0
            try:
                return self._prune_on(conn, _utc(now))
            finally:
                conn.close()
        except (OSError, sqlite3.Error) as exc:
            self._problem("prune failed:", exc)
            return 0

    def questions(self, since: dt.datetime | None = None) -> list[QuestionRow]:
        """Logged questions (oldest first) with their opened articles and feedback.

        The switched-off or not-yet-written log has no questions: an empty list.
        """
        if self.path is None:
            return []
        try:
            conn = self._read_connection()
            if conn is None:
                return []
            try:
                return self._read(conn, since)
            finally:
                conn.close()
        except (OSError, sqlite3.Error) as exc:
            self._problem("cannot be read:", exc)
            return []

    @staticmethod
    def _read(conn: sqlite3.Connection, since: dt.datetime | None) -> list[QuestionRow]:
        where, args = ("WHERE ts >= ?", (_iso(since),)) if since is not None else ("", ())
        rows = conn.execute(
            f"SELECT id, ts, channel, query, filters, results, weak FROM questions {where} ORDER BY ts, id", args
        ).fetchall()
        opened: dict[str, list[str]] = {}
        joined = "JOIN questions q ON q.id = o.question_id" + (" WHERE q.ts >= ?" if since is not None else "")
        for qid, aid in conn.execute(f"SELECT o.question_id, o.article_id FROM opens o {joined} ORDER BY o.ts", args):
            seen = opened.setdefault(qid, [])
            if aid not in seen:
                seen.append(aid)
        feedback = dict(conn.execute(
            f"SELECT o.question_id, o.value FROM feedback o {joined}", args
        ).fetchall())
        out = []
        for qid, ts, channel, query, filters, results, weak in rows:
            out.append(QuestionRow(
                id=qid, ts=dt.datetime.fromisoformat(ts), channel=channel, query=query,
                filters=_loads(filters, {}), result_ids=_loads(results, []), weak=bool(weak),
                opened=opened.get(qid, []), feedback=feedback.get(qid),
            ))
        return out


def _is_busy(exc: BaseException) -> bool:
    """Another connection holds the lock: it will let go soon, unlike a full disk."""
    msg = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in msg or "busy" in msg)


def _loads(text: str, default: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return default
