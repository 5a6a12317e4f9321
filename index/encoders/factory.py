"""The one place that decides which encoder serves: the configured model, int8 or fp32, with the shipped
query adapter or a trained query tower (`LAWFAQ_MODEL`, `LAWFAQ_ENCODER`, `LAWFAQ_QUERY_ADAPTER`,
`LAWFAQ_QUERY_MODEL`).

Nothing below this module imports it: the encoders know nothing of settings-driven choice.
"""
from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from index.encoders.adapter import SHIPPED_ADAPTER, AdaptedEmbedder, AdapterMismatch, QueryAdapter
from index.encoders.base import Encoder, ModelUnavailable
from index.encoders.int8 import int8_embedder
from index.encoders.model import Embedder, cache_dir
from index.encoders.tower import query_tuned, resolve_query_model
from index.settings import settings, switched_off

log = logging.getLogger(__name__)

__all__ = ["adapted_embedder", "base_embedder", "default_embedder", "int8_embedder", "tuned_embedder"]


@cache
def default_embedder() -> Encoder:
    """One embedder per process: the page and notebooks share the loaded model.

    `LAWFAQ_ENCODER=int8` (the default) runs the configured model as int8 ONNX
    (index.encoders.int8: exported once into LAWFAQ_CACHE); `fp32` runs it in torch.
    `LAWFAQ_QUERY_MODEL` adds a trained query tower (index.encoders.tower) for questions.
    """
    config = settings()
    if config.query_model:  # a tower is trained for this firm's questions: it replaces the adapter
        return tuned_embedder(config.query_model)
    return adapted_embedder(config.query_adapter)


def adapted_embedder(choice: str) -> Encoder:
    """`base_embedder()` with a query adapter: `choice` "" is the shipped one (for the bundled model only:
    it was trained on that model's vectors), "off" none, else the path of an adapter file."""
    base = base_embedder()
    if switched_off(choice):
        return base
    if choice:
        path = Path(choice)
        if not path.exists():
            raise ModelUnavailable(f"LAWFAQ_QUERY_ADAPTER: no adapter file at {path}")
    elif settings().model:  # another model (LAWFAQ_MODEL): the shipped adapter does not apply
        return base
    elif not SHIPPED_ADAPTER.exists():  # a broken install lost the package data: say so, serve the base model
        log.warning("the shipped query adapter is missing (%s): questions use the base model", SHIPPED_ADAPTER)
        return base
    else:
        path = SHIPPED_ADAPTER
    try:
        return AdaptedEmbedder(base, QueryAdapter.load(path))
    except AdapterMismatch as exc:
        raise ModelUnavailable(f"LAWFAQ_QUERY_ADAPTER: {exc}") from None


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
