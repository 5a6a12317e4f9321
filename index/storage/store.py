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

from index.storage.sqlite_health import sqlite_file_problem
from ingest.records import Article, Passage

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, url TEXT, category TEXT, published TEXT,
    tags TEXT NOT NULL DEFAULT '[]', source TEXT, body TEXT NOT NULL, content_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    pos INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, article_id TEXT NOT NULL,
    text TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, heading TEXT NOT NULL,
    statutes TEXT NOT NULL DEFAULT '[]', labels TEXT NOT NULL DEFAULT '[]',
    embed_hash TEXT NOT NULL, tokens TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_id);
CREATE TABLE IF NOT EXISTS statutes (key TEXT NOT NULL, pos INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS template (pos INTEGER PRIMARY KEY);
CREATE INDEX IF NOT EXISTS statutes_key ON statutes(key);
"""


# SQLite allows 999 host parameters in older builds; 500 leaves room for the fixed ones.
BATCH = 500
_ARTICLE_COLS = "id,title,url,category,published,tags,body,content_hash"
_PASSAGE_COLS = 'pos,id,article_id,text,start,"end",heading,statutes,labels'


def meta_problem(path: Path, counts: dict | None = None) -> str | None:
    """Why a version's meta.sqlite cannot be served (header, SQLite's quick_check, the counts its
    manifest records), or None. Reads the whole file: for an operator's command, not per search."""
    problem = sqlite_file_problem(path)
    if problem:
        return f"{path} is missing" if problem == "missing" else f"{path}: {problem}"
    try:
        with MetaStore(path, readonly=True) as store:
            check = [r[0] for r in store.db.execute("PRAGMA quick_check(5)")]
            if check != ["ok"]:
                return f"{path} is damaged: {'; '.join(check)}"
            have = store.counts()
    except sqlite3.Error as exc:
        return f"{path} cannot be read ({exc})"
    if counts and (counts.get("articles"), counts.get("passages")) != have:
        return (f"{path} holds {have[0]} articles and {have[1]} passages, its manifest says "
                f"{counts.get('articles')} and {counts.get('passages')}")
    return None


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def select_in(db: sqlite3.Connection, sql: str, values: Iterable, *params: object) -> Iterator[tuple]:
    """Rows of `sql` (holding one `IN ({})`) for any number of values, in batches.

    `params` are bound before the IN list (e.g. a model name).
    """
    values = list(values)
    for i in range(0, len(values), BATCH):
        chunk = values[i : i + BATCH]
        yield from db.execute(sql.format(",".join("?" * len(chunk))), [*params, *chunk])


