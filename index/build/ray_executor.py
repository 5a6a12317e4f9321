"""`index build --executor ray`: the embedding step as Ray Data `map_batches` over an actor pool.

Optional (requirements-ray.txt). Each actor loads the same encoder once (a
CUDA device when the node has one, for the fp32 torch encoder) and embeds
batches of passage texts; the driver writes the vectors into the same
embedding cache the local loop fills, so everything after this step is
unchanged and the vectors are the ones the local loop would compute. On one
2-core machine Ray is pure overhead (`ray.init` ~8 s, ~0.8 GB): the local loop
stays the default; point RAY_ADDRESS at a cluster to spread the work.
"""
from __future__ import annotations

import logging
import os

import numpy as np

log = logging.getLogger(__name__)

RAY_BATCH = 64


class _EmbedActor:
    """One encoder per actor, built from the driver's settings (a picklable factory, not the model)."""

    def __init__(self, factory):
        self.embedder = factory()

    def __call__(self, batch: dict) -> dict:
        vectors = self.embedder.encode_passages([str(t) for t in batch["text"]])
        return {"hash": batch["hash"], "vector": np.asarray(vectors, np.float32),
                "model": np.asarray([self.embedder.checksum] * len(vectors))}


def _default_factory():
    from index.encoders.factory import default_embedder

    return default_embedder()


def actors_wanted() -> int:
    """Actors in the pool: one per GPU when the cluster has GPUs, else one per two CPUs (at least one)."""
    import ray

    res = ray.cluster_resources()
    if res.get("GPU", 0) >= 1:
        return int(res["GPU"])
    return max(1, int(res.get("CPU", 1)) // 2)


def embed_texts_ray(texts: list[str], hashes: list[str], factory=_default_factory,
                    model_checksum: str | None = None) -> dict[str, np.ndarray]:
    """hash -> vector for every text, computed by Ray actors (started locally unless RAY_ADDRESS is set)."""
    import ray

    if not ray.is_initialized():
        # Ray waits 30 s for a local head's GCS server to bind its port; a loaded 2-core machine can need more
        # (seen in CI: "Timed out waiting for file .../gcs_server_port"). An operator's own value wins.
        os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "180")
        ray.init(address=os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
    n = actors_wanted()
    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    ds = ray.data.from_items([{"hash": h, "text": t} for h, t in zip(hashes, texts, strict=True)])
    out = ds.map_batches(_EmbedActor, fn_constructor_args=(factory,), batch_size=RAY_BATCH,
                         compute=ray.data.ActorPoolStrategy(size=n), num_gpus=gpus, batch_format="numpy")
    result: dict[str, np.ndarray] = {}
    for batch in out.iter_batches(batch_size=1024, batch_format="numpy"):
        if model_checksum and set(batch["model"].tolist()) != {model_checksum}:
            raise RuntimeError("Ray actors loaded another model than the build's (check LAWFAQ_MODEL on the nodes)")
        for h, v in zip(batch["hash"], batch["vector"], strict=True):
            result[str(h)] = np.asarray(v, np.float32)
    log.info("embedded %d passages on %d Ray actor(s)%s", len(result), n, " (GPU)" if gpus else "")
    return result


def embed_missing_ray(embedder, cache, model_id: str, missing: list[str], texts: dict[str, str]) -> None:
    """The Ray counterpart of the build's local loop: embed `missing`, then fill the cache."""
    ordered = sorted(missing, key=lambda h: len(texts[h]))
    vectors = embed_texts_ray([texts[h] for h in ordered], ordered, model_checksum=embedder.checksum)
    cache.put(model_id, ordered, np.stack([vectors[h] for h in ordered]))
