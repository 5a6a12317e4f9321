"""One entry point for every source: `load(source) -> LoadResult`.

A source is a folder, a single file (Markdown, HTML, page text, JSONL, or a
text file listing URLs), a sitemap URL or a page URL. Bad inputs never raise:
each becomes a `Skipped` entry with its path and a reason a person can act on.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ingest.normalize import DecodeError, decode_bytes
from ingest.records import DEFAULT_MAX_BYTES, Article, LoadResult, Skipped

log = logging.getLogger(__name__)

MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
TEXT_SUFFIXES = {".txt"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SUPPORTED = MARKDOWN_SUFFIXES | HTML_SUFFIXES | TEXT_SUFFIXES | JSONL_SUFFIXES


@dataclass
class LoadConfig:
    """How sources are read; one size limit for files, JSONL lines and fetched pages."""

    max_bytes: int = DEFAULT_MAX_BYTES
    state_dir: Path | None = None  # HTTP cache for web sources

    def fetch_config(self):
        """The web source's settings with this size limit (imported lazily: httpx is heavy)."""
        from dataclasses import replace

        from ingest.sources.web import DEFAULT_CONFIG

        return replace(DEFAULT_CONFIG, max_bytes=self.max_bytes)


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def load(source: str | Path, config: LoadConfig | None = None) -> LoadResult:
    """Load articles from any supported source; never raises on bad input."""
    config = config or LoadConfig()
    source_str = str(source)
    if is_url(source_str):
        from ingest.sources.web import load_web

        return load_web(source_str, config.state_dir, config.fetch_config())
    path = Path(source_str)
    if not path.exists():
        return LoadResult(skipped=[Skipped(source_str, "no such file or folder")])
    if path.is_dir():
        result = LoadResult()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            if any(part.startswith(".") for part in file.relative_to(path).parts):
                continue
            if file.suffix.lower() in {".json", ".yml", ".yaml"} or file.name.lower() == "readme.md":
                continue  # folder metadata, not articles
            result.extend(load_file(file, config, root=path))
        return dedupe(result)
    return dedupe(load_file(path, config))


def load_many(sources: list[str], config: LoadConfig | None = None) -> LoadResult:
    result = LoadResult()
    for source in sources:
        result.extend(load(source, config))
    return dedupe(result)


def load_file(path: Path, config: LoadConfig, root: Path | None = None) -> LoadResult:
    """One file -> articles, or a Skipped entry saying why not."""
    where = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        return LoadResult(skipped=[Skipped(where, f"unsupported file type '{suffix or path.name}'")])
    try:
        size = path.stat().st_size
        if size == 0:
            return LoadResult(skipped=[Skipped(where, "empty file")])
        # a JSONL export holds many articles: its limit applies per line, not per file
        if size > config.max_bytes and suffix not in JSONL_SUFFIXES:
            return LoadResult(
                skipped=[Skipped(where, f"file is {size:,} bytes, over the {config.max_bytes:,}-byte limit")]
            )
        if suffix in JSONL_SUFFIXES:
            from ingest.sources.jsonl import load_jsonl

            return load_jsonl(path, max_line_bytes=config.max_bytes)
        data = path.read_bytes()
    except OSError as exc:
        return LoadResult(skipped=[Skipped(where, f"cannot read: {exc.strerror or exc}")])
    try:
        if suffix in HTML_SUFFIXES:
            from ingest.sources.html import parse_html

            return LoadResult(articles=[parse_html(data, where)])
        text = decode_bytes(data)
        if not text.strip():
            return LoadResult(skipped=[Skipped(where, "empty file (whitespace only)")])
        if suffix in MARKDOWN_SUFFIXES:
            from ingest.sources.markdown import parse_markdown

            return LoadResult(articles=[parse_markdown(text, path, root)])
        if _is_url_list(text):
            from ingest.sources.web import load_web

            return load_web(where, config.state_dir, config.fetch_config())
        from ingest.sources.text import parse_text

        return LoadResult(articles=[parse_text(text, where)])
    except DecodeError as exc:
        return LoadResult(skipped=[Skipped(where, str(exc))])
    except (ValueError, UnicodeError) as exc:
        return LoadResult(skipped=[Skipped(where, f"cannot parse: {exc}")])
    except Exception as exc:  # one bad file must never stop the run
        log.exception("unexpected error in %s", where)
        return LoadResult(skipped=[Skipped(where, f"unexpected error: {type(exc).__name__}: {exc}")])


def _is_url_list(text: str) -> bool:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return bool(lines) and all(is_url(ln) and " " not in ln for ln in lines)


def dedupe(result: LoadResult) -> LoadResult:
    """Keep the first article of each id; report the others (never merge silently)."""
    seen: dict[str, Article] = {}
    kept: list[Article] = []
    skipped = list(result.skipped)
    for art in result.articles:
        first = seen.get(art.id)
        if first is not None:
            skipped.append(Skipped(art.source, f"duplicate id '{art.id}' (first seen in {first.source})"))
            continue
        seen[art.id] = art
        kept.append(art)
    return LoadResult(articles=kept, skipped=skipped)
