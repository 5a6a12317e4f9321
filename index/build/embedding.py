"""Vectors for passages: the embedding cache first, the model (local loop or Ray) for what it lacks.

The cache is keyed by model id and text hash, so a killed run resumes where it
stopped and an unchanged passage is never embedded twice.
"""
from __future__ import annotations

import logging
import sys
import time

import numpy as np

from index.storage.embedding_cache import EmbeddingCache

log = logging.getLogger(__name__)

EMBED_BATCH = 32
CACHE_FLUSH = 256


def embed_missing(embedder, cache: EmbeddingCache, model_id: str, missing: list[str], texts: dict[str, str],
                  executor: str = "local", progress: bool | None = None) -> None:
    """Embed the texts (hash -> text) of the `missing` hashes into the cache, on the configured executor."""
    if executor == "ray" and missing:
        from index.build.ray_executor import embed_missing_ray

        embed_missing_ray(embedder, cache, model_id, missing, texts)
        return
    embed_missing_local(embedder, cache, model_id, missing, texts, progress)


def embed_missing_local(embedder, cache: EmbeddingCache, model_id: str, missing: list[str],
                        texts: dict[str, str], progress: bool | None) -> None:
    """Embed passages not in the cache, saving every few hundred so a killed run resumes."""
    if not missing:
        log.info("all passage embeddings found in the cache")
        return
    from tqdm import tqdm

    show_bar = sys.stderr.isatty() if progress is None else progress
    # similar lengths per batch: less padding, much faster on CPU
    order = sorted(missing, key=lambda h: len(texts[h]))
    bar = tqdm(total=len(order), desc="embedding", unit="passage", disable=not show_bar, file=sys.stderr)
    started = time.perf_counter()
    done = 0
    for i in range(0, len(order), CACHE_FLUSH):
        chunk = order[i : i + CACHE_FLUSH]
        vecs = embedder.encode_passages([texts[h] for h in chunk])
        cache.put(model_id, chunk, vecs)
        done += len(chunk)
        bar.update(len(chunk))
        if not show_bar:
            rate = done / max(time.perf_counter() - started, 1e-9)
            log.info("embedded %d/%d passages (%.1f/s)", done, len(order), rate)
    bar.close()


def cached_vectors(cache: EmbeddingCache, model_id: str, dim: int, hashes: list[str]) -> np.ndarray:
    """The cached vectors of `hashes`, in order; refuses vectors that are not unit length (a corrupt cache)."""
    vectors = cache.get(model_id, hashes, dim) if hashes else np.zeros((0, dim), np.float32)
    norms = np.linalg.norm(vectors, axis=1) if len(vectors) else np.ones(0)
    if len(vectors) and np.any(np.abs(norms - 1.0) > 1e-3):
        raise RuntimeError("embedding cache returned vectors that are not unit length (corrupt cache?)")
    return vectors
