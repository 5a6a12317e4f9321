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

To build a version, a backend is a `Writer` (local_writer.py, milvus_writer.py):
`index build` chooses one and hands it everything it needs as arguments, so
nothing in this package imports `index.build`.
"""
from __future__ import annotations

from pathlib import Path

from index.backends.base import PassageFilter, Retrieval, Vectors, Writer, backend_kind
from index.storage.store import MetaStore

__all__ = ["PassageFilter", "Retrieval", "Vectors", "Writer", "backend_kind", "open_retrieval"]


def open_retrieval(path: Path, manifest: dict, store: MetaStore) -> tuple[object, object, Retrieval]:
    """(FAISS index or None, LexicalIndex or None, Retrieval) for one published version."""
    if backend_kind(manifest) == "milvus":
        from index.backends.milvus_search import open_milvus_retrieval

        return None, None, open_milvus_retrieval(manifest, store)
    from index.backends.local import open_local

    return open_local(path)
