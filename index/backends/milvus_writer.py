"""The `milvus` backend's build side: incremental writes, a collection per version, atomic publish.

Every published version names its own collection in its manifest
(``<prefix>_<version stamp>``); readers follow CURRENT -> manifest -> collection,
so the SQLite rows and the Milvus rows they search always belong to the same
version, and `index rollback` (which only moves CURRENT) serves an older
version's untouched collection. A build never writes to a collection a kept
version still needs: it recycles the collection of the oldest version, the
one this publish would prune anyway (renamed to the new stamp), and brings it
up to date with a delta computed in SQLite (upsert passages whose vector
input, tokens, category or date changed; delete passages gone since). With
nothing to recycle it fills a fresh collection from the embedding cache.
The alias ``<prefix>`` follows the serving version for other Milvus clients.
A killed build leaves only an unreferenced collection, dropped by the next run.
"""
from __future__ import annotations

import json
import logging
import os
import random
import secrets
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from index.backends.base import Vectors
from index.backends.milvus_conn import connect, resolve_uri
from index.backends.milvus_schema import (
    CATEGORY,
    DATE,
    PK,
    TERMS,
    UNCATEGORISED,
    VEC,
    create_collection,
    encode_terms,
)
from index.backends.milvus_search import MilvusRetrieval
from index.storage.fields import date_ordinal
from index.storage.layout import IndexDir, read_manifest, write_atomic
from index.storage.store import MetaStore

log = logging.getLogger(__name__)

STATE_FILE = "milvus.json"
WRITE_BATCH = 500
SMOKE_QUERIES = 3
_ROWS = (
    f"SELECT n.id, n.embed_hash, n.tokens, COALESCE(NULLIF(na.category, ''), '{UNCATEGORISED}'), na.published "
    "FROM main.passages n JOIN main.articles na ON na.id = n.article_id"
)
# rows whose Milvus record differs from the base version's (or that it lacks)
_CHANGED = _ROWS + (
    " LEFT JOIN base.passages o ON o.id = n.id LEFT JOIN base.articles oa ON oa.id = o.article_id"
    " WHERE o.id IS NULL OR o.embed_hash != n.embed_hash OR o.tokens != n.tokens"
    f" OR COALESCE(NULLIF(oa.category, ''), '{UNCATEGORISED}') != COALESCE(NULLIF(na.category, ''), '{UNCATEGORISED}')"
    " OR COALESCE(oa.published, '') != COALESCE(na.published, '')"
)
_GONE = "SELECT o.id FROM base.passages o LEFT JOIN main.passages n ON n.id = o.id WHERE n.id IS NULL"


@dataclass
class Target:
    """The collection a build writes, and the rows it already holds (None: empty, or to be overwritten)."""

    name: str
    base_db: Path | None = None
    upserted: int = 0
    deleted: int = 0


def collection_prefix(root: Path) -> str:
    """This index directory's collection-name prefix, chosen once (random) and kept in INDEX/milvus.json.

    Random rather than derived from the path: two machines with the same
    /var/lib/lawfaq/index on one shared Milvus must never drop each other's collections.
    """
    path = Path(root) / STATE_FILE
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))["prefix"]
    prefix = "lawfaq_" + secrets.token_hex(4)
    write_atomic(path, json.dumps({"prefix": prefix}) + "\n")
    return prefix


def _milvus_versions(layout: IndexDir, uri: str) -> dict[str, str]:
    """version -> collection of the complete versions built on this Milvus."""
    out = {}
    for v in layout.list_versions():
        info = read_manifest(layout.versions / v).get("backend", {})
        if info.get("kind") == "milvus" and info.get("uri") == uri:
            out[v] = info["collection"]
    return out


