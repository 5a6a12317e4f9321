"""`python -m bench.run [--quick|--full] [--out DIR]`: run the benchmarks, write results.

Quick (~2 min, the CI check): shipped corpus only, 100 questions, 64
passages, 20k vectors. Full (~30+ min): adds the 55k-article STARD index and
its questions, 600 questions, 256 passages, 100k and 1M vectors, and the
real-vector HNSW check. Writes results.json, results.md, latency.png and
recall_at_k.png to --out (default: bench/out for quick, docs/bench for full).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import ROOT

SECTIONS = ("latency", "embedding", "scale", "memory", "quality")


@dataclass
class Plan:
    mode: str
    questions: int
    warmup: int
    embed_passages: int
    scale_sizes: tuple[int, ...]
    scale_queries: int
    serve_queries: int
    use_stard_index: bool
    cold_build: bool

    @classmethod
    def for_mode(cls, mode: str) -> Plan:
        if mode == "full":
            return cls("full", 600, 20, 256, (100_000, 1_000_000), 200, 100, True, True)
        if mode == "quick":
            return cls("quick", 100, 20, 64, (20_000,), 200, 100, False, False)
        raise ValueError(f"mode must be quick or full, not {mode!r}")


class _Log:
    def __init__(self, sink=None):
        self.t0 = time.perf_counter()
        self.sink = sink

    def __call__(self, msg: str) -> None:
        line = f"[bench {time.perf_counter() - self.t0:7.1f}s] {msg}"
        if self.sink is not None:
            self.sink(line)
        else:
            print(line, file=sys.stderr, flush=True)


def run_bench(mode: str = "quick", out: Path | str | None = None, *, shipped_index: Path | None = None,
              stard_dir: Path | None = None, sections=SECTIONS, log=None) -> dict:
    """Run the chosen sections, write the four output files into `out`, return the results dict."""
    from bench import data, indexes, machine

    plan = Plan.for_mode(mode)
    out = Path(out) if out else (ROOT / ("docs/bench" if mode == "full" else "bench/out"))
    out.mkdir(parents=True, exist_ok=True)
    log = log or _Log()
    started = time.perf_counter()
    section_s: dict[str, float] = {}
    logging.getLogger("lawfaq.build").setLevel(logging.WARNING)

    results: dict = {
        "bench": {"mode": mode, "command": f"python -m bench.run --{mode} --out {_rel(out)}", "sections": list(sections)},
        "machine": machine.machine_info(),
        "skipped": [],
        "indexes": {},
    }
    log(f"{mode} run on {results['machine']['cpu_model']}, {results['machine']['cores_usable']} cores -> {out}")
    stard, msg = data.find_stard(stard_dir)
    if msg:
        results["skipped"].append(msg)
        log(msg)
    use_stard_index = plan.use_stard_index and stard is not None
    if plan.use_stard_index is False:
        results["skipped"].append("quick run: the 55k-article STARD index, its quality figures and the 1M-vector "
                                  "scale test run only with --full")

    # ---- indexes ------------------------------------------------------------
    t = time.perf_counter()
    from index.searcher import Searcher

    if shipped_index is not None:
        shipped_dir, shipped_build = Path(shipped_index), None
        log(f"shipped index given: {shipped_dir}")
    else:
        shipped_dir, shipped_build = indexes.ensure_shipped()
        log(f"shipped index {shipped_dir}: {shipped_build['status']} ({shipped_build['seconds']:.1f}s)")
    corpora = [("shipped corpus", shipped_dir, shipped_build)]
    if use_stard_index:
        log("STARD index: building/updating (the embedding cache makes this minutes, not hours)")
        stard_dir_idx, stard_build = indexes.ensure_stard(stard.corpus)
        log(f"STARD index {stard_dir_idx}: {stard_build['status']} ({stard_build['seconds']:.1f}s)")
        corpora.append(("STARD statutes", stard_dir_idx, stard_build))
    searchers = {}
    for name, path, build in corpora:
        s = Searcher.open(path)
        fp = indexes.version_footprint(path)
        searchers[name] = s
        results["indexes"][name] = {"path": _rel(path), "articles": fp["articles"], "passages": fp["passages"],
                                    "dense_kind": fp["dense_kind"], "version": fp["version"], "build": build}
    section_s["indexes"] = time.perf_counter() - t

    # ---- baselines (plain jieba BM25 per corpus), built once, used by latency and quality
    t = time.perf_counter()
    from bench.baseline import JiebaBM25

    baselines = {"shipped corpus": JiebaBM25(data.shipped_articles())}
    if use_stard_index and ("latency" in sections or "quality" in sections):
        baselines["STARD statutes"] = JiebaBM25(data.stard_articles(stard))
        log(f"plain jieba BM25 over {baselines['STARD statutes'].n_docs:,} STARD articles built in "
            f"{baselines['STARD statutes'].build_seconds:.0f}s")
    section_s["baselines"] = time.perf_counter() - t

    shipped_q, why = data.shipped_questions()
    stard_q = data.read_questions(stard.queries) if stard else []
    if why:
        results["skipped"].append(why)
        log(why)
    mix = data.question_mix(plan.questions, plan.warmup, shipped_q, stard_q)

    # ---- 1. latency -----------------------------------------------------------
    if "latency" in sections:
        t = time.perf_counter()
        from bench import latency

        lat = {"questions": {"n": len(mix.measured), "warmup": len(mix.warmup), "sources": mix.sources,
                             "distinct": mix.distinct, "note": mix.note, "k": 5}, "corpora": []}
        for name, _path, _ in corpora:
            log(f"latency: {name}, {len(mix.measured)} questions x 3 modes")
            modes = latency.measure_searcher(searchers[name], mix.measured, mix.warmup)
            base = latency.measure_baseline(baselines[name], mix.measured, mix.warmup) if name in baselines else None
            info = results["indexes"][name]
            lat["corpora"].append({"name": name, "index": info["path"], "passages": info["passages"],
                                   "articles": info["articles"], "questions": len(mix.measured), "modes": modes,
                                   "baseline": base})
            log("  " + ", ".join(f"{m} p50 {v['wall']['p50']:.1f}/p95 {v['wall']['p95']:.1f} ms" for m, v in modes.items())
                + (f"; baseline p50 {base['wall']['p50']:.1f} ms" if base else ""))
        results["latency"] = lat
        section_s["latency"] = time.perf_counter() - t

    # ---- 2. embedding throughput (+ the matmul baseline) ----------------------
    if "embedding" in sections:
        t = time.perf_counter()
        from bench import embedding

        results["matmul"] = machine.matmul_gflops()
        log(f"matmul baseline: {results['matmul']['gflops']:.1f} GFLOP/s")
        emb = embedding.measure(searchers["shipped corpus"].embedder, plan.embed_passages, results["matmul"])
        results["embedding"] = emb
        log(f"embedding: {emb['passages_per_s']:.1f} passages/s, {emb['mean_tokens']:.0f} tokens/passage, "
            f"{emb['achieved_gflops_useful']:.1f} GFLOP/s = {emb['roofline_fraction_useful']:.2f} of matmul")
        section_s["embedding"] = time.perf_counter() - t

    # ---- 3. scale ---------------------------------------------------------------
    if "scale" in sections:
        t = time.perf_counter()
        from bench import scale

        log(f"scale: exact vs HNSW at {', '.join(f'{n:,}' for n in plan.scale_sizes)} synthetic vectors")
        results["scale"] = {"synthetic": scale.synthetic(list(plan.scale_sizes), plan.scale_queries, log)}
        if use_stard_index:
            log("scale: exact vs HNSW on the real STARD passage vectors")
            qs = stard_q[: plan.scale_queries]
            results["scale"]["real"] = scale.real_vectors(corpora[1][1], searchers["STARD statutes"], qs, log)
        section_s["scale"] = time.perf_counter() - t

    # ---- 4. memory ---------------------------------------------------------------
    if "memory" in sections:
        t = time.perf_counter()
        from bench import memory

        serve_qs = (mix.measured + mix.warmup)[: plan.serve_queries]
        mem: dict = {}
        mem["model_only"] = memory.model_peak(serve_qs, plan.serve_queries)
        log(f"memory: model-only process peak {mem['model_only']['peak_rss_bytes'] / 2**20:.0f} MiB")
        warm = None if plan.cold_build else shipped_dir / "embeddings.sqlite"
        mem["build"] = memory.build_peak(warm)
        log(f"memory: build peak {mem['build']['peak_rss_bytes'] / 2**20:.0f} MiB ({mem['build']['cache']})")
        mem["indexes"] = []
        for name, path, _ in corpora:
            ix = memory.index_memory(name, path, serve_qs, mem["model_only"], plan.serve_queries)
            mem["indexes"].append(ix)
            log(f"memory: serving {name} peak {ix['serve']['peak_rss_bytes'] / 2**20:.0f} MiB, "
                f"{ix['disk']['bytes_per_passage']:.0f} B/passage on disk")
        results["memory"] = mem
        section_s["memory"] = time.perf_counter() - t

    # ---- 5. quality ---------------------------------------------------------------
    if "quality" in sections:
        t = time.perf_counter()
        from bench import quality
        from index.evaluate import load_eval_set

        q: dict = {"sets": [], "notes": []}
        files = data.shipped_eval_files()
        es = None
        if files:
            try:
                es = load_eval_set(*files)
            except (OSError, ValueError) as exc:
                q["notes"].append(f"shipped relevance set unreadable ({exc}): skipped")
        if es is not None and es.queries:
            q["sets"].append(quality.evaluate_set("shipped set", searchers["shipped corpus"], es,
                                                  baselines["shipped corpus"], log=log))
        elif not files:
            q["notes"].append("shipped relevance set (eval/queries.jsonl, eval/qrels.tsv) not found: skipped")
        if use_stard_index:
            es = load_eval_set(stard.queries, stard.qrels)
            q["sets"].append(quality.evaluate_set("STARD train", searchers["STARD statutes"], es,
                                                  baselines["STARD statutes"], log=log))
            q["notes"].append("STARD README, for scale: a plain jieba BM25 reaches Recall@10 ≈ 0.40 and "
                              "MRR@10 ≈ 0.33 on held-out questions of the same kind.")
        for s in q["sets"]:
            log(f"quality {s['set']}: " + ", ".join(f"{m} R@10 {v['recall@10']:.3f}" for m, v in s["modes"].items())
                + f"; baseline R@10 {s['baseline']['recall@10']:.3f}")
        results["quality"] = q
        section_s["quality"] = time.perf_counter() - t

    for s in searchers.values():
        s._version.close()
    results["bench"]["section_seconds"] = {k: round(v, 1) for k, v in section_s.items()}
    results["bench"]["seconds_total"] = round(time.perf_counter() - started, 1)
    write_outputs(results, out)
    log(f"done in {results['bench']['seconds_total'] / 60:.1f} min: {out / 'results.md'}")
    return results


def write_outputs(results: dict, out: Path) -> None:
    from bench import plots, report

    if results.get("latency"):
        plots.latency_png(results["latency"], out / "latency.png")
    if results.get("quality", {}).get("sets"):
        plots.recall_png(results["quality"], out / "recall_at_k.png")
    (out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / "results.md").write_text(report.render(results), encoding="utf-8")


def _rel(p: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="mode", action="store_const", const="quick", help="~2 min, shipped corpus only (default)")
    g.add_argument("--full", dest="mode", action="store_const", const="full", help="everything, incl. STARD and 1M vectors")
    p.add_argument("--out", type=Path, help="output folder (default bench/out for --quick, docs/bench for --full)")
    p.add_argument("--stard", type=Path, help="STARD data folder (default ../shared/data/stard beside the checkout)")
    p.add_argument("--only", help=f"comma-separated subset of: {','.join(SECTIONS)}")
    args = p.parse_args(argv)
    sections = tuple(s for s in (args.only.split(",") if args.only else SECTIONS) if s)
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        p.error(f"unknown section(s) {unknown}; choose from {SECTIONS}")
    run_bench(args.mode or "quick", args.out, stard_dir=args.stard, sections=sections)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
