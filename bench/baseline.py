"""The baseline the STARD README quotes: a plain jieba BM25, one article per document.

Plain means: default `jieba.cut` (accurate mode, HMM on) from a fresh
`jieba.Tokenizer` (so no user dictionary the project may have loaded into
the global one), no stopwords, no synonyms or query expansion, no passage
chunking, bm25s with its default parameters. Document text = title + body.
Only whitespace-only tokens are dropped (they are not words).
"""
from __future__ import annotations

import logging
import time

import numpy as np

logging.getLogger("jieba").setLevel(logging.WARNING)
logging.getLogger("bm25s").setLevel(logging.WARNING)


class JiebaBM25:
    """Article-level BM25 over default jieba tokens."""

    description = "plain jieba BM25 (default jieba.cut, no user dict/stopwords/synonyms, bm25s defaults, 1 article = 1 doc)"

    def __init__(self, articles: list[dict]):
        import bm25s
        import jieba

        t = time.perf_counter()
        self.tokenizer = jieba.Tokenizer()  # the default dictionary, nothing added
        self.tokenizer.initialize()
        self.ids = [str(a["id"]) for a in articles]
        tokens = [self.tokenize(f"{a.get('title', '')}\n{a.get('body', '')}") for a in articles]
        self.retriever = bm25s.BM25()
        self.retriever.index(tokens, show_progress=False)
        self.vocab = self.retriever.vocab_dict
        self.build_seconds = time.perf_counter() - t
        self.n_docs = len(self.ids)

    def tokenize(self, text: str) -> list[str]:
        return [t for t in self.tokenizer.cut(text) if t.strip()]

    def rank(self, query: str, k: int = 100) -> list[str]:
        """Article ids best first (positive scores only)."""
        known = [t for t in self.tokenize(query) if t in self.vocab]
        if not known or not self.n_docs:
            return []
        scores = np.asarray(self.retriever.get_scores(known), dtype=np.float32)
        k = min(k, len(scores))
        idx = np.argpartition(-scores, k - 1)[:k]
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        return [self.ids[i] for i in idx if scores[i] > 0]