def sweep_milvus(layout: IndexDir, client, uri: str, prefix: str) -> None:
    """Drop leftovers: collections no complete version names, versions whose collection is gone.

    Only call while holding the build lock (like `IndexDir.sweep_tmp`).
    """
    current = layout.current_name()
    existing = set(client.list_collections())
    for version, collection in _milvus_versions(layout, uri).items():
        if collection not in existing and version != current:
            log.info("removing version %s: its Milvus collection %s is gone", version, collection)
            shutil.rmtree(layout.versions / version, ignore_errors=True)
    wanted = set(_milvus_versions(layout, uri).values())
    for name in sorted(existing):
        if name.startswith(prefix + "_") and name not in wanted:
            log.info("dropping Milvus collection %s (no published version uses it)", name)
            client.drop_collection(name)


def _recycle(layout: IndexDir, client, oldest: str, collection: str, name: str, stamp: str) -> Target:
    """Rename the oldest version's collection to `name`; its rows (meta.sqlite) become the delta's base."""
    old_dir = layout.versions / oldest
    base = layout.tmp / f"{stamp}-base.sqlite"
    client.rename_collection(collection, name)
    os.replace(old_dir / "meta.sqlite", base)
    shutil.rmtree(old_dir, ignore_errors=True)  # its collection now becomes the new version
    log.info("recycling collection of version %s (pruned by this publish) as %s", oldest, name)
    return Target(name, base)


def _apply(db: sqlite3.Connection, client, target: Target, vectors: Vectors) -> None:
    """Upsert the rows that differ from what the collection holds; delete the ones gone."""
    attached = target.base_db is not None
    if attached:
        db.execute("ATTACH DATABASE ? AS base", (str(target.base_db),))
    try:
        cursor = db.execute(_CHANGED if attached else _ROWS)
        while rows := cursor.fetchmany(WRITE_BATCH):
            batch = vectors([r[1] for r in rows])
            client.upsert(target.name, [
                {PK: pid, TERMS: encode_terms(tokens.split(" ") if tokens else []), VEC: vec.tolist(),
                 CATEGORY: category, DATE: date_ordinal(published)}
                for (pid, _, tokens, category, published), vec in zip(rows, batch, strict=True)
            ])
            target.upserted += len(rows)
        gone = [r[0] for r in db.execute(_GONE)] if attached else []
    finally:
        if attached:
            db.execute("DETACH DATABASE base")
    for i in range(0, len(gone), WRITE_BATCH):
        client.delete(target.name, ids=gone[i : i + WRITE_BATCH])
    target.deleted = len(gone)
    if attached:
        target.base_db.unlink(missing_ok=True)


