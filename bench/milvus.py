"""FAISS vs Milvus backend, side by side: Recall@10 / MRR@10 and search latency on the same index.

For each corpus the FAISS index the bench already measures is mirrored into a
Milvus-backed index (milvus-lite file beside it, vectors from the same
embedding cache, so nothing is re-embedded), then both Searchers answer the
same questions, interleaved: quality is scored by `index.search.evaluate` (the page's
order), latency is hybrid `search(k=5)` wall time. It also records what the
sizing table in docs/milvus.md is worked out from: the Milvus data's bytes on
disk and the serving process's RSS growth per passage.

    python -m bench.milvus            # shipped corpus (+ STARD train when ../shared/data/stard exists)
    python -m bench.milvus --no-stard
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from bench import ROOT, SHIPPED_CORPUS

MILVUS_DIR = ROOT / "var" / "bench" / "milvus"


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def mirror(faiss_index: Path, sources: list[str], out: Path) -> dict:
    """Build/update a Milvus-backed copy of `faiss_index` (same sources, same embedding cache)."""
    from index.build.pipeline import BuildOptions, build_index

    out.mkdir(parents=True, exist_ok=True)
    cache = Path(faiss_index) / "embeddings.sqlite"
    if cache.exists() and not (out / "embeddings.sqlite").exists():
        shutil.copy(cache, out / "embeddings.sqlite")
    report = build_index(sources, out, BuildOptions(progress=False, backend="milvus"))
    if report.exit_code != 0:
        raise RuntimeError(f"Milvus build of {out} failed: {report.message}")
    return {k: report.to_dict()[k] for k in ("status", "passages_total", "passages_embedded", "seconds")}


def _latency(searchers: dict, questions: list[str], warmup: list[str]) -> dict:
    from bench.stats import pct

    for q in warmup:
        for s in searchers.values():
            s.search(q, k=5)
    times: dict[str, list[float]] = {name: [] for name in searchers}
    for q in questions:  # interleaved: both backends see the same machine load
        for name, s in searchers.items():
            t = time.perf_counter()
            s.search(q, k=5)
            times[name].append((time.perf_counter() - t) * 1000)
    return {name: {"p50": pct(v, 50), "p95": pct(v, 95), "n": len(v)} for name, v in times.items()}


def compare(name: str, faiss_index: Path, sources: list[str], queries: Path, qrels: Path, log=print,
            limit: int | None = None, latency_questions: int = 200) -> dict:
    """Quality and latency of both backends on one corpus; the Milvus copy lives in var/bench/milvus/."""
    from index.backends import milvus_conn
    from index.search.evaluate import evaluate, load_eval_set
    from index.search.searcher import Searcher

    target = MILVUS_DIR / name.replace(" ", "_")
    t = time.perf_counter()
    build = mirror(faiss_index, sources, target)
    log(f"milvus: {name}: Milvus copy {build['status']} in {time.perf_counter() - t:.0f}s "
        f"({build['passages_total']} passages, {build['passages_embedded']} embedded)")
    eval_set = load_eval_set(queries, qrels)
    if limit:
        eval_set.queries = dict(list(eval_set.queries.items())[:limit])
    faiss_s = Searcher.open(faiss_index)
    rss0 = _rss_mib()
    milvus_s = Searcher.open(target)
    rss_milvus = _rss_mib() - rss0
    out = {"passages": build["passages_total"], "questions": len(eval_set.queries), "build": build, "modes": {}}
    for backend, s in (("faiss", faiss_s), ("milvus", milvus_s)):
        res = evaluate(s, eval_set, modes=("hybrid",), k=100)["hybrid"]
        out["modes"][backend] = {k: round(res[k], 4) for k in ("recall@5", "recall@10", "mrr@10")}
        log(f"milvus: {name}: {backend} hybrid {out['modes'][backend]}")
    qs = list(eval_set.queries.values())
    out["latency_ms"] = _latency({"faiss": faiss_s, "milvus": milvus_s}, qs[:latency_questions], qs[-10:])
    out["milvus_disk_bytes"] = sum(p.stat().st_size for p in (target / "milvus.db").rglob("*") if p.is_file())
    out["milvus_rss_mib_on_open"] = round(rss_milvus, 1)
    out["disk_bytes_per_passage"] = round(out["milvus_disk_bytes"] / max(1, out["passages"]), 1)
    log(f"milvus: {name}: latency {out['latency_ms']}; Milvus data {out['milvus_disk_bytes'] / 2**20:.1f} MiB on "
        f"disk ({out['disk_bytes_per_passage']:.0f} B/passage), +{rss_milvus:.0f} MiB RSS to open")
    milvus_conn.disconnect(str((target / "milvus.db").resolve()))
    return out


def measure(shipped_index: Path, stard=None, stard_index: Path | None = None, log=print) -> dict:
    """The bench section: the shipped corpus always, STARD train when its index was built."""
    from bench.data import shipped_eval_files

    results = {}
    files = shipped_eval_files()
    if files:
        results["shipped corpus"] = compare("shipped corpus", shipped_index, [str(SHIPPED_CORPUS)], *files, log=log)
    if stard is not None and stard_index is not None:
        results["STARD statutes"] = compare("STARD statutes", stard_index, [str(stard.corpus)], stard.queries,
                                            stard.qrels, log=log)
    for name, r in results.items():
        f, m = r["modes"]["faiss"].get("recall@10"), r["modes"]["milvus"].get("recall@10")
        if f is not None and m is not None:
            r["recall@10_gap"] = round(m - f, 4)
            log(f"milvus: {name}: Recall@10 FAISS {f:.3f} vs Milvus {m:.3f} (gap {m - f:+.4f}, target within 0.01)")
    return results


def main(argv: list[str] | None = None) -> int:
    from bench import data, indexes

    ap = argparse.ArgumentParser(prog="python -m bench.milvus", description=__doc__.splitlines()[0])
    ap.add_argument("--no-stard", action="store_true", help="shipped corpus only")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "milvus.json"), help="results JSON")
    args = ap.parse_args(argv)
    shipped, _ = indexes.ensure_shipped()
    stard, stard_idx = (None, None) if args.no_stard else (data.find_stard()[0], None)
    if stard is not None:
        stard_idx, _ = indexes.ensure_stard(stard.corpus)
    results = measure(shipped, stard, stard_idx, log=lambda m: print(m, file=sys.stderr, flush=True))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
