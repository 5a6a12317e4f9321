"""Markdown files with YAML front matter: the shape of the shipped corpus/."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import frontmatter

from ingest.clean import strip_boilerplate
from ingest.normalize import normalize_text, parse_tags
from ingest.records import Article


def _iso_date(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        return None


def parse_markdown(text: str, path: Path, root: Path | None = None) -> Article:
    """One Markdown article; its id is its path under the folder, without '.md'.

    Raises ValueError when the front matter is malformed or title/body missing.
    """
    try:
        post = frontmatter.loads(text)
    except Exception as exc:  # yaml errors come in many classes
        raise ValueError(f"front matter is not valid YAML: {exc}") from exc
    meta = post.metadata
    title = normalize_text(str(meta.get("title") or "")).strip()
    if not title:
        raise ValueError("front matter has no title")
    body, found_url = strip_boilerplate(post.content, title=title)
    if not body:
        raise ValueError("empty body")
    tags = parse_tags(meta.get("tags"))
    rel = path.relative_to(root) if root else Path(path.name)
    return Article(
        id=str(meta.get("id") or rel.with_suffix("").as_posix()),
        title=title,
        body=body,
        url=(str(meta["url"]).strip() if meta.get("url") else found_url),
        category=(str(meta["category"]).strip() if meta.get("category") else None),
        published=_iso_date(meta.get("date") or meta.get("published")),
        tags=tags,
        source=str(path),
    )
