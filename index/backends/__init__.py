"""Storage backends behind the Searcher: where the top-n BM25 and dense candidates come from.

The Searcher keeps one ranking: fusion, statute boost, per-article cap,
near-duplicate collapse and Hits are the same code whichever backend answers.
A backend only answers two questions, both in the version's passage
positions (`pos`, the row numbers of its meta.sqlite):

- `bm25_top(tokens, n, filter)`: the n best passages for the query's tokens;
- `dense_top(vector, n, filter)`: the n nearest passages to the query vector.

`faiss` (the default) answers them in-process from the version's own files;
`milvus` from a Milvus collection (milvus-lite file or a server). Which one a
version uses is recorded in its manifest, so a reader needs no setting to
open it; `LAWFAQ_BACKEND` decides what `index build` writes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from index.store import MetaStore

BACKENDS = ("faiss", "milvus")


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


def backend_kind(manifest: dict) -> str:
    """The backend a version was built for (versions older than this field are faiss)."""
    return manifest.get("backend", {}).get("kind", "faiss")


def open_retrieval(path: Path, manifest: dict, store: MetaStore) -> tuple[object, object, Retrieval]:
    """(FAISS index or None, LexicalIndex or None, Retrieval) for one published version."""
    if backend_kind(manifest) == "milvus":
        from index.backends.milvus_search import open_milvus_retrieval

        return None, None, open_milvus_retrieval(manifest, store)
    from index.backends.local import open_local

    return open_local(path)