@dataclass
class PassageRow:
    pos: int
    id: str
    article_id: str
    text: str
    start: int
    end: int
    heading: str
    statutes: list[str]  # Citation keys: what statute search matches
    labels: list[str]  # display tags as written, paragraph numbers kept


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

    def __enter__(self) -> MetaStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
            "INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                pos, p.id, p.article_id, p.text, p.start, p.end, p.heading,
                json.dumps(p.statutes, ensure_ascii=False), json.dumps(p.statute_labels, ensure_ascii=False),
                embed_hash, " ".join(tokens),
            ),
        )
        self.db.executemany("INSERT INTO statutes VALUES (?,?)", [(k, pos) for k in p.statutes])

    def commit(self) -> None:
        self.db.commit()

    def set_template(self, positions: Iterable[int]) -> None:
        """Mark exactly these passages as the site's template (never a card's passage; index.search)."""
        self.db.execute("DELETE FROM template")
        self.db.executemany("INSERT INTO template VALUES (?)", [(int(p),) for p in positions])

    def template_positions(self) -> set[int]:
        """Passages marked as template; none for a version built before templates were learned."""
        try:
            return {r[0] for r in self.db.execute("SELECT pos FROM template")}
        except sqlite3.OperationalError:  # no such table: an older version
            return set()

    def lead_positions(self) -> set[int]:
        """Passages that open an article with sections, before its first heading (its intro)."""
        return {r[0] for r in self.db.execute(
            "SELECT pos FROM passages WHERE heading = '' AND article_id IN "
            "(SELECT DISTINCT article_id FROM passages WHERE heading != '')")}

    def bodies(self) -> Iterator[tuple[str, str, str | None]]:
        """(id, body, category) of every article."""
        yield from self.db.execute("SELECT id, body, category FROM articles")

    def passage_spans(self) -> Iterator[tuple[int, str, int, int]]:
        """(pos, article id, start, end) of every passage."""
        yield from self.db.execute('SELECT pos, article_id, start, "end" FROM passages ORDER BY pos')

    # ---- reads -----------------------------------------------------------
    def counts(self) -> tuple[int, int]:
        a = self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        p = self.db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        return a, p

    def article_hashes(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT id, content_hash FROM articles"))

    def article(self, article_id: str) -> ArticleRow | None:
        row = self.db.execute(f"SELECT {_ARTICLE_COLS} FROM articles WHERE id=?", (article_id,)).fetchone()
        return _article(row) if row else None

    def articles(self, ids: Iterable[str]) -> dict[str, ArticleRow]:
        sql = f"SELECT {_ARTICLE_COLS} FROM articles WHERE id IN ({{}})"
        return {row[0]: _article(row) for row in select_in(self.db, sql, dict.fromkeys(ids))}

    def passages(self, positions: Iterable[int]) -> dict[int, PassageRow]:
        sql = f"SELECT {_PASSAGE_COLS} FROM passages WHERE pos IN ({{}})"
        return {row[0]: _passage(row) for row in select_in(self.db, sql, (int(p) for p in positions))}

    def passages_of(self, article_id: str) -> list[PassageRow]:
        rows = self.db.execute(
            f"SELECT {_PASSAGE_COLS} FROM passages WHERE article_id=? ORDER BY start", (article_id,)
        )
        return [_passage(r) for r in rows]

    def labels_of(self, article_ids: Iterable[str]) -> dict[str, list[str]]:
        """Statute tags cited anywhere in each article, in reading order."""
        out: dict[str, list[str]] = {}
        sql = "SELECT article_id, labels FROM passages WHERE article_id IN ({}) ORDER BY article_id, start"
        for aid, labels in select_in(self.db, sql, dict.fromkeys(article_ids)):
            have = out.setdefault(aid, [])
            have.extend(x for x in _json_list(labels) if x not in have)
        return out

    def article_heads(self, article_ids: Iterable[str]) -> dict[str, tuple[ArticleRow, list[str]]]:
        """What a hit shows of each article: its row without the body, and `labels_of` it, in one query.

        A search's hits need the title, link, category and date of ~5 articles
        and the statutes cited anywhere in them; one join instead of two
        statements, and no article body read (issue 14: shaping <= 1 ms).
        `ArticleRow.body` is "" here.
        """
        out: dict[str, tuple[ArticleRow, list[str]]] = {}
        sql = ("SELECT a.id, a.title, a.url, a.category, a.published, a.tags, '', a.content_hash, p.labels "
               "FROM articles a JOIN passages p ON p.article_id = a.id WHERE a.id IN ({}) ORDER BY a.id, p.start")
        for row in select_in(self.db, sql, dict.fromkeys(article_ids)):
            if row[0] not in out:
                out[row[0]] = (_article(row[:8]), [])
            have = out[row[0]][1]
            have.extend(x for x in _json_list(row[8]) if x not in have)
        return out

    def embed_inputs(self, embed_hashes: Iterable[str]) -> dict[str, tuple[str, str, str]]:
        """embed hash -> (article title, passage text, heading): what a passage's vector was embedded from,
        for passages carried forward whose vector the embedding cache no longer holds (a replaced cache)."""
        sql = ("SELECT p.embed_hash, a.title, p.text, p.heading FROM passages p JOIN articles a "
               "ON a.id = p.article_id WHERE p.embed_hash IN ({})")
        return {row[0]: (row[1], row[2], row[3]) for row in select_in(self.db, sql, dict.fromkeys(embed_hashes))}

    def positions_citing(self, keys: Iterable[str]) -> set[int]:
        return {r[0] for r in select_in(self.db, "SELECT pos FROM statutes WHERE key IN ({})", dict.fromkeys(keys))}

    def positions(self) -> list[tuple[int, str, str | None, str | None]]:
        """(pos, article id, category, published) of every passage in pos order: the searcher's arrays."""
        return self.db.execute(
            "SELECT p.pos, p.article_id, a.category, a.published FROM passages p "
            "JOIN articles a ON a.id = p.article_id ORDER BY p.pos"
        ).fetchall()

    def category_counts(self) -> dict[str, int]:
        """Articles per category, largest first; articles without one count as 未分类."""
        return dict(
            self.db.execute(
                "SELECT COALESCE(category,'未分类'), COUNT(*) FROM articles GROUP BY 1 ORDER BY 2 DESC, 1"
            )
        )

    # ---- carrying a version forward -----------------------------------------
    def copy_unchanged_from(self, prev_db: Path, article_ids: Iterable[str]) -> tuple[list[str], list[list[str]]]:
        """Copy the rows of unchanged articles from the previous version's database.

        Passages are renumbered 0..n-1 in their old order, so the caller appends
        new passages from n on. Returns (embed hashes, token lists) of the copied
        passages in pos order: the inputs the FAISS and BM25 stores are built from.
        """
        db = self.db
        db.execute("ATTACH DATABASE ? AS prev", (str(prev_db),))
        try:
            db.execute("CREATE TEMP TABLE keep_ids (id TEXT PRIMARY KEY)")
            db.executemany("INSERT INTO keep_ids VALUES (?)", [(i,) for i in article_ids])
            db.execute("INSERT INTO articles SELECT * FROM prev.articles WHERE id IN temp.keep_ids")
            db.execute(
                "CREATE TEMP TABLE posmap AS SELECT p.pos AS old, ROW_NUMBER() OVER (ORDER BY p.pos) - 1 AS new "
                "FROM prev.passages p JOIN temp.keep_ids k ON p.article_id = k.id"
            )
            db.execute(
                'INSERT INTO passages SELECT m.new, p.id, p.article_id, p.text, p.start, p."end", p.heading, '
                "p.statutes, p.labels, p.embed_hash, p.tokens FROM prev.passages p JOIN temp.posmap m ON p.pos = m.old"
            )
            db.execute(
                "INSERT INTO statutes SELECT s.key, m.new FROM prev.statutes s JOIN temp.posmap m ON s.pos = m.old"
            )
            db.commit()
        finally:
            db.execute("DETACH DATABASE prev")
        rows = db.execute("SELECT embed_hash, tokens FROM passages ORDER BY pos").fetchall()
        return [h for h, _ in rows], [t.split(" ") if t else [] for _, t in rows]


class PassageWindow:
    """Rows of the first positions of a ranking, read from the store in chunks as they are asked for.

    Shaping may look as far as the window reaches (60 passages for k=5) but
    usually stops after k to 2k of them; reading and decoding all 60 rows up
    front was over half of a search's shaping time. Asking for positions in
    ranking order reads one chunk at a time, so the rows seen are those of the
    whole window, and the result is the same.
    """

    def __init__(self, store: MetaStore, positions: Iterable[int], chunk: int):
        self._store = store
        self._positions = [int(p) for p in positions]
        self._chunk = max(1, chunk)
        self._read = 0
        self.rows: dict[int, PassageRow] = {}

    def get(self, pos: int) -> PassageRow | None:
        """The row at `pos` (a position of the window), None if the store has none."""
        while pos not in self.rows and self._read < len(self._positions):
            nxt = self._positions[self._read : self._read + self._chunk]
            self._read += len(nxt)
            self.rows.update(self._store.passages(nxt))
        return self.rows.get(pos)

    def present(self) -> Iterator[int]:
        """The window's positions that have a row, in order, reading chunks as the caller advances."""
        return (p for p in self._positions if self.get(p) is not None)


def _json_list(text: str) -> list:
    """A stored JSON list; most passages cite nothing, and "[]" needs no parser."""
    return [] if text == "[]" else json.loads(text)


def _passage(row: tuple) -> PassageRow:
    return PassageRow(*row[:7], statutes=_json_list(row[7]), labels=_json_list(row[8]))


def _article(row: tuple) -> ArticleRow:
    return ArticleRow(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6], row[7])
