"""A CMS export: one JSON article per line.

Only `title` and `body` are required; a bad line is skipped with its line
number, the rest of the file still loads.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ingest.clean import strip_boilerplate
from ingest.ids import article_id
from ingest.normalize import DecodeError, decode_bytes, normalize_text, parse_tags
from ingest.records import DEFAULT_MAX_BYTES, Article, LoadResult, Skipped


def iter_jsonl(path: Path, max_line_bytes: int) -> Iterator[tuple[int, str]]:
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if len(raw) > max_line_bytes:
                yield n, f"\x00record is {len(raw):,} bytes, over the {max_line_bytes:,}-byte limit"
                continue
            try:
                yield n, decode_bytes(raw)
            except DecodeError as exc:
                yield n, f"\x00{exc}"


def parse_record(record: object, where: str) -> Article:
    if not isinstance(record, dict):
        raise ValueError("line is not a JSON object")
    title = normalize_text(str(record.get("title") or ""))
    raw_body = record.get("body")
    if not title:
        raise ValueError("missing title")
    if not isinstance(raw_body, str) or not raw_body.strip():
        raise ValueError("missing body")
    url = str(record["url"]).strip() if record.get("url") else None
    body, found_url = strip_boilerplate(raw_body, title=None)
    if not body:
        raise ValueError("body is only boilerplate")
    tags = parse_tags(record.get("tags"))
    published = record.get("published") or record.get("date")
    return Article(
        id=str(record.get("id") or article_id(url, title)),
        title=title,
        body=body,
        url=url or found_url,
        category=(str(record["category"]).strip() if record.get("category") else None),
        published=str(published)[:10] if published else None,
        tags=tags,
        source=where,
    )


def load_jsonl(path: Path, max_line_bytes: int = DEFAULT_MAX_BYTES) -> LoadResult:
    result = LoadResult()
    for n, line in iter_jsonl(path, max_line_bytes):
        where = f"{path}:{n}"
        if line.startswith("\x00"):
            result.skipped.append(Skipped(where, line[1:]))
            continue
        if not line.strip():
            continue
        try:
            result.articles.append(parse_record(json.loads(line), where))
        except json.JSONDecodeError as exc:
            result.skipped.append(Skipped(where, f"invalid JSON: {exc.msg}"))
        except ValueError as exc:
            result.skipped.append(Skipped(where, str(exc)))
    return result
