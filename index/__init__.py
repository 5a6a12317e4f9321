"""Index and search: embeddings + FAISS, jieba + BM25, SQLite metadata, hybrid Searcher."""
__version__ = "0.1.0"

__all__ = ["Searcher", "Hit", "SearchResult", "__version__"]


def __getattr__(name):  # lazy: `import index` stays cheap until search is used
    if name in ("Searcher", "Hit", "SearchResult"):
        from index import searcher

        return getattr(searcher, name)
    raise AttributeError(name)
