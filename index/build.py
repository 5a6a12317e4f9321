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
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from index import __version__
from index.dense import DEFAULT_APPROX_THRESHOLD, build_dense, kind, load_dense, save_dense, search_dense
from index.layout import MANIFEST, IndexDir, IndexLocked, fsync_tree, read_manifest, write_atomic
from index.lexical import LexicalIndex
from index.store import EmbeddingCache, MetaStore, text_hash
from ingest.chunk import chunk_article
from ingest.ids import content_hash
from ingest.load import DEFAULT_MAX_BYTES, LoadConfig, load_many
from ingest.records import Article

log = logging.getLogger(__name__)

# Bump when chunking or tokenization changes: every article is then "changed".
PIPELINE_VERSION = "chunk4-tok1"
# 2: passages store display labels; manifests record the tokenizer's checksum.
FORMAT = 2
EMBED_BATCH = 32
CACHE_FLUSH = 256
SMOKE_QUERIES = 3
MANIFEST_KEYS = (
    "format", "version", "built_at", "model", "counts", "dense", "source_fingerprint",
    "code_version", "pipeline_version", "sources", "tokenizer",
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
    max_bytes: int = DEFAULT_MAX_BYTES
    follow_symlinks: bool = False  # links inside a source folder (never leaving it)
    allow_private: bool = False  # fetch from loopback/private addresses (an intranet CMS)
    progress: bool | None = None  # None: a bar when stderr is a terminal
    backend: str = "faiss"  # faiss (in-process files) | milvus (LAWFAQ_BACKEND)
    milvus_uri: str = ""  # milvus-lite file or server URI; "" = INDEX/milvus.db (LAWFAQ_MILVUS_URI)
    executor: str = "local"  # where missing embeddings are computed: local loop | ray (index/backends/ray_embed.py)


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


# Listeners called at the start of every stage with its name. Empty in production;
# the crash tests add one (tests/index/build_with_faults.py) to pause or fail a run
# at a named stage, so nothing in the build reads test switches from the environment.
STAGE_LISTENERS: list[Callable[[str], None]] = []


class _Stages:
    """Times each stage into the report and tells the listeners where the run is."""

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
        for listener in STAGE_LISTENERS:
            listener(name)

    def end(self) -> None:
        self("done")


@dataclass
class _Run:
    """What one build carries from stage to stage."""

    sources: list[str]
    layout: IndexDir
    options: BuildOptions
    report: BuildReport
    embedder: object
    tokenizer: object
    articles: list[Article] = field(default_factory=list)
    new_hashes: dict[str, str] = field(default_factory=dict)
    reuse: set[str] = field(default_factory=set)
    prev_dir: Path | None = None
    prev_hashes: dict[str, str] = field(default_factory=dict)
    stamp: str = ""
    staging: Path | None = None
    store: MetaStore | None = None
    token_lists: list[list[str]] = field(default_factory=list)
    embed_hashes: list[str] = field(default_factory=list)
    todo_texts: dict[str, str] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        return f"{self.embedder.name}:{self.embedder.checksum}"


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
    options = options or BuildOptions()
    layout = IndexDir(Path(index_dir))
    report = BuildReport(sources=[str(s) for s in sources], started_at=dt.datetime.now().isoformat(timespec="seconds"))
    t0 = time.perf_counter()
    try:
        with layout.lock():
            run = _Run([str(s) for s in sources], layout, options, report, embedder, tokenizer)
            try:
                _build_locked(run)
            except BuildRefused as exc:
                report.status, report.message = "refused", str(exc)
                log.error("refused: %s", exc)
            except Exception as exc:
                report.status = "failed"
                report.message = f"{type(exc).__name__}: {exc}"
                log.error("build failed, previous version keeps serving: %s", report.message)
                log.debug("traceback", exc_info=True)
                if layout.tmp.exists():
                    shutil.rmtree(layout.tmp, ignore_errors=True)
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


def _build_locked(run: _Run) -> None:
    """The recipe: each stage is one function; a failure anywhere before `publish` changes nothing."""
    stage = _Stages(run.report)
    stage("sweep")
    removed = run.layout.sweep_tmp()
    if removed:
        log.info("removed leftovers of an interrupted build: %s", ", ".join(removed))
    stage("load")
    _load(run)
    stage("diff")
    if not _diff(run):
        stage.end()
        return
    stage("stage")
    _stage(run)
    stage("chunk")
    _chunk(run)
    stage("embed")
    if run.options.backend == "milvus":
        from index.backends.milvus_build import write_milvus

        manifest = write_milvus(run, stage)
    else:
        manifest = _write_faiss(run, stage)
    # the manifest is written last: a folder without one is never opened
    write_atomic(run.staging / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
    stage("publish")
    run.layout.publish(run.staging, run.stamp)
    report = run.report
    report.version, report.status, report.message = run.stamp, "published", f"published version {run.stamp}"
    log.info("published %s: %d articles, %d passages", run.stamp, *manifest["counts"].values())
    stage("prune")
    pruned = run.layout.prune(run.options.keep)
    if pruned:
        log.info("pruned old versions: %s", ", ".join(pruned))
    if run.options.backend == "milvus":
        from index.backends.milvus_build import after_publish

        after_publish(run)
    stage.end()


def _write_faiss(run: _Run, stage: _Stages) -> dict:
    """Every passage's vector into FAISS and its tokens into BM25 in the staged folder; the validated manifest."""
    vectors = _embed(run, stage)
    stage("write_dense")
    dense = build_dense(vectors, run.options.approx_threshold)
    save_dense(dense, run.staging / "dense.faiss")
    stage("write_lexical")
    LexicalIndex.build(run.token_lists).save(run.staging / "bm25")
    stage("manifest")
    manifest = _manifest(run, {"kind": kind(dense), "ntotal": int(dense.ntotal),
                               "approx_threshold": run.options.approx_threshold})
    fsync_tree(run.staging)
    stage("validate")
    _validate(run.staging, manifest, run.embedder, run.tokenizer)
    return manifest


def _load(run: _Run) -> None:
    """Read every source; bad inputs become `skipped` entries, never a failed run."""
    config = LoadConfig(max_bytes=run.options.max_bytes, state_dir=run.layout.root / "http",
                        follow_symlinks=run.options.follow_symlinks, allow_private=run.options.allow_private)
    loaded = load_many(run.sources, config)
    run.report.skipped = [asdict(s) for s in loaded.skipped]
    for s in loaded.skipped:
        log.warning("skipped %s: %s", s.source, s.reason)
    run.articles = loaded.articles
    run.report.articles_total = len(run.articles)
    log.info("loaded %d articles, skipped %d inputs", len(run.articles), len(loaded.skipped))
    if run.embedder is None:
        from index.model import default_embedder

        run.embedder = default_embedder()
    if run.tokenizer is None:
        from index.tokenize import default_tokenizer

        run.tokenizer = default_tokenizer()


def _diff(run: _Run) -> bool:
    """Compare with the serving version; False when there is nothing to do."""
    layout, report = run.layout, run.report
    prev_name = layout.current_name()
    prev_dir = layout.versions / prev_name if prev_name else None
    if prev_dir and (prev_dir / MANIFEST).exists():
        run.prev_dir, report.previous_version = prev_dir, prev_name
        prev_manifest = read_manifest(prev_dir)
        with MetaStore(prev_dir / "meta.sqlite", readonly=True) as prev_store:
            run.prev_hashes = prev_store.article_hashes()
            prev_passages = prev_store.counts()[1]
        _force_full_if_identity_changed(run, prev_manifest)
    if not run.articles and not run.prev_hashes:
        raise RuntimeError("the sources hold no articles; nothing to index")

    run.new_hashes = {a.id: article_hash(a) for a in run.articles}
    prev = run.prev_hashes
    run.reuse = set() if run.options.full else {i for i, h in run.new_hashes.items() if prev.get(i) == h}
    report.articles_unchanged = len(run.reuse)
    report.articles_added = sum(1 for i in run.new_hashes if i not in prev)
    report.articles_changed = sum(1 for i in run.new_hashes if i in prev and i not in run.reuse)
    report.articles_removed = sum(1 for i in prev if i not in run.new_hashes)
    log.info(
        "articles: %d added, %d changed, %d removed, %d unchanged",
        report.articles_added, report.articles_changed, report.articles_removed, report.articles_unchanged,
    )
    if prev:
        lost = report.articles_removed / len(prev)
        if lost > run.options.max_shrink and not run.options.allow_shrink:
            raise BuildRefused(
                f"the new version would lose {report.articles_removed} of {len(prev)} articles "
                f"({lost:.0%} > {run.options.max_shrink:.0%}); check the source, or pass --allow-shrink"
            )
    changes = report.articles_added + report.articles_changed + report.articles_removed
    if run.prev_dir is not None and not run.options.full and changes == 0:
        report.status, report.version = "unchanged", prev_name
        report.passages_total = prev_passages
        report.message = "no changes; the serving version stays"
        log.info("nothing to do: %s", report.message)
        return False
    return True


def _force_full_if_identity_changed(run: _Run, prev_manifest: dict) -> None:
    """Another model or other tokenizer data invalidates every stored vector or token list.

    Vectors come from the embedding cache keyed by model, so a tokenizer change
    re-tokenizes everything without re-embedding anything.
    """
    if prev_manifest.get("model", {}).get("checksum") != run.embedder.checksum:
        log.info("model changed since the serving version: re-embedding everything")
        run.options = replace(run.options, full=True)
    elif prev_manifest.get("tokenizer", {}).get("checksum") != run.tokenizer.checksum:
        log.info("tokenizer data (dictionary, stopwords, synonyms) changed: re-tokenizing every passage")
        run.options = replace(run.options, full=True)


def _stage(run: _Run) -> None:
    """Open a new version in tmp/ and carry the unchanged articles' rows forward."""
    run.stamp = run.layout.new_stamp()
    run.staging = run.layout.tmp / run.stamp
    run.staging.mkdir(parents=True)
    run.store = MetaStore(run.staging / "meta.sqlite")
    if run.prev_dir is not None and run.reuse:
        run.embed_hashes, run.token_lists = run.store.copy_unchanged_from(run.prev_dir / "meta.sqlite", run.reuse)
        run.report.passages_reused = len(run.embed_hashes)


def _chunk(run: _Run) -> None:
    """Chunk and tokenize the new and changed articles; their texts to embed go to `todo_texts`."""
    store, tokenizer = run.store, run.tokenizer
    pos = len(run.embed_hashes)
    for a in (a for a in run.articles if a.id not in run.reuse):
        store.add_article(a, run.new_hashes[a.id])
        for p in chunk_article(a):
            tokens = tokenizer.tokens(lexical_text(a.title, p.heading, p.text))
            etext = embed_text(a.title, p.text)
            h = text_hash(etext)
            store.add_passage(pos, p, h, tokens)
            run.token_lists.append(tokens)
            run.embed_hashes.append(h)
            run.todo_texts[h] = etext
            pos += 1
    store.commit()
    run.report.passages_total = pos
    log.info("%d passages (%d reused, %d from new or changed articles)", pos, run.report.passages_reused,
             len(run.todo_texts))


def _embed(run: _Run, stage: _Stages) -> np.ndarray:
    """Vectors for every passage in pos order: the cache first, the model for the rest."""
    dim = run.embedder.dim
    cache = EmbeddingCache(run.layout.embedding_cache)
    try:
        fill_cache(run, cache)
        stage("vectors")
        vectors = cache.get(run.model_id, run.embed_hashes, dim) if run.embed_hashes else np.zeros((0, dim), np.float32)
    finally:
        cache.close()
    norms = np.linalg.norm(vectors, axis=1) if len(vectors) else np.ones(0)
    if len(vectors) and np.any(np.abs(norms - 1.0) > 1e-3):
        raise RuntimeError("embedding cache returned vectors that are not unit length (corrupt cache?)")
    return vectors


def fill_cache(run: _Run, cache: EmbeddingCache) -> None:
    """Embed the new and changed passages the cache lacks, on the configured executor."""
    missing = cache.missing(run.model_id, list(run.todo_texts))
    run.report.passages_embedded = len(missing)
    if run.options.executor == "ray" and missing:
        from index.backends.ray_embed import embed_missing_ray

        embed_missing_ray(run.embedder, cache, run.model_id, missing, run.todo_texts)
        return
    _embed_missing(run.embedder, cache, run.model_id, missing, run.todo_texts, run.options.progress)


def _manifest(run: _Run, dense_info: dict) -> dict:
    """The version's identity: what built it (model, tokenizer, code), from what, and its counts."""
    n_articles, n_passages = run.store.counts()
    categories = run.store.category_counts()
    run.store.close()
    fingerprint = hashlib.sha256(
        "\n".join(f"{i}\t{h}" for i, h in sorted(run.new_hashes.items())).encode()
    ).hexdigest()[:16]
    return {
        "format": FORMAT,
        "version": run.stamp,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": run.embedder.info().to_dict(),
        "tokenizer": {"checksum": run.tokenizer.checksum},
        "counts": {"articles": n_articles, "passages": n_passages},
        "dense": dense_info,
        "source_fingerprint": fingerprint,
        "code_version": code_version(),
        "pipeline_version": PIPELINE_VERSION,
        "sources": run.sources,
        "categories": categories,
    }


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


def _validate(staging: Path, manifest: dict, embedder, tokenizer) -> None:
    """Refuse to publish a version whose stores disagree or that cannot answer."""
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise RuntimeError(f"manifest incomplete, missing {missing}")
    with MetaStore(staging / "meta.sqlite", readonly=True) as store:
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
            if not len(search_dense(dense, embedder.encode_queries([title])[0], 5)[1]):
                raise RuntimeError(f"smoke query on FAISS found nothing for passage {row.id}")
