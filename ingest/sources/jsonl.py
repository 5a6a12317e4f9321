"""A CMS export: one JSON article per line.

Every line is judged on its own: a line that cannot become an article is
skipped with its line number and the reason, and the rest of the file still
loads. Lines are read with a bounded `readline` (a 1 GB line is never held in
memory), nesting is bounded before `json.loads` sees the text (a line of
100,000 '[' is a reason, not a RecursionError), and the fields are checked by
`ingest.fields` exactly like Markdown front matter.
"""
from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import AnyStr, BinaryIO

from ingest.clean import strip_boilerplate
from ingest.fields import RecordError, derived_title_warning, read_body, read_fields, title_from_body
from ingest.ids import article_id, canonical_url
from ingest.normalize import DecodeError, bom_encoding, decode_bytes, describe
from ingest.records import DEFAULT_MAX_BYTES, Article, LoadResult, Skipped, printable

log = logging.getLogger(__name__)

MAX_JSON_DEPTH = 64  # an article is a flat object; real exports nest two or three levels
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def _bounded_lines(
    readline: Callable[[int], AnyStr], limit: int, newline: AnyStr
) -> Iterator[tuple[int, AnyStr | None, int]]:
    """(line number, the line or None when it is over `limit`, its size); never holds more than `limit`."""
    n = 0
    while True:
        line = readline(limit + 1)
        if not line:
            return
        n += 1
        if len(line) <= limit:
            yield n, line, len(line)
            continue
        size = len(line)
        while not line.endswith(newline):  # skip the rest of the over-long line
            line = readline(1 << 20)
            if not line:
                break
            size += len(line)
        yield n, None, size


def iter_jsonl(fh: BinaryIO, max_line_bytes: int) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text, problem): the text of each line, or why it cannot be read.

    A file with a UTF-16/32 byte-order mark is read through a decoder (its
    lines are not byte lines); any other file line by line, each line decoded
    on its own (an export may mix encodings after years of CMS migrations).
    """
    head = fh.read(4)
    bom = bom_encoding(head)
    if bom is not None and bom[0] != "utf-8":
        fh.seek(bom[1])
        text = io.TextIOWrapper(fh, encoding=bom[0], errors="replace")
        limit = max(1, max_line_bytes // 2)
        for n, line, size in _bounded_lines(text.readline, limit, "\n"):
            yield n, line, None if line is not None else _too_long(size * 2, max_line_bytes)
        return
    fh.seek(0)
    for n, raw, size in _bounded_lines(fh.readline, max_line_bytes, b"\n"):
        if raw is None:
            yield n, None, _too_long(size, max_line_bytes)
            continue
        try:
            yield n, decode_bytes(raw), None
        except DecodeError as exc:
            yield n, None, f"line is not text: {exc}"


def _too_long(size: int, limit: int) -> str:
    return f"record is {size:,} bytes, over the {limit:,}-byte limit"


def parse_json_line(text: str) -> object:
    """json.loads with its nesting bounded; raises RecordError with the position of the problem."""
    if _too_deep(text):
        raise RecordError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels: not an article record")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"invalid JSON at column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:  # belt and braces: _too_deep should have caught it
        raise RecordError("JSON nested too deeply to read") from exc
    except ValueError as exc:  # e.g. a number of 5,000 digits
        raise RecordError(f"invalid JSON: {exc}") from exc


def _too_deep(text: str) -> bool:
    """Deeper than MAX_JSON_DEPTH, counting brackets outside strings (cheap for ordinary lines)."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for m in _BRACKET.finditer(_JSON_STRING.sub('""', text)):
        depth += 1 if m.group() in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            return True
    return False


def parse_record(record: object, where: str) -> tuple[Article, list[str]]:
    """One decoded JSON line -> an Article and its warnings; raises RecordError when it cannot be one."""
    if not isinstance(record, dict):
        raise RecordError(f"a line must be one JSON object, found {describe(record)}")
    fields = read_fields(record)
    raw_body = read_body(record.get("body"))
    body, found_url = strip_boilerplate(raw_body, title=None)
    if not body:
        raise RecordError("body holds only site boilerplate (copyright and link lines), no article text")
    warnings = list(fields.warnings)
    title = fields.title
    if not title:
        title = title_from_body(body)
        warnings.append(derived_title_warning(title))
    url = fields.url or canonical_url(found_url)
    article = Article(
        id=fields.id or article_id(url, title),
        title=title,
        body=body,
        url=url,
        category=fields.category,
        published=fields.published,
        tags=fields.tags,
        source=where,
    )
    return article, warnings


def _one_line(result: LoadResult, where: str, n: int, text: str) -> None:
    """Parse one line into `result`; whatever goes wrong becomes a Skipped entry for this line only."""
    try:
        article, warnings = parse_record(parse_json_line(text), where)
    except RecordError as exc:
        result.skipped.append(Skipped(where, str(exc), line=n))
        return
    except Exception as exc:  # one record must never stop the run
        log.warning("unexpected error in %s", where, exc_info=True)
        result.skipped.append(Skipped(where, f"unexpected error: {type(exc).__name__}: {exc}", line=n))
        return
    result.articles.append(article)
    result.skipped.extend(Skipped(where, w, line=n, kept=True) for w in warnings)


def load_jsonl_stream(fh: BinaryIO, name: str, max_line_bytes: int = DEFAULT_MAX_BYTES) -> LoadResult:
    """Every line of an open export; `name` is the file as reported ('export.jsonl' -> 'export.jsonl:12')."""
    result = LoadResult()
    name = printable(name)
    n = 0
    try:
        for n, text, problem in iter_jsonl(fh, max_line_bytes):
            where = f"{name}:{n}"
            if problem is not None:
                result.skipped.append(Skipped(where, problem, line=n))
            elif text is not None and text.strip():
                _one_line(result, where, n, text)
    except OSError as exc:
        result.skipped.append(Skipped(name, f"cannot read past line {n}: {exc.strerror or exc}"))
    return result
