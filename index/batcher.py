"""Encode questions that arrive together in one batch (an option of the int8 encoder).

Why: on this CPU one int8 session run costs ~4.4 ms for one question but
~3.5 ms per question for two and ~3.2 for four (bench), so callers that
would each run the encoder alone can share a run. No extra thread: the
first caller to find the encoder idle runs a batch of everything queued
(its own question first); callers arriving meanwhile wait, and when a batch
ends the oldest waiter is handed the next one. A caller therefore never
waits for more than the batch in progress plus its own.

Batched vectors are not bit-identical to one-at-a-time ones: the padding
changes the shapes of the float reductions (cosine to the unbatched vector
~1 - 1e-7, measured), so the ranking of an exact tie may differ.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np


class _Slot:
    __slots__ = ("text", "done", "vector", "error", "lead")

    def __init__(self, text: str):
        self.text = text
        self.done = threading.Event()
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None
        self.lead = False


class QueryBatcher:
    """`encode(text)` -> one vector, running `encode_batch` over whatever questions are waiting."""

    def __init__(self, encode_batch: Callable[[list[str]], np.ndarray], max_batch: int = 8):
        self._encode_batch = encode_batch
        self.max_batch = max(1, max_batch)
        self._lock = threading.Lock()
        self._queue: list[_Slot] = []
        self._busy = False
        self.batches = 0  # runs so far, and questions in them: the mean batch size, for the bench
        self.questions = 0

    def encode(self, text: str) -> np.ndarray:
        slot = _Slot(text)
        with self._lock:
            self._queue.append(slot)
            slot.lead = not self._busy
            self._busy = True
        if not slot.lead:
            slot.done.wait()
        if slot.lead:  # the encoder was idle, or the previous batch handed this one over
            self._run()
        if slot.error is not None:
            raise slot.error
        assert slot.vector is not None
        return slot.vector

    def _run(self) -> None:
        """Encode the next batch (the leader's question is first in it), then pass the lead on."""
        with self._lock:
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
        try:
            vectors = self._encode_batch([s.text for s in batch])
            for s, v in zip(batch, vectors, strict=True):
                s.vector = v
        except BaseException as exc:  # noqa: BLE001 - every caller of the batch gets the error
            for s in batch:
                s.error = exc
        self.batches += 1
        self.questions += len(batch)
        with self._lock:
            nxt = self._queue[0] if self._queue else None
            if nxt is None:
                self._busy = False
            else:
                nxt.lead = True
        for s in batch:
            if not s.lead:
                s.done.set()
        if nxt is not None:
            nxt.done.set()
