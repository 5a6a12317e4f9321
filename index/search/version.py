"""One published index version, loaded for serving: its stores, retrieval and per-passage arrays.

Loading reads every passage's article, category and date once into arrays, so
filters and the per-article cap are numpy operations at search time.
"""
from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.backends import PassageFilter, open_retrieval
from index.search.request import SearchRequest
from index.settings import settings
from index.storage.fields import date_ordinal, normalize_category
from index.storage.layout import IndexDamaged, read_manifest
from index.storage.lexical import LexicalIndex
from index.storage.sqlite_health import sqlite_file_problem
from index.storage.store import MetaStore
from index.text.pinyin import PinyinReader, common_words


@dataclass
class LoadedVersion:
    """A published version opened read-only: what every search of it reads."""

    name: str
    path: Path
    manifest: dict
    store: MetaStore
    dense: object
    lexical: LexicalIndex
    article_idx: np.ndarray  # pos -> article index
    article_ids: list[str]
    category_of: np.ndarray  # pos -> category code
    categories: list[str]
    date_of: np.ndarray  # pos -> ordinal date (0 = unknown)
    # normalised name -> category codes: a filter "劳动纠纷 " or one in full-width
    # characters finds the stored category, however the source spelled it
    category_codes: dict[str, list[int]] = field(default_factory=dict)
    # answers "top-n BM25 / dense positions under a filter": FAISS+bm25s here, or Milvus
    retrieval: object = None
    # pos -> whether the passage is the site's template (learned at build: ingest.template)
    template: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    # pos -> whether the passage is an article's intro (before its first heading, in an article with sections)
    lead: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    # pos -> whether a card should show another passage of its article instead (template or intro),
    # and whether any passage is such: derived once here, not on every search
    avoid: np.ndarray = field(init=False)
    any_avoid: bool = field(init=False)
    _article_positions: dict[str, list[int]] | None = None
    _texts: dict[str, str] = field(default_factory=dict)  # article id -> title + body (a bounded cache)
    _texts_lock: threading.Lock = field(default_factory=threading.Lock)
    _pinyin: PinyinReader | None = None
    _pinyin_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        n = len(self.article_idx)
        template = self.template if len(self.template) == n else np.zeros(n, bool)
        lead = self.lead if len(self.lead) == n else np.zeros(n, bool)
        self.template, self.lead = template, lead
        self.avoid = template | lead
        self.any_avoid = bool(self.avoid.any())

    def pinyin_reader(self, tokenizer) -> PinyinReader:
        """This version's pinyin reader (its BM25 vocabulary + the tokenizer's common words), built the
        first time a query holds pinyin (that query waits for it); the common words' table comes
        from LAWFAQ_CACHE/pinyin after its first, slower build, once per machine (measured:
        docs/decisions/search-path-figures.md)."""
        if self._pinyin is None:
            with self._pinyin_lock:
                if self._pinyin is None:
                    counts = self.lexical.document_frequencies() if self.lexical is not None else {}
                    common = common_words(tokenizer.checksum, tokenizer.word_frequencies,
                                          settings().cache_dir / "pinyin")
                    self._pinyin = PinyinReader.build(counts, common)
        return self._pinyin

    def article_texts(self, article_ids: list[str], cache_size: int = 4096) -> dict[str, str]:
        """Title + body of these articles, kept for the next searches (a version never changes): judging
        "no good match" reads the articles of every search's cards, and re-reading them was a third of
        a millisecond per search. At most `cache_size` articles are kept."""
        missing = [a for a in dict.fromkeys(article_ids) if a not in self._texts]
        if missing:
            found = {aid: f"{row.title}\n{row.body}" for aid, row in self.store.articles(missing).items()}
            with self._texts_lock:
                if len(self._texts) + len(found) > cache_size:
                    self._texts.clear()
                self._texts.update(found)
            return {a: self._texts.get(a, found.get(a, "")) for a in article_ids}
        return {a: self._texts[a] for a in article_ids}

    def article_positions(self) -> dict[str, list[int]]:
        """article id -> its passage positions (built on first use: only answered-question memory needs it)."""
        if self._article_positions is None:
            out: dict[str, list[int]] = {}
            for pos, art in enumerate(self.article_idx.tolist()):
                out.setdefault(self.article_ids[art], []).append(pos)
            self._article_positions = out
        return self._article_positions

    def close(self) -> None:
        self.store.close()


