"""Pinyin typed for Chinese: "bang xin zui 会不会留案底" is searched as "帮信罪 会不会留案底".

People type toneless pinyin when their input method is off or they are unsure of
the characters. The embedding model reads such a question as a foreign string
and BM25 finds no token in it. So each run of latin words that is entirely
pinyin is split into syllables and read back into the most probable Chinese
words — a unigram language model, as jieba segments Chinese: every way of cutting
the syllables into words of one to four syllables is scored by the product of
the words' probabilities, and the best one wins (dynamic programming). A word's
probability comes from the tokenizer dictionary's frequency (jieba's, with the
legal dictionary) plus `DOMAIN_BOOST` times the number of the index's passages
holding it, so the index's own words (帮信罪, 以贷养贷) win over homophones from
general usage. Readings come from pypinyin, which ships its dictionary; a word
typed with a character's less usual reading (还款 as "huan kuan" — pypinyin
reads it "hai kuan") is found at the probability of that reading in use
(`Readings`: pypinyin's 47k phrases weighted by their frequency).

Only runs of at least two syllables that read into at least one word of two or
more syllables are rewritten: English in a question ("can I sue them", "after
lawsuit") stays as typed. The page shows the question as typed and says how it
was read (`HitList.read_as`); the models and BM25 search the reading.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

MAX_WORD_SYLLABLES = 4
MIN_SYLLABLES = 2  # a lone syllable ("can", "man") is more likely English, and too ambiguous to read
DOMAIN_BOOST = 50  # one passage of the index holding a word counts as this many dictionary occurrences
UNREAD_LOGP = -30.0  # a syllable no word is read as: kept as typed, at about a word never seen
ALTERNATE_READINGS_FROM = 100  # common words are keyed under their other readings only from this frequency
_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{1,4}$")
# a run of latin words separated by spaces or apostrophes ("xi'an"), nothing else
_LATIN_RUN = re.compile(r"[A-Za-z]+(?:['\s]+[A-Za-z]+)*")
_SPLIT = re.compile(r"['\s]+")

Key = tuple[str, ...]
Entry = tuple[str, float]  # a word and its log-probability under the key it was read from
Table = dict[Key, Entry]


@cache
def syllables() -> frozenset[str]:
    """Every toneless pinyin syllable of the common CJK block, as pypinyin reads each character."""
    from pypinyin import Style, lazy_pinyin

    chars = "".join(chr(c) for c in range(0x4E00, 0x9FA6))
    out = {s for s in lazy_pinyin(chars, style=Style.NORMAL, errors="ignore") if s.isalpha()}
    # interjection readings (嗯 n, 呣 m) would split real syllables apart ("ren" -> "re n")
    return frozenset(out - {"n", "m", "ng", "hm", "hng"})


def split_syllables(word: str) -> list[str] | None:
    """`word` (lower-case letters) as the fewest pinyin syllables, or None if it is not pinyin.

    "beizhixingren" -> bei zhi xing ren; "xian" stays one syllable (typed "xi'an" it is two).
    """
    valid = syllables()
    best: list[list[str] | None] = [None] * (len(word) + 1)
    best[0] = []
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 6), end):
            prev = best[start]
            if prev is not None and word[start:end] in valid:
                if best[end] is None or len(prev) + 1 < len(best[end]):
                    best[end] = prev + [word[start:end]]
    return best[len(word)]


@cache
def _readings(char: str) -> tuple[str, ...]:
    """Every toneless reading of one character, the usual one first (还: hai, huan)."""
    from pypinyin import Style, pinyin

    found = pinyin(char, style=Style.NORMAL, heteronym=True, errors="ignore")
    return tuple(dict.fromkeys(r for r in found[0] if r.isalpha())) if found else ()


class Readings:
    """How often each character is read each way, in running text: pypinyin's 47k phrases, each weighted
    by its frequency in the word list (+1). Why weighted: counted by phrases, 度 is read duó in 10% of
    them (揣度, 忖度, ...); counted in use (态度, 程度, 温度 are everywhere) it is well under 1%, and a
    user typing "tai duo" means 太多, not 态度."""

    def __init__(self, frequencies: Mapping[str, int]):
        from pypinyin.constants import PHRASES_DICT
        from pypinyin.contrib.tone_convert import to_normal

        self.counts: dict[str, Counter] = {}
        for phrase, readings in PHRASES_DICT.items():
            if len(phrase) != len(readings):
                continue
            weight = frequencies.get(phrase, 0) + 1
            for char, options in zip(phrase, readings, strict=True):
                self.counts.setdefault(char, Counter())[to_normal(options[0])] += weight

    def logp(self, char: str, reading: str) -> float:
        """log P(reading | char), add-one smoothed over the character's readings."""
        options = _readings(char)
        seen = self.counts.get(char, Counter())
        return math.log((seen[reading] + 1) / (sum(seen[r] for r in options) + len(options)))


