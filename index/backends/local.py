"""The default backend: FAISS and bm25s in this process, loaded from the version's folder."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from index.backends.base import PassageFilter
from index.storage.dense import load_dense, search_dense
from index.storage.lexical import LexicalIndex

DENSE_FILE = "dense.faiss"  # in the version's folder
LEXICAL_DIR = "bm25"


@dataclass
class LocalRetrieval:
    """Candidates from the version's own dense.faiss and bm25/ (filters applied inside both)."""

    dense: faiss.Index
    lexical: LexicalIndex

    def bm25_top(self, tokens: list[str], n: int, filt: PassageFilter | None) -> tuple[np.ndarray, np.ndarray]:
        return self.lexical.top(tokens, n, None if filt is None else filt.allowed)

    def dense_top(self, query: np.ndarray, n: int, filt: PassageFilter | None) -> tuple[np.ndarray, np.ndarray]:
        return search_dense(self.dense, query, n, None if filt is None else filt.allowed)


def open_local(path: Path) -> tuple[faiss.Index, LexicalIndex, LocalRetrieval]:
    dense, lexical = load_dense(path / DENSE_FILE), LexicalIndex.load(path / LEXICAL_DIR)
    return dense, lexical, LocalRetrieval(dense, lexical)
