"""`--executor ray`: a small build's embedding step through a local Ray gives the plain loop's vectors."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_ray_actor_pool_embeds_exactly_like_the_local_loop(tmp_path, small_corpus, embedder, tokenizer):
    pytest.importorskip("ray", reason="the optional Ray extra is not installed (requirements-ray.txt)")
    import ray

    from index.build.pipeline import BuildOptions, build_index, embed_text
    from index.build.ray_executor import embed_texts_ray
    from index.storage.embedding_cache import EmbeddingCache
    from index.storage.store import MetaStore, text_hash
    from ingest.chunk import chunk_article
    from ingest.load import LoadConfig, load_many

    articles = load_many([str(small_corpus)], LoadConfig()).articles
    texts = [embed_text(a.title, p.text, p.heading) for a in articles for p in chunk_article(a)][:24]
    hashes = [text_hash(t) for t in texts]
    _start_local_ray(ray)
    try:
        got = embed_texts_ray(texts, hashes, model_checksum=embedder.checksum)
        assert set(got) == set(hashes)
        want = embedder.encode_passages(texts)
        np.testing.assert_allclose(np.stack([got[h] for h in hashes]), want, atol=1e-5)

        # and a whole build on the Ray executor fills the cache with those vectors
        report = build_index([str(small_corpus)], tmp_path / "idx", BuildOptions(progress=False, executor="ray"),
                             embedder, tokenizer)
        assert report.status == "published" and report.passages_embedded == report.passages_total
    finally:
        ray.shutdown()
    with MetaStore(next((tmp_path / "idx" / "versions").iterdir()) / "meta.sqlite", readonly=True) as store:
        rows = store.db.execute("SELECT embed_hash FROM passages ORDER BY pos").fetchall()
    cache = EmbeddingCache(tmp_path / "idx" / "embeddings.sqlite")
    model_id = f"{embedder.name}:{embedder.checksum}"
    cached = cache.get(model_id, [h for h in hashes if h in {r[0] for r in rows}], embedder.dim)
    cache.close()
    mine = {h: v for h, v in zip(hashes, want, strict=True)}
    np.testing.assert_allclose(cached, np.stack([mine[h] for h in hashes if h in {r[0] for r in rows}]), atol=1e-5)


def _start_local_ray(ray) -> None:
    """A local head, given two tries: on a loaded 2-core machine Ray's own fixed 30 s wait for its raylet
    to register can run out (seen in CI while benchmarks ran beside it). That is Ray's start-up, not
    what this test checks, so a second failure skips with the reason instead of failing the suite."""
    for attempt in (1, 2):
        try:
            ray.init(include_dashboard=False, log_to_driver=False, num_cpus=2)
            return
        except Exception as exc:  # Ray raises a bare Exception / RuntimeError for start-up timeouts
            ray.shutdown()
            if "timed out" not in str(exc).lower() and "Timed out" not in str(exc):
                raise
            if attempt == 2:
                pytest.skip(f"a local Ray head did not start on this loaded machine: {exc}")

