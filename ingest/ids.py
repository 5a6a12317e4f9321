"""Stable article ids: the same article gets the same id on every run."""
from __future__ import annotations

import hashlib


def short_hash(text: str, length: int = 16) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def article_id(url: str | None, title: str) -> str:
    """Hash of the URL when there is one (titles get edited), else of the title."""
    return short_hash(url.strip()) if url else short_hash(title.strip())


def content_hash(*parts: str) -> str:
    """Hash of an article's indexed content, for incremental re-indexing."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()
