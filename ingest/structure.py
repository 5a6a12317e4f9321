"""Passages shaped like answers, for articles with structure: a heading with its section, a list whole.

A FAQ article answers its sub-questions section by section (the heading is
usually the sub-question: "N到底怎么算"), and a numbered list is one answer
("被辞退时，先做好这几件事：1. … 2. …"). Cutting them by length shows a client
half a list, or a list item without the sentence that says what it lists. So:

- a section (heading + what follows, up to the next heading) is one passage
  when it fits `SECTION_CHARS`; a longer one is cut between its paragraphs
  and lists, never inside them;
- a list stays whole together with its lead-in (the line before it that ends
  in "：") up to `LIST_CHARS`; a longer list is cut between items, and every
  later piece carries the heading and the lead-in as its context (`heading`);
- a paragraph longer than `SECTION_CHARS` is cut between sentences.

No passage starts mid-list or mid-sentence. Articles without headings (a
statute, a plain note) keep the sentence packing of `ingest.chunk`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

SECTION_CHARS = 520  # a section up to this long is one passage
LIST_CHARS = 700  # a list with its lead-in up to this long stays whole
CONTEXT_CHARS = 80  # the lead-in repeated as a later list piece's context, at most this long

_MD_HEADING = re.compile(r"^\s*(#{1,6})\s+\S")
_LEAD_END = re.compile(r"[：:]\s*$")


@dataclass
class Block:
    kind: str  # "heading" | "para" | "list"
    start: int
    end: int
    level: int = 0
    items: list[tuple[int, int]] = field(default_factory=list)  # a list's items (start, end)


def has_structure(body: str, line_heading, list_item) -> bool:
    """Whether `body` has headings to cut along (Markdown or plain heading lines)."""
    for line in body.splitlines():
        if line.strip() and not list_item.match(line.strip()) and line_heading(line)[0]:
            return True
    return False


def blocks(body: str, line_heading, list_item) -> list[Block]:
    """Headings, paragraphs (one line each) and lists (items with their indented continuation lines)."""
    out: list[Block] = []
    pos = 0
    for raw in body.splitlines(keepends=True):
        start = pos
        pos += len(raw)
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        if not stripped:
            continue
        end = start + len(line.rstrip())
        is_item = bool(list_item.match(stripped))
        if out and out[-1].kind == "list" and (is_item or line[:1].isspace()):
            out[-1].end = end
            if is_item:
                out[-1].items.append((start + len(line) - len(line.lstrip()), end))
            else:
                out[-1].items[-1] = (out[-1].items[-1][0], end)
            continue
        if is_item:
            first = start + len(line) - len(line.lstrip())
            out.append(Block("list", first, end, items=[(first, end)]))
            continue
        is_heading, level = line_heading(line)
        kind = "heading" if is_heading else "para"
        out.append(Block(kind, start + len(line) - len(line.lstrip()), end, level if is_heading else 0))
    return out


def _units(section: list[Block], body: str) -> list[list[Block]]:
    """A section's blocks as units that stay together: a lead-in line with the list after it."""
    units: list[list[Block]] = []
    for b in section:
        if b.kind == "list" and units and len(units[-1]) == 1 and units[-1][0].kind == "para" \
                and _LEAD_END.search(body[units[-1][0].start : units[-1][0].end]):
            units[-1].append(b)
        else:
            units.append([b])
    return units


def _span(unit: list[Block]) -> tuple[int, int]:
    return unit[0].start, unit[-1].end


def structured_passages(body: str, line_heading, list_item, split_sentences) -> list[tuple[int, int, str]]:
    """(start, end, heading path) of each passage of a structured `body` (see the module docstring).

    `split_sentences(start, end)` cuts an over-long paragraph between sentences (ingest.chunk's packer).
    """
    out: list[tuple[int, int, str]] = []
    headings: dict[int, str] = {}
    section: list[Block] = []
    heading_block: Block | None = None

    def path() -> str:
        return " > ".join(headings[k] for k in sorted(headings))

    def close() -> None:
        nonlocal section, heading_block
        if section or heading_block:
            out.extend(_section_passages(heading_block, section, body, path(), split_sentences))
        section, heading_block = [], None

    for b in blocks(body, line_heading, list_item):
        if b.kind != "heading":
            section.append(b)
            continue
        if heading_block is not None and not section:  # a heading right under a heading: one section
            heading_block = Block("heading", heading_block.start, b.end, b.level)
        else:
            close()
            heading_block = b
        for k in [k for k in headings if k >= b.level]:
            del headings[k]
        headings[b.level] = body[b.start : b.end].strip().lstrip("#").strip()
    close()
    return out


def _section_passages(heading: Block | None, section: list[Block], body: str, path: str,
                      split_sentences) -> list[tuple[int, int, str]]:
    """Pack one section's units into passages; the heading opens the first."""
    out: list[tuple[int, int, str]] = []
    cur_start = heading.start if heading else None
    cur_end = heading.end if heading else None
    has_content = False

    def flush() -> None:
        nonlocal cur_start, cur_end, has_content
        if cur_start is not None and cur_end > cur_start:
            out.append((cur_start, cur_end, path))
        cur_start, cur_end, has_content = None, None, False

    for unit in _units(section, body):
        start, end = _span(unit)
        fits = end - start <= (LIST_CHARS if unit[-1].kind == "list" else SECTION_CHARS)
        if cur_start is not None and has_content and end - cur_start > SECTION_CHARS:
            flush()
        if fits:
            cur_start = start if cur_start is None else cur_start
            cur_end, has_content = end, True
            continue
        head = None
        if has_content:
            flush()
        else:  # only the heading so far: it opens the first piece of the long unit
            head, cur_start, cur_end = cur_start, None, None
        pieces = _split_list(unit, body) if unit[-1].kind == "list" else split_sentences(start, end)
        for n, (s, e) in enumerate(pieces):
            if n == 0 and head is not None:
                s = head
            context = path
            if n > 0 and unit[-1].kind == "list" and unit[0].kind == "para":
                lead = body[unit[0].start : unit[0].end].strip()[:CONTEXT_CHARS]
                context = f"{path} > {lead}" if path else lead
            out.append((s, e, context))
    flush()
    return out


def _split_list(unit: list[Block], body: str) -> list[tuple[int, int]]:
    """A long list (with its lead-in) cut between items into pieces of at most SECTION_CHARS."""
    lst = unit[-1]
    pieces: list[tuple[int, int]] = []
    start = unit[0].start
    end = None
    for s, e in lst.items:
        if end is not None and e - start > SECTION_CHARS:
            pieces.append((start, end))
            start = s
        end = e
    pieces.append((start, end if end is not None else lst.end))
    return pieces
