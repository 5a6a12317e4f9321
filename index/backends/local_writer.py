"""The `faiss` backend's build side: FAISS and BM25 files in the staged version folder, checked before publish."""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from index.backends.base import Vectors
from index.backends.local import DENSE_FILE, LEXICAL_DIR
from index.storage.dense import build_dense, kind, load_dense, save_dense, search_dense
from index.storage.lexical import LexicalIndex
from index.storage.store import MetaStore

SMOKE_QUERIES = 3


@dataclass
class LocalWriter:
    """Every passage's vector into FAISS and its tokens into BM25, in pos order (a `Writer`)."""

    approx_threshold: int
    embed_hashes: list[str]  # each passage's embedding-text hash, in pos order
    token_lists: list[list[str]]  # each passage's BM25 tokens, in pos order

    def write(self, staging: Path, store: MetaStore, vectors: Vectors,
              stage: Callable[[str], None]) -> tuple[dict, None]:
        stage("vectors")
        dense = vectors(self.embed_hashes)
        stage("write_dense")
        index = build_dense(dense, self.approx_threshold)
        save_dense(index, staging / DENSE_FILE)
        stage("write_lexical")
        LexicalIndex.build(self.token_lists).save(staging / LEXICAL_DIR)
        return {"kind": kind(index), "ntotal": int(index.ntotal), "approx_threshold": self.approx_threshold}, None

    def validate(self, staging: Path, manifest: dict, embedder, tokenizer) -> None:
        """Refuse to publish a version whose stores disagree or that cannot answer."""
        with MetaStore(staging / "meta.sqlite", readonly=True) as store:
            n_passages = store.counts()[1]
            dense = load_dense(staging / DENSE_FILE)
            lexical = LexicalIndex.load(staging / LEXICAL_DIR)
            if not (n_passages == dense.ntotal == lexical.n_docs == manifest["counts"]["passages"]):
                raise RuntimeError(
                    f"stores disagree: sqlite {n_passages} passages, faiss {dense.ntotal}, bm25 {lexical.n_docs}"
                )
            if n_passages == 0:
                raise RuntimeError("the new version has no passages")
            rng = random.Random(0)
            for pos in rng.sample(range(n_passages), min(SMOKE_QUERIES, n_passages)):
                row = store.passages([pos])[pos]
                title = store.article(row.article_id).title
                if not len(lexical.top(tokenizer.query_tokens(title + " " + row.text[:50]), 5)[1]):
                    raise RuntimeError(f"smoke query on BM25 found nothing for passage {row.id}")
                if not len(search_dense(dense, embedder.encode_queries([title])[0], 5)[1]):
                    raise RuntimeError(f"smoke query on FAISS found nothing for passage {row.id}")

    def after_publish(self) -> None:
        """Nothing lives outside the version folder."""
