"""Embedding throughput at the build's batch size, and how close it gets to this CPU's matmul peak.

FLOPs of one passage of T tokens through the BERT-style encoder (L layers,
hidden H, feed-forward FF), counting multiply-adds as 2:
    per layer: 2*T*(4*H*H + 2*H*FF)   (Q, K, V, output projections + FFN)
             + 4*T*T*H                (attention scores QK^T and weights x V)
Embedding lookup, layer norms, softmax and pooling are left out (small).
`useful` counts each passage at its own length; `padded` counts what the
batches really compute (every passage padded to the longest in its batch,
batches formed the way sentence-transformers forms them: longest first).
"""
from __future__ import annotations

import random
import time

from bench import SHIPPED_CORPUS


def layer_shape(embedder) -> dict:
    """(layers, hidden, ffn) from the loaded model's config, else multilingual-e5-small's."""
    shape = {"layers": 12, "hidden": 384, "ffn": 1536, "source": "assumed (e5-small)"}
    try:
        cfg = getattr(embedder, "base", embedder).model[0].auto_model.config
        shape = {"layers": int(cfg.num_hidden_layers), "hidden": int(cfg.hidden_size),
                 "ffn": int(cfg.intermediate_size), "source": "model config"}
    except Exception:
        pass
    return shape


def flops(T: int, layers: int, hidden: int, ffn: int) -> float:
    H, FF = hidden, ffn
    return layers * (2.0 * T * (4 * H * H + 2 * H * FF) + 4.0 * T * T * H)


def shipped_passages() -> list[str]:
    """Every passage of the shipped corpus exactly as the build embeds it (title + text)."""
    from index.build.pipeline import embed_text
    from ingest.chunk import chunk_article
    from ingest.load import load

    return [embed_text(a.title, p.text, p.heading) for a in load(SHIPPED_CORPUS).articles for p in chunk_article(a)]


def measure(embedder, n: int, matmul: dict, seed: int = 0) -> dict:
    from index.build.pipeline import EMBED_BATCH

    pool = shipped_passages()
    rng = random.Random(seed)
    if len(pool) >= n:
        texts = rng.sample(pool, n)
        note = ""
    else:
        texts = [pool[i % len(pool)] for i in range(n)]
        note = f"only {len(pool)} passages in the corpus: cycled to {n}"
    texts.sort(key=len)  # the build embeds length-sorted chunks (less padding)

    old_batch = embedder.batch_size
    embedder.batch_size = EMBED_BATCH
    try:
        embedder.encode_passages(texts[:EMBED_BATCH])  # warm-up: first-call allocations, thread pool
        t = time.perf_counter()
        vecs = embedder.encode_passages(texts)
        seconds = time.perf_counter() - t
    finally:
        embedder.batch_size = old_batch
    assert len(vecs) == len(texts)

    max_len = int(getattr(getattr(embedder, "model", None), "max_seq_length", 512) or 512)
    lens = [min(embedder.token_count(t, embedder.passage_prompt), max_len) for t in texts]
    shape = layer_shape(embedder)
    L, H, FF = shape["layers"], shape["hidden"], shape["ffn"]
    useful = sum(flops(T, L, H, FF) for T in lens)
    # sentence-transformers sorts by text length, longest first, then cuts batches
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    padded = 0.0
    for b in range(0, len(order), EMBED_BATCH):
        batch = order[b : b + EMBED_BATCH]
        padded += len(batch) * flops(max(lens[i] for i in batch), L, H, FF)
    peak = matmul["gflops"]
    useful_gflops = useful / seconds / 1e9
    padded_gflops = padded / seconds / 1e9
    return {
        "passages": len(texts), "batch_size": EMBED_BATCH, "seconds": seconds,
        "passages_per_s": len(texts) / seconds, "tokens_per_s": sum(lens) / seconds,
        "mean_tokens": sum(lens) / len(lens), "min_tokens": min(lens), "max_tokens": max(lens),
        "mean_chars": sum(len(t) for t in texts) / len(texts),
        "model_shape": shape, "gflop_per_passage": useful / len(texts) / 1e9,
        "achieved_gflops_useful": useful_gflops, "achieved_gflops_padded": padded_gflops,
        "matmul_gflops": peak, "roofline_fraction_useful": useful_gflops / peak,
        "roofline_fraction_padded": padded_gflops / peak, "note": note,
        "prompt": embedder.passage_prompt,
    }
