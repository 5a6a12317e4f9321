"""index.search.slots.FairSlots: a bound on concurrent holders, handed over in arrival order."""
from __future__ import annotations

import threading
import time

import pytest

from index.search.slots import FairSlots


def test_waiters_get_the_slot_in_the_order_they_asked():
    slots = FairSlots(1)
    slots.acquire()
    order: list[int] = []
    threads = []
    for i in range(5):
        t = threading.Thread(target=lambda i=i: (slots.acquire(), order.append(i), slots.release()))
        t.start()
        threads.append(t)
        while len(slots._waiting) < i + 1:  # each one queued before the next starts
            time.sleep(0.001)
    slots.release()
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3, 4]


def test_never_more_holders_than_slots_and_a_greedy_thread_cannot_starve_others():
    slots = FairSlots(2)
    inside, peak, done = [0], [0], {i: 0 for i in range(6)}
    lock = threading.Lock()

    def worker(i: int) -> None:
        for _ in range(50):
            with slots:
                with lock:
                    inside[0] += 1
                    peak[0] = max(peak[0], inside[0])
                time.sleep(0.0005)
                with lock:
                    inside[0] -= 1
                done[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert peak[0] == 2 and all(n == 50 for n in done.values())


def test_bad_counts_and_extra_releases_are_errors():
    with pytest.raises(ValueError):
        FairSlots(0)
    slots = FairSlots(1)
    with pytest.raises(RuntimeError):
        slots.release()