def load_version(path: Path) -> LoadedVersion:
    """Open a published version read-only; IndexDamaged (naming the file) when its meta.sqlite cannot be read."""
    manifest = read_manifest(path)
    meta = path / "meta.sqlite"
    problem = sqlite_file_problem(meta)
    if problem:
        raise IndexDamaged(_damaged_message(path, meta, problem))
    # One read-only connection, shared by every search thread: it is opened with
    # check_same_thread=False, SQLite is built "serialized" (sqlite3.threadsafety == 3,
    # checked by tests/index/search/test_concurrency.py) so calls on one connection take turns
    # inside SQLite, and Python's sqlite3 never lets two cursors share a statement.
    # Per-thread connections were measured: no more throughput, the reads being short
    # (docs/decisions/serving-concurrency-screens.md).
    try:
        store = MetaStore(meta, readonly=True)
    except sqlite3.Error as exc:
        raise IndexDamaged(_damaged_message(path, meta, exc)) from exc
    try:
        rows = store.positions()
        art_index: dict[str, int] = {}
        cat_index: dict[str, int] = {}
        article_idx = np.zeros(len(rows), np.int32)
        category_of = np.zeros(len(rows), np.int32)
        date_of = np.zeros(len(rows), np.int32)
        for pos, aid, cat, pub in rows:
            article_idx[pos] = art_index.setdefault(aid, len(art_index))
            category_of[pos] = cat_index.setdefault(cat or "未分类", len(cat_index))
            date_of[pos] = date_ordinal(pub)
        codes: dict[str, list[int]] = {}
        for name, code in cat_index.items():
            codes.setdefault(normalize_category(name), []).append(code)
        dense, lexical, retrieval = open_retrieval(path, manifest, store)
        return LoadedVersion(
            name=path.name, path=path, manifest=manifest, store=store, dense=dense, lexical=lexical,
            retrieval=retrieval, article_idx=article_idx, article_ids=list(art_index), category_of=category_of,
            categories=list(cat_index), date_of=date_of, category_codes=codes,
            template=_mask_of(store.template_positions(), len(rows)),
            lead=_mask_of(store.lead_positions(), len(rows)),
        )
    except sqlite3.DatabaseError as exc:
        store.close()
        raise IndexDamaged(_damaged_message(path, meta, exc)) from exc
    except BaseException:
        store.close()  # e.g. a damaged FAISS file: the caller says why; no handle is left open
        raise


def _damaged_message(path: Path, meta: Path, why: object) -> str:
    root = path.parent.parent
    return (f"index version {path.name} cannot be served: {meta} is damaged ({why}); roll back "
            f"(python -m index rollback --index {root}) or rebuild with --full")


def _mask_of(positions: set[int], n: int) -> np.ndarray:
    mask = np.zeros(n, bool)
    marked = [p for p in positions if 0 <= p < n]
    mask[marked] = True
    return mask


def passage_filter(v: LoadedVersion, request: SearchRequest) -> PassageFilter | None:
    """Passages the filters let through, or None for no filter (validated in `SearchRequest`)."""
    if not request.has_filter:
        return None
    mask = np.ones(len(v.article_idx), bool)
    names = None
    if request.categories:
        codes = [c for name in request.categories for c in v.category_codes.get(name, ())]
        mask &= np.isin(v.category_of, codes)
        names = tuple(v.categories[c] for c in codes)
    if request.date_from:
        mask &= v.date_of >= request.date_from.toordinal()
    if request.date_to:
        mask &= (v.date_of > 0) & (v.date_of <= request.date_to.toordinal())
    return PassageFilter(mask, names, request.date_from.toordinal() if request.date_from else None,
                         request.date_to.toordinal() if request.date_to else None)
