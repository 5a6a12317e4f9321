"""Is a SQLite file whole? Cheap checks a server can make on every refresh, and moving a damaged file aside.

A damaged file must be named, refused or set aside, never a 500 or a nightly job
that fails every night until someone steps in.
"""
from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

SQLITE_MAGIC = b"SQLite format 3\x00"
# result codes of a damaged file (the primary code: the low byte of an extended one)
_DAMAGE_CODES = {11, 26}  # SQLITE_CORRUPT "database disk image is malformed", SQLITE_NOTADB "file is not a database"


def is_damage(exc: BaseException) -> bool:
    """Whether a sqlite3 error says the file itself is damaged (not busy, locked or misused)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and code is not None and code & 0xFF in _DAMAGE_CODES


def sqlite_file_problem(path: Path, missing_ok: bool = False) -> str | None:
    """Why `path` is not a whole SQLite file, judged from its 100-byte header and its size; None if it looks whole.

    Cheap (one small read), so a server can ask on every refresh: a garbled
    header ("not a SQLite database") or a file shorter than the page count its
    header records ("truncated") is found before a search trips over it. A WAL
    beside the file may hold pages not yet copied back, so the size is not
    judged then.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
            size = os.fstat(fh.fileno()).st_size
    except FileNotFoundError:
        return None if missing_ok else "missing"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if len(head) < 100 or head[:16] != SQLITE_MAGIC:
        return "not a SQLite database (its header is damaged)"
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    wal = path.with_name(path.name + "-wal")
    size_known = head[24:28] == head[92:96] and pages > 0  # the header's page count is valid
    if size_known and size < pages * page_size and not (wal.exists() and wal.stat().st_size > 0):
        return f"truncated ({size} of {pages * page_size} bytes)"
    return None


def set_aside(path: Path) -> Path:
    """Rename a damaged SQLite file (and its -wal/-shm) to `<name>.damaged-<UTC stamp>`; the new name."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    os.replace(path, target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    return target
