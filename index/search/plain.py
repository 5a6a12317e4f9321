"""A passage as plain text for programs that show it: the Markdown marks off, offsets kept.

Article bodies are stored as the ingest read them, Markdown included (`## 物业无权停水停电`,
`**bold**`, `- item`), because the page renders them and every offset (passage
start/end, match spans) points into that text. A website, chat bot or CMS that
shows `passage` should not have to strip Markdown itself, so the API and the
CLI hand out plain text, and the spans move with it.

Only marks that hold no words are dropped: heading hashes, bold/italic markers
(`**`, `__`), inline-code backticks, link brackets with their targets; a list
marker (`- `, `* `, `+ `) becomes "• " (same length). Characters are never
added, so every plain offset maps back to one offset in the Markdown.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+")
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]")
_EMPHASIS = re.compile(r"\*\*|__|`")
_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")


@dataclass(frozen=True)
class PlainText:
    """Plain text and, for each of its characters, the offset it came from in the Markdown."""

    text: str
    origin: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """A [start, end) span of the Markdown as the same characters' span in the plain text."""
        a = bisect_left(self.origin, start)
        b = bisect_left(self.origin, end)
        return (a, max(a, b))


def _dropped(line: str) -> tuple[set[int], dict[int, str]]:
    """Offsets within `line` to drop, and those to replace (list markers)."""
    drop: set[int] = set()
    replace: dict[int, str] = {}
    head = _HEADING.match(line)
    if head:
        drop.update(range(head.end()))
    bullet = _BULLET.match(line)
    if bullet and not head:
        replace[bullet.end(1)] = "•"
    for link in _LINK.finditer(line):
        drop.add(link.start())  # "["
        drop.update(range(link.end(1), link.end()))  # "](target)"
    for mark in _EMPHASIS.finditer(line):
        drop.update(range(mark.start(), mark.end()))
    return drop, replace


def plain_text(markdown: str) -> PlainText:
    """`markdown` without its marks, with each kept character's original offset."""
    chars: list[str] = []
    origin: list[int] = []
    pos = 0
    for line in markdown.splitlines(keepends=True):
        drop, replace = _dropped(line)
        for i, ch in enumerate(line):
            if i not in drop:
                chars.append(replace.get(i, ch))
                origin.append(pos + i)
        pos += len(line)
    return PlainText("".join(chars), tuple(origin))


def plain_hit(hit: dict) -> dict:
    """A hit's JSON (`Hit.to_dict()`) with `passage` as plain text, the Markdown kept as
    `passage_markdown`, and `match_spans` / `best_sentence` moved onto the plain text."""
    plain = plain_text(hit["passage"])
    hit["passage_markdown"] = hit["passage"]
    hit["passage"] = plain.text
    hit["match_spans"] = [list(plain.span(a, b)) for a, b in hit["match_spans"]]
    hit["best_sentence"] = list(plain.span(*hit["best_sentence"]))
    for excerpt in hit.get("more", []):
        excerpt["passage_markdown"] = excerpt["passage"]
        excerpt["passage"] = plain_text(excerpt["passage"]).text
    return hit
