"""Benchmarks: latency, embedding throughput, FAISS scale, memory and quality.

    python -m bench.run --quick            # ~2 minutes, writes bench/out/
    python -m bench.run --full --out docs/bench

Every figure is printed next to a baseline measured in the same run on the
same machine (a plain jieba BM25, exact FAISS search, a numpy matmul, a
model-only process...), so a number never has to be compared with one taken
elsewhere. The STARD parts need ../shared/data/stard beside the checkout and
are skipped, with a message, when it is not there.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STARD = ROOT.parent / "shared" / "data" / "stard"
SHIPPED_CORPUS = ROOT / "corpus"
SHIPPED_QUERIES = ROOT / "eval" / "queries.jsonl"
SHIPPED_QRELS = ROOT / "eval" / "qrels.tsv"
