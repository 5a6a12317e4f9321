"""Records that flow through ingest: Article -> Passage, plus the skip report.

Plain dataclasses so they serialise with `dataclasses.asdict` and stay cheap to
create by the hundred thousand.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# The one size limit for a file, a JSONL line or a fetched page (LAWFAQ_MAX_BYTES overrides it).
DEFAULT_MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Citation:
    """One statute citation, normalised: full law name and article number.

    `article` is an int (第一千零三十二条 -> 1032); `sub` is the "之一" suffix
    number (第120条之一 -> 1), `paragraph` the 款 number when given.
    `span` is the character span of the citation in the text it was found in.
    """

    law: str
    article: int
    paragraph: int | None = None
    sub: int | None = None
    span: tuple[int, int] = (0, 0)

    @property
    def key(self) -> str:
        """A stable display/search key: '民法典 第1032条' style, full law name."""
        tail = f"之{_CN_SMALL.get(self.sub, self.sub)}" if self.sub else ""
        return f"{self.law} 第{self.article}条{tail}"


_CN_SMALL = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七", 8: "八", 9: "九"}


@dataclass
class Article:
    """A cleaned article: only `body` is indexed; the rest is display metadata."""

    id: str
    title: str
    body: str
    url: str | None = None
    category: str | None = None
    published: str | None = None  # ISO date (YYYY-MM-DD) when known
    tags: list[str] = field(default_factory=list)
    source: str = ""  # where it came from (path, URL, "file.jsonl:12")


@dataclass
class Passage:
    """A chunk of an article body. Invariant: article.body[start:end] == text."""

    id: str
    article_id: str
    text: str
    start: int
    end: int
    heading: str = ""  # heading path, " > "-joined
    statutes: list[str] = field(default_factory=list)  # Citation.key values
    # Short tags for the page, one per distinct citation as written ('劳动合同法第47条第1款'):
    # made here from the parsed Citation, so a paragraph number survives and nothing re-parses keys.
    statute_labels: list[str] = field(default_factory=list)


@dataclass
class Skipped:
    """An input that was not ingested, with a reason a person can act on.

    `source` is the file, folder or URL (for a JSONL export "export.jsonl:12", as
    on the Article, so a log line that prints only the source still names the
    line); `line` is that line number as a number, for tools reading report.json.
    `kept` marks a warning rather than a loss: the article was ingested, but a
    field was unusable and was dropped or guessed (a date that is not a date, a
    title taken from the body); the reason says which, so the export can be fixed.
    """

    source: str
    reason: str
    line: int | None = None
    kept: bool = False

    def __post_init__(self) -> None:
        # report.json and the terminal are UTF-8: a lone surrogate (from a file name that is not
        # UTF-8, or a broken JSON escape) must not make writing the report fail.
        self.source = printable(self.source)
        self.reason = printable(self.reason)


def printable(text: object) -> str:
    """Text that encodes as UTF-8: undecodable file-name bytes shown as \\xNN, lone surrogates as U+FFFD."""
    text = text if isinstance(text, str) else str(text)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text:
        if "\udc80" <= ch <= "\udcff":  # surrogateescape: an undecodable byte of a file name
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif "\ud800" <= ch <= "\udfff":
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


@dataclass
class LoadResult:
    """What a source produced: good articles and the inputs it had to skip."""

    articles: list[Article] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def extend(self, other: LoadResult) -> None:
        self.articles.extend(other.articles)
        self.skipped.extend(other.skipped)
