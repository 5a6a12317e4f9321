"""The interfaces every backend implements: the search filter, the reader (`Retrieval`) and the
build's `Writer`. Backends import this module, never the package's factory above them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from index.storage.store import MetaStore


@dataclass(frozen=True)
class PassageFilter:
    """A search filter in the two forms backends need.

    `allowed` (a bool per passage) is what in-process stores apply; the stored
    category names and ordinal-date bounds are what a server-side store turns
    into its own filter expression. `categories` is None for "any category";
    an empty tuple means the filter named no stored category (nothing passes).
    """

    allowed: np.ndarray
    categories: tuple[str, ...] | None = None
    date_from: int | None = None  # ordinal, inclusive
    date_to: int | None = None  # ordinal, inclusive; passages without a date never pass

    def __getitem__(self, pos: int) -> bool:
        return bool(self.allowed[pos])


class Retrieval(Protocol):
    """The two candidate lists a backend serves; (scores, positions), best first."""

    def bm25_top(self, tokens: list[str], n: int,
                 filt: PassageFilter | None) -> tuple[np.ndarray, np.ndarray]: ...

    def dense_top(self, query: np.ndarray, n: int,
                  filt: PassageFilter | None) -> tuple[np.ndarray, np.ndarray]: ...


# text hashes -> their vectors, in that order (the build's embedding cache, already filled)
Vectors = Callable[[list[str]], np.ndarray]


class Writer(Protocol):
    """How `index build` fills one version's candidate stores; one implementation per backend."""

    def write(self, staging: Path, store: MetaStore, vectors: Vectors,
              stage: Callable[[str], None]) -> tuple[dict, dict | None]:
        """Fill the stores for the staged version (`stage(name)` at each step it times).

        Returns the manifest's "dense" entry and its "backend" entry (None: the version's own files).
        """
        ...

    def validate(self, staging: Path, manifest: dict, embedder, tokenizer) -> None:
        """Raise unless the stores hold exactly the version's passages and answer smoke queries."""
        ...

    def after_publish(self) -> None:
        """Once the version serves and old ones are pruned: whatever the backend keeps outside the folder."""
        ...


def backend_kind(manifest: dict) -> str:
    """The backend a version was built for (versions older than this field are faiss)."""
    return manifest.get("backend", {}).get("kind", "faiss")
