"""BM25 over jieba tokens, with bm25s (a small, fast, well-kept BM25 core)."""
from __future__ import annotations

import logging
from pathlib import Path

import bm25s
import numpy as np

logging.getLogger("bm25s").setLevel(logging.WARNING)


class LexicalIndex:
    """BM25 scores for passages numbered 0..N-1 (the shared `pos`)."""

    def __init__(self, retriever: bm25s.BM25, n_docs: int):
        self.retriever = retriever
        self.n_docs = n_docs

    @classmethod
    def build(cls, token_lists: list[list[str]]) -> LexicalIndex:
        retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
        if token_lists:
            retriever.index(token_lists, show_progress=False)
        return cls(retriever, len(token_lists))

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.retriever.save(str(path), show_progress=False)
        (path / "n_docs.txt").write_text(str(self.n_docs))

    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        n_docs = int((path / "n_docs.txt").read_text())
        retriever = bm25s.BM25.load(str(path), mmap=False, show_progress=False)
        return cls(retriever, n_docs)

    def document_frequencies(self) -> dict[str, int]:
        """token -> how many passages hold it (read from bm25s's token-major score matrix)."""
        indptr = np.asarray(self.retriever.scores["indptr"])
        return {tok: int(indptr[i + 1] - indptr[i]) for tok, i in self.retriever.vocab_dict.items()
                if tok and i + 1 < len(indptr)}

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        if not query_tokens or self.n_docs == 0:
            return np.zeros(self.n_docs, dtype=np.float32)
        known = [t for t in query_tokens if t in self.retriever.vocab_dict]
        if not known:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self.retriever.get_scores(known), dtype=np.float32)

    def top(self, query_tokens: list[str], k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions) of the best k passages with a positive score.

        `mask` (a bool per passage) restricts the ranking to the passages a
        filter allows, before the top k are taken: a rare category still gets
        its best k, not whatever survives of the global top k.
        """
        s = self.scores(query_tokens)
        if mask is not None and len(s):
            s = np.where(mask, s, 0)
        if not len(s):
            return s, np.zeros(0, np.int64)
        k = min(k, len(s))
        idx = np.argpartition(-s, k - 1)[:k]
        idx = idx[np.argsort(-s[idx], kind="stable")]
        keep = s[idx] > 0
        return s[idx][keep], idx[keep].astype(np.int64)
