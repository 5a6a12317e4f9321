"""SQLite stores: per-version article/passage metadata, and the shared embedding cache.

Passage rows are numbered `pos` 0..N-1 in the order of the FAISS vectors and
the BM25 documents, so one integer joins all three stores.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.records import Article, Passage

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, url TEXT, category TEXT, published TEXT,
    tags TEXT NOT NULL DEFAULT '[]', source TEXT, body TEXT NOT NULL, content_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    pos INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, article_id TEXT NOT NULL,
    text TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, heading TEXT NOT NULL,
    statutes TEXT NOT NULL DEFAULT '[]', embed_hash TEXT NOT NULL, tokens TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_id);
CREATE TABLE IF NOT EXISTS statutes (key TEXT NOT NULL, pos INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS statutes_key ON statutes(key);
"""


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass
class PassageRow:
    pos: int
    id: str
    article_id: str
    text: str
    start: int
    end: int
    heading: str
    statutes: list[str]


@dataclass
class ArticleRow:
    id: str
    title: str
    url: str | None
    category: str | None
    published: str | None
    tags: list[str]
    body: str
    content_hash: str


class MetaStore:
    """Articles and passages of one index version."""

    def __init__(self, path: Path, readonly: bool = False):
        self.path = path
        if readonly:
            uri = f"file:{path}?mode=ro"
            self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            self.db = sqlite3.connect(path, check_same_thread=False)
            self.db.executescript(SCHEMA)
            self.db.execute("PRAGMA journal_mode=OFF")
            self.db.execute("PRAGMA synchronous=OFF")  # the file is fsynced before publishing

    def close(self) -> None:
        self.db.close()

    def add_article(self, article: Article, content_hash: str) -> None:
        self.db.execute(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?)",
            (
                article.id, article.title, article.url, article.category, article.published,
                json.dumps(article.tags, ensure_ascii=False), article.source, article.body, content_hash,
            ),
        )

    def add_passage(self, pos: int, p: Passage, embed_hash: str, tokens: list[str]) -> None:
        self.db.execute(
            "INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                pos, p.id, p.article_id, p.text, p.start, p.end, p.heading,
                json.dumps(p.statutes, ensure_ascii=False), embed_hash, " ".join(tokens),
            ),
        )
        self.db.executemany("INSERT INTO statutes VALUES (?,?)", [(k, pos) for k in p.statutes])

    def commit(self) -> None:
        self.db.commit()

    # ---- reads -----------------------------------------------------------
    def counts(self) -> tuple[int, int]:
        a = self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        p = self.db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        return a, p

    def article_hashes(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT id, content_hash FROM articles"))

    def article(self, article_id: str) -> ArticleRow | None:
        row = self.db.execute(
            "SELECT id,title,url,category,published,tags,body,content_hash FROM articles WHERE id=?",
            (article_id,),
        ).fetchone()
        return _article(row) if row else None

    def articles(self, ids: Iterable[str]) -> dict[str, ArticleRow]:
        ids = list(dict.fromkeys(ids))
        out: dict[str, ArticleRow] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = ",".join("?" * len(chunk))
            for row in self.db.execute(
                f"SELECT id,title,url,category,published,tags,body,content_hash FROM articles WHERE id IN ({q})",
                chunk,
            ):
                out[row[0]] = _article(row)
        return out

    def passages(self, positions: Iterable[int]) -> dict[int, PassageRow]:
        positions = [int(p) for p in positions]
        out: dict[int, PassageRow] = {}
        for i in range(0, len(positions), 500):
            chunk = positions[i : i + 500]
            q = ",".join("?" * len(chunk))
            for row in self.db.execute(
                f'SELECT pos,id,article_id,text,start,"end",heading,statutes FROM passages WHERE pos IN ({q})',
                chunk,
            ):
                out[row[0]] = PassageRow(*row[:7], statutes=json.loads(row[7]))
        return out

    def passages_of(self, article_id: str) -> list[PassageRow]:
        rows = self.db.execute(
            'SELECT pos,id,article_id,text,start,"end",heading,statutes FROM passages '
            "WHERE article_id=? ORDER BY start",
            (article_id,),
        )
        return [PassageRow(*r[:7], statutes=json.loads(r[7])) for r in rows]

    def positions_citing(self, keys: Iterable[str]) -> set[int]:
        keys = list(keys)
        if not keys:
            return set()
        q = ",".join("?" * len(keys))
        return {r[0] for r in self.db.execute(f"SELECT pos FROM statutes WHERE key IN ({q})", keys)}

    def article_of_positions(self) -> np.ndarray:
        """pos -> integer article index, for fast per-article grouping."""
        rows = self.db.execute("SELECT pos, article_id FROM passages ORDER BY pos").fetchall()
        ids: dict[str, int] = {}
        return np.array([ids.setdefault(a, len(ids)) for _, a in rows], dtype=np.int32)

    def category_counts(self) -> list[tuple[str, int]]:
        return list(
            self.db.execute(
                "SELECT COALESCE(category,'未分类'), COUNT(*) FROM articles GROUP BY 1 ORDER BY 2 DESC"
            )
        )

    def iter_passage_rows(self) -> Iterator[tuple[int, str, str, str, str]]:
        """(pos, id, article_id, embed_hash, tokens) in pos order, for copying forward."""
        yield from self.db.execute("SELECT pos,id,article_id,embed_hash,tokens FROM passages ORDER BY pos")


def _article(row: tuple) -> ArticleRow:
    return ArticleRow(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6], row[7])


class EmbeddingCache:
    """Vectors keyed by (model checksum, hash of the embedded text).

    Lives beside the versions, so re-indexing never re-embeds a passage whose
    text is unchanged, even across --full rebuilds.
    """

    def __init__(self, path: Path):
        self.db = sqlite3.connect(path, timeout=60, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT NOT NULL, hash TEXT NOT NULL, "
            "vec BLOB NOT NULL, PRIMARY KEY (model, hash))"
        )

    def close(self) -> None:
        self.db.close()

    def missing(self, model: str, hashes: list[str]) -> list[str]:
        have: set[str] = set()
        uniq = list(dict.fromkeys(hashes))
        for i in range(0, len(uniq), 500):
            chunk = uniq[i : i + 500]
            q = ",".join("?" * len(chunk))
            have.update(
                r[0] for r in self.db.execute(f"SELECT hash FROM vectors WHERE model=? AND hash IN ({q})", [model, *chunk])
            )
        return [h for h in uniq if h not in have]

    def put(self, model: str, hashes: list[str], vectors: np.ndarray) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO vectors VALUES (?,?,?)",
            [(model, h, v.astype(np.float32).tobytes()) for h, v in zip(hashes, vectors, strict=True)],
        )
        self.db.commit()

    def get(self, model: str, hashes: list[str], dim: int) -> np.ndarray:
        out = np.zeros((len(hashes), dim), dtype=np.float32)
        index: dict[str, list[int]] = {}
        for i, h in enumerate(hashes):
            index.setdefault(h, []).append(i)
        uniq = list(index)
        for i in range(0, len(uniq), 500):
            chunk = uniq[i : i + 500]
            q = ",".join("?" * len(chunk))
            for h, blob in self.db.execute(
                f"SELECT hash, vec FROM vectors WHERE model=? AND hash IN ({q})", [model, *chunk]
            ):
                vec = np.frombuffer(blob, dtype=np.float32)
                for j in index[h]:
                    out[j] = vec
        return out
