"""What changed since the serving version: its article hashes against the sources', nothing decided here.

Whether the change may be published is for `guards`; whether there is anything
to do is for the pipeline.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from index.storage.layout import MANIFEST, IndexDir, read_manifest
from index.storage.sqlite_health import sqlite_file_problem
from index.storage.store import MetaStore


@dataclass(frozen=True)
class Serving:
    """The version CURRENT names (only one with a manifest counts): what a build diffs against."""

    name: str
    path: Path
    manifest: dict
    hashes: dict[str, str]  # article id -> content hash
    passages: int
    # why its files cannot be reused, naming the damaged one (hashes are empty then: nothing is carried
    # forward); None for a sound version
    damaged: str | None = None

    @property
    def articles(self) -> int:
        """How many articles it holds (its manifest's count when its database cannot be read)."""
        if self.damaged is None:
            return len(self.hashes)
        counts = self.manifest.get("counts")
        return int(counts.get("articles") or 0) if isinstance(counts, dict) else 0


@dataclass(frozen=True)
class ArticleDiff:
    reuse: set[str]  # unchanged articles whose rows are carried forward
    added: int
    changed: int
    removed: int

    @property
    def unchanged(self) -> int:
        return len(self.reuse)

    @property
    def changes(self) -> int:
        return self.added + self.changed + self.removed


def serving_version(layout: IndexDir) -> Serving | None:
    """The version CURRENT names, or None; one whose manifest or meta.sqlite cannot be read comes back
    with `damaged` saying which file and why (a build then reuses nothing of it)."""
    name = layout.current_name()
    path = layout.versions / name if name else None
    if path is None or not (path / MANIFEST).exists():
        return None
    try:
        manifest = read_manifest(path)
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        return Serving(name, path, {}, {}, 0, damaged=f"{path / MANIFEST} cannot be read ({exc})")
    meta = path / "meta.sqlite"
    problem = sqlite_file_problem(meta)
    if problem is None:
        try:
            with MetaStore(meta, readonly=True) as store:
                return Serving(name, path, manifest, store.article_hashes(), store.counts()[1])
        except sqlite3.Error as exc:
            problem = str(exc)
    counts = manifest.get("counts")
    passages = int(counts.get("passages") or 0) if isinstance(counts, dict) else 0
    return Serving(name, path, manifest, {}, passages, damaged=f"{meta} is damaged ({problem})")


def identity_change(manifest: dict, model_checksum: str, tokenizer_checksum: str) -> str | None:
    """Why every stored vector or token list is invalid (another model, other tokenizer data), or None.

    Vectors come from the embedding cache keyed by model, so a tokenizer change
    re-tokenizes everything without re-embedding anything.
    """
    if manifest.get("model", {}).get("checksum") != model_checksum:
        return "model changed since the serving version: re-embedding everything"
    if manifest.get("tokenizer", {}).get("checksum") != tokenizer_checksum:
        return "tokenizer data (dictionary, stopwords, synonyms) changed: re-tokenizing every passage"
    return None


def diff_articles(new: dict[str, str], prev: dict[str, str], full: bool) -> ArticleDiff:
    """Article id -> content hash, now and in the serving version; `full` reuses nothing."""
    reuse = set() if full else {i for i, h in new.items() if prev.get(i) == h}
    return ArticleDiff(
        reuse=reuse,
        added=sum(1 for i in new if i not in prev),
        changed=sum(1 for i in new if i in prev and i not in reuse),
        removed=sum(1 for i in prev if i not in new),
    )
