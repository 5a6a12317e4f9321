"""The indexes the bench measures: the shipped corpus and (full mode) the 55k STARD statutes.

Both are built with the project's own `build_index`; it is incremental, so
an index that is already up to date costs one diff ("unchanged").
"""
from __future__ import annotations

import logging
from pathlib import Path

from bench import ROOT, SHIPPED_CORPUS

log = logging.getLogger("bench")

SHIPPED_INDEX = ROOT / "var" / "bench" / "shipped"
STARD_INDEX = ROOT / "var" / "stard" / "idx"


def ensure_index(sources: list[str], index_dir: Path) -> dict:
    """Build or update `index_dir`; returns the build report (status, stage seconds)."""
    from index.build.pipeline import BuildOptions, build_index

    report = build_index(sources, index_dir, BuildOptions(progress=False))
    if report.exit_code != 0:
        raise RuntimeError(f"building {index_dir} failed: {report.status}: {report.message}")
    d = report.to_dict()
    return {k: d[k] for k in ("status", "version", "articles_total", "passages_total", "passages_embedded",
                              "seconds", "stage_seconds")}


def ensure_shipped(index_dir: Path | None = None) -> tuple[Path, dict]:
    index_dir = Path(index_dir or SHIPPED_INDEX)
    return index_dir, ensure_index([str(SHIPPED_CORPUS)], index_dir)


def ensure_stard(corpus: Path, index_dir: Path | None = None) -> tuple[Path, dict]:
    index_dir = Path(index_dir or STARD_INDEX)
    return index_dir, ensure_index([str(corpus)], index_dir)


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def version_footprint(index_dir: Path) -> dict:
    """On-disk bytes of the serving version, file by file, and of the shared embedding cache."""
    from index.storage.layout import IndexDir, read_manifest

    layout = IndexDir(Path(index_dir))
    vdir = layout.current()
    manifest = read_manifest(vdir)
    passages = int(manifest["counts"]["passages"])
    parts: dict[str, int] = {}
    for p in vdir.iterdir():
        parts[p.name] = dir_bytes(p) if p.is_dir() else p.stat().st_size
    total = sum(parts.values())
    cache = sum(p.stat().st_size for p in layout.root.glob("embeddings.sqlite*") if p.is_file())
    return {
        "version": vdir.name, "articles": int(manifest["counts"]["articles"]), "passages": passages,
        "dense_kind": manifest.get("dense", {}).get("kind"), "dim": manifest.get("model", {}).get("dim"),
        "version_bytes": total, "parts_bytes": parts, "bytes_per_passage": total / max(1, passages),
        "embedding_cache_bytes": cache, "embedding_cache_bytes_per_passage": cache / max(1, passages),
    }


def passage_text_bytes(index_dir: Path) -> dict:
    """UTF-8 bytes of the passage texts themselves (the 'raw data' baseline for bytes/passage)."""
    import sqlite3

    from index.storage.layout import IndexDir

    vdir = IndexDir(Path(index_dir)).current()
    db = sqlite3.connect(f"file:{vdir / 'meta.sqlite'}?mode=ro", uri=True)
    try:
        n, chars, nbytes = 0, 0, 0
        for (text,) in db.execute("SELECT text FROM passages"):
            n += 1
            chars += len(text)
            nbytes += len(text.encode("utf-8"))
    finally:
        db.close()
    return {"passages": n, "mean_chars": chars / max(1, n), "mean_utf8_bytes": nbytes / max(1, n)}
