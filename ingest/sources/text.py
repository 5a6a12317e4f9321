"""Plain text saved from a firm page (breadcrumb, title, body, site tail)."""
from __future__ import annotations

from ingest.clean import parse_firm_text
from ingest.records import Article


def parse_text(text: str, source: str) -> Article:
    return parse_firm_text(text, source)
