"""Markdown cells and tables for every report section (one formatter, so every table reads alike)."""
from __future__ import annotations


def fmt(v, digits: int = 1, suffix: str = "") -> str:
    """A figure for a table cell: thousands separated, `digits` decimals for floats, "–" for missing."""
    if v is None:
        return "–"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}{suffix}"
    return f"{v:,.{digits}f}{suffix}"


def ratio(a, b, digits: int = 1) -> str:
    """`a / b` as "1.9×", or "–" when either side is missing."""
    if a is None or b in (None, 0):
        return "–"
    return f"{a / b:.{digits}f}×"


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
