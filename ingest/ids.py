"""Stable article ids: the same article gets the same id on every run.

An id made from a URL is a hash of the URL's canonical form, so the same page
reached as http and https, with or without a trailing slash, a `utm_*`
parameter or a fragment, is one article, not several.
"""
from __future__ import annotations

import hashlib
import re
from urllib.parse import quote, urlsplit, urlunsplit

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
    Only the characters that could end an HTML attribute or open a tag there
    (`"`, `'`, `<`, `>`, a backtick and `{}|\\^`), and bidirectional controls,
    are percent-encoded, as a browser does before sending the address, so a
    stored URL is safe in an href. A host name holding one is no address.
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
        if _UNSAFE_IN_URL.search(parts.hostname):  # no host name holds a quote, a bracket or a bidi control
            return None
        name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6 keeps its brackets
        host = name + (f":{parts.port}" if parts.port else "")  # drops user:password@
        bare = urlunsplit((parts.scheme, host, parts.path, "", ""))
        base = urlsplit(normalize_url(bare, trailing_slash=False))
    except (ValueError, UnicodeError):  # a bad port, an unclosed IPv6 bracket, an invalid IDN
        return None
    return urlunsplit((base.scheme, base.netloc, base.path or "/", safe_query(_clean_query(parts.query)), ""))


# Bidirectional controls (U+061C, U+200E/F, U+202A-202E, U+2066-2069): invisible, they make text
# display in another order than it is stored (U+202E + "gpj.exe" reads as "exe.jpg"). Ingest strips
# them from titles and ids (`ingest.fields.strip_bidi`) and percent-encodes them in a URL's query.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# Characters never left raw in a stored URL: they could close an href="..." or open a tag, or
# reorder how the address is displayed. (courlan percent-encodes them in the path already;
# `%` itself is kept: it is an escape.)
_UNSAFE_IN_URL = re.compile(f"[\"'<>`{{}}|\\\\^{BIDI_CONTROLS}]")


def safe_query(query: str) -> str:
    """`query` with the characters of `_UNSAFE_IN_URL` percent-encoded as UTF-8 (all else verbatim)."""
    return _UNSAFE_IN_URL.sub(lambda m: quote(m.group(), safe=""), query) if query else query


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
