"""Serving with a trained query tower: passages keep the index's model, questions use the tower.

`python -m index train` fits a query encoder against the passage vectors an
index already holds (index/training). Setting ``LAWFAQ_QUERY_MODEL`` to its
folder (or its name under ``LAWFAQ_CACHE/trained``) makes the page, the API,
the CLI and the nightly job's smoke queries encode questions with it, while
passages are still embedded with the model the index was built with — so
nothing is re-embedded and unsetting the variable goes straight back to the
base model. The tower's learned fusion weights travel with it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from index.training.artifact import read_record, trained_root


class QueryTunedEmbedder:
    """The Embedder interface with two encoders: `passages` (the index's model) and `queries` (the tower)."""

    def __init__(self, passages, queries, record: dict, folder: Path):
        self.passages = passages
        self.queries = queries
        self.record = record
        self.folder = folder
        self.name = passages.name  # the index's model: what manifests record and check
        self.model_dir = passages.model_dir
        self.query_prompt, self.passage_prompt = passages.query_prompt, passages.passage_prompt
        self.fusion: dict | None = record.get("fusion")

    @property
    def checksum(self) -> str:
        return self.passages.checksum

    @property
    def dim(self) -> int:
        return self.passages.dim

    def info(self):
        return self.passages.info()

    def query_model(self) -> dict:
        """What `status` shows: the tower's name, folder and what it was trained on."""
        return {"name": self.record.get("name"), "path": str(self.folder),
                "trained_on": self.record.get("training", {}).get("pairs"),
                "cross_validation": self.record.get("cross_validation", {}).get("summary")}

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.queries.encode_queries(texts)

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return self.passages.encode_passages(texts, show_progress=show_progress)

    def token_count(self, text: str, prompt: str = "") -> int:
        return self.passages.token_count(text, prompt)

    def set_query_threads(self, threads: int) -> None:
        if hasattr(self.queries, "set_query_threads"):
            self.queries.set_query_threads(threads)


def resolve_query_model(value: str, cache_dir: Path) -> Path:
    """A folder path, or the name of a tower under `cache_dir/trained`."""
    path = Path(value).expanduser()
    if path.is_dir():
        return path
    named = trained_root(cache_dir) / value
    if named.is_dir():
        return named
    raise ValueError(f"LAWFAQ_QUERY_MODEL={value}: no such folder, and no trained tower of that name in "
                     f"{trained_root(cache_dir)} (train one with `python -m index train`)")


def query_tuned(passages, folder: Path, encoder: str) -> QueryTunedEmbedder:
    """Pair `passages` (the configured embedder) with the tower in `folder`, refusing a mismatch."""
    from index.model import Embedder, ModelUnavailable, int8_embedder

    try:
        record = read_record(folder)
    except ValueError as exc:
        raise ModelUnavailable(str(exc)) from None
    want = record["index_model"]
    if want["checksum"] != passages.checksum:
        raise ModelUnavailable(
            f"query tower {folder} was trained against passage vectors of '{want.get('name')}' "
            f"(checksum {want['checksum']}), but the configured model is '{passages.name}' "
            f"(checksum {passages.checksum}). Train a tower for this index (python -m index train) "
            "or unset LAWFAQ_QUERY_MODEL."
        )
    tower = Embedder(folder, name=record.get("name"))
    queries = tower if encoder == "fp32" else int8_embedder(tower, folder / ".int8")
    return QueryTunedEmbedder(passages, queries, record, folder)
