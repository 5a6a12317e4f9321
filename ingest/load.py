"""One entry point for every source: `load(source) -> LoadResult`.

A source is a folder, a single file (Markdown, HTML, page text, JSONL, or a
text file listing URLs), a sitemap URL or a page URL. Bad inputs never raise:
each file, and each line of a JSONL export, is judged on its own and becomes a
`Skipped` entry with its path (and line) and a reason a person can act on.

A folder source reads only regular files inside the folder (`ingest.files`)
and never touches the network: a text file of URLs inside it is reported, not
fetched. URLs are fetched only from a source given as a URL, or a URL-list
file given as the source itself.
"""
from __future__ import annotations

import logging
import re
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.fields import RecordError
from ingest.files import FolderFile, SourceError, file_size, open_regular, read_limited, walk_folder
from ingest.ids import canonical_url
from ingest.normalize import DecodeError, decode_bytes, scrub_surrogates
from ingest.records import DEFAULT_MAX_BYTES, Article, LoadResult, Skipped, printable

if TYPE_CHECKING:
    from ingest.sources.web import FetchConfig

log = logging.getLogger(__name__)

MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
TEXT_SUFFIXES = {".txt"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SUPPORTED = MARKDOWN_SUFFIXES | HTML_SUFFIXES | TEXT_SUFFIXES | JSONL_SUFFIXES
FOLDER_METADATA_SUFFIXES = {".json", ".yml", ".yaml"}
URL_LIST_IN_FOLDER = (
    "a list of web addresses: a folder source never fetches pages; "
    "give this file as a source of its own (--source FILE) to fetch them"
)


@dataclass
class LoadConfig:
    """How sources are read; one size limit for files, JSONL lines and fetched pages."""

    max_bytes: int = DEFAULT_MAX_BYTES
    state_dir: Path | None = None  # HTTP cache for web sources
    follow_symlinks: bool = False  # folder sources: read symbolic links whose target is inside the folder
    allow_private: bool = False  # web sources: also fetch from loopback, private and link-local addresses

    def fetch_config(self) -> FetchConfig:
        """The web source's settings with this size limit (imported lazily: httpx is heavy)."""
        from ingest.sources.web import DEFAULT_CONFIG

        return replace(DEFAULT_CONFIG, max_bytes=self.max_bytes, allow_private=self.allow_private)


def is_url(source: str) -> bool:
    return source.strip().lower().startswith(("http://", "https://"))


def load(source: str | Path, config: LoadConfig | None = None) -> LoadResult:
    """Load articles from any supported source; never raises on bad input."""
    config = config or LoadConfig()
    try:
        result = _load(source, config)
    except Exception as exc:  # belt and braces: each reader already turns its failures into Skipped
        log.exception("loading %s failed", source)
        result = LoadResult(skipped=[Skipped(str(source), f"unexpected error: {type(exc).__name__}: {exc}")])
    return dedupe(finish(result))


def load_many(sources: list[str], config: LoadConfig | None = None) -> LoadResult:
    result = LoadResult()
    for source in sources:
        result.extend(load(source, config))
    return dedupe(result)


def _load(source: str | Path, config: LoadConfig) -> LoadResult:
    source_str = str(source)
    if is_url(source_str):
        from ingest.sources.web import load_web

        return load_web(source_str.strip(), config.state_dir, config.fetch_config())
    path = Path(source_str)
    try:
        mode = path.stat().st_mode  # follows links: the operator named this path
    except FileNotFoundError:
        return LoadResult(skipped=[Skipped(source_str, "no such file or folder")])
    except (OSError, RuntimeError) as exc:  # a link loop, no permission on a parent folder
        reason = getattr(exc, "strerror", None) or str(exc)
        return LoadResult(skipped=[Skipped(source_str, f"cannot read: {reason}")])
    if stat.S_ISDIR(mode):
        return load_folder(path, config)
    return load_file(path, config)


def load_folder(root: Path, config: LoadConfig) -> LoadResult:
    """Every regular file inside `root`; links, pipes and devices are reported, not read."""
    files, refused = walk_folder(root, config.follow_symlinks)
    result = LoadResult(skipped=refused)
    for f in files:
        if _is_folder_metadata(f):
            continue
        result.extend(load_file(f.path, config, root=root, target=f.target))
    return result


def _is_folder_metadata(f: FolderFile) -> bool:
    return f.path.suffix.lower() in FOLDER_METADATA_SUFFIXES or f.path.name.lower() == "readme.md"


def load_file(
    path: Path, config: LoadConfig, root: Path | None = None, target: Path | None = None
) -> LoadResult:
    """One file -> articles, or a Skipped entry saying why not.

    `root` is the folder being read (None: the file was named as the source
    itself, so a link to it is followed and a URL list in it is fetched);
    `target` is what to open when it differs from `path` (a followed link).
    """
    where = printable(str(path))
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        return LoadResult(skipped=[Skipped(where, f"unsupported file type '{suffix or path.name}'")])
    try:
        with open_regular(target or path, follow_symlinks=root is None) as fh:
            if suffix in JSONL_SUFFIXES:  # many articles: the limit applies per line, not per file
                if file_size(fh) == 0:
                    raise SourceError("empty file")
                from ingest.sources.jsonl import load_jsonl_stream

                return load_jsonl_stream(fh, where, config.max_bytes)
            data = read_limited(fh, config.max_bytes)
        return _parse_file(data, path, config, root)
    except (SourceError, DecodeError, RecordError) as exc:
        return LoadResult(skipped=[Skipped(where, str(exc))])
    except RecursionError:
        return LoadResult(skipped=[Skipped(where, "cannot parse: nested too deeply to read")])
    except (ValueError, UnicodeError) as exc:
        return LoadResult(skipped=[Skipped(where, f"cannot parse: {exc}")])
    except Exception as exc:  # one bad file must never stop the run
        log.exception("unexpected error in %s", where)
        return LoadResult(skipped=[Skipped(where, f"unexpected error: {type(exc).__name__}: {exc}")])


def _parse_file(data: bytes, path: Path, config: LoadConfig, root: Path | None) -> LoadResult:
    """The bytes of one file -> its article (with warnings), by file type."""
    where = printable(str(path))
    suffix = path.suffix.lower()
    if suffix in HTML_SUFFIXES:
        from ingest.sources.html import parse_html

        notes: list[str] = []
        return _with_warnings(parse_html(data, where, notes=notes), notes)
    text = decode_bytes(data)
    if not text.strip():
        return LoadResult(skipped=[Skipped(where, "empty file (whitespace only)")])
    if suffix in MARKDOWN_SUFFIXES:
        from ingest.sources.markdown import parse_markdown

        return _with_warnings(*parse_markdown(text, path, root))
    if _is_url_list(text):
        if root is not None:
            return LoadResult(skipped=[Skipped(where, URL_LIST_IN_FOLDER)])
        from ingest.sources.web import load_web

        return load_web(str(path), config.state_dir, config.fetch_config())
    from ingest.sources.text import parse_text

    return LoadResult(articles=[parse_text(text, where)])


def _with_warnings(article: Article, warnings: list[str]) -> LoadResult:
    line = _line_of(article.source)
    return LoadResult(articles=[article], skipped=[Skipped(article.source, w, line, kept=True) for w in warnings])


def _is_url_list(text: str) -> bool:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return bool(lines) and all(is_url(ln) and " " not in ln for ln in lines)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def finish(result: LoadResult) -> LoadResult:
    """Last check of every article before it leaves ingest: typed fields, UTF-8-safe text, canonical URL.

    The readers already produce such articles; this is the one place that
    guarantees it, whatever a future reader does, so the index never hashes
    or stores a field it cannot encode.
    """
    out = LoadResult(skipped=list(result.skipped))
    for art in result.articles:
        try:
            out.articles.append(_checked(art))
        except (TypeError, ValueError) as exc:
            out.skipped.append(Skipped(str(getattr(art, "source", "?")), f"invalid article: {exc}"))
    return out


def _text(name: str, value: object, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be text, not {type(value).__name__}")
    return scrub_surrogates(value)


def _checked(art: Article) -> Article:
    title, body, art_id = _text("title", art.title), _text("body", art.body), _text("id", art.id)
    if not (title and title.strip() and body and body.strip() and art_id and art_id.strip()):
        raise ValueError("empty title, body or id")
    published = _text("published", art.published, optional=True)
    if published is not None and not _ISO_DATE.fullmatch(published):
        raise ValueError(f"published is not an ISO date: {published[:30]}")
    if not isinstance(art.tags, list):
        raise TypeError(f"tags must be a list, not {type(art.tags).__name__}")
    return Article(
        id=art_id, title=title, body=body, url=canonical_url(art.url),
        category=_text("category", art.category, optional=True), published=published,
        tags=[t for t in (_text("tag", t) for t in art.tags) if t], source=printable(art.source),
    )


_JSONL_LINE = re.compile(r"\.(?:jsonl|ndjson):(\d+)$", re.IGNORECASE)


def _line_of(source: str) -> int | None:
    m = _JSONL_LINE.search(source)
    return int(m.group(1)) if m else None


def dedupe(result: LoadResult) -> LoadResult:
    """One article per id; the others are reported, never merged silently.

    The first one seen is kept, except that an https address wins over the
    same page's http address (ids from URLs ignore the scheme).
    """
    kept: list[Article] = []
    index: dict[str, int] = {}
    skipped = list(result.skipped)
    for art in result.articles:
        i = index.get(art.id)
        if i is None:
            index[art.id] = len(kept)
            kept.append(art)
            continue
        first = kept[i]
        if _https(art) and not _https(first):
            kept[i] = art
            reason = f"duplicate id '{art.id}': the same page as {art.source}, kept for its https address"
            skipped.append(Skipped(first.source, reason, line=_line_of(first.source)))
            continue
        reason = f"duplicate id '{art.id}' (first seen in {first.source})"
        skipped.append(Skipped(art.source, reason, line=_line_of(art.source)))
    return LoadResult(articles=kept, skipped=skipped)


def _https(art: Article) -> bool:
    return bool(art.url) and art.url.startswith("https:")