def word_keys(word: str, readings: Readings | None = None, limit: int = 16) -> list[tuple[Key, float]]:
    """Each pinyin key `word` may be typed as, with the log-probability of typing it that way: its usual
    reading (pypinyin's, in context) at 0, then — given `readings` — the other readings of its characters,
    each changed character costing log P(other) - log P(usual). At most `limit` keys."""
    from pypinyin import Style, lazy_pinyin

    usual = tuple(lazy_pinyin(word, style=Style.NORMAL, errors="ignore"))
    if len(usual) != len(word):
        return []
    keys: list[tuple[Key, float]] = [((), 0.0)]
    for i, char in enumerate(word):
        step = [(usual[i], 0.0)]
        if readings is not None:
            step += [(r, min(0.0, readings.logp(char, r) - readings.logp(char, usual[i])))
                     for r in _readings(char) if r != usual[i]]
        keys = [(k + (r,), lp + cost) for k, lp in keys for r, cost in step]
        if len(keys) > limit:
            return [(usual, 0.0)]
    return keys


def word_tables(counts: Mapping[str, float], total: float, readings: Readings | None = None,
                alternates_from: float = 0) -> Table:
    """pinyin key -> the most probable word typed that way, and its log-probability."""
    table: Table = {}
    for word, count in counts.items():
        if count <= 0 or not _CJK_WORD.match(word):
            continue
        base = math.log(count / total)
        for key, typed in word_keys(word, readings if count >= alternates_from else None):
            if key not in table or base + typed > table[key][1]:
                table[key] = (word, base + typed)
    return table


class SqliteTable:
    """A pinyin table on disk (key "tai duo" -> word, log-probability), read-only: ~400k keys of common
    words cost a serving process no memory, and a lookup is a primary-key read (a question makes a few
    dozen)."""

    def __init__(self, path: Path):
        # one connection shared by search threads: SQLite is built serialized (see index.search.searcher)
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.db.execute("SELECT word, logp FROM words WHERE key = ''").fetchone()  # a broken file fails here

    def get(self, key: Key) -> Entry | None:
        row = self.db.execute("SELECT word, logp FROM words WHERE key = ?", (" ".join(key),)).fetchone()
        return (row[0], row[1]) if row else None


@dataclass
class CommonWords:
    """A general word list: its pinyin table, and each word's frequency (to score the index's words)."""

    table: Table | SqliteTable
    frequencies: Mapping[str, int]
    total: float
    readings: Readings | None = None


_COMMON: dict[str, CommonWords] = {}
_COMMON_LOCK = threading.Lock()
CACHE_FORMAT = 4


def common_words(name: str, frequencies: Callable[[], Mapping[str, int]],
                 cache_dir: Path | None = None) -> CommonWords:
    """The pinyin table of a general word list — jieba's dictionary, ~340k words — cached under `name`
    (the tokenizer data's checksum) in this process and, given `cache_dir`, in an SQLite file there.
    Why a file: building takes seconds and much memory as Python dicts (measured:
    docs/decisions/search-path-figures.md); from the file a process opens it in milliseconds and holds
    next to nothing. A file that cannot be read is rebuilt; a cache folder
    that cannot be written keeps the table in memory."""
    with _COMMON_LOCK:
        if name in _COMMON:
            return _COMMON[name]
        freq = frequencies()
        total = float(sum(freq.values())) or 1.0
        readings = Readings(freq)
        table = None
        path = cache_dir / f"pinyin-{name}-v{CACHE_FORMAT}-{_pypinyin_version()}.sqlite" if cache_dir else None
        if path is not None and path.exists():
            table = _open_table(path)
        if table is None:
            built = word_tables(freq, total, readings, ALTERNATE_READINGS_FROM)
            table = _open_table(path) if path is not None and _write_table(path, built) else built
        _COMMON[name] = CommonWords(table or {}, freq, total, readings)
        return _COMMON[name]


