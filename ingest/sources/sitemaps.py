"""Where the web source's page URLs come from: sitemap documents and URL-list files.

`parse_sitemap` reads a ``<urlset>`` or ``<sitemapindex>`` (gzipped or not,
no entities, no network, bounded size); `read_url_list` reads a text file of
URLs, one per line. Neither fetches anything.
"""
from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

from ingest.normalize import DecodeError, decode_bytes
from ingest.records import Skipped
from ingest.sources.fetch import Fetched, FetchError

MAX_SITEMAP_DEPTH = 3
MAX_SITEMAP_BYTES = 50_000_000  # the sitemap protocol's own limit, uncompressed


def _gunzip(data: bytes, limit: int) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(data, limit + 1)
    if len(out) > limit or d.unconsumed_tail:
        raise FetchError(f"sitemap too large when uncompressed (over {limit:,} bytes)")
    return out


def parse_sitemap(data: bytes) -> tuple[str, list[str]]:
    """('urlset' | 'sitemapindex', [loc, ...]); raises ValueError when it is not a sitemap."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = _gunzip(data, MAX_SITEMAP_BYTES)
        except (zlib.error, EOFError, gzip.BadGzipFile) as exc:
            raise ValueError(f"broken gzip data: {exc}") from exc
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        root = etree.fromstring(data.strip(), parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not valid XML: {exc}") from exc
    if root is None:
        raise ValueError("empty XML document")
    kind = etree.QName(root).localname.lower()
    if kind not in ("urlset", "sitemapindex"):
        raise ValueError(f"not a sitemap (root element <{etree.QName(root).localname}>)")
    child = "url" if kind == "urlset" else "sitemap"
    locs = []
    for entry in root:
        if not isinstance(entry.tag, str) or etree.QName(entry).localname.lower() != child:
            continue
        for el in entry:
            if isinstance(el.tag, str) and etree.QName(el).localname.lower() == "loc" and (el.text or "").strip():
                locs.append(el.text.strip())
    return kind, locs


def looks_like_sitemap(url: str, fetched: Fetched) -> bool:
    path = urlsplit(url).path.lower()
    if path.endswith((".xml", ".xml.gz", ".gz")):
        return True
    ctype = fetched.content_type.lower()
    if "xml" in ctype and "html" not in ctype:
        return True
    head = fetched.body[:2048].lstrip().lower()
    return fetched.body[:2] == b"\x1f\x8b" or b"<urlset" in head or b"<sitemapindex" in head


def read_url_list(path: Path) -> tuple[list[str], list[Skipped]]:
    """A text file of URLs, one per line; '#' starts a comment."""
    urls: list[str] = []
    skipped: list[Skipped] = []
    try:
        text = decode_bytes(path.read_bytes())
    except OSError as exc:
        return [], [Skipped(str(path), f"cannot read URL list: {exc.strerror or exc}")]
    except DecodeError as exc:
        return [], [Skipped(str(path), f"URL list is not text: {exc}")]
    for n, raw in enumerate(text.splitlines(), start=1):
        line = re.split(r"\s#", raw, maxsplit=1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if not is_http(line) or " " in line:
            skipped.append(Skipped(f"{path}:{n}", f"not an http(s) URL: {line[:100]!r}"))
            continue
        urls.append(line)
    return urls, skipped


def is_http(value: str) -> bool:
    """An absolute http(s) URL with a host."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)

