"""The search page under concurrent visitors: a real `streamlit run app.py`, driven by headless Chromium.

Each client is its own browser context (its own Streamlit session and
websocket) in one headless Chromium (/usr/bin/chromium, through
Playwright); all clients type their share of the same questions at once,
each waiting for its answer before the next, as a person would. A search is
timed from pressing Enter to its result cards being in the page (what the
visitor waits for: the script run, the search, the rendering, the
websocket). Reported per level (1, 2, 4, 8 clients): searches per second,
the ratio to one client, and p50/p95/p99 of the wait.

The browser runs on the same 2 cores as the server, so its own CPU (shown
beside the server's) is part of what every figure pays; the API and
`Searcher` thread figures (bench/api.py, bench/busy.py) do not pay it.
Full runs only (~2 min): the quick bench and the test suite skip it.
"""
from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.busy import cpu_seconds
from bench.stats import summary
from tests.servers import free_port, running

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CLIENTS = (1, 2, 4, 8)
SEARCH_BOX = '[data-testid="stTextInput"] input'
TIMEOUT_MS = 60_000


def available() -> str | None:
    """Why the section cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"page: {CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "page: playwright is not installed (requirements-dev.txt)"
    return None


def _results(query: str) -> str:
    quoted = query.replace("\\", "\\\\").replace('"', '\\"')
    return f'.lf-results[data-query="{quoted}"]'


async def _client(browser, url: str, mine: list[str], warmup: list[str], start: asyncio.Event,
                  ready: list[int], walls: list[float], errors: list[str]) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        page = await context.new_page()
        await page.goto(url)
        box = page.locator(SEARCH_BOX)
        await box.wait_for(timeout=TIMEOUT_MS)
        for q in warmup:  # this session's first searches are not timed
            await _search(page, box, q)
        ready.append(1)
        await start.wait()
        for q in mine:
            try:
                walls.append(await _search(page, box, q))
            except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
                errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    finally:
        await context.close()


async def _search(page, box, query: str) -> float:
    await box.fill(query)
    t = time.perf_counter()
    await box.press("Enter")
    await page.wait_for_selector(_results(query), timeout=TIMEOUT_MS, state="attached")
    return (time.perf_counter() - t) * 1000


async def _level(browser, url: str, questions: list[str], warmup: list[str], n: int, server_pid: int) -> dict:
    walls: list[float] = []
    errors: list[str] = []
    start = asyncio.Event()
    ready: list[int] = []
    tasks = [asyncio.create_task(_client(browser, url, questions[i::n], warmup, start, ready, walls, errors))
             for i in range(n)]
    # every client has opened the page and warmed up before the clock starts (a failed one ends the wait)
    while len(ready) < n and not any(t.done() for t in tasks):
        await asyncio.sleep(0.05)
    cpu0, t0 = cpu_seconds(server_pid), time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - t0
    cpu1 = cpu_seconds(server_pid)
    return {"clients": n, "searches": len(walls), "errors": len(errors), "error_examples": errors[:3],
            "seconds": seconds, "per_s": len(walls) / seconds if seconds else None, "wall": summary(walls),
            "server_cores": None if cpu0 is None or cpu1 is None else (cpu1 - cpu0) / seconds}


async def _measure(url: str, questions: list[str], warmup: list[str], server_pid: int, log) -> list[dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            runs = []
            for n in CLIENTS:
                runs.append(await _level(browser, url, questions, warmup, n, server_pid))
                r = runs[-1]
                log(f"page: {n} client(s): {r['per_s']:.1f} searches/s, p50 {r['wall']['p50']:.0f} ms, "
                    f"p95 {r['wall']['p95']:.0f} ms, {r['errors']} errors")
            return runs
        finally:
            await browser.close()


def measure(index: Path, questions: list[str], warmup: list[str], log) -> dict:
    """Start the page on 127.0.0.1 over `index`, measure every level, stop it."""
    from bench.load import LoadMeter

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAWFAQ_") or k == "LAWFAQ_CACHE"}
    env.update(LAWFAQ_INDEX=str(index), LAWFAQ_QUERY_LOG="off")
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with tempfile.TemporaryDirectory() as tmp, running(cmd, env, Path(tmp) / "page.log",
                                                       url + "_stcore/health", 180) as proc:
        with LoadMeter() as meter:
            runs = asyncio.run(_measure(url, questions, warmup[:2], proc.pid, log))
    one = runs[0]["per_s"]
    for r in runs:
        r["vs_one_client"] = r["per_s"] / one if one and r["per_s"] else None
    return {"questions": len(questions), "index": index.name, "runs": runs, "load": meter.result,
            "browser": CHROMIUM}


def render(p: dict) -> list[str]:
    """The results.md section."""
    from bench.tables import fmt as _f
    from bench.tables import table as _table

    rows = [[str(r["clients"]), _f(r["per_s"]), _f(r.get("vs_one_client"), 2, "×"), _f(r["wall"]["p50"]),
             _f(r["wall"]["p95"]), _f(r["wall"]["p99"]), _f(r.get("server_cores"), 2), str(r["errors"])]
            for r in p["runs"]]
    return [
        "## The search page under concurrent visitors", "",
        f"`streamlit run app.py` on 127.0.0.1 over the shipped index, driven by headless Chromium "
        f"({p['browser']}, Playwright): each client is its own browser session typing its share of "
        f"{p['questions']} questions, one after the other; a search is timed from Enter until its result cards "
        "are in the page. Throughput against one client in the same run; the browser shares the 2 cores "
        f"(other processes, the browser included: {_f(p['load'].get('other_processes_cores'), 2)} cores).", "",
        _table(["clients", "searches/s", "vs 1 client", "p50 ms", "p95 ms", "p99 ms", "server cores", "errors"],
               rows), "",
    ]
