"""Markdown files with YAML front matter: the shape of the shipped corpus/.

The front matter is read with PyYAML's pure-Python safe loader, with one
change: dates stay text. YAML would otherwise turn `date: 2025-13-45` into an
exception that loses the whole file; read as text, the date is checked like a
JSONL date (`ingest.fields`) and the article is kept without it.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from ingest.clean import strip_boilerplate
from ingest.fields import RecordError, derived_title_warning, read_fields, read_id, title_from_body
from ingest.normalize import describe, scrub_surrogates
from ingest.records import Article, printable

_BOUNDARY = re.compile(r"^-{3,}[ \t]*$", re.MULTILINE)
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _FrontMatterLoader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver.

    Pure Python on purpose: libyaml's composer recurses in C, where 100,000
    nested '[' could overflow the stack; here it is a RecursionError we report.
    """


_FrontMatterLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def split_front_matter(text: str) -> tuple[dict, str]:
    """(metadata, content); a file without front matter has empty metadata.

    Raises RecordError with the YAML problem and its line when the front
    matter cannot be read.
    """
    text = text.lstrip("\ufeff").strip()
    if not _BOUNDARY.match(text):
        return {}, text
    pieces = _BOUNDARY.split(text, 2)
    if len(pieces) < 3:
        raise RecordError("front matter is not closed: the first '---' line has no closing '---' line")
    _, raw, content = pieces
    try:
        meta = yaml.load(raw, Loader=_FrontMatterLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise RecordError(f"front matter is not valid YAML{_yaml_where(exc)}: {_yaml_problem(exc)}") from exc
    except RecursionError as exc:
        raise RecordError("front matter is not valid YAML: nested too deeply to read") from exc
    if meta is None:
        return {}, content.strip()
    if not isinstance(meta, dict):
        raise RecordError(f"front matter must be 'key: value' lines, found {describe(meta)}")
    return meta, content.strip()


def _yaml_where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f" (line {mark.line + 2} of the file)" if mark is not None else ""  # +1: 0-based, +1: the '---'


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc).split("\n", 1)[0]
    context = getattr(exc, "context", None)
    return f"{context}, {problem}" if context else str(problem)


def parse_markdown(text: str, path: Path, root: Path | None = None) -> tuple[Article, list[str]]:
    """One Markdown article and its warnings; its id is its path under the folder, without '.md'.

    Raises RecordError when the front matter is malformed, the title is not
    text or the body is empty. A missing title is taken from the body, with a
    warning.
    """
    meta, content = split_front_matter(scrub_surrogates(text))
    fields = read_fields(meta)
    warnings = list(fields.warnings)
    body, found_url = strip_boilerplate(content, title=fields.title or None)
    if not body:
        raise RecordError("empty body: the file has no article text after the front matter")
    title = fields.title
    if not title:
        title = title_from_body(body)
        warnings.append(derived_title_warning(title))
    rel = path.relative_to(root) if root else Path(path.name)
    article = Article(
        id=fields.id or read_id(printable(rel.with_suffix("").as_posix())) or title,
        title=title,
        body=body,
        url=fields.url or found_url,
        category=fields.category,
        published=fields.published,
        tags=fields.tags,
        source=printable(str(path)),
    )
    return article, warnings
