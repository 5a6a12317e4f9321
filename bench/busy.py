"""A busy machine and many callers: what the serving thread setting buys.

Two measurements on one shared Searcher over the shipped index, hybrid, k=5:

1. **Another process holds a core.** A `python -c "while True: pass"` child
   spins on one core; the same questions are asked with the spinner stopped
   (SIGSTOP: idle) and running (SIGCONT: busy), alternating in short blocks so
   that a change in the rest of the machine's load hits both alike. Reported
   per torch thread count: p50/p95 idle and busy and the busy/idle p50 ratio
   (the target for the serving setting: at most 2x).
2. **Callers sharing one Searcher.** All questions split across 1, 2 and 4
   threads calling `Searcher.search` at once (no lock around a search), for
   torch threads 1 and 2; the order of the concurrency levels rotates per
   round and the median throughput over the rounds is reported, with the
   ratio to one caller (target: 4 callers >= 1.5x one).

The bench owns its process, so it sets torch's threads itself
(`index.encoders.model.configure_threads`) and restores the previous count at the end.
"""
from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

from bench.stats import rounded, summary

SPIN = "while True: pass"
TORCH_THREADS = (1, 2)
CALLERS = (1, 2, 4, 8)
BLOCK = 5  # questions per idle/busy block
SETTLE_S = 0.05  # after stopping/continuing the spinner, before the next block


@contextlib.contextmanager
def spinner() -> Iterator[subprocess.Popen]:
    """A child process spinning on one core, started stopped; always killed on exit."""
    proc = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        proc.send_signal(signal.SIGSTOP)
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used, from /proc; None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed(search: Callable[[str], object], question: str) -> float:
    t = time.perf_counter()
    search(question)
    return (time.perf_counter() - t) * 1000


def busy_vs_idle(search: Callable[[str], object], questions: list[str], proc: subprocess.Popen) -> dict:
    """Wall ms per question with the spinner stopped and running, in alternating blocks."""
    idle: list[float] = []
    busy: list[float] = []
    for start in range(0, len(questions), BLOCK):
        block = questions[start : start + BLOCK]
        order = (False, True) if (start // BLOCK) % 2 == 0 else (True, False)
        for spinning in order:
            proc.send_signal(signal.SIGCONT if spinning else signal.SIGSTOP)
            time.sleep(SETTLE_S)
            (busy if spinning else idle).extend(_timed(search, q) for q in block)
    proc.send_signal(signal.SIGSTOP)
    ratio = summary(busy)["p50"] / summary(idle)["p50"]
    return {"idle": summary(idle), "busy": summary(busy), "p50_ratio": ratio,
            "idle_samples_ms": rounded(idle, 2), "busy_samples_ms": rounded(busy, 2)}


def throughput(search: Callable[[str], object], questions: list[str], callers: int) -> dict:
    """All `questions` split across `callers` threads started together: searches per second."""
    errors: list[str] = []
    walls: list[float] = []
    gate = threading.Barrier(callers + 1)

    def worker(mine: list[str]) -> None:
        gate.wait()
        for q in mine:
            try:
                walls.append(_timed(search, q))
            except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=worker, args=(questions[i::callers],)) for i in range(callers)]
    for t in threads:
        t.start()
    gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {"callers": callers, "seconds": seconds, "per_s": len(questions) / seconds, "errors": len(errors),
            "walls": walls}


def callers_table(search: Callable[[str], object], questions: list[str], rounds: int) -> list[dict]:
    """Median throughput per concurrency over `rounds` rounds (the order rotating per round)."""
    return callers_compare(search, questions, rounds, {"": lambda: None})[""]


def callers_compare(search: Callable[[str], object], questions: list[str], rounds: int,
                    setups: dict[str, Callable[[], None]]) -> dict[str, list[dict]]:
    """`callers_table` for several encoder setups, interleaved: every round runs each setup (order
    alternating), so a change in the machine's load hits them alike."""
    per: dict[str, dict[int, list[dict]]] = {name: {n: [] for n in CALLERS} for name in setups}
    names = list(setups)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            setups[name]()
            for i in range(len(CALLERS)):
                n = CALLERS[(r + i) % len(CALLERS)]
                per[name][n].append(throughput(search, questions, n))
    return {name: _caller_rows(per[name]) for name in names}


def _caller_rows(per: dict[int, list[dict]]) -> list[dict]:
    one = statistics.median(x["per_s"] for x in per[1])
    rows = []
    for n in CALLERS:
        median = statistics.median(x["per_s"] for x in per[n])
        walls = summary([w for x in per[n] for w in x["walls"]])  # every search of every round
        rows.append({"callers": n, "per_s_median": median, "vs_one_caller": median / one,
                     "per_s_rounds": rounded([x["per_s"] for x in per[n]], 2),
                     "p50_ms": walls["p50"], "p95_ms": walls["p95"],
                     "errors": sum(x["errors"] for x in per[n])})
    return rows


def measure(searcher, questions: list[str], warmup: list[str], log, *, rounds: int = 3,
            busy_questions: int = 60) -> dict:
    """Both measurements for each torch thread count; torch's threads restored afterwards."""
    from bench.load import LoadMeter
    from index.encoders.model import configure_threads

    def search(q: str):
        return searcher.search(q, k=5, mode="hybrid")

    embedder = getattr(searcher, "embedder", None)

    def use_threads(n: int) -> None:
        configure_threads(n)  # torch (fp32 encoder)
        if embedder is not None:  # the int8 encoder's own session
            embedder.set_query_threads(n)

    setups = {"": lambda: None}
    previous = configure_threads(TORCH_THREADS[0])
    out: dict = {"questions": len(questions), "busy_questions": busy_questions, "k": 5, "mode": "hybrid",
                 "spinner": f'python -c "{SPIN}"', "block": BLOCK, "rounds": rounds, "runs": []}
    try:
        with spinner() as proc:
            for threads in TORCH_THREADS:
                use_threads(threads)
                for q in warmup:
                    search(q)
                spun = cpu_seconds(proc.pid)
                with LoadMeter() as meter:
                    # 2 threads on a busy machine can take ~1 s a question: fewer of them there
                    n_busy = busy_questions if threads == 1 else max(BLOCK * 2, busy_questions // 3)
                    busy = busy_vs_idle(search, questions[:n_busy], proc)
                busy["spinner_cores"] = _share(spun, cpu_seconds(proc.pid), meter.result["seconds"])
                log(f"busy: torch threads {threads}: hybrid p50 idle {busy['idle']['p50']:.1f} ms, busy "
                    f"{busy['busy']['p50']:.1f} ms ({busy['p50_ratio']:.2f}x)")
                with LoadMeter() as meter2:
                    tables = callers_compare(search, questions, rounds, setups)
                for name, table in tables.items():
                    log(f"busy: torch threads {threads}{name}: " + ", ".join(
                        f"{r['callers']} caller(s) {r['per_s_median']:.1f}/s ({r['vs_one_caller']:.2f}x, "
                        f"p95 {r['p95_ms']:.1f} ms)" for r in table))
                out["runs"].append({"torch_threads": threads, "busy_machine": busy, "callers": tables[""],
                                    "load": {"busy_machine": meter.result, "callers": meter2.result}})
    finally:
        use_threads(previous)
    out["encoder"] = getattr(embedder, "name", None)
    return out


def _share(before: float | None, after: float | None, seconds: float) -> float | None:
    """Cores a process used on average between two `cpu_seconds` readings."""
    if before is None or after is None or seconds <= 0:
        return None
    return round((after - before) / seconds, 2)
