"""Resident memory of this process and of finished children (Linux)."""
from __future__ import annotations

import os


def current_rss() -> int:
    """Bytes resident right now (from /proc/self/statm)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def mib(n: float | int | None) -> float | None:
    return None if n is None else round(n / (1024 * 1024), 1)
