"""The metadata of one record — front matter or a JSONL object — checked field by field.

Each field has one accepted shape, the same for both sources:

* title, category: text (one line);
* id: text, or a whole number (CMS primary keys);
* url: an absolute http(s) URL, stored in its canonical form (`ingest.ids.canonical_url`:
  quotes and angle brackets percent-encoded, so it is safe in an href);
* published (or date): an ISO date, YYYY-MM-DD (a timestamp after it, and
  year-first forms such as 2025/3/2 or 2025年3月2日, are read as that date);
* tags: a list of texts, or one comma-separated text (`parse_tags`).

A record whose title, id or body is unusable cannot become a correct article
and raises `RecordError` (the caller skips it with that reason). An unusable
category, date, tags or url costs only that field: the article is kept without
it and a warning says what was found, so a CMS quirk never hides an answer.
Nothing is ever stored as a Python repr ("['a', 'b']", "True", "{'x': 1}").

Bidirectional controls (U+202E and its kin, `strip_bidi`) are removed from
every text field read here: invisible, they would make a title, id, category
or tag display in another order than it is stored. An id must also be usable
as a path segment: "." and ".." are refused (`/articles/..` is another address).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from ingest.ids import BIDI_CONTROLS, canonical_url
from ingest.normalize import describe, normalize_text, parse_tags, preview, scrub_surrogates

MAX_ID_CHARS = 200
DERIVED_TITLE_CHARS = 40
_YAML_BOOL_HINT = "; YAML reads yes/no/on/off as true/false: put the value in quotes"
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:$|[T\s])")
_ID_JUNK = re.compile(r"\s+")
_MD_HEADING = re.compile(r"^#{1,6}\s+")
_SENTENCE_END = re.compile(r"[。！？!?；;]")
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
_DOT_SEGMENTS = (".", "..")

T = TypeVar("T")


class RecordError(ValueError):
    """A record that cannot become an article; the message is the reason it is skipped."""


@dataclass
class Fields:
    """The checked metadata of one record; `warnings` name the fields that were dropped."""

    title: str  # "" when the record has none: the caller takes one from the body
    id: str | None
    url: str | None
    category: str | None
    published: str | None
    tags: list[str]
    warnings: list[str] = field(default_factory=list)


def read_fields(meta: Mapping[object, object]) -> Fields:
    """Check every metadata field of a record; raises RecordError for an unusable title or id."""
    warnings = broken_text_warnings(meta)
    date_key = "published" if _present(meta.get("published")) else "date"
    return Fields(
        title=read_title(meta.get("title")),
        id=read_id(meta.get("id")),
        url=_optional(warnings, "a link", lambda: read_url(meta.get("url"))),
        category=_optional(warnings, "a category", lambda: read_line("category", meta.get("category"))),
        published=_optional(warnings, "a date", lambda: parse_date(meta.get(date_key), date_key)),
        tags=_optional(warnings, "tags", lambda: _unbidi_tags(parse_tags(meta.get("tags")))) or [],
        warnings=warnings,
    )


def broken_text_warnings(meta: Mapping[object, object]) -> list[str]:
    """A warning per text field holding a lone surrogate (half an emoji, cut by a CMS): it is replaced."""
    warnings = []
    for key in ("title", "body", "category", "id", "url"):
        value = meta.get(key)
        if isinstance(value, str) and scrub_surrogates(value).count("\ufffd") > value.count("\ufffd"):
            warnings.append(
                f"{key} holds a lone surrogate (half of an emoji cut off); it was replaced with U+FFFD"
            )
    return warnings


def strip_bidi(text: str) -> str:
    """`text` without bidirectional controls (U+061C, U+200E/F, U+202A-202E, U+2066-2069)."""
    return _BIDI.sub("", text) if _BIDI.search(text) else text


def _unbidi_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(t for t in (strip_bidi(tag).strip() for tag in tags) if t))


def _present(value: object) -> bool:
    return value is not None and value != ""


def _optional(warnings: list[str], what: str, read: Callable[[], T]) -> T | None:
    """A field the article can do without: a bad value becomes a warning, not a lost article."""
    try:
        return read()
    except ValueError as exc:
        warnings.append(f"{exc}; the article is kept without {what}")
        return None


def _not_text(name: str, value: object) -> str:
    hint = _YAML_BOOL_HINT if isinstance(value, bool) else ""
    return f"{name} must be text, found {describe(value)}{hint}"


def read_line(name: str, value: object) -> str | None:
    """A one-line text field (category); None when absent or blank."""
    if not _present(value):
        return None
    if not isinstance(value, str):
        raise ValueError(_not_text(name, value))
    text = strip_bidi(normalize_text(value)).replace("\n", " ").strip()
    return text or None


def read_title(value: object) -> str:
    """The title as one line; "" when absent (the body gives one). Raises RecordError when not text."""
    if not _present(value):
        return ""
    if not isinstance(value, str):
        raise RecordError(_not_text("title", value))
    return strip_bidi(normalize_text(value)).replace("\n", " ").strip()


def read_id(value: object) -> str | None:
    """An explicit id: text or a whole number; None when absent. Raises RecordError otherwise,
    and for "." or "..": as the last segment of a URL path (/articles/{id}) either is a dot
    segment that browsers and clients resolve away, so the article's API address would lead
    elsewhere (percent-encoding does not help: %2E is resolved too)."""
    if not _present(value):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        hint = _YAML_BOOL_HINT if isinstance(value, bool) else ""
        raise RecordError(f"id must be text or a whole number, found {describe(value)}{hint}")
    text = _ID_JUNK.sub(" ", strip_bidi(normalize_text(str(value)))).strip()
    if len(text) > MAX_ID_CHARS:
        raise RecordError(f"id is {len(text):,} characters long; at most {MAX_ID_CHARS} are accepted")
    if text in _DOT_SEGMENTS:
        raise RecordError(f"id '{text}' cannot be an article's address ('{text}' in a URL path means "
                          f"{'this folder' if text == '.' else 'the folder above'}); give the article "
                          "another id or rename its file")
    return text or None


def read_url(value: object) -> str | None:
    """An http(s) URL in canonical form; None when absent."""
    if not _present(value):
        return None
    if not isinstance(value, str):
        raise ValueError(_not_text("url", value))
    url = canonical_url(value)
    if url is None:
        raise ValueError(f"url {preview(value)} is not an http(s) address")
    return url


def parse_date(value: object, name: str = "published") -> str | None:
    """An ISO date (YYYY-MM-DD) from a date text; None when absent; ValueError when not a date."""
    if not _present(value):
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        if 1900 <= value.year <= 2100:
            return value.isoformat()
        raise ValueError(f"{name} {value.isoformat()} is not a plausible publication date")
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a date text (YYYY-MM-DD), found {describe(value)}")
    text = normalize_text(value).strip()
    m = _DATE.match(text)
    if m:
        try:
            date = dt.date(*(int(g) for g in m.groups()))
        except ValueError:
            date = None
        if date is not None and 1900 <= date.year <= 2100:
            return date.isoformat()
    raise ValueError(f"{name} {preview(text)} is not a date (YYYY-MM-DD)")


def read_body(value: object) -> str:
    """The body text of a JSONL record; raises RecordError when missing or not text."""
    if not _present(value):
        raise RecordError("missing body: the record has no 'body' text")
    if not isinstance(value, str):
        raise RecordError(f"body must be text, found {describe(value)}")
    value = scrub_surrogates(value)
    if not value.strip():
        raise RecordError("missing body: 'body' is blank")
    return value


def title_from_body(body: str) -> str:
    """A title for an article that has none: its first line if that is a heading, else its first sentence.

    Cut to DERIVED_TITLE_CHARS characters: a title is read at a glance, and
    the sentence still leads the body, so nothing is lost.
    """
    first = next((line.strip() for line in body.split("\n") if line.strip()), "")
    if _MD_HEADING.match(first):
        text = _MD_HEADING.sub("", first).strip()
    else:
        m = _SENTENCE_END.search(first)
        text = first[: m.end()] if m else first
    text = strip_bidi(text).strip() or strip_bidi(body).strip().replace("\n", " ")
    return text if len(text) <= DERIVED_TITLE_CHARS else text[: DERIVED_TITLE_CHARS - 1].rstrip() + "…"


def derived_title_warning(title: str, missing: str = "the record has no title") -> str:
    """The warning for an article whose title came from its body."""
    return f"no title ({missing}): {preview(title)} was taken from the body"
