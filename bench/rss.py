"""Resident memory of this process and of finished children (Linux)."""
from __future__ import annotations

import os
import resource


def current_rss() -> int:
    """Bytes resident right now (from /proc/self/statm)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def peak_rss_self() -> int:
    """Peak resident bytes of this process (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_rss_children() -> int:
    """Peak resident bytes of the largest waited-for child (not a sum)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def mib(n: float | int | None) -> float | None:
    return None if n is None else round(n / (1024 * 1024), 1)
