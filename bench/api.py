"""The JSON API under load, and what the question log costs a search.

API: a real `python -m index.serving.server index.serving.api:create_app` (uvicorn) on
127.0.0.1 over the shipped index, run with one worker process and then with
two (`--workers 2`, what `make api` starts on a 2-core machine); 1, 2, 4 and 8 client threads each send
their share of the same questions over keep-alive HTTP connections. Reported
per concurrency: wall time per request (p50/p95/p99) and throughput, with the
one-client figure of the same server as the baseline. Within one process the
API's threads search concurrently on one shared Searcher (no lock around a
search; at most one search per core, plus one, at a time: `LAWFAQ_SEARCH_SLOTS`), but
Python's GIL serialises the non-numeric ~2 ms of every search: two processes
are how a 2-core server answers twice as many questions (bench/busy.py
measures the threads without HTTP).

Question log: the same questions through `Searcher.search` with and without
a `QueryLog.record` after each one, interleaved, and the record() call alone.
"""
from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.stats import summary
from tests.servers import free_port, running

CONCURRENCY = (1, 2, 4, 8)
WORKERS = (1, 2)


def measure_api(index: Path, questions: list[str], warmup: list[str], log, workers=WORKERS) -> dict:
    """Every concurrency level against a server of each worker count; `runs` is the one-worker server."""
    by_workers = {}
    for w in workers:
        by_workers[str(w)] = _measure_server(index, questions, warmup, log, w)
    first = by_workers[str(workers[0])]
    one = first[0]["requests_per_s"]
    for runs in by_workers.values():
        for r in runs:
            r["throughput_vs_one_worker_one_client"] = r["requests_per_s"] / one if one else None
    return {"questions": len(questions), "k": 5, "runs": first, "by_workers": by_workers}


def _measure_server(index: Path, questions: list[str], warmup: list[str], log, workers: int) -> list[dict]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAWFAQ_") or k == "LAWFAQ_CACHE"}
    env.update(LAWFAQ_INDEX=str(index), LAWFAQ_RATE_LIMIT="0", LAWFAQ_QUERY_LOG="off")
    # index.serving.server: uvicorn's CLI keeping TCP_NODELAY under --workers (uvicorn #3149: +40 ms per request)
    cmd = [sys.executable, "-m", "index.serving.server", "index.serving.api:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--workers", str(workers)]
    with tempfile.TemporaryDirectory() as tmp, running(cmd, env, Path(tmp) / "api.log", url + "/healthz", 180):
        # every worker process warms up: the kernel spreads new connections over them
        _load(url, warmup * workers, 2 * workers)
        runs = []
        for n in CONCURRENCY:
            runs.append(_load(url, questions, n))
            log(f"api: {workers} worker(s), {n} client(s): p50 {runs[-1]['wall']['p50']:.1f} ms, "
                f"p95 {runs[-1]['wall']['p95']:.1f} ms, {runs[-1]['requests_per_s']:.1f} req/s")
    base = runs[0]["requests_per_s"]
    for r in runs:
        r["throughput_vs_one_client"] = r["requests_per_s"] / base if base else None
        r["workers"] = workers
    return runs


def _load(url: str, questions: list[str], clients: int) -> dict:
    walls: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()

    def worker(mine: list[str]) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            for q in mine:
                t = time.perf_counter()
                r = client.get("/search", params={"q": q, "k": 5})
                ms = (time.perf_counter() - t) * 1000
                with lock:
                    walls.append(ms)
                    if r.status_code != 200:
                        errors.append(r.status_code)

    threads = [threading.Thread(target=worker, args=(questions[i::clients],)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {"clients": clients, "wall": summary(walls), "requests": len(walls), "errors": len(errors),
            "seconds": seconds, "requests_per_s": len(walls) / seconds}


def measure_log(searcher, questions: list[str]) -> dict:
    """Search with and without recording each question (interleaved), and record() alone."""
    from index.firm.querylog import QueryLog

    with tempfile.TemporaryDirectory() as tmp:
        qlog = QueryLog.open(Path(tmp) / "log.sqlite")
        plain: list[float] = []
        logged: list[float] = []
        record: list[float] = []
        for i, q in enumerate(questions):
            for with_log in ((True, False) if i % 2 else (False, True)):
                t = time.perf_counter()
                hits = searcher.search(q, k=5)
                if with_log:
                    t_rec = time.perf_counter()
                    qlog.record(q, "page", {}, [h.article_id for h in hits], hits.weak)
                    record.append((time.perf_counter() - t_rec) * 1000)
                (logged if with_log else plain).append((time.perf_counter() - t) * 1000)
        qlog.flush()
        written = len(qlog.questions())
        qlog.close()
    p50_plain, p50_logged = summary(plain)["p50"], summary(logged)["p50"]
    return {"searches": len(questions), "plain": summary(plain), "logged": summary(logged),
            "record_call": summary(record), "p50_difference_ms": p50_logged - p50_plain, "rows_written": written}
