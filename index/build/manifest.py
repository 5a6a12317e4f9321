"""A version's identity card (manifest.json): what built it, from what, and what it holds."""
from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from pathlib import Path

from index import __version__
from index.build.texts import PIPELINE_VERSION

# 2: passages store display labels; manifests record the tokenizer's checksum.
FORMAT = 2
MANIFEST_KEYS = (
    "format", "version", "built_at", "model", "counts", "dense", "source_fingerprint",
    "code_version", "pipeline_version", "sources", "tokenizer",
)


def code_version() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return f"{__version__}+{rev}" if rev else __version__


def source_fingerprint(article_hashes: dict[str, str]) -> str:
    """One short hash of every article id and content hash: equal sources, equal fingerprint."""
    return hashlib.sha256(
        "\n".join(f"{i}\t{h}" for i, h in sorted(article_hashes.items())).encode()
    ).hexdigest()[:16]


def make_manifest(*, version: str, model: dict, tokenizer_checksum: str, counts: tuple[int, int], dense: dict,
                  article_hashes: dict[str, str], sources: list[str], categories: dict[str, int],
                  backend: dict | None = None) -> dict:
    """The manifest of `version`; `backend` (where its vectors live, when not in its own files) goes last."""
    n_articles, n_passages = counts
    manifest = {
        "format": FORMAT,
        "version": version,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": model,
        "tokenizer": {"checksum": tokenizer_checksum},
        "counts": {"articles": n_articles, "passages": n_passages},
        "dense": dense,
        "source_fingerprint": source_fingerprint(article_hashes),
        "code_version": code_version(),
        "pipeline_version": PIPELINE_VERSION,
        "sources": sources,
        "categories": categories,
    }
    if backend is not None:
        manifest["backend"] = backend
    return manifest


def check_manifest(manifest: dict) -> None:
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise RuntimeError(f"manifest incomplete, missing {missing}")
