"""What one `index build` run is asked to do (the CLI's flags and settings, as one value)."""
from __future__ import annotations

from dataclasses import dataclass

from index.storage.dense import DEFAULT_APPROX_THRESHOLD
from ingest.load import DEFAULT_MAX_BYTES


@dataclass
class BuildOptions:
    full: bool = False
    keep: int = 3
    max_shrink: float = 0.20
    allow_shrink: bool = False
    approx_threshold: int = DEFAULT_APPROX_THRESHOLD
    max_bytes: int = DEFAULT_MAX_BYTES
    follow_symlinks: bool = False  # links inside a source folder (never leaving it)
    allow_private: bool = False  # fetch from loopback/private addresses (an intranet CMS)
    progress: bool | None = None  # None: a bar when stderr is a terminal
    backend: str = "faiss"  # faiss (in-process files) | milvus (LAWFAQ_BACKEND)
    milvus_uri: str = ""  # milvus-lite file or server URI; "" = INDEX/milvus.db (LAWFAQ_MILVUS_URI)
    executor: str = "local"  # where missing embeddings are computed: local loop | ray (index/build/ray_executor.py)
