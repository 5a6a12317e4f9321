"""index.batcher without a model: overlapping callers share runs, each gets its own vector, errors reach all."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from index.batcher import QueryBatcher


def _vec(text: str) -> np.ndarray:
    return np.array([len(text), ord(text[0])], np.float32)


def test_each_caller_gets_its_own_vector_and_overlapping_callers_share_runs():
    runs: list[int] = []

    def encode_batch(texts: list[str]) -> np.ndarray:
        runs.append(len(texts))
        time.sleep(0.01)  # like a session run: other callers arrive meanwhile
        return np.stack([_vec(t) for t in texts])

    batcher = QueryBatcher(encode_batch, max_batch=4)
    texts = [f"{chr(0x4e00 + i)}问题{'x' * i}" for i in range(24)]
    got: dict[str, np.ndarray] = {}
    gate = threading.Barrier(8)

    def worker(mine: list[str]) -> None:
        gate.wait()
        for t in mine:
            got[t] = batcher.encode(t)

    threads = [threading.Thread(target=worker, args=(texts[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert all(np.array_equal(got[t], _vec(t)) for t in texts)
    assert sum(runs) == len(texts) == batcher.questions and max(runs) <= 4
    assert len(runs) < len(texts)  # callers really shared runs


def test_one_caller_runs_alone_and_an_error_reaches_every_caller_of_its_batch():
    batcher = QueryBatcher(lambda texts: np.stack([_vec(t) for t in texts]), max_batch=8)
    assert np.array_equal(batcher.encode("网贷"), _vec("网贷")) and batcher.batches == 1

    def broken(texts: list[str]) -> np.ndarray:
        raise RuntimeError("session failed")

    failing = QueryBatcher(broken)
    with pytest.raises(RuntimeError, match="session failed"):
        failing.encode("网贷")
    assert np.array_equal(QueryBatcher(lambda t: np.stack([_vec(x) for x in t])).encode("离婚"), _vec("离婚"))
    with pytest.raises(RuntimeError):  # the batcher is free again after an error
        failing.encode("离婚")


@pytest.mark.slow
def test_int8_embedder_batches_overlapping_questions_when_asked(embedder):
    """LAWFAQ_QUERY_BATCH's path: concurrent questions share runs, vectors stay close to their own."""
    if not hasattr(embedder, "set_query_batch"):
        pytest.skip("LAWFAQ_ENCODER=fp32")
    questions = ["网贷逾期会有人上门吗", "被公司辞退能拿多少补偿", "离婚冷静期多久", "交通事故对方全责怎么赔"] * 3
    alone = {q: embedder.encode_queries([q])[0] for q in questions}
    previous = embedder.query_batch
    embedder.set_query_batch(4)
    try:
        got: dict[int, np.ndarray] = {}
        gate = threading.Barrier(4)

        def worker(i: int) -> None:
            gate.wait()
            for j in range(i, len(questions), 4):
                got[j] = embedder.encode_queries([questions[j]])[0]

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(got) == len(questions) and embedder.query_batch == 4
        assert min(float(got[j] @ alone[q]) for j, q in enumerate(questions)) > 0.99
    finally:
        embedder.set_query_batch(previous)
    assert np.array_equal(embedder.encode_queries([questions[0]])[0], alone[questions[0]])
