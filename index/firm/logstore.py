"""The question log's SQLite file: its tables, its timestamps, and the SQL that writes, prunes and reads it.

SQLite in WAL mode, because the page, the API and the CLI (separate processes)
write to the same file while the report reads it. Timestamps are stored as UTC
text in one fixed format, so that they compare correctly as text in SQL.

Nothing here catches an error: `index.firm.logwriter` decides what a failed
write means (retry, give up, warn once), `index.firm.querylog` what a failed
read means.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUSY_TIMEOUT_MS = 50  # the writer thread waits this long for a lock, then gives the batch up
READ_BUSY_TIMEOUT_MS = 2000  # readers (report, prune) are not on a search path

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
class Rows:
    """SQL rows for one batch: questions, opened articles, feedback."""

    questions: list[tuple] = field(default_factory=list)
    opens: list[tuple] = field(default_factory=list)
    feedback: list[tuple] = field(default_factory=list)


def utc(now: dt.datetime | None = None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    return now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now.astimezone(dt.UTC)


def iso(t: dt.datetime) -> str:
    """One fixed format, so that timestamps compare correctly as text in SQL."""
    return utc(t).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def is_busy(exc: BaseException) -> bool:
    """Another connection holds the lock: it will let go soon, unlike a full disk."""
    msg = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in msg or "busy" in msg)


# ---- writing ---------------------------------------------------------------------
def open_for_writing(path: Path) -> sqlite3.Connection:
    """The writer's connection (file and tables created as needed); raises OSError / sqlite3.Error."""
    conn = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
    except (OSError, sqlite3.Error):
        if conn is not None:
            conn.close()
        raise
    return conn


def insert(conn: sqlite3.Connection, rows: Rows) -> None:
    """Write one batch in one transaction (all of it or none)."""
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR IGNORE INTO questions VALUES (?, ?, ?, ?, ?, ?, ?)", rows.questions)
        conn.executemany("INSERT INTO opens VALUES (?, ?, ?)", rows.opens)
        conn.executemany("INSERT OR REPLACE INTO feedback VALUES (?, ?, ?)", rows.feedback)


def delete_older(conn: sqlite3.Connection, now: dt.datetime, retention_days: int) -> int:
    """Delete questions older than `retention_days` before `now`, with their clicks and feedback; how many."""
    cutoff = iso(now - dt.timedelta(days=retention_days))
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        n = conn.execute("DELETE FROM questions WHERE ts < ?", (cutoff,)).rowcount
        # clicks and feedback go with their question (and alone once they are old)
        for table in ("opens", "feedback"):
            conn.execute(f"DELETE FROM {table} WHERE ts < ? OR question_id NOT IN (SELECT id FROM questions)",
                         (cutoff,))
    return n


# ---- reading ---------------------------------------------------------------------
def open_for_reading(path: Path, write: bool = False) -> sqlite3.Connection | None:
    """A reader's connection, None when the file does not exist yet (reading never creates it).

    `write`: the connection must be able to delete (prune); otherwise a read-only
    connection will do when read-write is refused.
    """
    if not path.exists():
        return None
    uri = path.resolve().as_uri()
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


def read_questions(conn: sqlite3.Connection, since: dt.datetime | None) -> list[QuestionRow]:
    """Questions from `since` on (all for None), oldest first, with their opened articles and feedback."""
    where, args = ("WHERE ts >= ?", (iso(since),)) if since is not None else ("", ())
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


def _loads(text: str, default: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return default
