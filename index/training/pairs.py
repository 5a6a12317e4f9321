"""Training pairs: a question and the passages (positions in one index version) that answer it.

Two kinds. Labelled: questions with the articles an expert marked as
answering them (STARD's training split; never the shipped `eval/` set).
Mined, with no labels: on a FAQ site an article's title is usually the very
question it answers, and a heading the question its section answers.
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.storage.dense import load_dense
from index.storage.layout import read_manifest
from index.storage.store import MetaStore
from ingest.citations import parse_citations

log = logging.getLogger(__name__)

MIN_MINED_CHARS = 4
GENERIC_HEADING_ARTICLES = 3  # a heading found in this many articles ("法律依据") says nothing specific


@dataclass
class Pair:
    """One question and the passages that answer it."""

    text: str
    positives: np.ndarray  # passage positions in the index version
    source: str  # "labelled", "title" or "heading"
    key: str  # the question id or the article id: what cross-validation splits on
    group: int = 0  # which index's passage vectors `positives` point into (training over several indexes)
    # which answering article each positive belongs to (0..m-1), parallel to `positives`; None: all one article
    answers: np.ndarray | None = None

    def answer_groups(self) -> list[np.ndarray]:
        """Indices into `positives`, one array per answering article."""
        if self.answers is None:
            return [np.arange(len(self.positives))]
        return [np.nonzero(self.answers == a)[0] for a in np.unique(self.answers)]


@dataclass
class IndexVectors:
    """An index version as training sees it: every passage's vector and article."""

    path: Path
    vectors: np.ndarray  # (n, dim) float32, row = passage position
    article_of: np.ndarray  # position -> article number
    article_ids: list[str]
    model: dict  # the manifest's model record: what the passage vectors were made with

    @classmethod
    def load(cls, version_dir: Path) -> IndexVectors:
        """Read the vectors back out of FAISS (flat and HNSW keep them; SQ8 returns its decoding)."""
        if not (version_dir / "dense.faiss").exists():
            raise ValueError(f"{version_dir} keeps no FAISS vectors (a Milvus-backed version?): "
                             "train against a FAISS build of the same corpus and model")
        dense = load_dense(version_dir / "dense.faiss")
        vectors = np.ascontiguousarray(dense.reconstruct_n(0, dense.ntotal), dtype=np.float32)
        store = MetaStore(version_dir / "meta.sqlite", readonly=True)
        try:
            rows = store.positions()
        finally:
            store.close()
        numbers: dict[str, int] = {}
        article_of = np.zeros(len(rows), np.int64)
        for pos, aid, _cat, _pub in rows:
            article_of[pos] = numbers.setdefault(aid, len(numbers))
        return cls(version_dir, vectors, article_of, list(numbers), read_manifest(version_dir).get("model", {}))


def labelled_pairs(vectors: IndexVectors, queries: dict[str, str], qrels: dict[str, dict[str, int]]) -> list[Pair]:
    """One pair per question with at least one relevant article in the index."""
    number = {aid: i for i, aid in enumerate(vectors.article_ids)}
    by_article: dict[int, list[int]] = {}
    for pos, art in enumerate(vectors.article_of.tolist()):
        by_article.setdefault(art, []).append(pos)
    pairs, missing = [], 0
    for qid, text in queries.items():
        arts = [number[a] for a, grade in qrels.get(qid, {}).items() if grade > 0 and a in number]
        tagged = sorted((p, n) for n, a in enumerate(arts) for p in by_article[a])
        if not tagged:
            missing += 1
            continue
        pairs.append(Pair(text, np.asarray([p for p, _ in tagged], np.int64), "labelled", qid,
                          answers=np.asarray([n for _, n in tagged], np.int64)))
    if missing:
        log.warning("%d labelled questions have no relevant article in this index; left out", missing)
    return pairs


# "<any law's name>第四十二条(之一)": a statute's label, whether or not the citation parser knows the law
_STATUTE_LABEL = re.compile(r"^[^，。？！?!,]{2,80}?第[一二三四五六七八九十百千零〇两\d]+条(之[一二三四五六七八九十])?$")


def _only_citations(text: str) -> bool:
    """A title like 中华人民共和国民法典第五十四条 names a statute; it is not a lay question."""
    if _STATUTE_LABEL.match(text.strip()):
        return True
    keep = [True] * len(text)
    for c in parse_citations(text):
        for i in range(*c.span):
            keep[i] = False
    rest = [ch for ch, k in zip(text, keep, strict=True) if k and ch.isalnum()]
    return len(rest) < MIN_MINED_CHARS


def mined_pairs(version_dir: Path) -> list[Pair]:
    """Titles -> their article's passages; specific headings -> their section's passages."""
    store = MetaStore(version_dir / "meta.sqlite", readonly=True)
    try:
        rows = store.db.execute("SELECT pos, article_id, heading FROM passages ORDER BY pos").fetchall()
        titles = dict(store.db.execute("SELECT id, title FROM articles").fetchall())
    finally:
        store.close()
    by_article: dict[str, list[int]] = {}
    by_heading: dict[tuple[str, str], list[int]] = {}
    for pos, aid, heading in rows:
        by_article.setdefault(aid, []).append(pos)
        if heading:
            by_heading.setdefault((aid, heading.strip()), []).append(pos)
    spread = Counter(h for _aid, h in by_heading)
    pairs = [
        Pair(title.strip(), np.asarray(by_article[aid], np.int64), "title", aid)
        for aid, title in titles.items()
        if aid in by_article and title and len(title.strip()) >= MIN_MINED_CHARS and not _only_citations(title)
    ]
    for (aid, heading), positions in by_heading.items():
        if spread[heading] < GENERIC_HEADING_ARTICLES and len(heading) >= MIN_MINED_CHARS and not _only_citations(heading):
            pairs.append(Pair(heading, np.asarray(positions, np.int64), "heading", aid))
    return pairs
