"""Build or update an index version: incremental by content hash, published atomically.

The run, one function per stage: lock -> sweep leftovers -> load sources ->
diff against the serving version (diff.py) and guard against shrinking
(guards.py) -> stage a new version (copy unchanged rows, chunk/tokenize only
what changed) -> embed what the embedding cache lacks (embedding.py) -> the
backend's writer fills its stores (index.backends: local_writer, milvus_writer)
-> manifest (manifest.py) -> validate -> rename into versions/ and switch
CURRENT -> prune. Any failure before the switch leaves the old version serving.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path

from index.backends import Writer
from index.build.diff import diff_articles, identity_change, serving_version
from index.build.embedding import CACHE_FLUSH, EMBED_BATCH, cached_vectors, embed_missing
from index.build.guards import BuildRefused, check_shrink, require_articles
from index.build.manifest import FORMAT, MANIFEST_KEYS, check_manifest, code_version, make_manifest
from index.build.options import BuildOptions
from index.build.report import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, EXIT_REFUSED, BuildReport
from index.build.template import mark_template
from index.build.texts import PIPELINE_VERSION, article_hash, embed_text, lexical_text
from index.storage.embedding_cache import CacheDamaged, EmbeddingCache
from index.storage.layout import MANIFEST, IndexDir, IndexLocked, IndexNotWritable, fsync_tree, write_atomic
from index.storage.sqlite_health import set_aside
from index.storage.store import MetaStore, text_hash
from ingest.chunk import chunk_article
from ingest.load import LoadConfig, load_many
from ingest.records import Article

# the build's public names, wherever they are defined (callers import them from here)
__all__ = [
    "CACHE_FLUSH", "EMBED_BATCH", "EXIT_FAILED", "EXIT_LOCKED", "EXIT_OK", "EXIT_REFUSED", "FORMAT",
    "MANIFEST_KEYS", "PIPELINE_VERSION", "STAGE_LISTENERS", "BuildOptions", "BuildRefused", "BuildReport",
    "article_hash", "build_index", "code_version", "embed_text", "lexical_text",
]

log = logging.getLogger(__name__)

# Listeners called at the start of every stage with its name. Empty in production;
# the crash tests add one (tests/index/build/build_with_faults.py) to pause or fail a run
# at a named stage, so nothing in the build reads test switches from the environment.
# The publish stage also announces its steps: "publish_renamed" (the version moved into
# versions/, CURRENT not switched) and "publish_recorded" (HISTORY written, CURRENT not yet).
STAGE_LISTENERS: list[Callable[[str], None]] = []


def _announce(step: str) -> None:
    for listener in STAGE_LISTENERS:
        listener(step)


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
    repairs: list[str] = field(default_factory=list)  # damaged files met and worked around, for the report

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
                serving = layout.current_name()
                log.error("build failed, %s: %s", f"version {serving} keeps serving" if serving else "no index was built",
                          report.message)
                log.debug("traceback", exc_info=True)
                if layout.tmp.exists():
                    shutil.rmtree(layout.tmp, ignore_errors=True)
            report.seconds = round(time.perf_counter() - t0, 3)
            _write_report(layout, report)
    except IndexLocked as exc:
        report.status, report.message = "locked", str(exc)
        report.seconds = round(time.perf_counter() - t0, 3)
        log.error("%s", exc)
    except IndexNotWritable as exc:
        report.status, report.message = "failed", str(exc)
        report.seconds = round(time.perf_counter() - t0, 3)
        log.error("build failed: %s", exc)
    return report


def _write_report(layout: IndexDir, report: BuildReport) -> None:
    """INDEX/report.json for `index status`. When it cannot be written (a full disk), the previous
    run's report is removed rather than left claiming an outcome this run did not have, and
    no temporary file stays behind (write_atomic)."""
    try:
        write_atomic(layout.report, json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    except OSError as exc:
        log.error("could not write %s (%s); this run %s: %s", layout.report, exc, report.status, report.message)
        try:
            layout.report.unlink(missing_ok=True)
        except OSError as gone:
            log.error("and the previous report %s could not be removed (%s): it is stale", layout.report, gone)


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
    writer = _open_writer(run)
    dense, backend = _embed_and_write(run, writer, stage)
    stage("manifest")
    manifest = _manifest(run, dense, backend)
    fsync_tree(run.staging)
    stage("validate")
    check_manifest(manifest)
    writer.validate(run.staging, manifest, run.embedder, run.tokenizer)
    # the manifest is written last: a folder without one is never opened
    write_atomic(run.staging / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
    stage("publish")
    _publish(run, manifest)
    stage("prune")
    pruned = run.layout.prune(run.options.keep)
    if pruned:
        log.info("pruned old versions: %s", ", ".join(pruned))
    writer.after_publish()
    stage.end()


def _load(run: _Run) -> None:
    """Read every source; bad inputs become `skipped` entries, never a failed run."""
    config = LoadConfig(max_bytes=run.options.max_bytes, state_dir=run.layout.root / "http",
                        follow_symlinks=run.options.follow_symlinks, allow_private=run.options.allow_private)
    loaded = load_many(run.sources, config)
    run.report.skipped = [asdict(s) for s in loaded.skipped]
    for s in loaded.skipped:  # a record kept without a field is a warning, not a skipped input
        log.warning("%s %s: %s", "warning" if s.kept else "skipped", s.source, s.reason)
    run.articles = loaded.articles
    run.report.articles_total = len(run.articles)
    kept = sum(1 for s in loaded.skipped if s.kept)
    log.info("loaded %d articles, skipped %d inputs, %d warnings (articles kept)", len(run.articles),
             len(loaded.skipped) - kept, kept)
    if run.embedder is None:
        from index.encoders.factory import default_embedder

        run.embedder = default_embedder()
    if run.tokenizer is None:
        from index.text.tokenize import default_tokenizer

        run.tokenizer = default_tokenizer()


def _diff(run: _Run) -> bool:
    """Compare with the serving version and apply the guards; False when there is nothing to do."""
    report = run.report
    serving = serving_version(run.layout)
    previous = 0  # articles the serving version holds
    if serving is not None:
        run.prev_dir, report.previous_version, run.prev_hashes = serving.path, serving.name, serving.hashes
        previous = serving.articles
        if serving.damaged:  # nothing of it can be carried forward: build every article anew
            note = f"serving version {serving.name} not reused: {serving.damaged}; built in full"
            log.warning("%s", note)
            run.repairs.append(note)
            run.options = replace(run.options, full=True)
        else:
            reason = identity_change(serving.manifest, run.embedder.checksum, run.tokenizer.checksum)
            if reason:
                log.info("%s", reason)
                run.options = replace(run.options, full=True)
    require_articles(len(run.articles), previous)
    run.new_hashes = {a.id: article_hash(a) for a in run.articles}
    diff = diff_articles(run.new_hashes, run.prev_hashes, run.options.full)
    run.reuse = diff.reuse
    report.articles_added, report.articles_changed = diff.added, diff.changed
    report.articles_removed, report.articles_unchanged = diff.removed, diff.unchanged
    log.info("articles: %d added, %d changed, %d removed, %d unchanged",
             diff.added, diff.changed, diff.removed, diff.unchanged)
    # a damaged serving version's articles are unknown, its count is not: at least the difference is lost
    removed = diff.removed if serving is None or not serving.damaged else max(0, previous - len(run.articles))
    check_shrink(removed, previous, run.options.max_shrink, run.options.allow_shrink)
    if not run.articles:  # even allowed to shrink, an index with nothing in it is never published
        skipped = len(run.report.skipped)
        raise RuntimeError(
            f"the sources hold no articles ({skipped} input{'s' if skipped != 1 else ''} skipped, see `skipped`); "
            f"an empty index is not published, version {serving.name if serving else '-'} keeps serving"
        )
    if serving is not None and not run.options.full and diff.changes == 0:
        report.status, report.version = "unchanged", serving.name
        report.passages_total = serving.passages
        report.message = "no changes; the serving version stays"
        log.info("nothing to do: %s", report.message)
        return False
    return True


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
            etext = embed_text(a.title, p.text, p.heading)
            h = text_hash(etext)
            store.add_passage(pos, p, h, tokens)
            run.token_lists.append(tokens)
            run.embed_hashes.append(h)
            run.todo_texts[h] = etext
            pos += 1
    store.commit()
    run.report.passages_total = pos
    template = mark_template(store)
    log.info("%d passages (%d reused, %d from new or changed articles; %d template)", pos,
             run.report.passages_reused, len(run.todo_texts), template)


def _open_writer(run: _Run) -> Writer:
    """The backend the options name writes this version (Milvus connects now, before any embedding)."""
    if run.options.backend == "milvus":
        from index.backends.milvus_writer import MilvusWriter

        return MilvusWriter(run.layout, run.options.milvus_uri, stamp=run.stamp, keep=run.options.keep,
                            full=run.options.full, model_checksum=run.embedder.checksum, dim=run.embedder.dim)
    from index.backends.local_writer import LocalWriter

    return LocalWriter(run.options.approx_threshold, run.embed_hashes, run.token_lists)


def _embed_and_write(run: _Run, writer: Writer, stage: _Stages) -> tuple[dict, dict | None]:
    """Embed what the cache lacks, then let the writer fill its stores from the cache.

    Every passage's vector is looked for, the carried-forward ones' too: a cache
    found damaged on opening is moved aside and started anew, and what it held
    is embedded again (from the staged rows). One found damaged only while in
    use fails this run, naming the file, and is moved aside so that the next run
    starts a new one.
    """
    cache, repaired = EmbeddingCache.open_or_replace(run.layout.embedding_cache)
    if repaired:
        log.warning("%s", repaired)
        run.repairs.append(repaired)
    try:
        missing = cache.missing(run.model_id, run.embed_hashes)
        texts = dict(run.todo_texts)
        lacking = [h for h in missing if h not in texts]
        if lacking:
            log.warning("%d carried-forward passages have no vector in the embedding cache: embedding them again",
                        len(lacking))
            for h, (title, text, heading) in run.store.embed_inputs(lacking).items():
                texts[h] = embed_text(title, text, heading)
        run.report.passages_embedded = len(missing)
        embed_missing(run.embedder, cache, run.model_id, missing, texts,
                      executor=run.options.executor, progress=run.options.progress)
        vectors = partial(cached_vectors, cache, run.model_id, run.embedder.dim)
        return writer.write(run.staging, run.store, vectors, stage)
    except CacheDamaged as exc:
        cache.close()
        moved = set_aside(run.layout.embedding_cache)
        raise RuntimeError(f"{exc}: moved to {moved.name}; the next run starts a new cache") from exc
    finally:
        cache.close()


def _manifest(run: _Run, dense: dict, backend: dict | None) -> dict:
    """The version's identity from the staged store (closed here: nothing writes to it any more)."""
    counts, categories = run.store.counts(), run.store.category_counts()
    run.store.close()
    return make_manifest(
        version=run.stamp, model=run.embedder.info().to_dict(), tokenizer_checksum=run.tokenizer.checksum,
        counts=counts, dense=dense, article_hashes=run.new_hashes, sources=run.sources, categories=categories,
        backend=backend,
    )


def _publish(run: _Run, manifest: dict) -> None:
    """Rename the staged version into versions/ and switch CURRENT to it."""
    run.layout.publish(run.staging, run.stamp, on_step=_announce)
    report = run.report
    report.version, report.status, report.message = run.stamp, "published", f"published version {run.stamp}"
    if run.repairs:
        report.message += " (" + "; ".join(run.repairs) + ")"
    log.info("published %s: %d articles, %d passages", run.stamp, *manifest["counts"].values())
