"""One Milvus client per URI per process, and what a LAWFAQ_MILVUS_URI means.

A local path (``*.db``) is a milvus-lite data directory: only one process may
open it (a second gets DataDirLockedError), so every part of this process
(the build, the Searcher, a refreshed version) must share one client.
``http://host:19530`` (or https, tcp, unix) is a Milvus server (standalone,
cluster, or ``milvus-lite server``) that any number of processes reach.
"""
from __future__ import annotations

import threading
from pathlib import Path

REMOTE_SCHEMES = ("http://", "https://", "tcp://", "unix:")
DEFAULT_LITE_FILE = "milvus.db"

_clients: dict[str, object] = {}
_lock = threading.Lock()


class MilvusUnavailable(RuntimeError):
    """The configured Milvus cannot be reached or opened; the message says which URI and why."""


def is_remote(uri: str) -> bool:
    return uri.startswith(REMOTE_SCHEMES)


def resolve_uri(uri: str, index_root: Path) -> str:
    """The URI to use: a server URI as given, a lite path made absolute (default INDEX/milvus.db)."""
    uri = uri.strip()
    if is_remote(uri):
        return uri
    path = Path(uri) if uri else Path(index_root) / DEFAULT_LITE_FILE
    if path.suffix != ".db":
        raise MilvusUnavailable(
            f"LAWFAQ_MILVUS_URI {uri!r}: a local milvus-lite path must end in .db "
            "(or give a server as http://host:19530)"
        )
    return str(path.resolve())


def connect(uri: str):
    """The process's client for `uri` (created on first use; MilvusUnavailable if it cannot be)."""
    with _lock:
        client = _clients.get(uri)
        if client is not None:
            return client
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:
            raise MilvusUnavailable(
                "the Milvus backend needs the optional extra: pip install -r requirements-milvus.txt"
            ) from exc
        if not is_remote(uri):
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            client = MilvusClient(uri=uri)
        except Exception as exc:  # pymilvus and milvus-lite raise many types; all mean "unusable"
            raise MilvusUnavailable(f"cannot open Milvus at {uri}: {type(exc).__name__}: {exc}") from exc
        _clients[uri] = client
        return client


def disconnect(uri: str) -> None:
    """Close and forget this process's client for `uri` (tests, or before another process takes a lite file)."""
    with _lock:
        client = _clients.pop(uri, None)
    if client is not None:
        client.close()
