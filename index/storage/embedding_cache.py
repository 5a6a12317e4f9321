"""The embedding cache: vectors keyed by (model checksum, hash of the embedded text), shared by versions."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from index.storage.sqlite_health import is_damage, set_aside, sqlite_file_problem
from index.storage.store import select_in


class CacheDamaged(RuntimeError):
    """The embedding cache's file is damaged; the message names it."""


class EmbeddingCache:
    """Vectors keyed by (model checksum, hash of the embedded text).

    Lives beside the versions, so re-indexing never re-embeds a passage whose
    text is unchanged, even across --full rebuilds. A damaged file is never
    fatal for long: `open_or_replace` moves it aside and starts an empty one
    (everything is embedded again), and an error met while reading one is a
    `CacheDamaged` naming the file.
    """

    def __init__(self, path: Path):
        self.path = path
        try:
            self.db = sqlite3.connect(path, timeout=60, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (model TEXT NOT NULL, hash TEXT NOT NULL, "
                "vec BLOB NOT NULL, PRIMARY KEY (model, hash))"
            )
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise CacheDamaged(f"embedding cache {path} is damaged ({exc})") from exc
            raise

    @classmethod
    def open_or_replace(cls, path: Path) -> tuple[EmbeddingCache, str | None]:
        """The cache at `path`, checked (header, size, SQLite's quick_check); a damaged one is renamed
        `<name>.damaged-<stamp>` and an empty cache started in its place. The second item says
        what was done (naming both files), None when the cache was sound."""
        problem = sqlite_file_problem(path, missing_ok=True)
        cache = None
        if problem is None:
            try:
                cache = cls(path)
                check = [r[0] for r in cache.db.execute("PRAGMA quick_check(5)")]
                if check == ["ok"]:
                    return cache, None
                problem = "; ".join(check)
            except CacheDamaged as exc:
                problem = str(exc.__cause__ or exc)
            except sqlite3.DatabaseError as exc:
                if not is_damage(exc):
                    raise
                problem = str(exc)
            if cache is not None:
                cache.close()
        moved = set_aside(path)
        return cls(path), f"embedding cache {path} was damaged ({problem}): moved to {moved.name}, started anew"

    def close(self) -> None:
        self.db.close()

    def _raise_if_damaged(self, exc: sqlite3.DatabaseError) -> None:
        if is_damage(exc):
            raise CacheDamaged(f"embedding cache {self.path} is damaged ({exc})") from exc

    def missing(self, model: str, hashes: list[str]) -> list[str]:
        uniq = list(dict.fromkeys(hashes))
        sql = "SELECT hash FROM vectors WHERE model=? AND hash IN ({})"
        try:
            have = {r[0] for r in select_in(self.db, sql, uniq, model)}
        except sqlite3.DatabaseError as exc:
            self._raise_if_damaged(exc)
            raise
        return [h for h in uniq if h not in have]

    def put(self, model: str, hashes: list[str], vectors: np.ndarray) -> None:
        try:
            self.db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?,?,?)",
                [(model, h, v.astype(np.float32).tobytes()) for h, v in zip(hashes, vectors, strict=True)],
            )
            self.db.commit()
        except sqlite3.DatabaseError as exc:
            self._raise_if_damaged(exc)
            raise

    def get(self, model: str, hashes: list[str], dim: int) -> np.ndarray:
        out = np.zeros((len(hashes), dim), dtype=np.float32)
        index: dict[str, list[int]] = {}
        for i, h in enumerate(hashes):
            index.setdefault(h, []).append(i)
        sql = "SELECT hash, vec FROM vectors WHERE model=? AND hash IN ({})"
        try:
            for h, blob in select_in(self.db, sql, index, model):
                vec = np.frombuffer(blob, dtype=np.float32)
                for j in index[h]:
                    out[j] = vec
        except sqlite3.DatabaseError as exc:
            self._raise_if_damaged(exc)
            raise
        return out