class MilvusWriter:
    """A version's rows into its own collection on the Milvus at `milvus_uri` (a `Writer`).

    `stamp` is the staged version, `keep` how many versions the publish keeps
    (so whether the oldest one's collection may be recycled), `full` forbids
    recycling; `model_checksum` and `dim` describe the vectors written.
    Connects on creation, so an unreachable Milvus fails the build before any embedding.
    """

    def __init__(self, layout: IndexDir, milvus_uri: str, *, stamp: str, keep: int, full: bool,
                 model_checksum: str, dim: int):
        self.layout, self.stamp, self.keep, self.full = layout, stamp, keep, full
        self.model_checksum, self.dim = model_checksum, dim
        self.uri = resolve_uri(milvus_uri, layout.root)
        self.client = connect(self.uri)
        self.target: Target | None = None

    def write(self, staging: Path, store: MetaStore, vectors: Vectors,
              stage: Callable[[str], None]) -> tuple[dict, dict]:
        """Bring a collection up to the staged meta.sqlite: a recycled one by its delta, else a new one in full."""
        stage("write_milvus")
        prefix = collection_prefix(self.layout.root)
        sweep_milvus(self.layout, self.client, self.uri, prefix)
        store.commit()
        target = self.target = self._target(prefix)
        _apply(store.db, self.client, target, vectors)
        self.client.flush(target.name)
        self.client.load_collection(target.name)
        log.info("Milvus %s: %d rows upserted, %d deleted", target.name, target.upserted, target.deleted)
        dense = {"kind": "milvus-hnsw", "ntotal": store.counts()[1]}
        backend = {"kind": "milvus", "uri": self.uri, "collection": target.name,
                   "upserted": target.upserted, "deleted": target.deleted}
        return dense, backend

    def _target(self, prefix: str) -> Target:
        """Recycle the oldest version's collection when this publish prunes it anyway; else a new one."""
        layout, name = self.layout, f"{prefix}_{self.stamp}"
        versions, current = layout.list_versions(), layout.current_name()
        oldest = versions[0] if versions and len(versions) >= self.keep else None
        collection = _milvus_versions(layout, self.uri).get(oldest) if oldest and oldest != current else None
        # another model's vectors, or --full: nothing in it can be kept, so fill a new one
        if collection is not None and not self.full and (
                read_manifest(layout.versions / oldest).get("model", {}).get("checksum") == self.model_checksum):
            return _recycle(layout, self.client, oldest, collection, name, self.stamp)
        create_collection(self.client, name, self.dim)
        return Target(name)

    def validate(self, staging: Path, manifest: dict, embedder, tokenizer) -> None:
        validate_milvus(self.client, self.target.name, staging, manifest, embedder, tokenizer)

    def after_publish(self) -> None:
        """Point the alias at the serving version and drop the collections of pruned versions."""
        prefix = collection_prefix(self.layout.root)
        point_alias(self.layout, self.client, self.uri, prefix)
        sweep_milvus(self.layout, self.client, self.uri, prefix)


def validate_milvus(client, name: str, staging: Path, manifest: dict, embedder, tokenizer) -> None:
    """Refuse to publish unless the collection holds exactly the version's passages and answers."""
    with MetaStore(staging / "meta.sqlite", readonly=True) as store:
        n_passages = store.counts()[1]
        got = client.query(name, filter="", output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"]
        if not n_passages == got == manifest["counts"]["passages"]:
            raise RuntimeError(f"stores disagree: sqlite {n_passages} passages, Milvus {name} {got}")
        if n_passages == 0:
            raise RuntimeError("the new version has no passages")
        retrieval = MilvusRetrieval(client, name, store)
        for pos in random.Random(0).sample(range(n_passages), min(SMOKE_QUERIES, n_passages)):
            row = store.passages([pos])[pos]
            title = store.article(row.article_id).title
            if not len(retrieval.bm25_top(tokenizer.query_tokens(title + " " + row.text[:50]), 5, None)[1]):
                raise RuntimeError(f"smoke query on Milvus BM25 found nothing for passage {row.id}")
            if not len(retrieval.dense_top(embedder.encode_queries([title])[0], 5, None)[1]):
                raise RuntimeError(f"smoke query on Milvus vectors found nothing for passage {row.id}")


def point_alias(layout: IndexDir, client, uri: str, prefix: str) -> None:
    """Alias `<prefix>` -> the serving version's collection (for other Milvus clients; ours follow CURRENT)."""
    collection = _milvus_versions(layout, uri).get(layout.current_name() or "")
    if collection is None:
        return
    # list first: a failed alter_alias is logged by pymilvus as an RPC error
    if prefix in client.list_aliases().get("aliases", []):
        client.alter_alias(collection, prefix)
    else:
        client.create_alias(collection, prefix)


def follow_rollback(layout: IndexDir) -> None:
    """After `index rollback`: point the alias at the version now serving (ours follow CURRENT anyway)."""
    info = read_manifest(layout.current()).get("backend", {})
    if info.get("kind") != "milvus" or not (Path(layout.root) / STATE_FILE).exists():
        return
    try:
        point_alias(layout, connect(info["uri"]), info["uri"], collection_prefix(layout.root))
    except Exception as exc:  # noqa: BLE001 - the rollback itself has happened; the alias is a convenience
        log.warning("rolled back, but the Milvus alias could not be moved: %s", exc)
