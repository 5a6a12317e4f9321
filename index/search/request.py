"""One validated search request, shared by `Searcher.search`, the CLI and the JSON API.

Every caller hands its raw arguments to `SearchRequest.parse`, which either
returns a normalised, immutable request or raises `InvalidQuery` (a
`ValueError`) naming the parameter. Before this, each entry point checked its
own way and they disagreed: an invalid `date_from` was silently ignored while
the same value as `date_to` returned nothing, `k<=0` quietly returned one hit,
`k='abc'` or `category=123` raised a TypeError from deep inside the ranking.

Accepted shapes (anything else is an `InvalidQuery`):

- ``query``: a string. Cleaned as the page shows it (NFKC, non-printable
  characters dropped, runs of whitespace made one space) and cut to the
  search's length limit. An empty or blank query is not an error: the search
  answers with no hits and the message "请输入问题". ``None`` or a non-string is.
- ``k``: a whole number 1..50: an ``int`` (numpy integers too) or a string of
  ASCII digits such as ``"5"`` (forms and query strings carry text; the API and
  the CLI pass ints anyway). ``bool``, floats (also ``5.0``, nan, inf) and
  ``None`` are refused rather than guessed at.
- ``category``: ``None``, one string, or a list/tuple/set of strings. Each is
  NFKC-normalised and stripped; blank entries are dropped and duplicates
  merged; nothing left means no filter. At most `MAX_CATEGORIES` of them.
- ``date_from`` / ``date_to``: ``None``/blank (no bound), a ``datetime.date``
  (or ``datetime``), or a string ``YYYY-MM-DD``. ``date_from`` after
  ``date_to`` is an error, not an empty result.
- ``mode``: ``"hybrid"``, ``"bm25"`` or ``"dense"`` (case and surrounding
  spaces ignored).
"""
from __future__ import annotations

import datetime as dt
import math
import numbers
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from index.storage.fields import normalize_category

MODES = ("hybrid", "bm25", "dense")
MAX_K = 50
MAX_QUERY_CHARS = 200
MAX_CATEGORIES = 100
MAX_CATEGORY_CHARS = 200
# Cleaning a multi-megabyte "question" would cost more than the search itself, and
# only its first `limit` characters survive; so at most this many raw characters per
# kept character are read (a question hidden behind >12,800 control characters is lost).
RAW_CHARS_PER_KEPT = 64

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS = re.compile(r"[0-9]{1,6}")
_SPACES = re.compile(r"\s+")

__all__ = ["MAX_K", "MODES", "InvalidQuery", "SearchRequest", "check_categories", "clean_query"]


class InvalidQuery(ValueError):
    """A search parameter that cannot be used; `param` names it, the message says what is accepted.

    A ValueError, so callers that already catch ValueError (the CLI) keep
    working; `zh` is a short Chinese version for pages and the API.
    """

    def __init__(self, param: str, message: str, zh: str = ""):
        super().__init__(f"{param}: {message}")
        self.param = param
        self.zh = zh or f"参数 {param} 无效"


def _shown(value: Any) -> str:
    """A short, safe rendering of a rejected value for an error message."""
    text = repr(value) if not isinstance(value, str) else repr(value[:40])
    return text if len(text) <= 60 else text[:57] + "..."


def clean_query(text: str, limit: int | None = MAX_QUERY_CHARS) -> str:
    """The query as it is searched: NFKC, printable characters only, single spaces, at most `limit` chars.

    `limit=None` keeps the whole text, for callers that refuse an over-long
    question instead of cutting it (the API says "too long").
    """
    if limit is not None:
        text = text[: max(limit, 1) * RAW_CHARS_PER_KEPT]
    text = unicodedata.normalize("NFKC", text)
    text = _SPACES.sub(" ", text)  # before dropping control characters: a tab or newline separates words
    text = "".join(ch for ch in text if ch.isprintable() or ch == " ")
    text = _SPACES.sub(" ", text).strip()
    return text if limit is None else text[:limit]


def parse_text(query: Any, limit: int | None = MAX_QUERY_CHARS) -> str:
    """The cleaned query; InvalidQuery for anything but a string."""
    if not isinstance(query, str):
        raise InvalidQuery("query", f"must be a string, not {type(query).__name__} {_shown(query)}",
                           "问题必须是文字")
    return clean_query(query, limit)


def parse_k(k: Any, param: str = "k") -> int:
    """A whole number 1..MAX_K (int, numpy integer, or a digit string); InvalidQuery names `param`."""
    value: int | None = None
    if isinstance(k, str) and _DIGITS.fullmatch(k.strip()):
        value = int(k.strip())
    elif isinstance(k, numbers.Integral) and not isinstance(k, bool):
        value = int(k)
    if value is None:
        kind = "not a number" if isinstance(k, float) and not math.isfinite(k) else type(k).__name__
        raise InvalidQuery(param, f"must be a whole number from 1 to {MAX_K}, not {_shown(k)} ({kind})",
                           f"结果数量 {param} 应为 1 到 {MAX_K} 的整数")
    if not 1 <= value <= MAX_K:
        raise InvalidQuery(param, f"must be from 1 to {MAX_K}, not {value}", f"结果数量 {param} 应为 1 到 {MAX_K} 的整数")
    return value


def _category_items(category: Any) -> Iterable[Any]:
    if isinstance(category, str):
        return [category]
    if isinstance(category, (list, tuple, set, frozenset)):
        if len(category) > MAX_CATEGORIES:
            raise InvalidQuery("category", f"at most {MAX_CATEGORIES} categories, not {len(category)}",
                               f"分类最多 {MAX_CATEGORIES} 个")
        return sorted(category, key=str) if isinstance(category, (set, frozenset)) else category
    raise InvalidQuery("category", f"must be a string or a list of strings, not {type(category).__name__} "
                                   f"{_shown(category)}", "分类必须是文字或文字列表")


