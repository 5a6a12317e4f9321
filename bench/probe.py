"""Subprocess entry points for the memory figures (each prints one JSON line).

    python -m bench.probe children -- CMD ARGS...   run CMD, report the child's peak RSS
    python -m bench.probe serve --index DIR --questions FILE [--n 100]
    python -m bench.probe model --questions FILE [--n 100]   (baseline: model only, no index)

A fresh process per figure: ru_maxrss is a high-water mark, so it can only
be read cleanly in a process that did nothing else. And a process started
straight from a big one is not clean: Linux carries the launching process's
high-water mark into the child's ru_maxrss across fork/vfork + exec. So
bench.memory starts `serve` and `model` through `children` (a small Python
process), and each also reports VmHWM (the high-water mark of its own
address space, which exec resets) as a cross-check.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _peak_self() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _vmhwm() -> int | None:
    """Peak resident bytes of this address space (/proc/self/status VmHWM)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _questions(path: str, n: int) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        qs = [q for q in json.load(fh) if q.strip()]
    return [qs[i % len(qs)] for i in range(n)] if qs else []


def cmd_children(cmd: list[str]) -> dict:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return {
        "returncode": proc.returncode,
        "seconds": time.perf_counter() - t,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
        "stdout_tail": proc.stdout[-2000:],
        "stderr_tail": proc.stderr[-2000:] if proc.returncode else "",
    }


def cmd_serve(index: str, questions: list[str], mode: str) -> dict:
    from bench.rss import current_rss
    from index.search.searcher import Searcher

    t = time.perf_counter()
    s = Searcher.open(index)
    s.embedder.encode_queries(["预热"])  # load the model now, as a serving process does before its first query
    open_s = time.perf_counter() - t
    rss_open = current_rss()
    t = time.perf_counter()
    for q in questions:
        s.search(q, k=5, mode=mode)
    return {
        "passages": int(s.manifest["counts"]["passages"]), "queries": len(questions), "mode": mode,
        "open_seconds": open_s, "query_seconds": time.perf_counter() - t,
        "rss_after_open_bytes": rss_open, "rss_end_bytes": current_rss(), "peak_rss_bytes": _peak_self(),
        "vmhwm_bytes": _vmhwm(),
    }


def cmd_model(questions: list[str]) -> dict:
    from bench.rss import current_rss
    from index.encoders.factory import default_embedder

    emb = default_embedder()
    for q in questions:
        emb.encode_queries([q])
    return {"queries": len(questions), "rss_end_bytes": current_rss(), "peak_rss_bytes": _peak_self(),
            "vmhwm_bytes": _vmhwm()}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "children":
        cmd = argv[1:]
        if cmd and cmd[0] == "--":
            cmd = cmd[1:]
        print(json.dumps(cmd_children(cmd)))
        return 0
    p = argparse.ArgumentParser(prog="python -m bench.probe")
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--index", required=True)
    s.add_argument("--questions", required=True, help="JSON list of questions")
    s.add_argument("--n", type=int, default=100)
    s.add_argument("--mode", default="hybrid")
    m = sub.add_parser("model")
    m.add_argument("--questions", required=True)
    m.add_argument("--n", type=int, default=100)
    args = p.parse_args(argv)
    qs = _questions(args.questions, args.n)
    out = cmd_serve(args.index, qs, args.mode) if args.what == "serve" else cmd_model(qs)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
