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
