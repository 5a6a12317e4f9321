"""bench/busy.py on a stand-in searcher (no model): the figures it reports, the spinner, torch's threads restored."""
from __future__ import annotations

import contextlib
import os
import time

from bench import busy, report


class SleepySearcher:
    """Answers after 2 ms without holding the GIL, so callers in parallel really are faster."""

    def __init__(self):
        self.calls = 0

    def search(self, q: str, k: int = 5, mode: str = "hybrid"):
        self.calls += 1
        time.sleep(0.002)


def test_busy_section_measures_restores_threads_and_kills_its_spinner(monkeypatch):
    import torch

    pids: list[int] = []
    real_spinner = busy.spinner

    @contextlib.contextmanager
    def recording_spinner():
        with real_spinner() as proc:
            pids.append(proc.pid)
            yield proc

    monkeypatch.setattr(busy, "spinner", recording_spinner)
    before = torch.get_num_threads()
    questions = [f"问题{i}" for i in range(20)]
    searcher = SleepySearcher()
    out = busy.measure(searcher, questions, questions[:2], lambda msg: None, rounds=2, busy_questions=10)

    assert torch.get_num_threads() == before
    assert pids and not os.path.exists(f"/proc/{pids[0]}")  # killed and reaped
    assert [r["torch_threads"] for r in out["runs"]] == list(busy.TORCH_THREADS)
    for run in out["runs"]:
        b = run["busy_machine"]
        assert b["idle"]["n"] == b["busy"]["n"] > 0 and b["p50_ratio"] > 0
        callers = {c["callers"]: c for c in run["callers"]}
        assert set(callers) == set(busy.CALLERS) and all(c["errors"] == 0 for c in callers.values())
        assert callers[4]["vs_one_caller"] > 1.5  # sleeping callers overlap: the harness measures concurrency
    md = "\n".join(report._busy(out))
    assert "## A busy machine and callers sharing one Searcher" in md and "4 callers" in md