def parse_categories(category: Any) -> tuple[str, ...]:
    """Normalised category names (NFKC, stripped, blanks dropped, duplicates merged); () = no filter."""
    if category is None:
        return ()
    out: dict[str, None] = {}
    for item in _category_items(category):
        if not isinstance(item, str):
            raise InvalidQuery("category", f"every category must be a string, not {type(item).__name__} "
                                           f"{_shown(item)}", "分类必须是文字")
        name = normalize_category(item)
        if len(name) > MAX_CATEGORY_CHARS:
            raise InvalidQuery("category", f"a category has at most {MAX_CATEGORY_CHARS} characters, "
                                           f"not {len(name)}", "分类名称太长")
        if name:
            out[name] = None
    return tuple(out)


def check_categories(categories: Iterable[str], known: Iterable[str], shown: int = 5) -> None:
    """InvalidQuery naming ``category`` when any of `categories` (already normalised) is not in `known`
    (the index's normalised category names): a mistyped filter is named, not answered with no hits."""
    if not categories:  # most searches filter nothing: nothing to look up
        return
    known_set = set(known)
    unknown = [name for name in categories if name not in known_set]
    if not unknown:
        return
    some = sorted(known_set)[:shown]
    listed = "、".join(some) + ("等" if len(known_set) > len(some) else "")
    bad = "、".join(unknown[:shown])
    zh = f"没有这个分类：{bad}" + (f"；现有分类如：{listed}" if some else "；索引中没有任何分类")
    raise InvalidQuery("category", f"unknown category {', '.join(_shown(n) for n in unknown[:shown])}; "
                                   f"existing categories include {', '.join(some) or '(none)'}", zh)


def link_filters(categories: Iterable[str], wanted: Iterable[str], date_from: str, date_to: str
                 ) -> tuple[list[str], dt.date | None, dt.date | None, list[str]]:
    """The filters of a shared link (the page's ?category=, ?from=, ?to=): the index's own spelling of
    each wanted category (matched after NFKC/strip), the two dates, and, in Chinese, what could not be
    applied (an unknown category, a date that is not YYYY-MM-DD), so the page names it."""
    by_name = {normalize_category(c): c for c in categories}
    names = list(dict.fromkeys(n for n in map(normalize_category, wanted) if n))
    chosen = [by_name[n] for n in names if n in by_name]
    problems = [f"分类“{n[:40]}”不存在" for n in names if n not in by_name]
    dates: list[dt.date | None] = []
    for raw, label in ((date_from, "起始日期"), (date_to, "截止日期")):
        try:
            dates.append(parse_date(label, raw))
        except InvalidQuery:
            dates.append(None)
            problems.append(f"{label}“{str(raw).strip()[:40]}”不是有效日期（应为 YYYY-MM-DD）")
    return chosen, dates[0], dates[1], problems


def parse_date(param: str, value: Any) -> dt.date | None:
    """None for no bound; a date from a date/datetime or a 'YYYY-MM-DD' string; else InvalidQuery."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if _DATE.fullmatch(text):
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                pass
    raise InvalidQuery(param, f"must be a date as YYYY-MM-DD (e.g. 2025-01-31), not {_shown(value)}",
                       f"{param} 日期格式应为 YYYY-MM-DD")


def parse_mode(mode: Any) -> str:
    """One of MODES (case and surrounding spaces ignored)."""
    if isinstance(mode, str) and mode.strip().lower() in MODES:
        return mode.strip().lower()
    raise InvalidQuery("mode", f"must be one of {', '.join(MODES)}, not {_shown(mode)}",
                       "检索方式 mode 应为 hybrid、bm25 或 dense")


@dataclass(frozen=True)
class SearchRequest:
    """A search as the ranking sees it: every field already checked and normalised."""

    query: str
    k: int = 5
    categories: tuple[str, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    mode: str = "hybrid"
    # passages per article: None = one card per article (its best passage, the rest under "more");
    # a notebook or API client asking for raw passages sets it higher
    per_article: int | None = None

    @classmethod
    def parse(cls, query: Any, k: Any = 5, category: Any = None, date_from: Any = None, date_to: Any = None,
              mode: Any = "hybrid", *, max_query_chars: int | None = MAX_QUERY_CHARS,
              per_article: Any = None) -> SearchRequest:
        """The request for these raw arguments, or InvalidQuery naming the first bad parameter."""
        request = cls(
            query=parse_text(query, max_query_chars), k=parse_k(k), categories=parse_categories(category),
            date_from=parse_date("date_from", date_from), date_to=parse_date("date_to", date_to),
            mode=parse_mode(mode), per_article=None if per_article is None else parse_k(per_article, "per_article"),
        )
        if request.date_from and request.date_to and request.date_from > request.date_to:
            raise InvalidQuery("date_from",
                               f"must not be after date_to ({request.date_from} > {request.date_to})",
                               "起始日期 date_from 不能晚于截止日期 date_to")
        return request

    @property
    def has_filter(self) -> bool:
        return bool(self.categories or self.date_from or self.date_to)

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `Searcher.search` that parse back to this same request."""
        return {"query": self.query, "k": self.k, "category": list(self.categories) or None,
                "date_from": self.date_from.isoformat() if self.date_from else None,
                "date_to": self.date_to.isoformat() if self.date_to else None, "mode": self.mode,
                **({"per_article": self.per_article} if self.per_article is not None else {})}
