"""The Searcher: hybrid retrieval over one published index version.

    s = Searcher.open("var/index")
    hits = s.search("网贷逾期会有人上门吗", k=5)

Query -> (BM25 over jieba tokens with colloquial->legal expansion) and
(e5 query embedding -> FAISS) -> reciprocal-rank fusion -> statute boost ->
per-article cap and near-duplicate collapse -> Hits with highlights and a
deep link. A Searcher follows the index's CURRENT pointer and switches to a
newly published version on its own, without a restart.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import numpy as np

from index.dense import load_dense, search_dense
from index.fusion import order, rrf, shape
from index.layout import IndexDir, IndexNotFound, read_manifest
from index.lexical import LexicalIndex
from index.store import MetaStore
from ingest.citations import display_key, parse_citations

log = logging.getLogger(__name__)

MODES = ("hybrid", "bm25", "dense")


class ModelMismatch(RuntimeError):
    """The index was built with a different embedding model than the one configured."""


@dataclass
class SearchConfig:
    rrf_k: float = 60.0
    w_dense: float = 1.0
    w_bm25: float = 1.0
    candidates: int = 100
    per_article: int = 2
    dup_threshold: float = 0.7
    # "No good match" is judged from the best dense cosine, helped by BM25: e5
    # cosines are compressed (on-topic 0.87-0.93, off-topic 0.77-0.86 on the
    # shipped corpus), so a middle band needs lexical evidence too.
    weak_floor: float = 0.85  # below: weak, whatever BM25 says
    sure_floor: float = 0.875  # between the floors: weak unless BM25 agrees
    bm25_support: float = 6.0
    max_query_chars: int = 200


@dataclass
class Hit:
    """One passage that answers the query, with everything the page shows."""

    rank: int
    passage_id: str
    article_id: str
    title: str
    url: str | None
    link: str
    category: str | None
    published: str | None
    passage: str
    start: int
    end: int
    heading: str
    score: float
    dense_score: float | None
    bm25_score: float | None
    statutes: list[str]
    matched_terms: list[str]
    match_spans: list[tuple[int, int]]
    best_sentence: tuple[int, int]
    cites_query_statute: bool = False
    # Statutes cited anywhere in the article: an answering passage often sits above the
    # article's 相关法条参考 list, and the reader still wants to know which laws apply.
    article_statutes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


class HitList(list):
    """A list of Hits that also says whether the match is weak and why, and timings."""

    def __init__(self, hits=(), *, query: str = "", weak: bool = False, message: str = "",
                 timings: dict | None = None, version: str | None = None):
        super().__init__(hits)
        self.query = query
        self.weak = weak
        self.message = message
        self.timings = timings or {}
        self.version = version


@dataclass
class _Version:
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
    text_cache: dict = field(default_factory=dict)

    def close(self) -> None:
        self.store.close()


def _load_version(path: Path) -> _Version:
    manifest = read_manifest(path)
    store = MetaStore(path / "meta.sqlite", readonly=True)
    rows = store.db.execute(
        "SELECT p.pos, p.article_id, a.category, a.published FROM passages p "
        "JOIN articles a ON a.id = p.article_id ORDER BY p.pos"
    ).fetchall()
    art_index: dict[str, int] = {}
    cat_index: dict[str, int] = {}
    article_idx = np.zeros(len(rows), np.int32)
    category_of = np.zeros(len(rows), np.int32)
    date_of = np.zeros(len(rows), np.int32)
    for pos, aid, cat, pub in rows:
        article_idx[pos] = art_index.setdefault(aid, len(art_index))
        category_of[pos] = cat_index.setdefault(cat or "未分类", len(cat_index))
        date_of[pos] = _ordinal(pub)
    return _Version(
        name=path.name, path=path, manifest=manifest, store=store,
        dense=load_dense(path / "dense.faiss"), lexical=LexicalIndex.load(path / "bm25"),
        article_idx=article_idx, article_ids=list(art_index), category_of=category_of,
        categories=list(cat_index), date_of=date_of,
    )


def _ordinal(date: str | None) -> int:
    if not date:
        return 0
    try:
        return dt.date.fromisoformat(str(date)[:10]).toordinal()
    except ValueError:
        return 0


class Searcher:
    """Hybrid search over the serving version of an index directory."""

    def __init__(self, index_dir: Path, embedder=None, tokenizer=None, config: SearchConfig | None = None,
                 base_url: str = ""):
        self.layout = IndexDir(Path(index_dir))
        self.config = config or SearchConfig()
        self.base_url = base_url
        self._lock = threading.Lock()
        if tokenizer is None:
            from index.tokenize import default_tokenizer

            tokenizer = default_tokenizer()
        self.tokenizer = tokenizer
        self._embedder = embedder
        self._failed_version: str | None = None
        self.refresh_error: str | None = None
        self._version = self._open_current()

    @classmethod
    def open(cls, index_dir: str | Path, **kwargs) -> Searcher:
        """Open the serving version; IndexNotFound / ModelMismatch say what to do."""
        return cls(Path(index_dir), **kwargs)

    # ---- lifecycle ----------------------------------------------------------
    @property
    def embedder(self):
        if self._embedder is None:
            from index.model import default_embedder

            self._embedder = default_embedder()
        return self._embedder

    def _open_current(self) -> _Version:
        path = self.layout.current()
        try:
            version = _load_version(path)
        except (OSError, ValueError, RuntimeError) as exc:
            raise IndexNotFound(f"index version at {path} cannot be opened ({exc}); rebuild it with --full") from exc
        want = version.manifest.get("model", {})
        if want.get("checksum") and want.get("checksum") != self.embedder.checksum:
            version.close()
            raise ModelMismatch(
                f"index {self.layout.root} was built with model '{want.get('name')}' "
                f"(checksum {want.get('checksum')}), but the configured model is '{self.embedder.name}' "
                f"(checksum {self.embedder.checksum}). Rebuild the index (python -m ingest build --full ...) "
                "or set LAWFAQ_MODEL to the model it was built with."
            )
        return version

    def refresh(self) -> bool:
        """Switch to a newly published version, if any. Cheap: one small file read.

        A published version that cannot be served (damaged, or built with another
        model) is not switched to: the old version keeps serving, and the reason is
        kept in `refresh_error` so a page can say why it still shows older results.
        The failed name is remembered so that every search does not retry it.
        """
        name = self.layout.current_name()
        if name is None or name == self._version.name or name == self._failed_version:
            return False
        with self._lock:
            if name == self._version.name or name == self._failed_version:
                return False
            try:
                new = self._open_current()
            except (IndexNotFound, ModelMismatch) as exc:
                self._failed_version, self.refresh_error = name, str(exc)
                log.warning("keeping version %s: newly published %s cannot be served: %s", self._version.name, name, exc)
                return False  # keep serving what we have
            self._failed_version, self.refresh_error = None, None
            # the old version is not closed here: a search in another thread may
            # still hold it; its SQLite handle closes when it is garbage-collected
            self._version = new
        return True

    @property
    def version(self) -> str:
        return self._version.name

    @property
    def manifest(self) -> dict:
        return self._version.manifest

    def status(self) -> dict:
        v = self._version
        a, p = v.store.counts()
        return {
            "index": str(self.layout.root), "version": v.name, "built_at": v.manifest.get("built_at"),
            "articles": a, "passages": p, "model": v.manifest.get("model", {}).get("name"),
            "model_checksum": v.manifest.get("model", {}).get("checksum"),
            "dense": v.manifest.get("dense", {}).get("kind"),
            "categories": dict(v.store.category_counts()),
            "versions": self.layout.list_versions(), "code_version": v.manifest.get("code_version"),
        }

    def categories(self) -> list[str]:
        return sorted(c for c in self._version.categories)

    # ---- search -------------------------------------------------------------
    def clean_query(self, query: str) -> str:
        query = unicodedata.normalize("NFKC", query or "")
        query = "".join(ch for ch in query if ch.isprintable() or ch == " ")
        return re.sub(r"\s+", " ", query).strip()[: self.config.max_query_chars]

    def _mask(self, v: _Version, category: str | list[str] | None, date_from, date_to) -> np.ndarray | None:
        if not category and not date_from and not date_to:
            return None
        mask = np.ones(len(v.article_idx), bool)
        if category:
            cats = [category] if isinstance(category, str) else list(category)
            codes = [v.categories.index(c) for c in cats if c in v.categories]
            mask &= np.isin(v.category_of, codes)
        if date_from:
            mask &= v.date_of >= _ordinal(str(date_from))
        if date_to:
            mask &= (v.date_of > 0) & (v.date_of <= _ordinal(str(date_to)))
        return mask

    def _candidates(self, v: _Version, query: str, mode: str, n: int, mask, timings: dict):
        """Ranked positions with their dense and BM25 scores, fused for hybrid."""
        bm25_rank: list[int] = []
        dense_rank: list[int] = []
        bm25_score: dict[int, float] = {}
        dense_score: dict[int, float] = {}
        if mode in ("hybrid", "bm25"):
            t = time.perf_counter()
            tokens = self.tokenizer.query_tokens(query)
            scores = v.lexical.scores(tokens)
            if mask is not None:
                scores = np.where(mask, scores, 0)
            k = min(n, len(scores))
            if k:
                idx = np.argpartition(-scores, k - 1)[:k]
                idx = idx[np.argsort(-scores[idx], kind="stable")]
                idx = idx[scores[idx] > 0]
                bm25_rank = idx.tolist()
                bm25_score = {int(i): float(scores[i]) for i in idx}
            timings["bm25_ms"] = (time.perf_counter() - t) * 1000
        if mode in ("hybrid", "dense"):
            t = time.perf_counter()
            qv = self.embedder.encode_queries([query])[0]
            timings["encode_ms"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            fetch = n if mask is None else min(v.dense.ntotal, n * 20)
            scores_d, ids = search_dense(v.dense, qv, fetch)
            if mask is not None:
                keep = mask[ids]
                scores_d, ids = scores_d[keep][:n], ids[keep][:n]
            dense_rank = ids.tolist()
            dense_score = {int(i): float(s) for i, s in zip(ids, scores_d, strict=True)}
            timings["faiss_ms"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        if mode == "bm25":
            fused = {p: s for p, s in bm25_score.items()}
        elif mode == "dense":
            fused = {p: s for p, s in dense_score.items()}
        else:
            fused = rrf([dense_rank, bm25_rank], [self.config.w_dense, self.config.w_bm25], self.config.rrf_k)
        timings["fusion_ms"] = (time.perf_counter() - t) * 1000
        return fused, dense_score, bm25_score

    def search(self, query: str, k: int = 5, category: str | list[str] | None = None,
               date_from: str | None = None, date_to: str | None = None, mode: str = "hybrid") -> HitList:
        """The few passages that answer `query`, best first (at most `k`)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        started = time.perf_counter()
        self.refresh()
        v = self._version
        query = self.clean_query(query)
        timings: dict[str, float] = {}
        if not query:
            return HitList(query=query, message="请输入问题", timings=timings, version=v.name)
        k = max(1, min(int(k), 50))
        mask = self._mask(v, category, date_from, date_to)
        fused, dense_score, bm25_score = self._candidates(v, query, mode, self.config.candidates, mask, timings)

        t = time.perf_counter()
        ranked = order(fused)
        cited = self._statute_positions(v, query, mask)
        if cited:
            boosted = [p for p in ranked if p in cited] + [p for p in cited if p not in fused]
            ranked = boosted + [p for p in ranked if p not in cited]
            for p in cited:
                fused.setdefault(p, 0.0)
        texts = v.store.passages(ranked[: max(60, k * 12)])
        chosen = shape(
            [p for p in ranked if p in texts], v.article_idx, lambda p: texts[p].text, k,
            self.config.per_article, self.config.dup_threshold,
        )
        hits = self._make_hits(v, query, chosen, texts, fused, dense_score, bm25_score, cited)
        timings["shaping_ms"] = (time.perf_counter() - t) * 1000
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        weak, message = self._judge(hits, dense_score, bm25_score, cited, mode)
        return HitList(hits, query=query, weak=weak, message=message, timings=timings, version=v.name)

    def _statute_positions(self, v: _Version, query: str, mask) -> set[int]:
        keys = list(dict.fromkeys(c.key for c in parse_citations(query)))
        if not keys:
            return set()
        cited = v.store.positions_citing(keys)
        if mask is not None:
            cited = {p for p in cited if mask[p]}
        return cited

    def _judge(self, hits, dense_score, bm25_score, cited, mode) -> tuple[bool, str]:
        if not hits:
            return True, "没有找到相关内容，请换个说法再试试。"
        if cited:
            return False, ""
        if mode == "bm25" or not dense_score:
            return False, ""
        best_dense = max(dense_score.values())
        best_bm25 = max(bm25_score.values()) if bm25_score else 0.0
        cfg = self.config
        if best_dense < cfg.weak_floor or (best_dense < cfg.sure_floor and best_bm25 < cfg.bm25_support):
            return True, "没有找到很贴切的答案，下面是最接近的结果，仅供参考；可以换个说法或补充细节再试。"
        return False, ""

    def _make_hits(self, v, query, chosen, texts, fused, dense_score, bm25_score, cited) -> list[Hit]:
        arts = v.store.articles(texts[p].article_id for p in chosen)
        art_statutes = {
            aid: [display_key_from(k) for k in dict.fromkeys(k for p in v.store.passages_of(aid) for k in p.statutes)]
            for aid in arts
        }
        hits = []
        for rank, pos in enumerate(chosen, start=1):
            row = texts[pos]
            art = arts[row.article_id]
            spans = self.tokenizer.match_spans(query, row.text)
            terms = list(dict.fromkeys(row.text[s:e] for s, e in spans))
            best = best_sentence(row.text, spans)
            hits.append(
                Hit(
                    rank=rank, passage_id=row.id, article_id=row.article_id, title=art.title, url=art.url,
                    link=self.link_for(art.url, row.article_id, row.id, row.text[best[0] : best[1]]),
                    category=art.category, published=art.published, passage=row.text, start=row.start,
                    end=row.end, heading=row.heading, score=round(float(fused.get(pos, 0.0)), 6),
                    dense_score=dense_score.get(pos), bm25_score=bm25_score.get(pos),
                    statutes=[display_key_from(k) for k in row.statutes], matched_terms=terms,
                    match_spans=spans, best_sentence=best, cites_query_statute=pos in cited,
                    article_statutes=art_statutes.get(row.article_id, []),
                )
            )
        return hits

    def link_for(self, url: str | None, article_id: str, passage_id: str, sentence: str) -> str:
        """Source URL with a text fragment that scrolls to the passage, else our article view."""
        fragment = text_fragment(sentence)
        if url:
            parts = urlsplit(url)
            base = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
            return f"{base}#:~:text={quote(fragment, safe='')}" if fragment else base
        return f"{self.base_url}?article={quote(article_id, safe='')}&passage={quote(passage_id, safe='')}"

    def search_frame(self, query: str, k: int = 10, **kwargs):
        """The hits as a pandas DataFrame (one row per passage), for notebooks."""
        import pandas as pd

        hits = self.search(query, k=k, **kwargs)
        cols = ["rank", "title", "category", "published", "score", "dense_score", "bm25_score",
                "statutes", "matched_terms", "passage", "link", "article_id", "passage_id"]
        return pd.DataFrame([{c: getattr(h, c) for c in cols} for h in hits], columns=cols)

    def rank_articles(self, query: str, mode: str = "hybrid", k: int = 100) -> list[str]:
        """Article ids best first (no per-article cap, no collapse): what evaluation scores."""
        v = self._version
        query = self.clean_query(query)
        if not query:
            return []
        fused, _, _ = self._candidates(v, query, mode, max(self.config.candidates, k * 3), None, {})
        ranked = order(fused)
        cited = self._statute_positions(v, query, None)
        if cited:
            ranked = [p for p in ranked if p in cited] + sorted(p for p in cited if p not in fused) + [
                p for p in ranked if p not in cited
            ]
        out: list[str] = []
        seen: set[int] = set()
        for p in ranked:
            a = int(v.article_idx[p])
            if a not in seen:
                seen.add(a)
                out.append(v.article_ids[a])
                if len(out) >= k:
                    break
        return out

    # ---- articles -------------------------------------------------------------
    def article(self, article_id: str):
        """(ArticleRow, [PassageRow]) or None for an unknown id."""
        v = self._version
        row = v.store.article(article_id)
        if row is None:
            return None
        return row, v.store.passages_of(article_id)

    def related(self, article_id: str, k: int = 5) -> list[tuple[str, str]]:
        """(id, title) of articles close to this one: its title as a query, itself excluded."""
        found = self.article(article_id)
        if found is None:
            return []
        row, _ = found
        ids = [a for a in self.rank_articles(row.title, "hybrid", k + 5) if a != article_id][:k]
        arts = self._version.store.articles(ids)
        return [(i, arts[i].title) for i in ids if i in arts]


def display_key_from(key: str) -> str:
    """'中华人民共和国民法典 第1032条' -> '民法典第1032条' for tags."""
    cites = parse_citations(key.replace(" ", ""))
    return display_key(cites[0]) if cites else key


_SENT = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]*")


def best_sentence(text: str, spans: list[tuple[int, int]]) -> tuple[int, int]:
    """The sentence holding the most matched characters (the one the page emphasises)."""
    best, best_score = (0, 0), -1.0
    for m in _SENT.finditer(text):
        s, e = m.start(), m.end()
        if not text[s:e].strip():
            continue
        covered = sum(max(0, min(e, b) - max(s, a)) for a, b in spans)
        score = covered + 0.001 * min(e - s, 60)  # ties: prefer a real sentence over a fragment
        if score > best_score:
            best, best_score = (s, e), score
    return best


_RUN = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]{6,}")


def text_fragment(sentence: str, max_chars: int = 24) -> str:
    """A punctuation-free run of the sentence: survives our punctuation normalisation."""
    runs = _RUN.findall(sentence)
    if not runs:
        return ""
    run = max(runs, key=len)
    return run[:max_chars]
