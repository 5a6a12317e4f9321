"""Many threads on one Searcher: the answers of one thread, no global lock, torch threads left alone.

The page's sessions and the API's workers share one Searcher and no longer
take turns; these tests check correctness under concurrency, not speed
(`bench/busy.py` measures throughput).
"""
from __future__ import annotations

import random
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable

import pytest

from index.search.searcher import Searcher
from index.serving.shared import SharedSearcher
from index.storage.layout import IndexDir

THREADS = 4
SEARCHES_PER_THREAD = 30

CASES: list[tuple[str, dict]] = [
    ("网贷逾期了，催收说要上门，是真的吗？", {"k": 5}),
    ("被公司开除了能拿多少钱", {"k": 3, "mode": "bm25"}),
    ("两口子去民政局离婚要等多久", {"k": 5, "mode": "dense"}),
    ("撞车了第一时间该干嘛", {"k": 10}),
    ("民法典1077条说的什么", {"k": 3}),
    ("怎么办", {"k": 10, "category": "劳动纠纷", "mode": "bm25"}),
    ("网贷逾期", {"k": 10, "date_from": "2025-06-01"}),
    ("网贷逾期催收上门怎么办", {"k": 10, "category": ["金融债务", " 婚姻家事 "], "date_to": "2025-12-31"}),
    ("红烧肉怎么做才好吃", {"k": 5}),
    ("物业服务差可以不给物业费吗", {"k": 2, "mode": "dense", "category": "房产物业"}),
    ("", {"k": 5}),
    ("劳动合同法87条", {"k": 3, "mode": "bm25"}),
]


def answer(hits) -> tuple:
    """What a reader sees of a result list (scores rounded: the same floats, any thread)."""
    return (hits.query, hits.weak, hits.message, hits.version,
            tuple((h.rank, h.passage_id, round(h.score, 6), tuple(h.match_spans), h.link) for h in hits))


def run_threads(worker: Callable[[int], None], n: int = THREADS) -> list[BaseException]:
    """Run `worker(i)` in `n` threads started together; the exceptions they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def target(i: int) -> None:
        try:
            start.wait(timeout=30)
            worker(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a search thread hangs"
    return errors


@pytest.fixture(scope="module")
def s(built_index, embedder, tokenizer) -> Searcher:
    return Searcher.open(built_index, embedder=embedder, tokenizer=tokenizer)


@pytest.mark.slow
def test_four_threads_get_exactly_the_single_thread_answers(s):
    expected = [answer(s.search(q, **kw)) for q, kw in CASES]
    mismatches: list[tuple[int, int]] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(SEARCHES_PER_THREAD):
            i = rng.randrange(len(CASES))
            q, kw = CASES[i]
            if answer(s.search(q, **kw)) != expected[i]:
                mismatches.append((seed, i))

    assert run_threads(worker) == []
    assert mismatches == []


@pytest.mark.slow
def test_shared_searcher_threads_search_while_new_versions_are_published(built_index, embedder, tokenizer, tmp_path):
    """`refresh` switches versions under searches in other threads; none of them fails or mixes versions."""
    root = tmp_path / "idx"
    shutil.copytree(built_index, root)
    layout = IndexDir(root)
    first = layout.current_name()
    second = first + "b"
    shutil.copytree(layout.versions / first, layout.versions / second)  # same content, another name
    shared = SharedSearcher.of(Searcher.open(root, embedder=embedder, tokenizer=tokenizer))
    q, kw = CASES[0][0], {"k": 5, "mode": "bm25"}
    def content(hits) -> tuple:
        got = answer(hits)
        return got[:3] + got[4:]  # all but the version

    with shared.use() as searcher:
        expected = content(searcher.search(q, **kw))
    stop = threading.Event()
    seen: set[str] = set()

    def flip() -> None:
        for i in range(20):
            layout.switch(second if i % 2 == 0 else first)
            time.sleep(0.02)
        stop.set()

    def worker(i: int) -> None:
        if i == 0:
            flip()
            return
        while not stop.is_set():
            with shared.use() as searcher:
                hits = searcher.search(q, **kw)
            assert content(hits) == expected
            seen.add(hits.version)

    assert run_threads(worker) == []
    assert seen <= {first, second} and len(seen) == 2


@pytest.mark.slow
def test_searching_never_changes_torch_threads(s):
    """Only a serving process's start (`configure_threads`) sets them; a notebook's choice stays."""
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        shared = SharedSearcher.of(s)
        for mode in ("hybrid", "dense", "bm25"):
            with shared.use() as searcher:
                searcher.search("网贷逾期会有人上门吗", k=3, mode=mode)
        shared.warm_up()
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


# ------------------------------------------------------------- no model -------
def test_sqlite_is_built_serialized():
    """Search threads share one read-only connection per version; that needs SQLite's serialized mode."""
    assert sqlite3.threadsafety == 3


class _Opened:
    version = "v1"


def test_shared_searcher_does_not_serialise_its_users():
    shared = SharedSearcher.of(_Opened())  # type: ignore[arg-type]
    inside = threading.Barrier(THREADS, timeout=10)

    def worker(i: int) -> None:
        with shared.use():
            inside.wait()  # breaks (BrokenBarrierError) if only one thread may be inside

    assert run_threads(worker) == []


def test_shared_searcher_opens_once_and_times_out_only_while_opening():
    calls: list[int] = []
    release = threading.Event()

    def factory() -> _Opened:
        calls.append(1)
        release.wait(timeout=30)
        return _Opened()

    shared = SharedSearcher(factory)  # type: ignore[arg-type]
    got: list[object] = []

    def worker(i: int) -> None:
        with shared.use() as searcher:
            got.append(searcher)

    opener = threading.Thread(target=lambda: run_threads(worker, 6))
    opener.start()
    time.sleep(0.2)
    with pytest.raises(TimeoutError):
        with shared.use(timeout=0.1):
            pass
    release.set()
    opener.join(timeout=30)
    assert len(calls) == 1 and len(got) == 6 and len({id(x) for x in got}) == 1
    with shared.use(timeout=0.1) as searcher:
        assert searcher is got[0]


def test_search_slots_bound_how_many_searches_run_at_once(built_index, embedder, tokenizer):
    """With one slot, eight threads all get their answers, one search at a time, and each waits its turn."""
    searcher = Searcher.open(built_index, embedder=embedder, tokenizer=tokenizer, search_slots=1)
    active, peak = [0], [0]
    lock = threading.Lock()
    encode = embedder.encode_queries

    class Counting:
        """The real embedder, counting the searches inside their encoder call at once."""

        def __getattr__(self, name):
            return getattr(embedder, name)

        def encode_queries(self, texts):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            try:
                time.sleep(0.01)  # hold the slot long enough for the other threads to queue
                return encode(texts)
            finally:
                with lock:
                    active[0] -= 1

    searcher._embedder = Counting()
    waited: list[float] = []

    def worker(seed: int) -> None:
        hits = searcher.search(CASES[seed % len(CASES)][0], k=3)
        waited.append(hits.timings["queue_ms"])

    assert run_threads(worker, 8) == []
    assert peak[0] == 1 and len(waited) == 8
    assert max(waited) >= 10  # someone waited for at least one other search's sleep


def test_search_slots_default_to_the_usable_cores_plus_one(monkeypatch):
    import os

    from index.settings import settings

    monkeypatch.delenv("LAWFAQ_SEARCH_SLOTS", raising=False)
    assert settings().search_slot_count == len(os.sched_getaffinity(0)) + 1
    monkeypatch.setenv("LAWFAQ_SEARCH_SLOTS", "5")
    assert settings().search_slot_count == 5
