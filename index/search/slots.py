"""At most n searches at once, served in arrival order.

Why not `threading.BoundedSemaphore`: a thread that releases it can take it
again before the waiter it woke gets scheduled, so under load some callers
wait for many searches in a row (with more callers than slots, a p95 far
above the p50; measured: docs/decisions/serving-concurrency-screens.md). Here a release hands the slot straight to
the oldest waiter, so nobody waits longer than the searches queued before it.
"""
from __future__ import annotations

import threading
from collections import deque


class FairSlots:
    """A counting semaphore with first-come, first-served hand-over; use as a context manager."""

    def __init__(self, slots: int):
        if slots < 1:
            raise ValueError(f"slots must be at least 1, not {slots}")
        self.slots = slots
        self._free = slots
        self._lock = threading.Lock()
        self._waiting: deque[threading.Event] = deque()

    def acquire(self) -> None:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait()  # set by release(): the slot is already ours

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                if self._free >= self.slots:
                    raise RuntimeError("released more often than acquired")
                self._free += 1

    def __enter__(self) -> FairSlots:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
