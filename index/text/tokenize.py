"""Lexical analysis for BM25: the same tokenizer is used for documents and queries.

Pipeline: NFKC -> lowercase -> Traditional->Simplified (OpenCC ``t2s``) -> jieba
search-mode segmentation with a legal user dictionary -> drop stopwords,
punctuation, symbols and whitespace.  Queries are additionally expanded with a
colloquial -> legal synonym table (``老赖`` -> ``失信被执行人`` ...).

The module name shadows the stdlib ``tokenize`` only inside the ``index``
package; always import it as ``index.text.tokenize``.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import jieba
import opencc

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_DICT_PATH = DATA_DIR / "legal_dict.txt"
DEFAULT_STOPWORDS_PATH = DATA_DIR / "stopwords.txt"
DEFAULT_SYNONYMS_PATH = DATA_DIR / "synonyms.tsv"

# jieba logs "Building prefix dict..." at DEBUG/INFO on first use.
jieba.setLogLevel(logging.WARNING)


def _read_lines(path: Path) -> list[str]:
    """Non-empty, non-comment lines of a UTF-8 text file (BOM tolerated)."""
    text = path.read_text(encoding="utf-8-sig")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _is_word(token: str) -> bool:
    """True if the token carries letters/digits/CJK (i.e. is not punctuation,
    symbols, emoji or whitespace)."""
    return any(ch.isalnum() for ch in token)


class LegalTokenizer:
    """jieba (search mode) with the legal user dictionary, NFKC, lowercase,
    Traditional->Simplified (OpenCC 't2s'), stopwords and punctuation removed.

    Construction is cheap; the jieba dictionary (slow to load) and OpenCC converter are
    loaded lazily on first use, once, thread-safely.
    """

    def __init__(
        self,
        dict_path: Path | None = None,
        stopwords_path: Path | None = None,
        synonyms_path: Path | None = None,
        *,
        hmm: bool = False,
    ) -> None:
        self.dict_path = Path(dict_path) if dict_path is not None else DEFAULT_DICT_PATH
        self.stopwords_path = Path(stopwords_path) if stopwords_path is not None else DEFAULT_STOPWORDS_PATH
        self.synonyms_path = Path(synonyms_path) if synonyms_path is not None else DEFAULT_SYNONYMS_PATH
        # HMM new-word discovery is context dependent, so the same phrase can be
        # cut differently in a query and in a document; without it, unknown runs
        # fall back to single characters, which is consistent (and BM25-friendly).
        self.hmm = hmm
        self._lock = threading.RLock()
        self._converter: opencc.OpenCC | None = None
        self._jieba: jieba.Tokenizer | None = None
        self._stopwords: frozenset[str] = frozenset()
        self._synonyms: dict[str, list[str]] = {}
        # character -> its NFKC+lowercase form, learnt as highlighting meets them (`_char_pieces`)
        self._known_chars: set[str] = set()
        self._char_table: dict[int, str] = {}
        self._multi_chars: set[str] = set()

    @property
    def checksum(self) -> str:
        """sha256 over the dictionary, stopwords, synonyms and the HMM flag.

        Recorded in each index manifest: documents tokenized with other data
        than the queries would silently miss, so a change re-tokenizes the index.
        """
        h = hashlib.sha256(f"hmm={self.hmm}".encode())
        for path in (self.dict_path, self.stopwords_path, self.synonyms_path):
            h.update(b"\0" + path.read_bytes())
        return h.hexdigest()[:16]

    # ------------------------------------------------------------------ setup
    def _ensure_converter(self) -> opencc.OpenCC:
        conv = self._converter
        if conv is None:
            with self._lock:
                if self._converter is None:
                    self._converter = opencc.OpenCC("t2s")
                conv = self._converter
        return conv

    def _ensure_loaded(self) -> jieba.Tokenizer:
        tk = self._jieba
        if tk is not None:
            return tk
        self._ensure_converter()
        with self._lock:
            if self._jieba is None:
                tk = jieba.Tokenizer()
                tk.initialize()
                for line in _read_lines(self.dict_path):
                    parts = line.split()
                    word = self.normalize(parts[0])
                    freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
                    tag = parts[2] if len(parts) > 2 else None
                    tk.add_word(word, freq, tag)
                self._stopwords = frozenset(self.normalize(w) for w in _read_lines(self.stopwords_path))
                synonyms: dict[str, list[str]] = {}
                for line in _read_lines(self.synonyms_path):
                    key, sep, targets = line.partition("\t")
                    key = self.normalize(key).strip()
                    if not sep or not key:
                        continue
                    terms = [self.normalize(t).strip() for t in targets.replace("，", ",").split(",")]
                    bucket = synonyms.setdefault(key, [])
                    bucket.extend(t for t in terms if t and t not in bucket)
                self._synonyms = synonyms
                self._jieba = tk  # publish last: other threads test this field
            return self._jieba

    @property
    def stopwords(self) -> frozenset[str]:
        self._ensure_loaded()
        return self._stopwords

    @property
    def synonyms(self) -> dict[str, list[str]]:
        self._ensure_loaded()
        return self._synonyms

    # ----------------------------------------------------------- normalising
    def simplify(self, text: str) -> str:
        """Traditional characters as Simplified (OpenCC ``t2s``), nothing else changed.

        Why: the corpus is written in Simplified; BM25 already compares the two
        scripts as one (`normalize`), and the embedding model should read the
        same question whichever script it was typed in (on the shipped set, whose
        Traditional questions it used to read as typed, it lifted the tower's
        MRR@10; measured: docs/decisions/search-path-figures.md).
        """
        return self._ensure_converter().convert(text) if text else text

    def normalize(self, text: str) -> str:
        """NFKC + lowercase + Traditional->Simplified (so 網貸逾期 == 网贷逾期)."""
        if not text:
            return ""
        text = unicodedata.normalize("NFKC", text).lower()
        return self._ensure_converter().convert(text)

    def _char_pieces(self, text: str) -> bool:
        """Learn NFKC+lowercase of each new character of `text`; True if none changes length.

        Per-character normalisation was most of the time spent highlighting a
        hit; a passage uses a few hundred distinct characters out of a few
        thousand the corpus has, so each is normalised once per process and
        the text is then mapped with one `str.translate`. The table is written
        before a character is marked known, so a reader on another thread never
        sees a known character without its entry.
        """
        chars = set(text)
        for ch in chars - self._known_chars:
            piece = unicodedata.normalize("NFKC", ch).lower()
            if piece != ch:
                self._char_table[ord(ch)] = piece
                if len(piece) != 1:
                    self._multi_chars.add(ch)
            self._known_chars.add(ch)
        return chars.isdisjoint(self._multi_chars)

    def _normalize_mapped(self, text: str) -> tuple[str, Sequence[int]]:
        """Normalise char by char; return the normalised string and, for each of
        its characters, the index of the original character it came from."""
        if self._char_pieces(text):  # every character maps to one: positions do not move
            pieces: list[str] = []
            origin: Sequence[int] = range(len(text))
            joined = text.translate(self._char_table)
        else:
            pieces = [unicodedata.normalize("NFKC", ch).lower() for ch in text]
            origin = [i for i, piece in enumerate(pieces) for _ in piece]
            joined = "".join(pieces)
        conv = self._ensure_converter()
        converted = conv.convert(joined)  # phrase-aware conversion
        if len(converted) != len(joined):
            # A phrase mapping changed the length: fall back to per-piece
            # conversion so positions stay traceable.
            pieces = [conv.convert(p) for p in (pieces or [self._char_table.get(ord(ch), ch) for ch in text])]
            origin = [i for i, piece in enumerate(pieces) for _ in piece]
            converted = "".join(pieces)
        return converted, origin

    # ------------------------------------------------------------- tokenising
    def _tokens_normalized(self, norm: str) -> list[str]:
        tk = self._ensure_loaded()
        stop = self._stopwords
        out = []
        for tok in tk.cut_for_search(norm, HMM=self.hmm):
            tok = tok.strip()
            if tok and tok not in stop and _is_word(tok):
                out.append(tok)
        return out

    def tokens(self, text: str) -> list[str]:
        """Document tokens: jieba search mode on the normalised text, without
        stopwords, punctuation and whitespace; ASCII words and numbers kept."""
        if not text or text.isspace():
            return []
        return self._tokens_normalized(self.normalize(text))

    def expansions(self, text: str) -> list[str]:
        """Legal terms whose colloquial key occurs (as a substring) in the
        normalised text, in table order, deduplicated."""
        return self._expansions_normalized(self.normalize(text))

    def _expansions_normalized(self, norm: str) -> list[str]:
        self._ensure_loaded()
        out: list[str] = []
        for key, targets in self._synonyms.items():
            if key in norm:
                out.extend(t for t in targets if t not in out)
        return out

    def word_frequencies(self) -> Mapping[str, int]:
        """The segmentation dictionary's words and frequencies (jieba's, plus the legal dictionary):
        what the pinyin reader (index.text.pinyin) falls back on for words an index does not hold."""
        return MappingProxyType(self._ensure_loaded().FREQ)  # read-only, not a 340k-entry copy

    def query_tokens(self, text: str) -> list[str]:
        """tokens(text) plus the tokens of synonym expansions (expansion tokens
        already present are not repeated)."""
        if not text or text.isspace():
            return []
        norm = self.normalize(text)
        toks = self._tokens_normalized(norm)
        seen = set(toks)
        for term in self._expansions_normalized(norm):
            for tok in self._tokens_normalized(term):
                if tok not in seen:
                    seen.add(tok)
                    toks.append(tok)
        return toks

    # ----------------------------------------------------------- highlighting
    def highlight_terms(self, query: str, tokens: list[str] | None = None) -> list[str]:
        """The query's terms worth marking in a passage: words of two or more characters (and their
        synonyms), never a stray single character (不, 退, 拿 mark everything and mean nothing); a
        single character only when it is the whole question or a legal term on its own
        (`SINGLE_CHAR_TERMS`)."""
        tokens = self.query_tokens(query) if tokens is None else tokens
        whole = self.normalize(query).strip()
        return [t for t in tokens if len(t) >= 2 or t == whole or t in SINGLE_CHAR_TERMS]

    def match_spans(self, query: str, text: str, *, min_len: int = 1,
                    tokens: list[str] | None = None) -> list[tuple[int, int]]:
        """(start, end) spans of ``text`` (original coordinates, end exclusive)
        where a query term -- a query token or a synonym expansion, compared in
        normalised form -- occurs.  Longest terms win; spans are sorted and
        non-overlapping.  Terms shorter than ``min_len`` characters are ignored.
        ``tokens``: the query's `query_tokens`, when the caller already has them
        (a search highlights many passages for one query: tokenize it once)."""
        if not query or not text:
            return []
        terms = {t for t in (self.query_tokens(query) if tokens is None else tokens) if len(t) >= min_len}
        if not terms:
            return []
        norm, origin = self._normalize_mapped(text)
        taken = bytearray(len(norm))
        found: list[tuple[int, int]] = []
        for term in sorted(terms, key=lambda t: (-len(t), t)):
            n = len(term)
            start = norm.find(term)
            while start != -1:
                end = start + n
                if not any(taken[start:end]):
                    taken[start:end] = b"\x01" * n
                    found.append((origin[start], origin[end - 1] + 1))
                    start = norm.find(term, end)
                else:
                    start = norm.find(term, start + 1)
        # Several normalised chars may come from one original char (NFKC
        # expansion, e.g. ㈱ -> (株)), so mapped spans can touch: merge overlaps.
        found.sort()
        spans: list[tuple[int, int]] = []
        for s, e in found:
            if spans and s < spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], e))
            else:
                spans.append((s, e))
        return spans


# one-character words that are legal terms in their own right, marked even alone
SINGLE_CHAR_TERMS = frozenset({"罪", "税"})


@lru_cache(maxsize=1)
def default_tokenizer() -> LegalTokenizer:
    """Process-wide tokenizer with the bundled dictionary, stopwords and synonyms."""
    return LegalTokenizer()
