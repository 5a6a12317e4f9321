"""The question log: redacted, asynchronous, never in the way of a search (no model needed)."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
import statistics
import time

import pytest

from index.firm.querylog import QueryLog, QuestionRow

PHONE = "13812345678"


@pytest.fixture
def qlog(tmp_path):
    log = QueryLog.open(tmp_path / "logs" / "query_log.sqlite", retention_days=90)
    yield log
    log.close()


def test_record_open_feedback_round_trip(qlog):
    qid = qlog.record(f"网贷逾期了，催收打我电话{PHONE}怎么办", "page",
                      {"category": "金融债务", "note": "我的卡6228480402564890018"}, ["a", "a", "b"], False)
    assert isinstance(qid, str) and len(qid) == 32 and int(qid, 16) >= 0
    other = qlog.record("离婚冷静期多久", "api", {}, [], True)
    qlog.opened(qid, "b")
    qlog.opened(qid, "a")
    qlog.opened(qid, "b")  # opened twice: counted once
    qlog.feedback(qid, 0)
    qlog.feedback(qid, 1)  # changed their mind: the last answer counts
    assert qlog.flush() is True

    rows = qlog.questions()
    assert [type(r) for r in rows] == [QuestionRow, QuestionRow]
    first = next(r for r in rows if r.id == qid)
    assert first.query == "网贷逾期了，催收打我电话【手机号】怎么办"
    assert first.filters == {"category": "金融债务", "note": "我的卡【银行卡号】"}
    assert first.result_ids == ["a", "b"]
    assert first.channel == "page" and first.weak is False
    assert first.opened == ["b", "a"] and first.feedback == 1
    assert first.ts.tzinfo is not None and abs(first.ts - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    second = next(r for r in rows if r.id == other)
    assert second.weak is True and second.opened == [] and second.feedback is None


def test_nothing_personal_reaches_the_file(qlog):
    qlog.record(f"电话 {PHONE}，身份证11010519491231002X", "cli", {"q": f"call {PHONE}"}, [], True)
    qlog.flush()
    qlog.close()
    for name in os.listdir(qlog.path.parent):
        data = (qlog.path.parent / name).read_bytes()
        assert PHONE.encode() not in data and b"11010519491231002X" not in data


def test_database_is_wal_and_timestamps_are_utc_iso(qlog):
    qlog.record("问题", "page", {}, [], False)
    qlog.flush()
    conn = sqlite3.connect(qlog.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    ts, filters, results = conn.execute("SELECT ts, filters, results FROM questions").fetchone()
    conn.close()
    assert dt.datetime.fromisoformat(ts).utcoffset() == dt.timedelta(0)
    assert json.loads(filters) == {} and json.loads(results) == []


def test_validation(qlog):
    qid = qlog.record("问题", "page", {}, [], False)
    for bad in (2, -1, "1", None, 0.5):
        with pytest.raises(ValueError):
            qlog.feedback(qid, bad)
    with pytest.raises(ValueError):
        qlog.feedback("not-a-question-id", 1)
    with pytest.raises(ValueError):
        qlog.opened(qid, "")
    qlog.feedback(None, 1)  # the page had no id (log was off when it searched): nothing to do
    qlog.feedback(qid, True)
    qlog.flush()
    assert qlog.questions()[0].feedback == 1


def test_switched_off_log_does_nothing(tmp_path):
    log = QueryLog.open(None)
    assert not log.enabled
    assert log.record("问题", "page", {}, ["a"], False) is None
    assert log.opened("0" * 32, "a") is None
    assert log.feedback("0" * 32, 1) is None
    assert log.prune() is None and log.flush() is None and log.close() is None
    assert log.questions() == []


def test_questions_since_and_prune(qlog):
    now = dt.datetime.now(dt.UTC)
    old = qlog.record("很久以前的问题", "page", {}, [], True, at=now - dt.timedelta(days=120))
    mid = qlog.record("上个月的问题", "api", {}, [], False, at=now - dt.timedelta(days=40))
    new = qlog.record("今天的问题", "cli", {}, [], False)
    qlog.opened(old, "a")
    qlog.flush()
    # the first write also pruned: the 120-day-old question was already past the 90-day retention
    assert [r.id for r in qlog.questions()] == [mid, new]
    assert [r.id for r in qlog.questions(since=now - dt.timedelta(days=30))] == [new]
    assert qlog.prune(now=now + dt.timedelta(days=60)) == 1  # mid is now 100 days old
    assert [r.id for r in qlog.questions()] == [new]
    conn = sqlite3.connect(qlog.path)
    assert conn.execute("SELECT COUNT(*) FROM opens").fetchone()[0] == 0
    conn.close()


def test_reading_a_log_that_was_never_written(tmp_path):
    log = QueryLog.open(tmp_path / "nothing-yet.sqlite")
    assert log.questions() == [] and log.prune() == 0
    assert not (tmp_path / "nothing-yet.sqlite").exists()


def test_record_costs_under_a_millisecond(qlog):
    qlog.record("预热", "page", {}, [], False)
    qlog.flush()
    times = []
    for i in range(200):
        t = time.perf_counter()
        qlog.record(f"被公司辞退能拿多少补偿？电话{PHONE} 第{i}次", "page", {"category": "劳动纠纷"},
                    ["cizhi-buchang", "jiaotong-shigu"], i % 3 == 0)
        times.append(time.perf_counter() - t)
    median = statistics.median(times)
    print(f"median record() {median * 1e6:.1f} µs, max {max(times) * 1e6:.1f} µs")
    assert median < 0.001
    assert qlog.flush() is True
    assert len(qlog.questions()) == 201 and qlog.stats.dropped == 0


def test_full_queue_drops_and_counts(tmp_path):
    log = QueryLog(tmp_path / "q.sqlite", queue_size=5)
    log._start = lambda: None  # no writer: the queue can only fill up
    log._thread = object()  # type: ignore[assignment]
    for _ in range(8):
        assert log.record("问题", "page", {}, [], False) is not None
    assert log.stats.dropped == 3


def test_locked_database_never_blocks_or_raises(qlog, caplog):
    qlog.record("先建库", "page", {}, [], False)
    qlog.flush()
    other = sqlite3.connect(qlog.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with caplog.at_level(logging.WARNING, logger="index.firm.querylog"):
            t = time.perf_counter()
            for _ in range(20):
                qlog.record("锁住时的问题", "page", {}, [], True)
            assert time.perf_counter() - t < 0.05
            assert qlog.flush(timeout=10) is True  # the writer gave the batch up, it did not hang
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert qlog.stats.failed == 20
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "locked" in warnings[0].getMessage()
    qlog.record("解锁后的问题", "page", {}, [], False)
    qlog.flush()
    assert [r.query for r in qlog.questions()] == ["先建库", "解锁后的问题"]


def test_locked_before_the_log_ever_opened(tmp_path):
    path = tmp_path / "q.sqlite"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    log = QueryLog.open(path)
    try:
        t = time.perf_counter()
        log.record("问题", "page", {}, [], False)
        assert time.perf_counter() - t < 0.05
        assert log.flush(timeout=10) is True
        assert log.stats.failed == 1
    finally:
        other.execute("ROLLBACK")
        other.close()
        log.close()


def test_unwritable_location_is_logged_once_and_swallowed(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    log = QueryLog.open(blocker / "sub" / "query_log.sqlite")  # mkdir fails, even for root
    with caplog.at_level(logging.WARNING, logger="index.firm.querylog"):
        for _ in range(5):
            qid = log.record("问题", "page", {}, [], False)
            log.opened(qid, "a")
            log.flush()
        assert log.questions() == [] and log.prune() == 0
    log.close()
    assert log.stats.failed == 10 and log.stats.written == 0
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        log = QueryLog.open(ro / "query_log.sqlite")
        log.record("问题", "page", {}, [], False)
        assert log.flush() is True and log.stats.failed == 1
        log.close()
    finally:
        ro.chmod(0o700)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_directory_nobody_can_create_files_in():
    log = QueryLog.open("/proc/self/query_log.sqlite")  # exists, but no file can be made there, even by root
    t = time.perf_counter()
    log.record("问题", "page", {}, [], False)
    assert time.perf_counter() - t < 0.05
    assert log.flush() is True and log.stats.failed == 1 and log.questions() == []
    log.close()


def test_close_writes_what_is_queued(tmp_path):
    log = QueryLog.open(tmp_path / "q.sqlite")
    for i in range(50):
        log.record(f"问题{i}", "api", {}, [], False)
    log.close()
    assert log.record("关闭之后", "api", {}, [], False) is None
    assert len(QueryLog.open(tmp_path / "q.sqlite").questions()) == 50


def test_long_query_is_clipped_without_leaking_a_cut_number(qlog):
    qlog.record("问" * 1995 + PHONE, "api", {}, [], False)
    qlog.flush()
    stored = qlog.questions()[0].query
    assert len(stored) <= 2000 and "13812" not in stored
