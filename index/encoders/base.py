"""What every question/passage encoder offers, so search, build and training never probe with `hasattr`.

An encoder turns questions and passages into unit vectors in one space. Some
encoders (a trained query tower) answer questions in a space of their own and
carry a `judge`: the base model's encoder for the same questions, whose cosines
the "no good match" floors were calibrated on. Base encoders have no judge.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


class ModelUnavailable(RuntimeError):
    """The embedding model cannot be found or built here; the message says what to do."""


@dataclass(frozen=True)
class ModelInfo:
    """Identity recorded in every index manifest and checked at search time."""

    name: str
    checksum: str
    dim: int
    query_prompt: str
    passage_prompt: str

    def to_dict(self) -> dict:
        return asdict(self)


@runtime_checkable
class QueryEncoder(Protocol):
    """The part of an encoder search needs: question vectors, and the identity an index checks."""

    name: str
    checksum: str

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


@runtime_checkable
class Encoder(QueryEncoder, Protocol):
    """A full encoder: the nightly build embeds passages with it, search embeds questions.

    `judge` is the base model's question encoder when this one is a trained tower, else None.
    `query_model()` describes the trained tower for `status` (None for a base encoder).
    """

    model_dir: Path
    query_prompt: str
    passage_prompt: str
    judge: QueryEncoder | None
    trained_folder: Path | None  # a trained tower's folder (its answered questions), else None
    trained_record: dict | None  # how a trained tower was made (its fusion weights), else None

    @property
    def dim(self) -> int: ...

    def info(self) -> ModelInfo: ...

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray: ...

    def token_count(self, text: str, prompt: str = "") -> int: ...

    def query_model(self) -> dict | None: ...

    def set_query_threads(self, threads: int) -> None: ...
