"""Index and search: embeddings + FAISS, jieba + BM25, SQLite metadata, hybrid Searcher."""
__version__ = "0.2.0"

__all__ = ["Hit", "HitList", "Searcher", "__version__"]


def __getattr__(name):  # lazy: `import index` stays cheap until search is used
    if name == "Searcher":
        from index.search.searcher import Searcher

        return Searcher
    if name in ("Hit", "HitList"):
        from index.search import hits

        return getattr(hits, name)
    raise AttributeError(name)
