"""How stored fields are compared at search time: one reading of a stored date and a category name,
shared by every backend that filters on them and by the search request that names them."""
from __future__ import annotations

import datetime as dt
import unicodedata


def normalize_category(name: str) -> str:
    """How category names are compared: NFKC, surrounding whitespace off (also for stored names)."""
    return unicodedata.normalize("NFKC", name).strip()


def date_ordinal(date: str | None) -> int:
    """A stored published date as the date filters compare it (0 = unknown or unreadable)."""
    if not date:
        return 0
    try:
        return dt.date.fromisoformat(str(date)[:10]).toordinal()
    except ValueError:
        return 0
