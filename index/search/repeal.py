"""Repealed statutes and the provisions that replaced them.

Many articles in the corpus were written before 2021-01-01 and still cite 合同法,
婚姻法, 担保法 and the other laws that 民法典 (Art. 1260) repealed on that day.
Two things follow for search:

- a reader must be told that "合同法第52条" is no longer in force (`repeal_label`),
  and where the rule lives now (`successor_display`);
- a question citing 合同法第52条 should also find passages citing 民法典第153/154条,
  and the reverse (`related_keys`), because the rule is the same.

The facts live in two hand-checked tables next to this module:
``data/repealed_laws.tsv`` (one row per repealed law) and
``data/statute_successors.tsv`` (old article -> 民法典 articles). They are read
once, on first use, and a malformed row fails loudly with file and line, so a
bad edit is caught by the tests instead of silently dropping mappings.

Keys are `Citation.key` strings ("中华人民共和国合同法 第52条"); the lookups also
accept display keys ("合同法第52条") and anything `parse_citations` understands.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from ingest.citations import display_key, full_law_name, parse_citations
from ingest.records import Citation

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
REPEALED_LAWS_PATH = DATA_DIR / "repealed_laws.tsv"
SUCCESSORS_PATH = DATA_DIR / "statute_successors.tsv"

_LAW_COLUMNS = ("law", "short", "repealed_on", "replaced_by", "note")
_SUCCESSOR_COLUMNS = ("old_law", "old_article", "new_law", "new_articles", "topic")

_CN_SUB = "一二三四五六七八九"
# The exact shape of Citation.key: full law name, one space, 第N条, optional 之一..之九.
_KEY = re.compile(rf"(?P<law>\S+) 第(?P<num>[0-9]+)条(?:之(?P<sub>[{_CN_SUB}]))?")
_OLD_ARTICLE = re.compile(rf"(?P<num>[0-9]+)(?:之(?P<sub>[{_CN_SUB}]))?")
_ARTICLE_LIST = re.compile(r"[0-9]+(?:,[0-9]+)*")


@dataclass(frozen=True)
class Repeal:
    """One repealed law: when it stopped applying and which law took over."""

    law: str  # full name as `full_law_name` produces it, e.g. 中华人民共和国合同法
    short: str  # display name, e.g. 合同法
    repealed_on: str  # ISO date the repeal took effect
    replaced_by: str  # full name of the replacing law
    note: str  # one line for people: where the content went


@dataclass(frozen=True)
class _Successions:
    """Both directions of the article table, as Citation keys, in table order."""

    forward: dict[str, tuple[str, ...]]  # old key -> new keys
    backward: dict[str, tuple[str, ...]]  # new key -> old keys


# ---------------------------------------------------------------- loading


def _rows(path: Path, columns: tuple[str, ...]) -> Iterable[tuple[int, list[str]]]:
    """(line number, fields) for each data row; '#' lines and blank lines are comments.

    The first non-comment line must be the header, so a reordered column cannot
    be misread silently.
    """
    header_seen = False
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if not header_seen:
            if tuple(fields) != columns:
                raise ValueError(f"{path}:{lineno}: header must be {'/'.join(columns)}, got {'/'.join(fields)}")
            header_seen = True
            continue
        if len(fields) != len(columns):
            raise ValueError(f"{path}:{lineno}: expected {len(columns)} tab-separated fields, got {len(fields)}")
        if not all(fields[:-1]):
            raise ValueError(f"{path}:{lineno}: empty field in {line!r}")
        yield lineno, fields
    if not header_seen:
        raise ValueError(f"{path}: no header row")


def load_repealed_laws(path: Path = REPEALED_LAWS_PATH) -> dict[str, Repeal]:
    """Read the law-level table into {full law name: Repeal}; ValueError on a bad row."""
    laws: dict[str, Repeal] = {}
    for lineno, (law, short, repealed_on, replaced_by, note) in _rows(path, _LAW_COLUMNS):
        if full_law_name(law) != law:
            raise ValueError(f"{path}:{lineno}: law {law!r} is not a full name (expected {full_law_name(law)!r})")
        try:
            date.fromisoformat(repealed_on)
        except ValueError:
            raise ValueError(f"{path}:{lineno}: repealed_on {repealed_on!r} is not an ISO date") from None
        if law in laws:
            raise ValueError(f"{path}:{lineno}: duplicate law {law!r}")
        laws[law] = Repeal(law, short, repealed_on, full_law_name(replaced_by), note)
    return laws


def load_successors(path: Path = SUCCESSORS_PATH, repealed: Iterable[str] | None = None) -> _Successions:
    """Read the article table; ValueError on a bad row.

    When `repealed` (full law names) is given, every old_law must be one of them:
    a successor of a law that is still in force would be a data error.
    """
    known = set(repealed) if repealed is not None else None
    forward: dict[str, tuple[str, ...]] = {}
    backward: dict[str, list[str]] = {}
    for lineno, (old_law, old_article, new_law, new_articles, _topic) in _rows(path, _SUCCESSOR_COLUMNS):
        where = f"{path}:{lineno}"
        if known is not None and old_law not in known:
            raise ValueError(f"{where}: old_law {old_law!r} is not in the repealed-laws table")
        m = _OLD_ARTICLE.fullmatch(old_article)
        if not m:
            raise ValueError(f"{where}: old_article {old_article!r} is not like 52 or 120之一")
        if not _ARTICLE_LIST.fullmatch(new_articles):
            raise ValueError(f"{where}: new_articles {new_articles!r} is not a comma-separated list of numbers")
        sub = _CN_SUB.index(m["sub"]) + 1 if m["sub"] else None
        old_key = Citation(old_law, int(m["num"]), sub=sub).key
        if old_key in forward:
            raise ValueError(f"{where}: duplicate row for {old_key}")
        new_keys = tuple(dict.fromkeys(Citation(new_law, int(n)).key for n in new_articles.split(",")))
        forward[old_key] = new_keys
        for new_key in new_keys:
            backward.setdefault(new_key, []).append(old_key)
    return _Successions(forward, {k: tuple(v) for k, v in backward.items()})


@cache
def _laws() -> dict[str, Repeal]:
    return load_repealed_laws()


@cache
def _successions() -> _Successions:
    return load_successors(repealed=_laws())


# ---------------------------------------------------------------- key handling


def _citation(key_or_display: str) -> Citation | None:
    """The one citation a key or display key names, or None.

    Exact Citation.key strings are taken as they are (their law names may be long
    interpretation titles that the free-text parser would misread); anything else
    goes through `parse_citations`, which handles 合同法第52条, 《合同法》第五十二条 etc.
    """
    s = key_or_display.strip()
    m = _KEY.fullmatch(s)
    if m:
        sub = _CN_SUB.index(m["sub"]) + 1 if m["sub"] else None
        return Citation(m["law"], int(m["num"]), sub=sub)
    found = parse_citations(s)
    return found[0] if found else None


def _canonical_key(key_or_display: str) -> str | None:
    c = _citation(key_or_display)
    return c.key if c else None


def _display(key: str) -> str:
    c = _citation(key)
    return display_key(c) if c else key


# ---------------------------------------------------------------- public lookups


def repeal_of(law_or_key: str) -> Repeal | None:
    """The repeal record for a law name, Citation.key or display key; None if in force (or unknown)."""
    c = _citation(law_or_key)
    law = c.law if c else full_law_name(law_or_key)
    return _laws().get(law)


def successors(key: str) -> list[str]:
    """Citation keys of the current provisions that replaced the old article `key`.

    '中华人民共和国合同法 第52条' -> ['中华人民共和国民法典 第146条', ... 第153条, 第154条].
    Empty when the article is not in the table (or the law is not repealed).
    """
    k = _canonical_key(key)
    return list(_successions().forward.get(k, ())) if k else []


def predecessors(key: str) -> list[str]:
    """Citation keys of repealed articles that `key` (a current provision) replaced."""
    k = _canonical_key(key)
    return list(_successions().backward.get(k, ())) if k else []


def related_keys(keys: Iterable[str]) -> list[str]:
    """`keys` first, then their successors and predecessors; deduplicated, order kept.

    One hop only: 合同法第52条 brings in 民法典第153条, but not 民法通则第58条 that
    153 also replaced, so an expanded query stays close to what was asked.
    """
    given = list(keys)
    out = dict.fromkeys(given)
    for key in given:
        out.update(dict.fromkeys(successors(key)))
        out.update(dict.fromkeys(predecessors(key)))
    return list(out)


def repeal_label(key_or_display: str) -> str | None:
    """A short badge such as '已废止（2021-01-01）' for a citation of a repealed law, else None."""
    r = repeal_of(key_or_display)
    return f"已废止（{r.repealed_on}）" if r else None


def successor_display(key: str) -> list[str]:
    """Display keys of the replacing provisions, e.g. ['民法典第153条', '民法典第154条']."""
    return [_display(k) for k in successors(key)]
