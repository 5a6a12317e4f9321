"""`python -m bench.run [--quick|--full] [--out DIR]`: run the benchmarks, write results.

Quick (~2-3 min, the CI check): shipped corpus only, 100 questions, 64
passages, 20k vectors. Full (~40+ min on 2 cores): adds the 55k-article
STARD index and its questions, 600 questions, 256 passages, 100k and 1M
vectors, the real-vector HNSW check, the search page under 1-8 concurrent
visitors (real Streamlit + headless Chromium, bench/page.py), and the nightly job on STARD (a cold
full build of its own copy, ~35 min more; `--only nightly` runs it alone). Writes results.json, results.md,
latency.png and recall_at_k.png to --out (default: bench/out for --quick,
docs/bench for --full).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import ROOT

SECTIONS = ("latency", "api", "busy", "page", "embedding", "scale", "memory", "quality", "int8_quality", "training",
            "milvus", "nightly")


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
    busy_queries: int = 60  # questions per concurrency level and per idle/busy half (bench.busy)
    busy_rounds: int = 3

    @classmethod
    def for_mode(cls, mode: str) -> Plan:
        if mode == "full":
            return cls("full", 600, 20, 256, (100_000, 1_000_000), 200, 100, True, True, 100, 5)
        if mode == "quick":
            return cls("quick", 100, 20, 64, (20_000,), 200, 100, False, False, 40, 3)
        raise ValueError(f"mode must be quick or full, not {mode!r}")


class _Log:
    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self, msg: str) -> None:
        print(f"[bench {time.perf_counter() - self.t0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def run_bench(mode: str = "quick", out: Path | str | None = None, *, shipped_index: Path | None = None,
              stard_dir: Path | None = None, sections=SECTIONS, log=None) -> dict:
    """Run the chosen sections, write the output files into `out`, return the results dict.

    `shipped_index`: an already built index of corpus/ to measure (the test
    suite passes its session fixture); by default var/bench/shipped is built
    or updated.
    """
    from bench import data, indexes, machine
    from bench.load import LoadMeter

    plan = Plan.for_mode(mode)
    out = Path(out) if out else (ROOT / ("docs/bench" if mode == "full" else "bench/out"))
    out.mkdir(parents=True, exist_ok=True)
    log = log or _Log()
    started = time.perf_counter()
    logging.getLogger("index.build").setLevel(logging.WARNING)
    results: dict = {
        "bench": {"mode": mode, "command": f"python -m bench.run --{mode} --out {_rel(out)}",
                  "sections": list(sections), "plan": asdict(plan), "section_seconds": {}, "load": {}},
        "machine": machine.machine_info(),
        "skipped": [],
        "indexes": {},
    }

    @contextlib.contextmanager
    def section(name: str):
        with LoadMeter() as meter:
            yield
        results["bench"]["section_seconds"][name] = round(meter.result["seconds"], 1)
        results["bench"]["load"][name] = meter.result
        if (meter.result["other_processes_cores"] or 0) > 0.25:
            log(f"note: other processes used {meter.result['other_processes_cores']:.2f} cores during {name}")

    log(f"{mode} run on {results['machine']['cpu_model']}, {results['machine']['cores_usable']} cores -> {out}")
    stard, msg = data.find_stard(stard_dir)
    if msg:
        results["skipped"].append(msg)
        log(msg)
    use_stard_index = plan.use_stard_index and stard is not None
    if not plan.use_stard_index:
        results["skipped"].append("quick run: the 55k-article STARD index, the STARD quality figures, 100k/1M "
                                  "vectors and the real-vector check run only with --full")

    # ---- indexes ------------------------------------------------------------
    from index.searcher import Searcher

    with section("indexes"):
        if shipped_index is not None:
            shipped_dir, shipped_build = Path(shipped_index), None
            log(f"shipped index given: {shipped_dir}")
        else:
            shipped_dir, shipped_build = indexes.ensure_shipped()
            log(f"shipped index {_rel(shipped_dir)}: {shipped_build['status']} ({shipped_build['seconds']:.1f}s)")
        corpora = [("shipped corpus", shipped_dir, shipped_build)]
        if use_stard_index and set(sections) - {"nightly"}:  # the nightly section builds its own copy
            log("STARD index: building/updating (every passage should come from the embedding cache)")
            stard_idx, stard_build = indexes.ensure_stard(stard.corpus)
            log(f"STARD index {_rel(stard_idx)}: {stard_build['status']} ({stard_build['seconds']:.1f}s, "
                f"{stard_build['passages_embedded']} passages embedded)")
            corpora.append(("STARD statutes", stard_idx, stard_build))
        searchers = {}
        for name, path, build in corpora:
            searchers[name] = Searcher.open(path)
            fp = indexes.version_footprint(path)
            results["indexes"][name] = {"path": _rel(path), "articles": fp["articles"], "passages": fp["passages"],
                                        "dense_kind": fp["dense_kind"], "version": fp["version"], "build": build}

    # ---- the plain jieba BM25 baseline per corpus (latency and quality) -------
    from bench.baseline import JiebaBM25

    with section("baselines"):
        baselines = {"shipped corpus": JiebaBM25(data.shipped_articles())}
        if use_stard_index and ("latency" in sections or "quality" in sections):
            baselines["STARD statutes"] = JiebaBM25(data.stard_articles(stard))
            log(f"plain jieba BM25 over {baselines['STARD statutes'].n_docs:,} STARD articles built in "
                f"{baselines['STARD statutes'].build_seconds:.0f}s")
        results["baselines"] = {name: {"description": b.description, "docs": b.n_docs,
                                       "build_seconds": b.build_seconds} for name, b in baselines.items()}

    shipped_q, why = data.shipped_questions()
    stard_q = data.read_questions(stard.queries) if stard else []
    if why:
        results["skipped"].append(why)
        log(why)
    mix = data.question_mix(plan.questions, plan.warmup, shipped_q, stard_q)

    # ---- 1. latency -----------------------------------------------------------
    if "latency" in sections:
        from bench import latency

        with section("latency"):
            lat = {"questions": {"n": len(mix.measured), "warmup": len(mix.warmup), "sources": mix.sources,
                                 "distinct": mix.distinct, "note": mix.note, "k": 5}, "corpora": []}
            for name, _path, _ in corpora:
                log(f"latency: {name}, {len(mix.measured)} questions x (3 modes + baseline), interleaved")
                m = latency.measure(searchers[name], baselines.get(name), mix.measured, mix.warmup)
                info = results["indexes"][name]
                lat["corpora"].append({"name": name, "index": info["path"], "passages": info["passages"],
                                       "articles": info["articles"], "questions": len(mix.measured),
                                       "modes": m["modes"], "baseline": m["baseline"]})
                log("  " + ", ".join(f"{k} p50 {v['wall']['p50']:.1f}/p95 {v['wall']['p95']:.1f} ms"
                                     for k, v in m["modes"].items())
                    + (f"; baseline p50 {m['baseline']['wall']['p50']:.1f} ms" if m["baseline"] else ""))
            results["latency"] = lat

    # ---- 1b. the JSON API under concurrent clients, and the question log's cost ---
    if "api" in sections:
        from bench import api

        with section("api"):
            qs = mix.measured[: plan.serve_queries]
            results["api"] = api.measure_api(shipped_dir, qs, mix.warmup, log)
            results["query_log"] = api.measure_log(searchers["shipped corpus"], qs)
            ql = results["query_log"]
            log(f"question log: record() p50 {ql['record_call']['p50'] * 1000:.0f} µs; search p50 "
                f"{ql['plain']['p50']:.1f} ms without, {ql['logged']['p50']:.1f} ms with the log")

    # ---- 1c. a busy machine, and callers sharing one Searcher -------------------
    if "busy" in sections:
        from bench import busy

        with section("busy"):
            results["busy"] = busy.measure(searchers["shipped corpus"], mix.measured[: plan.busy_queries],
                                           mix.warmup[:5], log, rounds=plan.busy_rounds,
                                           busy_questions=plan.busy_queries)

    # ---- 1d. the page under concurrent visitors (full runs; needs Chromium) -------
    if "page" in sections:
        from bench import page

        why = page.available() if plan.mode == "full" else "page: concurrent visitors on the page run with --full"
        if why:
            results["skipped"].append(why)
        else:
            with section("page"):
                own = set(shipped_q)  # the page serves the shipped index: its own questions
                page_qs = [q for q in mix.measured + mix.warmup if q in own] or mix.measured
                results["page"] = page.measure(shipped_dir, page_qs[: plan.serve_queries], page_qs[-2:], log)

    # ---- 2. embedding throughput (+ the matmul baseline) ----------------------
    if "embedding" in sections:
        from bench import embedding

        with section("embedding"):
            results["matmul"] = machine.matmul_gflops()
            log(f"matmul baseline: {results['matmul']['gflops']:.1f} GFLOP/s")
            emb = embedding.measure(searchers["shipped corpus"].embedder, plan.embed_passages, results["matmul"])
            results["embedding"] = emb
            log(f"embedding: {emb['passages_per_s']:.1f} passages/s, {emb['mean_tokens']:.0f} tokens/passage, "
                f"{emb['achieved_gflops_useful']:.1f} GFLOP/s = {emb['roofline_fraction_useful']:.2f} of matmul")
            from bench import encoders

            if stard is not None:  # statutes and lay questions: the anchors' own measurement set
                texts = [a["body"] for a in data.stard_articles(stard)[: plan.embed_passages]]
                qs = stard_q[:100]
            else:
                texts, qs = embedding.shipped_passages()[: plan.embed_passages], (mix.measured + mix.warmup)[:100]
            results["encoders"] = encoders.compare(texts, qs, log)

    # ---- 3. scale ---------------------------------------------------------------
    if "scale" in sections:
        from bench import scale

        with section("scale"):
            log(f"scale: exact vs HNSW at {', '.join(f'{n:,}' for n in plan.scale_sizes)} synthetic vectors")
            results["scale"] = {"synthetic": scale.synthetic(list(plan.scale_sizes), plan.scale_queries, log)}
            if use_stard_index:
                log("scale: exact vs HNSW on the real STARD passage vectors")
                results["scale"]["real"] = scale.real_vectors(corpora[1][1], searchers["STARD statutes"],
                                                              stard_q[: plan.scale_queries], log)

    # ---- 4. memory ---------------------------------------------------------------
    if "memory" in sections:
        from bench import memory

        with section("memory"):
            serve_qs = (mix.measured + mix.warmup)[: plan.serve_queries]
            mem: dict = {"model_only": memory.model_peak(serve_qs, plan.serve_queries)}
            log(f"memory: model-only process peak {mem['model_only']['peak_rss_bytes'] / 2**20:.0f} MiB, "
                f"steady {mem['model_only']['rss_end_bytes'] / 2**20:.0f} MiB")
            warm = None if plan.cold_build else shipped_dir / "embeddings.sqlite"
            mem["build"] = memory.build_peak(warm)
            log(f"memory: build peak {mem['build']['peak_rss_bytes'] / 2**20:.0f} MiB ({mem['build']['cache']})")
            mem["indexes"] = []
            for name, path, _ in corpora:
                ix = memory.index_memory(name, path, serve_qs, mem["model_only"], plan.serve_queries)
                mem["indexes"].append(ix)
                log(f"memory: serving {name} peak {ix['serve']['peak_rss_bytes'] / 2**20:.0f} MiB, steady "
                    f"{ix['serve']['rss_end_bytes'] / 2**20:.0f} MiB, {ix['disk']['bytes_per_passage']:.0f} B/passage on disk")
            results["memory"] = mem

    # ---- 5. quality ---------------------------------------------------------------
    if "quality" in sections:
        from bench import quality
        from index.evaluate import load_eval_set

        with section("quality"):
            q: dict = {"sets": [], "notes": []}
            files = data.shipped_eval_files()
            es = None
            if files:
                try:
                    es = load_eval_set(*files)
                except (OSError, ValueError) as exc:
                    q["notes"].append(f"shipped relevance set unreadable ({exc}): skipped")
            else:
                q["notes"].append("shipped relevance set (eval/queries.jsonl + eval/qrels.tsv) not found: skipped")
            if es is not None and es.queries:
                q["sets"].append(quality.evaluate_set("shipped set", searchers["shipped corpus"], es,
                                                      baselines["shipped corpus"], log=log))
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

    # ---- 5b. int8 vs fp32: the same corpora indexed with both encoders ----------
    if "int8_quality" in sections:
        from bench import SHIPPED_CORPUS, encoder_quality
        from index.evaluate import load_eval_set

        with section("int8_quality"):
            sets = []
            files = data.shipped_eval_files()
            if files:
                sets.append(encoder_quality.measure("shipped set", [str(SHIPPED_CORPUS)], shipped_dir,
                                                    ROOT / "var" / "bench" / "shipped-fp32", load_eval_set(*files), log))
            if use_stard_index:
                sets.append(encoder_quality.measure("STARD train", [str(stard.corpus)], corpora[1][1],
                                                    ROOT / "var" / "bench" / "stard-fp32",
                                                    load_eval_set(stard.queries, stard.qrels), log))
            results["int8_quality"] = sets

    # ---- 5b'. trained query towers vs the base model (full runs: training takes ~35 min on STARD) ----
    if "training" in sections:
        if plan.mode != "full":
            results["skipped"].append("training: the query towers are trained and compared with --full only")
        else:
            with section("training"):
                results["training"] = _training(shipped_dir, stard if use_stard_index else None,
                                                corpora, mix, log)

    # ---- 5c. the same Searcher on Milvus (full runs; needs requirements-milvus.txt) ----
    if "milvus" in sections:
        import importlib.util

        if plan.mode != "full" or importlib.util.find_spec("pymilvus") is None:
            results["skipped"].append("milvus: FAISS vs Milvus runs with --full and the Milvus extra installed")
        else:
            from bench import milvus

            with section("milvus"):
                stard_idx = next((p for n, p, _ in corpora if n == "STARD statutes"), None)
                results["milvus"] = milvus.measure(shipped_dir, stard, stard_idx, log)

    # ---- 6. the nightly job: full vs no-change vs 1% change ---------------------
    if "nightly" in sections:
        from bench import SHIPPED_CORPUS, nightly

        with section("nightly"):
            shipped = searchers["shipped corpus"]
            runs = [("shipped corpus", SHIPPED_CORPUS)]
            if use_stard_index:
                runs.append(("STARD statutes", stard.corpus))
            results["nightly"] = {"runs": [
                nightly.measure(name, src, ROOT / "var" / "bench" / "nightly", embedder=shipped.embedder,
                                tokenizer=shipped.tokenizer, log=log)
                for name, src in runs]}

    for s in searchers.values():
        with contextlib.suppress(Exception):
            s._version.close()
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


def _training(shipped_dir: Path, stard, corpora, mix, log) -> dict:
    """Train the towers (STARD with 5-fold CV), then base vs towers on both sets, with latency."""
    from bench import data, training
    from index.evaluate import load_eval_set
    from index.model import base_embedder
    from index.searcher import Searcher

    stard_idx = next((p for n, p, _ in corpora if n == "STARD statutes"), None)
    stard_searcher = Searcher.open(stard_idx, embedder=base_embedder()) if stard is not None else None
    towers = training.train_towers(stard_searcher, stard, Searcher.open(shipped_dir, embedder=base_embedder()), log)
    folders = {f"tower {name}": Path(t["model"]["path"]) for name, t in towers.items()}
    out: dict = {"towers": towers, "compare": {}}
    files = data.shipped_eval_files()
    if files:
        log("training: shipped relevance set, base vs towers")
        out["compare"]["shipped relevance set (never trained on)"] = training.compare(
            shipped_dir, load_eval_set(*files), folders, mix.measured[:200], log,
            noanswer=data.read_questions(ROOT / "eval" / "noanswer.jsonl"))
    return out


def _rel(p: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="mode", action="store_const", const="quick", help="~2-3 min, shipped corpus only (default)")
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
