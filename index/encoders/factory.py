"""The one place that decides which encoder serves: the configured model, int8 or fp32, with or without
a trained query tower (`LAWFAQ_MODEL`, `LAWFAQ_ENCODER`, `LAWFAQ_QUERY_MODEL`).

Nothing below this module imports it: the encoders know nothing of settings-driven choice.
"""
from __future__ import annotations

from functools import cache

from index.encoders.base import Encoder, ModelUnavailable
from index.encoders.int8 import int8_embedder
from index.encoders.model import Embedder, cache_dir
from index.encoders.tower import query_tuned, resolve_query_model
from index.settings import settings

__all__ = ["base_embedder", "default_embedder", "int8_embedder", "tuned_embedder"]


@cache
def default_embedder() -> Encoder:
    """One embedder per process: the page and notebooks share the loaded model.

    `LAWFAQ_ENCODER=int8` (the default) runs the configured model as int8 ONNX
    (index.encoders.int8: exported once into LAWFAQ_CACHE); `fp32` runs it in torch.
    `LAWFAQ_QUERY_MODEL` adds a trained query tower (index.encoders.tower) for questions.
    """
    config = settings()
    if not config.query_model:
        return base_embedder()
    return tuned_embedder(config.query_model)


@cache
def base_embedder() -> Encoder:
    """The configured model alone (LAWFAQ_MODEL / LAWFAQ_ENCODER), whatever LAWFAQ_QUERY_MODEL says."""
    base = Embedder()
    return base if settings().encoder == "fp32" else int8_embedder(base)


def tuned_embedder(query_model: str) -> Encoder:
    """`base_embedder()` with the trained query tower `query_model` (a folder or a name) for questions."""
    try:
        folder = resolve_query_model(query_model, cache_dir())
    except ValueError as exc:
        raise ModelUnavailable(str(exc)) from None
    return query_tuned(base_embedder(), folder, settings().encoder)
