"""Build or update an index version: incremental by content hash, published atomically.

The run: lock -> sweep leftovers -> load sources -> diff against the serving
version -> guard against shrinking -> stage a new version (copy unchanged
rows, chunk/tokenize/embed only what changed, embedding cache first) ->
write FAISS + BM25 + manifest -> validate -> rename into versions/ and switch
CURRENT -> prune. Any failure before the switch leaves the old version serving.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from index import __version__
from index.dense import DEFAULT_APPROX_THRESHOLD, build_dense, kind, load_dense, save_dense
from index.layout import MANIFEST, IndexDir, read_manifest, write_atomic
from index.lexical import LexicalIndex
from index.store import EmbeddingCache, MetaStore, text_hash
from ingest.chunk import chunk_article
from ingest.citations import parse_citations
from ingest.ids import content_hash
from ingest.load import LoadConfig, load_many
from ingest.records import Article

log = logging.getLogger("lawfaq.build")

# Bump when chunking or tokenization changes: every article is then "changed".
PIPELINE_VERSION = "chunk3-tok1"
EMBED_BATCH = 32
CACHE_FLUSH = 256
SMOKE_QUERIES = 3
MANIFEST_KEYS = (
    "format", "version", "built_at", "model", "counts", "dense", "source_fingerprint",
    "code_version", "pipeline_version", "sources",
)

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_LOCKED = 0, 1, 2, 3


class BuildRefused(RuntimeError):
    """A guard refused to publish (exit code 2)."""


@dataclass
class BuildOptions:
    full: bool = False
    keep: int = 3
    max_shrink: float = 0.20
    allow_shrink: bool = False
    approx_threshold: int = DEFAULT_APPROX_THRESHOLD
    max_bytes: int = 5 * 1024 * 1024
    progress: bool | None = None  # None: a bar when stderr is a terminal


@dataclass
class BuildReport:
    status: str = "failed"  # published | unchanged | refused | failed | locked
    message: str = ""
    version: str | None = None
    previous_version: str | None = None
    articles_total: int = 0
    articles_added: int = 0
    articles_changed: int = 0
    articles_removed: int = 0
    articles_unchanged: int = 0
    passages_total: int = 0
    passages_embedded: int = 0
    passages_reused: int = 0
    skipped: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    started_at: str = ""

    @property
    def exit_code(self) -> int:
        return {"published": EXIT_OK, "unchanged": EXIT_OK, "refused": EXIT_REFUSED, "locked": EXIT_LOCKED}.get(
            self.status, EXIT_FAILED
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["exit_code"] = self.exit_code
        return d


def code_version() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return f"{__version__}+{rev}" if rev else __version__


def article_hash(a: Article) -> str:
    return content_hash(
        PIPELINE_VERSION, a.title, a.body, a.url or "", a.category or "", a.published or "", "|".join(a.tags)
    )


def embed_text(title: str, passage_text: str) -> str:
    """What the model sees: the title gives a passage its topic."""
    return f"{title}\n{passage_text}"


def lexical_text(title: str, heading: str, passage_text: str) -> str:
    return f"{title}\n{heading}\n{passage_text}"


def _test_hook(stage: str) -> None:
    """Fault injection for the survival tests (never set in production).

    LAWFAQ_TEST_PAUSE_AT=<stage> sleeps there so a test can kill -9 the run;
    LAWFAQ_TEST_FAIL_AT=<stage>[:ENOSPC|EACCES] raises the real OSError a full
    disk or a permission problem would.
    """
    if os.environ.get("LAWFAQ_TEST_PAUSE_AT") == stage:
        log.info("test hook: pausing at %s", stage)
        time.sleep(float(os.environ.get("LAWFAQ_TEST_PAUSE_SECONDS", "60")))
    fail = os.environ.get("LAWFAQ_TEST_FAIL_AT", "")
    if fail.split(":")[0] == stage:
        import errno

        code = fail.split(":")[1] if ":" in fail else "ENOSPC"
        raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)), f"<{stage}>")


class _Stages:
    def __init__(self, report: BuildReport):
        self.report = report
        self.t = time.perf_counter()
        self.name: str | None = None

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        if self.name:
            self.report.stage_seconds[self.name] = round(now - self.t, 3)
        self.name, self.t = name, now
        log.info("stage: %s", name)
        _test_hook(name)

    def end(self) -> None:
        self("done")


def build_index(
    sources: list[str],
    index_dir: Path | str,
    options: BuildOptions | None = None,
    embedder=None,
    tokenizer=None,
) -> BuildReport:
    """Build or update the index at `index_dir` from `sources`; never raises on bad input.

    Returns a report whose `exit_code` is 0 (published / nothing to do),
    1 (failed, previous version untouched), 2 (refused by a guard) or 3 (locked).
    """
    from index.layout import IndexLocked

    options = options or BuildOptions()
    layout = IndexDir(Path(index_dir))
    report = BuildReport(sources=[str(s) for s in sources], started_at=dt.datetime.now().isoformat(timespec="seconds"))
    t0 = time.perf_counter()
    try:
        with layout.lock():
            try:
                _build_locked(sources, layout, options, report, embedder, tokenizer)
            except BuildRefused as exc:
                report.status, report.message = "refused", str(exc)
                log.error("refused: %s", exc)
            except Exception as exc:
                report.status = "failed"
                report.message = f"{type(exc).__name__}: {exc}"
                log.error("build failed, previous version keeps serving: %s", report.message)
                log.debug("traceback", exc_info=True)
                _cleanup_staging(layout)
            report.seconds = round(time.perf_counter() - t0, 3)
            try:
                write_atomic(layout.report, json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
            except OSError as exc:
                log.warning("could not write %s: %s", layout.report, exc)
    except IndexLocked as exc:
        report.status, report.message = "locked", str(exc)
        report.seconds = round(time.perf_counter() - t0, 3)
        log.error("%s", exc)
    return report


def _cleanup_staging(layout: IndexDir) -> None:
    if layout.tmp.exists():
        shutil.rmtree(layout.tmp, ignore_errors=True)


def _build_locked(sources, layout: IndexDir, options: BuildOptions, report: BuildReport, embedder, tokenizer) -> None:
    stage = _Stages(report)
    stage("sweep")
    removed = layout.sweep_tmp()
    if removed:
        log.info("removed leftovers of an interrupted build: %s", ", ".join(removed))

    stage("load")
    loaded = load_many(list(sources), LoadConfig(max_bytes=options.max_bytes, state_dir=layout.root / "http"))
    report.skipped = [asdict(s) for s in loaded.skipped]
    for s in loaded.skipped:
        log.warning("skipped %s: %s", s.source, s.reason)
    articles = loaded.articles
    report.articles_total = len(articles)
    log.info("loaded %d articles, skipped %d inputs", len(articles), len(loaded.skipped))

    if embedder is None:
        from index.model import default_embedder

        embedder = default_embedder()
    if tokenizer is None:
        from index.tokenize import default_tokenizer

        tokenizer = default_tokenizer()
    model_id = f"{embedder.name}:{embedder.checksum}"

    stage("diff")
    prev_name = layout.current_name()
    prev_dir = layout.versions / prev_name if prev_name else None
    prev_store: MetaStore | None = None
    prev_hashes: dict[str, str] = {}
    if prev_dir and (prev_dir / MANIFEST).exists():
        report.previous_version = prev_name
        prev_manifest = read_manifest(prev_dir)
        prev_store = MetaStore(prev_dir / "meta.sqlite", readonly=True)
        prev_hashes = prev_store.article_hashes()
        if prev_manifest.get("model", {}).get("checksum") != embedder.checksum:
            log.info("model changed since the serving version: re-embedding everything")
            options = BuildOptions(**{**asdict(options), "full": True})
    if not articles and not prev_hashes:
        raise RuntimeError("the sources hold no articles; nothing to index")

    new_hashes = {a.id: article_hash(a) for a in articles}
    reuse = set() if options.full else {i for i, h in new_hashes.items() if prev_hashes.get(i) == h}
    report.articles_unchanged = len(reuse)
    report.articles_added = sum(1 for i in new_hashes if i not in prev_hashes)
    report.articles_changed = sum(1 for i in new_hashes if i in prev_hashes and i not in reuse)
    report.articles_removed = sum(1 for i in prev_hashes if i not in new_hashes)
    log.info(
        "articles: %d added, %d changed, %d removed, %d unchanged",
        report.articles_added, report.articles_changed, report.articles_removed, report.articles_unchanged,
    )

    if prev_hashes:
        lost = report.articles_removed / len(prev_hashes)
        if lost > options.max_shrink and not options.allow_shrink:
            raise BuildRefused(
                f"the new version would lose {report.articles_removed} of {len(prev_hashes)} articles "
                f"({lost:.0%} > {options.max_shrink:.0%}); check the source, or pass --allow-shrink"
            )
    if (
        prev_store is not None
        and not options.full
        and report.articles_added == report.articles_changed == report.articles_removed == 0
    ):
        report.status, report.version = "unchanged", prev_name
        report.passages_total = prev_store.counts()[1]
        report.message = "no changes; the serving version stays"
        log.info("nothing to do: %s", report.message)
        stage.end()
        return

    stage("stage")
    stamp = layout.new_stamp()
    staging = layout.tmp / stamp
    staging.mkdir(parents=True)
    store = MetaStore(staging / "meta.sqlite")
    pos = 0
    token_lists: list[list[str]] = []
    embed_hashes: list[str] = []
    if prev_store is not None and reuse:
        pos = _copy_unchanged(prev_dir / "meta.sqlite", store, reuse, token_lists, embed_hashes)
        report.passages_reused = pos
    if prev_store is not None:
        prev_store.close()

    stage("chunk")
    todo_texts: dict[str, str] = {}
    changed = [a for a in articles if a.id not in reuse]
    for a in changed:
        store.add_article(a, new_hashes[a.id])
        title_cites = [c.key for c in parse_citations(a.title)]
        for p in chunk_article(a):
            p.statutes = list(dict.fromkeys(p.statutes + title_cites))
            tokens = tokenizer.tokens(lexical_text(a.title, p.heading, p.text))
            etext = embed_text(a.title, p.text)
            h = text_hash(etext)
            store.add_passage(pos, p, h, tokens)
            token_lists.append(tokens)
            embed_hashes.append(h)
            todo_texts[h] = etext
            pos += 1
    store.commit()
    report.passages_total = pos
    log.info("%d passages (%d reused, %d from new or changed articles)", pos, report.passages_reused, len(todo_texts))

    stage("embed")
    cache = EmbeddingCache(layout.embedding_cache)
    try:
        missing = cache.missing(model_id, list(todo_texts))
        report.passages_embedded = len(missing)
        _embed_missing(embedder, cache, model_id, missing, todo_texts, options.progress)
        stage("vectors")
        vectors = cache.get(model_id, embed_hashes, embedder.dim) if embed_hashes else np.zeros((0, embedder.dim), np.float32)
    finally:
        cache.close()
    norms = np.linalg.norm(vectors, axis=1) if len(vectors) else np.ones(0)
    if len(vectors) and np.any(np.abs(norms - 1.0) > 1e-3):
        raise RuntimeError("embedding cache returned vectors that are not unit length (corrupt cache?)")

    stage("write_dense")
    dense = build_dense(vectors, options.approx_threshold)
    save_dense(dense, staging / "dense.faiss")

    stage("write_lexical")
    LexicalIndex.build(token_lists).save(staging / "bm25")

    stage("manifest")
    n_articles, n_passages = store.counts()
    store.close()
    fingerprint = hashlib.sha256(
        "\n".join(f"{i}\t{h}" for i, h in sorted(new_hashes.items())).encode()
    ).hexdigest()[:16]
    manifest = {
        "format": 1,
        "version": stamp,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": embedder.info().to_dict(),
        "counts": {"articles": n_articles, "passages": n_passages},
        "dense": {"kind": kind(dense), "ntotal": int(dense.ntotal), "approx_threshold": options.approx_threshold},
        "source_fingerprint": fingerprint,
        "code_version": code_version(),
        "pipeline_version": PIPELINE_VERSION,
        "sources": [str(s) for s in sources],
        "categories": _categories(staging / "meta.sqlite"),
    }
    _fsync_tree(staging)

    stage("validate")
    _validate(staging, manifest, token_lists, embedder, tokenizer)
    # the manifest is written last: a folder without one is never opened
    write_atomic(staging / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))

    stage("publish")
    layout.publish(staging, stamp)
    report.version = stamp
    report.status = "published"
    report.message = f"published version {stamp}"
    log.info("published %s: %d articles, %d passages", stamp, n_articles, n_passages)

    stage("prune")
    pruned = layout.prune(options.keep)
    if pruned:
        log.info("pruned old versions: %s", ", ".join(pruned))
    stage.end()


def _categories(db_path: Path) -> dict[str, int]:
    db = sqlite3.connect(db_path)
    try:
        return dict(db.execute("SELECT COALESCE(category,'未分类'), COUNT(*) FROM articles GROUP BY 1 ORDER BY 2 DESC"))
    finally:
        db.close()


def _copy_unchanged(prev_db: Path, store: MetaStore, reuse: set[str], token_lists, embed_hashes) -> int:
    """Copy rows of unchanged articles from the previous version, renumbering `pos`."""
    db = store.db
    db.execute("ATTACH DATABASE ? AS prev", (f"file:{prev_db}?mode=ro",)) if False else db.execute(
        "ATTACH DATABASE ? AS prev", (str(prev_db),)
    )
    db.execute("CREATE TEMP TABLE keep_ids (id TEXT PRIMARY KEY)")
    db.executemany("INSERT INTO keep_ids VALUES (?)", [(i,) for i in reuse])
    db.execute("INSERT INTO articles SELECT a.* FROM prev.articles a JOIN keep_ids k ON a.id = k.id")
    db.execute(
        "CREATE TEMP TABLE posmap AS SELECT p.pos AS old, ROW_NUMBER() OVER (ORDER BY p.pos) - 1 AS new "
        "FROM prev.passages p JOIN keep_ids k ON p.article_id = k.id"
    )
    db.execute(
        'INSERT INTO passages SELECT m.new, p.id, p.article_id, p.text, p.start, p."end", p.heading, '
        "p.statutes, p.embed_hash, p.tokens FROM prev.passages p JOIN temp.posmap m ON p.pos = m.old"
    )
    db.execute("INSERT INTO statutes SELECT s.key, m.new FROM prev.statutes s JOIN temp.posmap m ON s.pos = m.old")
    for embed_hash, tokens in db.execute("SELECT embed_hash, tokens FROM passages ORDER BY pos"):
        embed_hashes.append(embed_hash)
        token_lists.append(tokens.split(" ") if tokens else [])
    db.commit()
    db.execute("DETACH DATABASE prev")
    return len(embed_hashes)


def _embed_missing(embedder, cache: EmbeddingCache, model_id: str, missing: list[str], texts: dict[str, str], progress) -> None:
    """Embed passages not in the cache, saving every few hundred so a killed run resumes."""
    if not missing:
        log.info("all passage embeddings found in the cache")
        return
    from tqdm import tqdm

    show_bar = sys.stderr.isatty() if progress is None else progress
    # similar lengths per batch: less padding, much faster on CPU
    order = sorted(missing, key=lambda h: len(texts[h]))
    bar = tqdm(total=len(order), desc="embedding", unit="passage", disable=not show_bar, file=sys.stderr)
    started = time.perf_counter()
    done = 0
    for i in range(0, len(order), CACHE_FLUSH):
        chunk = order[i : i + CACHE_FLUSH]
        vecs = embedder.encode_passages([texts[h] for h in chunk])
        cache.put(model_id, chunk, vecs)
        done += len(chunk)
        bar.update(len(chunk))
        if not show_bar:
            rate = done / max(time.perf_counter() - started, 1e-9)
            log.info("embedded %d/%d passages (%.1f/s)", done, len(order), rate)
    bar.close()


def _fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _validate(staging: Path, manifest: dict, token_lists, embedder, tokenizer) -> None:
    """Refuse to publish a version whose stores disagree or that cannot answer."""
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise RuntimeError(f"manifest incomplete, missing {missing}")
    store = MetaStore(staging / "meta.sqlite", readonly=True)
    try:
        n_articles, n_passages = store.counts()
        dense = load_dense(staging / "dense.faiss")
        lexical = LexicalIndex.load(staging / "bm25")
        if not (n_passages == dense.ntotal == lexical.n_docs == manifest["counts"]["passages"]):
            raise RuntimeError(
                f"stores disagree: sqlite {n_passages} passages, faiss {dense.ntotal}, bm25 {lexical.n_docs}"
            )
        if n_passages == 0:
            raise RuntimeError("the new version has no passages")
        rng = random.Random(0)
        for pos in rng.sample(range(n_passages), min(SMOKE_QUERIES, n_passages)):
            row = store.passages([pos])[pos]
            title = store.article(row.article_id).title
            if not len(lexical.top(tokenizer.query_tokens(title + " " + row.text[:50]), 5)[1]):
                raise RuntimeError(f"smoke query on BM25 found nothing for passage {row.id}")
            qv = embedder.encode_queries([title])[0]
            from index.dense import search_dense

            if not len(search_dense(dense, qv, 5)[1]):
                raise RuntimeError(f"smoke query on FAISS found nothing for passage {row.id}")
    finally:
        store.close()