def _pypinyin_version() -> str:
    from importlib.metadata import version

    return version("pypinyin")


def _open_table(path: Path) -> SqliteTable | None:
    try:
        return SqliteTable(path)
    except sqlite3.Error as exc:
        log.warning("pinyin cache %s unreadable (%s): rebuilding it", path, exc)
        return None


def _write_table(path: Path, table: Table) -> bool:
    """Write to a temporary file, then rename: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
        db = sqlite3.connect(tmp)
        try:
            db.execute("CREATE TABLE words (key TEXT PRIMARY KEY, word TEXT NOT NULL, logp REAL NOT NULL) "
                       "WITHOUT ROWID")
            db.executemany("INSERT INTO words VALUES (?, ?, ?)", ((" ".join(k), w, lp) for k, (w, lp) in table.items()))
            db.commit()
        finally:
            db.close()
        os.replace(tmp, path)
        return True
    except (OSError, sqlite3.Error) as exc:
        log.warning("could not cache the pinyin table in %s: %s", path.parent, exc)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return False


def looks_like_pinyin(text: str) -> bool:
    """Cheap test before any table is built: a latin run of >= 2 syllables, every word of it pinyin."""
    for m in _LATIN_RUN.finditer(text):
        pieces = [split_syllables(t) for t in _SPLIT.split(m.group(0).lower()) if t]
        if all(p is not None for p in pieces) and sum(len(p) for p in pieces) >= MIN_SYLLABLES:
            return True
    return False


@dataclass
class PinyinReader:
    """Toneless pinyin -> the most probable Chinese words, from the index's words and common words."""

    tables: list = field(default_factory=list)  # Table dicts or SqliteTables: anything with .get(key)

    @classmethod
    def build(cls, index_counts: Mapping[str, int], common: CommonWords | None = None) -> PinyinReader:
        """`index_counts`: the index's words and how many passages hold each; `common`: `common_words`.

        An index word's probability adds the dictionary's frequency of it to DOMAIN_BOOST per passage;
        the common table's entries keep their own, so where both know a key the likelier word wins."""
        common = common or CommonWords({}, {}, 1.0)
        boosted = {w: common.frequencies.get(w, 0) + DOMAIN_BOOST * n for w, n in index_counts.items() if n > 0}
        total = common.total + DOMAIN_BOOST * sum(index_counts.values())
        return cls([word_tables(boosted, total, common.readings), common.table])

    def lookup(self, key: Key) -> Entry | None:
        """The likeliest word typed as `key`, and its log-probability."""
        best = None
        for table in self.tables:
            entry = table.get(key)
            if entry is not None and (best is None or entry[1] > best[1]):
                best = entry
        return best

    def read_run(self, run: str) -> str | None:
        """A latin run read as Chinese words; None when it is not all pinyin or reads into no word
        of two syllables or more."""
        sylls: list[str] = []
        for token in _SPLIT.split(run.lower()):
            if not token:
                continue
            split = split_syllables(token)
            if split is None:
                return None
            sylls += split
        if len(sylls) < MIN_SYLLABLES:
            return None
        n = len(sylls)
        best: list[tuple[float, list[str], int] | None] = [None] * (n + 1)  # logp, pieces, words of 2+
        best[0] = (0.0, [], 0)
        for end in range(1, n + 1):
            for size in range(1, min(MAX_WORD_SYLLABLES, end) + 1):
                prev = best[end - size]
                if prev is None:
                    continue
                entry = self.lookup(tuple(sylls[end - size : end]))
                if entry is not None:
                    (piece, lp), long_word = entry, int(size > 1)
                elif size == 1:  # no character is read this way: keep the syllable as typed
                    piece, lp, long_word = f" {sylls[end - 1]} ", UNREAD_LOGP, 0
                else:
                    continue
                candidate = (prev[0] + lp, prev[1] + [piece], prev[2] + long_word)
                if best[end] is None or candidate[0] > best[end][0]:
                    best[end] = candidate
        _lp, pieces, long_words = best[n]
        if not long_words:
            return None
        return re.sub(r"\s+", " ", "".join(pieces)).strip()

    def read(self, text: str) -> str:
        """`text` with each pinyin run read into Chinese words; everything else as it was."""
        if not self.tables:
            return text

        def swap(m: re.Match) -> str:
            read = self.read_run(m.group(0))
            return m.group(0) if read is None else read

        return _LATIN_RUN.sub(swap, text)
