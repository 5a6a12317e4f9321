"""Pinyin typed for Chinese: "bang xin zui 会不会留案底" is searched as "帮信罪 会不会留案底".

People type toneless pinyin when their input method is off or they are unsure of
the characters. The embedding model reads such a question as a foreign string
and BM25 finds no token in it. So each run of latin words that is entirely
pinyin is segmented into syllables and read back into Chinese words, longest
word first, from the index's own vocabulary (BM25's words, by how many passages
hold them) and, for what the index lacks, the tokenizer dictionary's common
words (jieba's, by frequency). Readings come from pypinyin, which ships its
dictionary; see `PinyinReader` for the order in which they are tried.

Only runs of at least two syllables that read into at least one word of two or
more syllables are rewritten: English in a question ("can I sue them", "after
lawsuit") stays as typed. The page shows the question as typed and says how it
was read (`HitList.read_as`); the models and BM25 search the reading.
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

MAX_WORD_SYLLABLES = 4
MIN_SYLLABLES = 2  # a lone syllable ("can", "man") is more likely English, and too ambiguous to read
TIER_COST = 0.25  # per table tier a word comes from (PinyinReader: index usual, common usual, ...)
ONE_SYLLABLE_COST = 0.5
UNREAD_COST = 3.0
WORD_ORDER = (0, 1, 2, 3)  # PinyinReader.tables: index usual, common usual, index other, common other
SYLLABLE_ORDER = (1, 0, 3, 2)
ALTERNATE_READINGS_FROM = 100  # common words get their other readings keyed only from this frequency up
_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{1,4}$")
# a run of latin words separated by spaces or apostrophes ("xi'an"), nothing else
_LATIN_RUN = re.compile(r"[A-Za-z]+(?:['\s]+[A-Za-z]+)*")
_SPLIT = re.compile(r"['\s]+")

Key = tuple[str, ...]
Table = dict[Key, str]


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


def word_keys(word: str, alternates: bool = True, limit: int = 16) -> tuple[Key, list[Key]]:
    """(the usual reading of `word`, its other readings).

    Other readings matter because the usual one can be wrong for the law: pypinyin
    reads 还款 "hai kuan", and a lay user types "huan kuan". At most `limit` combinations.
    """
    from pypinyin import Style, lazy_pinyin

    usual = tuple(lazy_pinyin(word, style=Style.NORMAL, errors="ignore"))
    if len(usual) != len(word):
        return (), []
    if not alternates:
        return usual, []
    keys: list[Key] = [()]
    for i, char in enumerate(word):
        keys = [k + (r,) for k in keys for r in (_readings(char) or (usual[i],))]
        if len(keys) > limit:
            return usual, []
    return usual, [k for k in keys if k != usual]


def _tables(counts: dict[str, int], alternates_from: int = 0) -> tuple[Table, Table]:
    """(usual-reading table, other-readings table): pinyin key -> the word with the highest count."""
    usual: dict[Key, tuple[int, str]] = {}
    other: dict[Key, tuple[int, str]] = {}
    for word, count in counts.items():
        if count <= 0 or not _CJK_WORD.match(word):
            continue
        key, others = word_keys(word, alternates=count >= alternates_from)
        for table, keys in ((usual, [key] if key else []), (other, others)):
            for k in keys:
                if k not in table or count > table[k][0]:
                    table[k] = (count, word)
    return {k: w for k, (_c, w) in usual.items()}, {k: w for k, (_c, w) in other.items()}


_COMMON: dict[str, tuple[Table, Table]] = {}
_COMMON_LOCK = threading.Lock()
CACHE_FORMAT = 1


def common_tables(name: str, frequencies: Callable[[], dict[str, int]],
                  cache_dir: Path | None = None) -> tuple[Table, Table]:
    """The tables of a general word list (jieba's dictionary: ~340k words), built once and cached under
    `name` (say, the tokenizer data's checksum): in this process, and in `cache_dir` when given, since
    building them takes ~6 s on one core and a page should not make its first pinyin question wait
    that long twice. A cache file that cannot be read is rebuilt."""
    with _COMMON_LOCK:
        if name in _COMMON:
            return _COMMON[name]
        path = cache_dir / f"pinyin-{name}-v{CACHE_FORMAT}-{_pypinyin_version()}.json" if cache_dir else None
        tables = _read_cache(path) if path is not None else None
        if tables is None:
            tables = _tables(frequencies(), ALTERNATE_READINGS_FROM)
            if path is not None:
                _write_cache(path, tables)
        _COMMON[name] = tables
        return tables


def _pypinyin_version() -> str:
    from importlib.metadata import version

    return version("pypinyin")


def _read_cache(path: Path) -> tuple[Table, Table] | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return ({tuple(k.split()): w for k, w in raw["usual"].items()},
                {tuple(k.split()): w for k, w in raw["other"].items()})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        log.warning("pinyin cache %s unreadable (%s): rebuilding it", path, exc)
        return None


def _write_cache(path: Path, tables: tuple[Table, Table]) -> None:
    """Atomic (temporary file + rename): a reader never sees half a file. A read-only cache is not an error."""
    usual, other = tables
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"usual": {" ".join(k): w for k, w in usual.items()},
                                   "other": {" ".join(k): w for k, w in other.items()}}, ensure_ascii=False),
                       encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not cache the pinyin tables in %s: %s", path.parent, exc)


def looks_like_pinyin(text: str) -> bool:
    """Cheap test before any table is built: a latin run of >= 2 syllables, every word of it pinyin."""
    for m in _LATIN_RUN.finditer(text):
        pieces = [split_syllables(t) for t in _SPLIT.split(m.group(0).lower()) if t]
        if all(p is not None for p in pieces) and sum(len(p) for p in pieces) >= MIN_SYLLABLES:
            return True
    return False


@dataclass
class PinyinReader:
    """Toneless pinyin -> a Chinese word, tried in four tables in turn: the index's words by their usual
    reading, common words by theirs, then the index's words and common words by their other readings.

    Why this order: "tai duo" must read 太多 (a common word, usual reading), not 态度 (a word the
    index holds, only through 度's rare reading duó); "huan kuan" still reaches 还款 through 还's
    other reading, since no word is usually read that way.
    """

    tables: list[Table] = field(default_factory=list)

    @classmethod
    def build(cls, index_counts: dict[str, int], common: tuple[Table, Table] = ({}, {})) -> PinyinReader:
        """`index_counts`: the index's words and how many passages hold each; `common`: `common_tables`."""
        usual, other = _tables(index_counts)
        return cls([usual, common[0], other, common[1]])

    def __len__(self) -> int:
        return len(set().union(*self.tables)) if self.tables else 0

    def lookup(self, key: Key) -> tuple[str, int] | None:
        """(word, tier): the first table holding `key` and its word there. A single syllable is read
        from the common words first: an index's one-character tokens are what segmentation left over
        (态 from 状态), while the dictionary knows "le" is 了 and "tai" is 太."""
        order = SYLLABLE_ORDER if len(key) == 1 else WORD_ORDER
        for tier, table in enumerate(order):
            word = self.tables[table].get(key) if table < len(self.tables) else None
            if word is not None:
                return word, tier
        return None

    def read_run(self, run: str) -> str | None:
        """A latin run read as Chinese words; None when it is not all pinyin or reads into no word.

        The syllables are cut into words by the cheapest reading (dynamic programming, not longest
        first: "shuo yao shang men" is 说 要 上门, not 说 咬伤 们): every word costs 1, plus `TIER_COST`
        per table tier it came from, plus `ONE_SYLLABLE_COST` if it is one syllable (a single character
        is the least certain reading); a syllable no table reads costs `UNREAD_COST` and stays as typed.
        """
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
        best: list[tuple[float, list[str], int] | None] = [None] * (n + 1)  # cost, pieces, words of 2+
        best[0] = (0.0, [], 0)
        for end in range(1, n + 1):
            for size in range(1, min(MAX_WORD_SYLLABLES, end) + 1):
                prev = best[end - size]
                if prev is None:
                    continue
                found = self.lookup(tuple(sylls[end - size : end]))
                if found is not None:
                    word, tier = found
                    cost = 1 + TIER_COST * tier + (ONE_SYLLABLE_COST if size == 1 else 0.0)
                    piece, long_words = word, int(size > 1)
                elif size == 1:
                    cost, piece, long_words = UNREAD_COST, f" {sylls[end - 1]} ", 0
                else:
                    continue
                candidate = (prev[0] + cost, prev[1] + [piece], prev[2] + long_words)
                if best[end] is None or candidate[0] < best[end][0] - 1e-9:
                    best[end] = candidate
        _cost, pieces, long_words = best[n]
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
