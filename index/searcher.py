"""The Searcher: hybrid retrieval over one published index version.

    s = Searcher.open("var/index")
    hits = s.search("网贷逾期会有人上门吗", k=5)

Query -> (BM25 over jieba tokens with colloquial->legal expansion) and
(e5 query embedding -> FAISS) -> reciprocal-rank fusion -> statute boost ->
per-article cap, near-copies folded into the hit they copy -> Hits with highlights and a
deep link. A Searcher follows the index's CURRENT pointer and switches to a
newly published version on its own, without a restart.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from index.backends import PassageFilter, open_retrieval
from index.fusion import order, rrf_ranked, shape_grouped
from index.hits import Copy, Hit, HitList, article_link, best_sentence, link_for
from index.layout import IndexDir, IndexNotFound, read_manifest
from index.lexical import LexicalIndex
from index.pinyin import PinyinReader, common_words, looks_like_pinyin
from index.query import (
    MAX_QUERY_CHARS,
    MODES,
    InvalidQuery,
    SearchRequest,
    date_ordinal,
    normalize_category,
    parse_mode,
    parse_text,
)
from index.repeal import related_keys
from index.settings import settings
from index.slots import FairSlots
from index.store import MetaStore, PassageRow, PassageWindow
from ingest.citations import parse_citations

log = logging.getLogger(__name__)

__all__ = ["MODES", "Hit", "HitList", "IndexNotFound", "InvalidQuery", "ModelMismatch", "SearchConfig",
           "SearchRequest", "Searcher"]


class ModelMismatch(RuntimeError):
    """The index was built with a different embedding model than the one configured."""


@dataclass
class SearchConfig:
    rrf_k: float = 60.0
    w_dense: float = 1.0
    w_bm25: float = 1.0
    # With a trained query tower, hybrid search can fuse a third list: the base
    # model's own dense candidates (its question vector is computed anyway, to
    # judge "no good match"). The tower and the base model miss different
    # answers; the weight is learned with the others (index.training.fusion), 0 = off.
    w_base: float = 0.0
    # Answered questions (index.answered): articles that answered the nearest already-answered
    # questions, one more reciprocal-rank list; its weight is learned like the others, 0 = off.
    w_memory: float = 0.0
    # Past the first `head_articles` articles, the answered questions vote with this weight instead
    # (0 = off). Why two weights: the head's vote is fitted for the first screen (Recall@10 + MRR@10)
    # and a strong vote there pushes good answers down; further down, a strong vote finds what the
    # vectors miss (STARD, out of fold: R@100 0.892 -> 0.905 with R@10 / MRR@10 unchanged).
    w_memory_tail: float = 0.0
    head_articles: int = 10
    # Passages each retriever contributes to fusion; the same for every k, so
    # evaluation (k=100 articles) ranks exactly as the page (k=5) does.
    candidates: int = 300
    per_article: int = 2
    dup_threshold: float = 0.7
    # "No good match" is judged from the best dense cosine, helped by BM25: e5
    # cosines are compressed (on-topic 0.87-0.93, off-topic 0.77-0.86 on the
    # shipped corpus), so a middle band needs lexical evidence too.
    weak_floor: float = 0.85  # below: weak, whatever BM25 says
    sure_floor: float = 0.875  # between the floors: weak unless BM25 agrees
    bm25_support: float = 6.0
    # With a reranker (index.rerank): how many of the first stage's passages it reads, and how its
    # order is fused with the first stage's over those (reciprocal ranks, the first stage weighs 1)
    rerank_depth: int = 30
    w_rerank: float = 1.0
    rerank_k: float = 20.0
    max_query_chars: int = MAX_QUERY_CHARS


@dataclass
class _Ranking:
    """Passages best first, as both the page and evaluation see them."""

    ranked: list[int]
    fused: dict[int, float]
    dense_score: dict[int, float]
    bm25_score: dict[int, float]
    cited: set[int]
    tokens: list[str]  # the query's BM25 tokens, reused to highlight every hit
    read_as: str  # the query as the models and BM25 read it (pinyin read into Chinese, index.pinyin)
    # with a trained query tower: the base model's best cosine, what the "no good match" floors were set on
    judge_dense: float | None = None
    rerank_score: dict[int, float] = field(default_factory=dict)  # position -> the reranker's logit


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
    # normalised name -> category codes: a filter "劳动纠纷 " or one in full-width
    # characters finds the stored category, however the source spelled it
    category_codes: dict[str, list[int]] = field(default_factory=dict)
    # answers "top-n BM25 / dense positions under a filter": FAISS+bm25s here, or Milvus
    retrieval: object = None
    _article_positions: dict[str, list[int]] | None = None
    _pinyin: PinyinReader | None = None
    _pinyin_lock: threading.Lock = field(default_factory=threading.Lock)

    def pinyin_reader(self, tokenizer) -> PinyinReader:
        """This version's pinyin reader (its BM25 vocabulary + the tokenizer's common words), built the
        first time a query holds pinyin: ~1 s for STARD's 30k words; the common words' table comes
        from LAWFAQ_CACHE/pinyin after its first build (~6 s, once per machine)."""
        if self._pinyin is None:
            with self._pinyin_lock:
                if self._pinyin is None:
                    counts = self.lexical.document_frequencies() if self.lexical is not None else {}
                    common = common_words(tokenizer.checksum, tokenizer.word_frequencies,
                                          settings().cache_dir / "pinyin")
                    self._pinyin = PinyinReader.build(counts, common)
        return self._pinyin

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


def _load_version(path: Path) -> _Version:
    manifest = read_manifest(path)
    # One read-only connection, shared by every search thread: it is opened with
    # check_same_thread=False, SQLite is built "serialized" (sqlite3.threadsafety == 3,
    # checked by tests/index/test_concurrency.py) so calls on one connection take turns
    # inside SQLite, and Python's sqlite3 never lets two cursors share a statement.
    # Per-thread connections were measured: no more throughput (reads take < 1 ms).
    store = MetaStore(path / "meta.sqlite", readonly=True)
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
    return _Version(
        name=path.name, path=path, manifest=manifest, store=store, dense=dense, lexical=lexical, retrieval=retrieval,
        article_idx=article_idx, article_ids=list(art_index), category_of=category_of,
        categories=list(cat_index), date_of=date_of, category_codes=codes,
    )


class Searcher:
    """Hybrid search over the serving version of an index directory."""

    def __init__(self, index_dir: Path, embedder=None, tokenizer=None, config: SearchConfig | None = None,
                 base_url: str = "", search_slots: int | None = None, reranker=None):
        self.layout = IndexDir(Path(index_dir))
        self.config = config or SearchConfig()
        self.base_url = base_url
        self._lock = threading.Lock()
        self._slots = FairSlots(search_slots or settings().search_slot_count)
        if tokenizer is None:
            from index.tokenize import default_tokenizer

            tokenizer = default_tokenizer()
        self.tokenizer = tokenizer
        self._embedder = embedder
        if reranker is None and settings().reranker:  # LAWFAQ_RERANKER; pass reranker=False to turn it off
            from index.rerank import configured_reranker

            reranker = configured_reranker()
        self.reranker = reranker or None
        self.memory = None  # answered questions (index.answered), brought by a trained query tower
        self._failed_version: str | None = None
        self.refresh_error: str | None = None
        self._version = self._open_current()
        fusion = getattr(self._embedder, "fusion_for", lambda manifest: None)(self._version.manifest)
        if config is None and fusion:  # a trained query tower brings the fusion fitted on this corpus
            self.config = replace(self.config, **fusion)
            self.memory = getattr(self._embedder, "memory", None)

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
                f"(checksum {self.embedder.checksum}). Rebuild the index (python -m index build --full ...) "
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
            "query_model": self._embedder.query_model() if hasattr(self._embedder, "query_model") else None,
            "fusion": {"w_dense": self.config.w_dense, "w_bm25": self.config.w_bm25, "rrf_k": self.config.rrf_k,
                       "w_base": self.config.w_base, "w_memory": self.config.w_memory,
                       "w_memory_tail": self.config.w_memory_tail},
            "answered_questions": len(self.memory) if self.memory is not None else 0,
            "reranker": self.reranker.name if self.reranker is not None else None,
        }

    def categories(self) -> list[str]:
        return sorted(c for c in self._version.categories)

    # ---- search -------------------------------------------------------------
    def clean_query(self, query: str) -> str:
        """The query as searched (see `index.query.clean_query`); InvalidQuery for a non-string."""
        return parse_text(query, self.config.max_query_chars)

    @staticmethod
    def _mask(v: _Version, request: SearchRequest) -> PassageFilter | None:
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

    def question_text(self, text: str) -> str:
        """A question as search reads it: cleaned, then pinyin read into Chinese. Training keys its
        questions (vectors, answered-question memory, folds) by this, as `_rank` looks them up."""
        return self.read_query(self.clean_query(text))

    def read_query(self, query: str, v: _Version | None = None) -> str:
        """`query` (cleaned) as the models and BM25 read it: Traditional characters as Simplified
        ("網貸逾期會有人上門嗎" -> "网贷逾期会有人上门吗"), then toneless pinyin read into Chinese words
        ("bang xin zui 会不会留案底" -> "帮信罪 会不会留案底", index.pinyin); anything else unchanged."""
        query = self.tokenizer.simplify(query)
        if not looks_like_pinyin(query):
            return query
        return (v or self._version).pinyin_reader(self.tokenizer).read(query)

    def _candidates(self, v: _Version, read_as: str, tokens: list[str], mode: str, mask, timings: dict):
        """Ranked positions, their fused scores, their dense and BM25 scores, and the base model's
        best cosine when its own list was fused (else None). `read_as` is what the models, BM25 and the
        answered-question memory read (`question_text`)."""
        n = self.config.candidates
        bm25_rank: list[int] = []
        dense_rank: list[int] = []
        base_rank: list[int] = []
        bm25_score: dict[int, float] = {}
        dense_score: dict[int, float] = {}
        judge: float | None = None
        if mode in ("hybrid", "bm25"):
            t = time.perf_counter()
            scores_b, idx = v.retrieval.bm25_top(tokens, n, mask)
            bm25_rank = idx.tolist()
            bm25_score = dict(zip(bm25_rank, scores_b.tolist(), strict=True))
            timings["bm25_ms"] = (time.perf_counter() - t) * 1000
        if mode in ("hybrid", "dense"):
            t = time.perf_counter()
            qv = self.embedder.encode_queries([read_as])[0]
            timings["encode_ms"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            scores_d, ids = v.retrieval.dense_top(qv, n, mask)
            dense_rank = ids.tolist()
            dense_score = dict(zip(dense_rank, scores_d.tolist(), strict=True))
            timings["faiss_ms"] = (time.perf_counter() - t) * 1000
        # the answered-question memory is searched with the base model's question vector (with a
        # tower: the judge's, computed anyway); on STARD fold 1 the tower's own vector did worse
        use_memory = mode == "hybrid" and self.memory is not None and (self.config.w_memory > 0
                                                                        or self.config.w_memory_tail > 0)
        base_qv = None
        if mode == "hybrid" and (self.config.w_base or use_memory) and hasattr(self.embedder, "judge_queries"):
            t = time.perf_counter()
            base_qv = self.embedder.judge_queries([read_as])[0]
            scores_j, ids_j = v.retrieval.dense_top(base_qv, n if self.config.w_base else 1, mask)
            base_rank = ids_j.tolist() if self.config.w_base else []
            judge = float(scores_j[0]) if len(scores_j) else None
            timings["base_ms"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        if mode == "bm25":
            fused = dict(bm25_score)
            ranked = order(fused)
        elif mode == "dense":
            fused = dict(dense_score)
            ranked = order(fused)
        else:
            cfg = self.config
            ranked, fused = rrf_ranked([dense_rank, bm25_rank, base_rank], [cfg.w_dense, cfg.w_bm25, cfg.w_base],
                                       cfg.rrf_k)
            if use_memory:
                t_memory = time.perf_counter()
                ranked = self._add_memory(v, read_as, base_qv if base_qv is not None else qv, ranked, fused,
                                          mask)
                timings["memory_ms"] = (time.perf_counter() - t_memory) * 1000
        timings["fusion_ms"] = (time.perf_counter() - t) * 1000
        return ranked, fused, dense_score, bm25_score, judge

    def _add_memory(self, v: _Version, query: str, base_vector: np.ndarray, ranked: list[int],
                    fused: dict[int, float], mask) -> list[int]:
        """Answered questions vote: each passage of an article they point to gains
        `w_memory * P(article) / (rrf_k + 1)` — at most w_memory times a first place in one list.

        Why a score and not one more ranked list: the list's first place would then weigh the same
        whether the nearest answered question is a paraphrase or barely related (STARD fold 1, behind
        the tower: a ranked list lifted R@10 0.627 -> 0.676 but cut MRR@10 0.546 -> 0.483; this vote
        at weight 0.5: R@10 0.657, MRR@10 0.556).
        """
        scores = self.memory.article_scores(base_vector, query)
        if not scores:
            return ranked
        positions = v.article_positions()
        cfg = self.config
        votes: dict[int, float] = {}
        for aid, prob in scores.items():
            for p in positions.get(aid, ()):
                if mask is None or mask[p]:
                    votes[p] = votes.get(p, 0.0) + prob / (cfg.rrf_k + 1)
        for p, vote in votes.items():
            fused[p] = fused.get(p, 0.0) + cfg.w_memory * vote
        ranked = order(fused)
        if cfg.w_memory_tail > cfg.w_memory:
            ranked = self._recall_tail(v, ranked, fused, votes)
        return ranked

    def _recall_tail(self, v: _Version, ranked: list[int], fused: dict[int, float],
                     votes: dict[int, float]) -> list[int]:
        """The first `head_articles` articles as ranked; the rest reordered with the tail's vote.

        A passage past the head scores `fused + (w_memory_tail - w_memory) * vote`; its displayed
        score becomes the running minimum down the list, so scores still read best first. The
        page's first screen (k <= head_articles) is the head, unchanged.
        """
        cfg = self.config
        seen: set[int] = set()
        cut = len(ranked)
        for i, p in enumerate(ranked):
            seen.add(int(v.article_idx[p]))
            if len(seen) > cfg.head_articles:
                cut = i
                break
        head, rest = ranked[:cut], ranked[cut:]
        if not rest:
            return ranked
        extra = cfg.w_memory_tail - cfg.w_memory
        tail_score = {p: fused[p] + extra * votes.get(p, 0.0) for p in rest}
        rest = sorted(rest, key=lambda p: (-tail_score[p], p))
        floor = fused[head[-1]] if head else float("inf")
        for p in rest:
            floor = min(floor, tail_score[p])
            fused[p] = floor
        return head + rest

    def _rank(self, v: _Version, query: str, mode: str, mask, timings: dict) -> _Ranking:
        """Fused candidates, then passages citing a statute the query names go first.

        The one ranking function: `search` (the page, the API) and
        `rank_articles` (evaluation) both call it, so eval scores the served order.
        """
        t = time.perf_counter()
        read_as = self.read_query(query, v)
        tokens = self.tokenizer.query_tokens(read_as)
        timings["tokenize_ms"] = (time.perf_counter() - t) * 1000
        ranked, fused, dense_score, bm25_score, judge = self._candidates(v, read_as, tokens, mode, mask, timings)
        reranked: dict[int, float] = {}
        if self.reranker is not None and mode != "bm25" and self.config.rerank_depth > 0 and ranked:
            t = time.perf_counter()
            ranked, fused, reranked = self._rerank(v, read_as, ranked, fused)
            timings["rerank_ms"] = (time.perf_counter() - t) * 1000
        cited = self._statute_positions(v, query, mask)
        if cited:
            extra = sorted(p for p in cited if p not in fused)
            ranked = [p for p in ranked if p in cited] + extra + [p for p in ranked if p not in cited]
            for p in extra:
                fused[p] = 0.0
        return _Ranking(ranked, fused, dense_score, bm25_score, cited, tokens, read_as, judge, reranked)

    def _rerank(self, v: _Version, query: str, ranked: list[int], fused: dict[int, float]):
        """The reranker reads the first `rerank_depth` passages; over those, its order and the first
        stage's are fused by reciprocal rank (the rest keep their place after them).

        Why fuse rather than replace: a 2-layer cross-encoder trained on ~1,000 questions is a second
        opinion, not an oracle; where both stages agree the passage rises (measured in README).
        """
        cfg = self.config
        top = ranked[: cfg.rerank_depth]
        rows = v.store.passages(top)
        titles = {aid: a.title for aid, a in v.store.articles({r.article_id for r in rows.values()}).items()}
        from index.rerank import pair_text

        top = [p for p in top if p in rows]
        logits = self.reranker.score(query, [pair_text(titles.get(rows[p].article_id, ""), rows[p].text) for p in top])
        rerank_rank = np.empty(len(top), np.int64)
        rerank_rank[np.argsort(-logits, kind="stable")] = np.arange(len(top))
        combined = {p: 1.0 / (cfg.rerank_k + i + 1) + cfg.w_rerank / (cfg.rerank_k + int(rerank_rank[i]) + 1)
                    for i, p in enumerate(top)}
        head = sorted(top, key=lambda p: -combined[p])
        new_fused = dict(fused)
        new_fused.update(combined)
        seen = set(head)
        return head + [p for p in ranked if p not in seen], new_fused, dict(zip(top, logits.tolist(), strict=True))

    def _shape(self, v: _Version, ranked: list[int], k: int,
               max_articles: int | None = None) -> tuple[list[int], dict[int, PassageRow], dict[int, list[int]]]:
        """At most `per_article` passages per article, near-duplicates folded into the hit they copy,
        `k` at most (`index.fusion.shape_grouped`).

        Looks at the first max(60, 12k) ranked passages, reading their rows
        lazily (`PassageWindow`): a page search stops after about k of them.
        Returns the chosen positions, the rows read (the chosen and folded ones among them)
        and each chosen position's folded near-duplicates.
        """
        window = PassageWindow(v.store, ranked[: max(60, k * 12)], chunk=min(k, max_articles or k) + 4)
        chosen, folded = shape_grouped(window.present(), v.article_idx, lambda p: window.rows[p].text, k,
                                       self.config.per_article, self.config.dup_threshold, max_articles)
        return chosen, window.rows, folded

    def search(self, query: str, k: int = 5, category: str | list[str] | None = None,
               date_from: str | dt.date | None = None, date_to: str | dt.date | None = None,
               mode: str = "hybrid") -> HitList:
        """The few passages that answer `query`, best first (at most `k`).

        Every argument is checked by `SearchRequest.parse` first: a bad `k`,
        category, date or mode raises `InvalidQuery` (a ValueError) naming it,
        instead of a TypeError from inside the ranking or a silently dropped
        filter. A blank query is not an error: no hits, message "请输入问题".
        """
        request = SearchRequest.parse(query, k, category, date_from, date_to, mode,
                                      max_query_chars=self.config.max_query_chars)
        return self.search_request(request)

    def search_request(self, request: SearchRequest) -> HitList:
        """`search` for a request already parsed by `SearchRequest.parse` (nothing is checked twice).

        Safe to call from many threads at once: it reads the version current
        when it starts, and `refresh` never closes a version a search may hold.
        At most `search_slots` searches (default: one per usable core, plus one
        ready to take a core the moment another search leaves it) run at once;
        the others wait for a slot (`timings["queue_ms"]`). Why: past that, more
        threads only take turns on the cores and on Python's GIL, and an
        OS-descheduled thread holding the GIL stalls the rest (measured in
        bench/busy.py: 8 callers on 2 cores 1.09x one caller without slots,
        1.48x with one slot per core, ~1.7x with three). Slots are handed over
        first come, first served (index.slots).
        """
        started = time.perf_counter()
        with self._slots:
            timings = {"queue_ms": (time.perf_counter() - started) * 1000}
            return self._search_in_slot(request, started, timings)

    def _search_in_slot(self, request: SearchRequest, started: float, timings: dict[str, float]) -> HitList:
        self.refresh()
        v = self._version
        query, mode = request.query, request.mode
        if not query:
            return HitList(query=query, message="请输入问题", timings=timings, version=v.name)
        mask = self._mask(v, request)
        ranking = self._rank(v, query, mode, mask, timings)
        t = time.perf_counter()
        chosen, texts, folded = self._shape(v, ranking.ranked, request.k)
        hits = self._make_hits(v, query, chosen, texts, ranking, folded)
        timings["shaping_ms"] = (time.perf_counter() - t) * 1000
        if mode != "bm25" and ranking.judge_dense is None and hasattr(self.embedder, "judge_queries"):
            t = time.perf_counter()
            scores, _ = v.retrieval.dense_top(self.embedder.judge_queries([ranking.read_as])[0], 1, mask)
            ranking.judge_dense = float(scores[0]) if len(scores) else None
            timings["judge_ms"] = (time.perf_counter() - t) * 1000
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        weak, message = self._judge(hits, ranking, mode)
        return HitList(hits, query=query, weak=weak, message=message, timings=timings, version=v.name,
                       read_as=ranking.read_as if ranking.read_as != query else None)

    def rank_articles(self, query: str, mode: str = "hybrid", k: int = 100) -> list[str]:
        """Article ids best first: the order the page shows them in, as far as `k` reaches.

        Same ranking and shaping as `search` (per-article cap, near-duplicates
        folded into the hit they copy), so the first article of `search(q)` is the
        first one here; a hit's "相同内容也见于" articles follow it, in that order.
        """
        mode = parse_mode(mode)
        v = self._version
        query = self.clean_query(query)
        if not query:
            return []
        ranking = self._rank(v, query, mode, None, {})
        chosen, _, folded = self._shape(v, ranking.ranked, len(ranking.ranked), max_articles=k)
        listed = (q for p in chosen for q in (p, *folded.get(p, ())))
        out = list(dict.fromkeys(v.article_ids[int(v.article_idx[p])] for p in listed))
        return out[:k]

    def _statute_positions(self, v: _Version, query: str, mask) -> set[int]:
        keys = list(dict.fromkeys(c.key for c in parse_citations(query)))
        if not keys:
            return set()
        # 合同法第52条 and 民法典第153条 state the same rule: a question citing one finds both
        keys = related_keys(keys)
        cited = v.store.positions_citing(keys)
        if mask is not None:
            cited = {p for p in cited if mask[p]}
        return cited

    def _judge(self, hits, ranking: _Ranking, mode) -> tuple[bool, str]:
        if not hits:
            return True, "没有找到相关内容，请换个说法再试试。"
        if ranking.cited:
            return False, ""
        if mode == "bm25" or not ranking.dense_score:
            return False, ""
        # a tower's cosines sit elsewhere (trained at temperature 0.03): judge on the base model's, as calibrated
        best_dense = ranking.judge_dense if ranking.judge_dense is not None else max(ranking.dense_score.values())
        best_bm25 = max(ranking.bm25_score.values()) if ranking.bm25_score else 0.0
        cfg = self.config
        if best_dense < cfg.weak_floor or (best_dense < cfg.sure_floor and best_bm25 < cfg.bm25_support):
            return True, "没有找到很贴切的答案，下面是最接近的结果，仅供参考；可以换个说法或补充细节再试。"
        return False, ""

    def _make_hits(self, v, query, chosen, texts, ranking: _Ranking,
                   folded: dict[int, list[int]] | None = None) -> list[Hit]:
        folded = folded or {}
        copies = [q for p in chosen for q in folded.get(p, ())]
        heads = v.store.article_heads(texts[p].article_id for p in chosen)  # row + statutes cited in it
        copy_heads = v.store.articles(texts[q].article_id for q in copies) if copies else {}
        hits = []
        for rank, pos in enumerate(chosen, start=1):
            row = texts[pos]
            art, art_statutes = heads[row.article_id]
            spans = self.tokenizer.match_spans(ranking.read_as, row.text, tokens=ranking.tokens)
            best = best_sentence(row.text, spans)
            hits.append(
                Hit(
                    rank=rank, passage_id=row.id, article_id=row.article_id, title=art.title, url=art.url,
                    link=link_for(art.url, row.article_id, row.id, row.text[best[0] : best[1]], self.base_url),
                    category=art.category, published=art.published, passage=row.text, start=row.start,
                    end=row.end, heading=row.heading, score=round(float(ranking.fused.get(pos, 0.0)), 6),
                    dense_score=ranking.dense_score.get(pos), bm25_score=ranking.bm25_score.get(pos),
                    statutes=row.labels, matched_terms=list(dict.fromkeys(row.text[s:e] for s, e in spans)),
                    match_spans=spans, best_sentence=best, cites_query_statute=pos in ranking.cited,
                    article_statutes=art_statutes, rerank_score=ranking.rerank_score.get(pos),
                    also_in=[self._copy(texts[q], copy_heads[texts[q].article_id]) for q in folded.get(pos, ())
                             if texts[q].article_id in copy_heads],
                )
            )
        return hits

    def _copy(self, row: PassageRow, article) -> Copy:
        """A folded near-duplicate: the other article that says the same, with a link to its passage."""
        return Copy(article_id=row.article_id, passage_id=row.id, title=article.title,
                    link=link_for(article.url, row.article_id, row.id, row.text[:60], self.base_url),
                    category=article.category, published=article.published)

    def link_for(self, url: str | None, article_id: str, passage_id: str, sentence: str) -> str:
        """Source URL with a text fragment that scrolls to the passage, else our article view."""
        return link_for(url, article_id, passage_id, sentence, self.base_url)

    def article_link(self, article_id: str, passage_id: str | None = None) -> str:
        return article_link(article_id, passage_id, self.base_url)

    def search_frame(self, query: str, k: int = 10, **kwargs):
        """The hits as a pandas DataFrame (one row per passage), for notebooks."""
        import pandas as pd

        hits = self.search(query, k=k, **kwargs)
        cols = ["rank", "title", "category", "published", "score", "dense_score", "bm25_score",
                "statutes", "matched_terms", "passage", "link", "article_id", "passage_id"]
        return pd.DataFrame([{c: getattr(h, c) for c in cols} for h in hits], columns=cols)

    # ---- articles -------------------------------------------------------------
    def article(self, article_id: str):
        """(ArticleRow, [PassageRow]) or None for an unknown id."""
        v = self._version
        row = v.store.article(article_id)
        if row is None:
            return None
        return row, v.store.passages_of(article_id)

    def related(self, article_id: str, k: int = 5) -> list[tuple[str, str]]:
        """(id, title) of articles close to this one: its title as a query, itself excluded.

        No near-duplicate collapse here: a templated sister article is exactly
        what a reader of this one may want next.
        """
        found = self.article(article_id)
        if found is None:
            return []
        v = self._version
        ranking = self._rank(v, self.clean_query(found[0].title), "hybrid", None, {})
        ordered = dict.fromkeys(v.article_ids[int(v.article_idx[p])] for p in ranking.ranked)
        ids = [a for a in ordered if a != article_id][:k]
        arts = v.store.articles(ids)
        return [(i, arts[i].title) for i in ids if i in arts]
