"""The `make bench` sections, one function each, registered in run order (`SECTIONS`).

Each section reads what the run prepared (`Context`: the indexes, searchers,
baselines and questions) and writes its figures into `c.results`. `bench.run`
prepares the context, runs the chosen sections and writes the report.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import ROOT, data, machine
from index.encoders.factory import base_embedder


@dataclass
class Context:
    """What every section may read, and `results`, where each writes its figures."""

    plan: object  # bench.run.Plan
    results: dict
    log: Callable[[str], None]
    searchers: dict
    corpora: list
    baselines: dict
    mix: object  # bench.data.QuestionMix
    stard: object | None
    use_stard_index: bool
    shipped_dir: Path
    shipped_q: list[str]
    stard_q: list[str]
    meter: Callable = field(default=None)  # name -> context manager measuring the section (set by bench.run)

    def section(self, name: str):
        return self.meter(name) if self.meter is not None else contextlib.nullcontext()


def latency(c: Context) -> None:
    from bench import latency

    with c.section("latency"):
        lat = {"questions": {"n": len(c.mix.measured), "warmup": len(c.mix.warmup), "sources": c.mix.sources,
                             "distinct": c.mix.distinct, "note": c.mix.note, "k": 5}, "corpora": []}
        for name, _path, _ in c.corpora:
            c.log(f"latency: {name}, {len(c.mix.measured)} questions x (3 modes + baseline), interleaved")
            m = latency.measure(c.searchers[name], c.baselines.get(name), c.mix.measured, c.mix.warmup)
            info = c.results["indexes"][name]
            lat["corpora"].append({"name": name, "index": info["path"], "passages": info["passages"],
                                   "articles": info["articles"], "questions": len(c.mix.measured),
                                   "modes": m["modes"], "baseline": m["baseline"]})
            c.log("  " + ", ".join(f"{k} p50 {v['wall']['p50']:.1f}/p95 {v['wall']['p95']:.1f} ms"
                                 for k, v in m["modes"].items())
                + (f"; baseline p50 {m['baseline']['wall']['p50']:.1f} ms" if m["baseline"] else ""))
        c.results["latency"] = lat


def api(c: Context) -> None:
    from bench import api

    with c.section("api"):
        qs = c.mix.measured[: c.plan.serve_queries]
        c.results["api"] = api.measure_api(c.shipped_dir, qs, c.mix.warmup, c.log)
        c.results["query_log"] = api.measure_log(c.searchers["shipped corpus"], qs)
        ql = c.results["query_log"]
        c.log(f"question c.log: record() p50 {ql['record_call']['p50'] * 1000:.0f} µs; search p50 "
            f"{ql['plain']['p50']:.1f} ms without, {ql['logged']['p50']:.1f} ms with the log")


def busy(c: Context) -> None:
    from bench import busy

    with c.section("busy"):
        c.results["busy"] = busy.measure(c.searchers["shipped corpus"], c.mix.measured[: c.plan.busy_queries],
                                       c.mix.warmup[:5], c.log, rounds=c.plan.busy_rounds,
                                       busy_questions=c.plan.busy_queries)


def page(c: Context) -> None:
    from bench import page

    why = page.available() if c.plan.mode == "full" else "page: concurrent visitors on the page run with --full"
    if why:
        c.results["skipped"].append(why)
    else:
        with c.section("page"):
            own = set(c.shipped_q)  # the page serves the shipped index: its own questions
            page_qs = [q for q in c.mix.measured + c.mix.warmup if q in own] or c.mix.measured
            c.results["page"] = page.measure(c.shipped_dir, page_qs[: c.plan.serve_queries], page_qs[-2:], c.log)


def embedding(c: Context) -> None:
    from bench import embedding

    with c.section("embedding"):
        c.results["matmul"] = machine.matmul_gflops()
        c.log(f"matmul baseline: {c.results['matmul']['gflops']:.1f} GFLOP/s")
        # passages are always the base model's (an adapter or a tower changes only questions)
        emb = embedding.measure(base_embedder(), c.plan.embed_passages, c.results["matmul"])
        c.results["embedding"] = emb
        c.log(f"embedding: {emb['passages_per_s']:.1f} passages/s, {emb['mean_tokens']:.0f} tokens/passage, "
            f"{emb['achieved_gflops_useful']:.1f} GFLOP/s = {emb['roofline_fraction_useful']:.2f} of matmul")
        from bench import encoders

        if c.stard is not None:  # statutes and lay questions: the anchors' own measurement set
            texts = [a["body"] for a in data.stard_articles(c.stard)[: c.plan.embed_passages]]
            qs = c.stard_q[:100]
        else:
            texts, qs = embedding.shipped_passages()[: c.plan.embed_passages], (c.mix.measured + c.mix.warmup)[:100]
        c.results["encoders"] = encoders.compare(texts, qs, c.log)


def scale(c: Context) -> None:
    from bench import scale

    with c.section("scale"):
        c.log(f"scale: exact vs HNSW at {', '.join(f'{n:,}' for n in c.plan.scale_sizes)} synthetic vectors")
        c.results["scale"] = {"synthetic": scale.synthetic(list(c.plan.scale_sizes), c.plan.scale_queries, c.log)}
        if c.use_stard_index:
            c.log("scale: exact vs HNSW on the real STARD passage vectors")
            c.results["scale"]["real"] = scale.real_vectors(c.corpora[1][1], c.searchers["STARD statutes"],
                                                          c.stard_q[: c.plan.scale_queries], c.log)


def memory(c: Context) -> None:
    from bench import memory

    with c.section("memory"):
        serve_qs = (c.mix.measured + c.mix.warmup)[: c.plan.serve_queries]
        mem: dict = {"model_only": memory.model_peak(serve_qs, c.plan.serve_queries)}
        c.log(f"memory: model-only process peak {mem['model_only']['peak_rss_bytes'] / 2**20:.0f} MiB, "
            f"steady {mem['model_only']['rss_end_bytes'] / 2**20:.0f} MiB")
        warm = None if c.plan.cold_build else c.shipped_dir / "embeddings.sqlite"
        mem["build"] = memory.build_peak(warm)
        c.log(f"memory: build peak {mem['build']['peak_rss_bytes'] / 2**20:.0f} MiB ({mem['build']['cache']})")
        mem["indexes"] = []
        for name, path, _ in c.corpora:
            ix = memory.index_memory(name, path, serve_qs, mem["model_only"], c.plan.serve_queries)
            mem["indexes"].append(ix)
            c.log(f"memory: serving {name} peak {ix['serve']['peak_rss_bytes'] / 2**20:.0f} MiB, steady "
                f"{ix['serve']['rss_end_bytes'] / 2**20:.0f} MiB, {ix['disk']['bytes_per_passage']:.0f} B/passage on disk")
        c.results["memory"] = mem


def quality(c: Context) -> None:
    from bench import quality
    from index.search.evaluate import load_eval_set

    with c.section("quality"):
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
            q["sets"].append(quality.evaluate_set("shipped set", c.searchers["shipped corpus"], es,
                                                  c.baselines["shipped corpus"], log=c.log))
        if c.use_stard_index:
            es = load_eval_set(c.stard.queries, c.stard.qrels)
            q["sets"].append(quality.evaluate_set("STARD train", c.searchers["STARD statutes"], es,
                                                  c.baselines["STARD statutes"], log=c.log))
            q["notes"].append("STARD README, for scale: a plain jieba BM25 reaches Recall@10 ≈ 0.40 and "
                              "MRR@10 ≈ 0.33 on held-out questions of the same kind.")
        for s in q["sets"]:
            c.log(f"quality {s['set']}: " + ", ".join(f"{m} R@10 {v['recall@10']:.3f}" for m, v in s["modes"].items())
                + f"; baseline R@10 {s['baseline']['recall@10']:.3f}")
        q["cards"] = _cards(c, es if files else None)
        c.results["quality"] = q


def _cards(c: Context, shipped_set) -> list[dict]:
    """Passage-level figures (index.search.answers) of the shipped set and of the development set."""
    from bench import answers
    from index.search.answers import AnswerSet, load_answers, score_answers
    from index.search.evaluate import load_queries

    searcher = c.searchers["shipped corpus"]
    out = []
    labels, noanswer = ROOT / "eval" / "answers.jsonl", ROOT / "eval" / "noanswer.jsonl"
    if shipped_set is not None and labels.exists():
        answer_set = AnswerSet(shipped_set.queries, load_answers(labels),
                               load_queries(noanswer) if noanswer.exists() else {})
        out.append({"set": "shipped set (eval/, never tuned on)", **score_answers(searcher, answer_set)})
    if (answers.SETS / "passages_dev.jsonl").exists():
        dev, _ = answers.load_dev()
        out.append({"set": "development set (bench/sets/, tuned on)", **score_answers(searcher, dev)})
    for row in out:
        c.log(f"cards {row['set']}: answer in card 1 {row['answer@1']:.3f}, cards 1-3 {row['answer@3']:.3f}, "
              f"unanswerable flagged {row['noanswer_flagged']:.3f}")
    return out


def int8_quality(c: Context) -> None:
    from bench import SHIPPED_CORPUS, encoder_quality
    from index.search.evaluate import load_eval_set

    with c.section("int8_quality"):
        sets = []
        files = data.shipped_eval_files()
        if files:
            sets.append(encoder_quality.measure("shipped set", [str(SHIPPED_CORPUS)], c.shipped_dir,
                                                ROOT / "var" / "bench" / "shipped-fp32", load_eval_set(*files), c.log))
        if c.use_stard_index:
            sets.append(encoder_quality.measure("STARD train", [str(c.stard.corpus)], c.corpora[1][1],
                                                ROOT / "var" / "bench" / "stard-fp32",
                                                load_eval_set(c.stard.queries, c.stard.qrels), c.log))
        c.results["int8_quality"] = sets


def training(c: Context) -> None:
    if c.plan.mode != "full":
        c.results["skipped"].append("training: the query towers are trained and compared with --full only")
    else:
        with c.section("training"):
            c.results["training"] = _training(c.shipped_dir, c.stard if c.use_stard_index else None,
                                            c.corpora, c.mix, c.log)


def milvus(c: Context) -> None:
    import importlib.util

    if c.plan.mode != "full" or importlib.util.find_spec("pymilvus") is None:
        c.results["skipped"].append("milvus: FAISS vs Milvus runs with --full and the Milvus extra installed")
    else:
        from bench import milvus

        with c.section("milvus"):
            stard_idx = next((p for n, p, _ in c.corpora if n == "STARD statutes"), None)
            c.results["milvus"] = milvus.measure(c.shipped_dir, c.stard, stard_idx, c.log)


def nightly(c: Context) -> None:
    from bench import SHIPPED_CORPUS, nightly

    with c.section("nightly"):
        shipped = c.searchers["shipped corpus"]
        runs = [("shipped corpus", SHIPPED_CORPUS)]
        if c.use_stard_index:
            runs.append(("STARD statutes", c.stard.corpus))
        c.results["nightly"] = {"runs": [
            nightly.measure(name, src, ROOT / "var" / "bench" / "nightly", embedder=shipped.embedder,
                            tokenizer=shipped.tokenizer, log=c.log)
            for name, src in runs]}


def _training(shipped_dir: Path, stard, corpora, mix, log) -> dict:
    """Train the towers (STARD with 5-fold CV), then base vs towers on both sets, with latency."""
    from bench import data, training
    from index.encoders.factory import base_embedder
    from index.search.evaluate import load_eval_set
    from index.search.searcher import Searcher

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


SECTIONS: dict[str, Callable[[Context], None]] = {
    "latency": latency, "api": api, "busy": busy, "page": page, "embedding": embedding, "scale": scale,
    "memory": memory, "quality": quality, "int8_quality": int8_quality, "training": training, "milvus": milvus,
    "nightly": nightly,
}
