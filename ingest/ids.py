"""Stable article ids: the same article gets the same id on every run.

An id made from a URL is a hash of the URL's canonical form, so the same page
reached as http and https, with or without a trailing slash, a `utm_*`
parameter or a fragment, is one article, not several.
"""
from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit, urlunsplit

from courlan import normalize_url

from ingest.normalize import scrub_surrogates

MAX_URL_CHARS = 2048  # longer is not an address a person shares; browsers and servers cut there too


def short_hash(text: str, length: int = 16) -> str:
    return hashlib.sha1(scrub_surrogates(text).encode("utf-8")).hexdigest()[:length]


def canonical_url(url: object) -> str | None:
    """The form an article URL is stored in; None unless it is an absolute http(s) URL.

    Lower-case scheme and host, no default port, no user name or password, no
    tracking parameters (`utm_*`, click ids), no fragment, and no trailing
    slash except for the site root. The scheme is kept (some sites still answer
    on http only) and so is the rest of the query, verbatim and in its order:
    old CMSs address pages as `show.asp?1234`, which a query parser would drop.
    """
    if not isinstance(url, str):
        return None
    url = scrub_surrogates(url).strip()
    if not url or len(url) > MAX_URL_CHARS or _SPACE_OR_CONTROL.search(url):
        return None
    if _already_canonical(url):
        return url if url.count("/") > 2 else url + "/"
    try:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6 keeps its brackets
        host = name + (f":{parts.port}" if parts.port else "")  # drops user:password@
        bare = urlunsplit((parts.scheme, host, parts.path, "", ""))
        base = urlsplit(normalize_url(bare, trailing_slash=False))
    except (ValueError, UnicodeError):  # a bad port, an unclosed IPv6 bracket, an invalid IDN
        return None
    return urlunsplit((base.scheme, base.netloc, base.path or "/", _clean_query(parts.query), ""))


_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
# Lower-case host, no port, no query or fragment, and only path characters courlan leaves as they are.
_SIMPLE = re.compile(r"https?://[a-z0-9.-]+(/[A-Za-z0-9_.~%!=:,/-]*)?")


def _already_canonical(url: str) -> bool:
    """True for the common URL that normalisation would not change (a regex instead of a parse)."""
    m = _SIMPLE.fullmatch(url)
    if m is None:
        return False
    path = m.group(1) or ""
    return "//" not in path and "/." not in path and not (path.endswith("/") and len(path) > 1)


# Parameters that say where a visitor came from, never which page it is.
_TRACKERS = {
    "gclid", "fbclid", "msclkid", "yclid", "dclid", "mc_cid", "mc_eid", "spm", "_hsenc", "_hsmi", "igshid",
}


def _clean_query(query: str) -> str:
    kept = []
    for part in query.split("&"):
        key = part.split("=", 1)[0].lower()
        if part and not key.startswith("utm_") and key not in _TRACKERS:
            kept.append(part)
    return "&".join(kept)


def url_key(url: object) -> str | None:
    """What an id is made from: the canonical URL with https for http, so both are one article.

    Already canonical https URLs hash exactly as before this normalisation
    existed, so the ids of an existing index do not change.
    """
    canonical = canonical_url(url)
    if canonical is None:
        return None
    return "https" + canonical[4:] if canonical.startswith("http:") else canonical


def article_id(url: str | None, title: str) -> str:
    """Hash of the canonical URL when there is one (titles get edited), else of the title."""
    key = url_key(url) if url else None
    return short_hash(key) if key else short_hash(title.strip())


def content_hash(*parts: str) -> str:
    """Hash of an article's indexed content, for incremental re-indexing."""
    h = hashlib.sha256()
    for part in parts:
        h.update(scrub_surrogates(part).encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()
