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
import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from index.search.answered import trained_memory
from index.search.config import FusionWeights, SearchConfig, learned_fusion
from index.search.hits import Copy, Excerpt, Hit, HitList, article_link, best_sentence, link_for
from index.search.judge import NOTHING_MESSAGE, WEAK_MESSAGE, coverage, relevance
from index.search.ranker import Ranker, Ranking
from index.search.request import SearchRequest, check_categories, parse_text
from index.search.slots import FairSlots
from index.search.version import LoadedVersion, load_version, passage_filter
from index.settings import settings
from index.storage.layout import IndexDamaged, IndexDir, IndexNotFound
from index.storage.sqlite_health import sqlite_file_problem
from index.storage.store import PassageRow

log = logging.getLogger(__name__)

__all__ = ["Hit", "HitList", "ModelMismatch", "Searcher"]


class ModelMismatch(RuntimeError):
    """The index was built with a different embedding model than the one configured."""


class Searcher:
    """Hybrid search over the serving version of an index directory."""

    def __init__(self, index_dir: Path, embedder=None, tokenizer=None, config: SearchConfig | None = None,
                 base_url: str = "", search_slots: int | None = None):
        self.layout = IndexDir(Path(index_dir))
        self.config = config or SearchConfig()
        self.base_url = base_url
        self._lock = threading.Lock()
        self._slots = FairSlots(search_slots or settings().search_slot_count)
        if tokenizer is None:
            from index.text.tokenize import default_tokenizer

            tokenizer = default_tokenizer()
        self.tokenizer = tokenizer
        self._embedder = embedder
        self.memory = None  # answered questions (index.search.answered), brought by a trained query tower
        self._failed_version: str | None = None
        self.refresh_error: str | None = None
        self._version = self._open_current()
        fusion = learned_fusion(self.embedder, self._version.manifest)
        if config is None and fusion:  # a trained query tower brings the fusion fitted on this corpus
            self.config = replace(self.config, **fusion)
            self.memory = trained_memory(self.embedder)

    @classmethod
    def open(cls, index_dir: str | Path, **kwargs) -> Searcher:
        """Open the serving version; IndexNotFound / ModelMismatch say what to do."""
        return cls(Path(index_dir), **kwargs)

    # ---- lifecycle ----------------------------------------------------------
    @property
    def embedder(self):
        if self._embedder is None:
            from index.encoders.factory import default_embedder

            self._embedder = default_embedder()
        return self._embedder

    def _open_current(self) -> LoadedVersion:
        path = self.layout.current()
        try:
            version = load_version(path)
        except IndexDamaged:
            raise  # names the damaged file already
        except (OSError, ValueError, RuntimeError, sqlite3.Error) as exc:
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
        The failed name is remembered so that every search does not retry it; once
        CURRENT names the served version again (a rollback), the error is cleared.

        The served version's meta.sqlite is looked at too (its header and size: one
        small read): found garbled or truncated on disk, it cannot be served any
        more, and `IndexDamaged` is raised (naming the file) until another version
        is published or rolled back to.
        """
        name = self.layout.current_name()
        if name is not None and name != self._version.name and name != self._failed_version:
            with self._lock:
                if name != self._version.name and name != self._failed_version:
                    try:
                        new = self._open_current()
                    except (IndexNotFound, ModelMismatch) as exc:
                        self._failed_version, self.refresh_error = name, str(exc)
                        log.warning("keeping version %s: newly published %s cannot be served: %s",
                                    self._version.name, name, exc)
                    else:
                        self._failed_version, self.refresh_error = None, None
                        # the old version is not closed here: a search in another thread may
                        # still hold it; its SQLite handle closes when it is garbage-collected
                        self._version = new
                        return True
        elif name is not None and name == self._version.name and self._failed_version is not None:
            with self._lock:  # back on the served version: an older failure is no longer news
                self._failed_version, self.refresh_error = None, None
        v = self._version
        problem = sqlite_file_problem(v.path / "meta.sqlite", missing_ok=True)  # a removed folder: handles still read
        if problem:
            raise IndexDamaged(
                f"index version {v.name} cannot be served any more: {v.path / 'meta.sqlite'} is damaged ({problem}); "
                f"roll back (python -m index rollback --index {self.layout.root}) or rebuild with --full"
                + (f" (the newest version cannot be served either: {self.refresh_error})" if self.refresh_error else "")
            )
        return False

    def close(self) -> None:
        """Close the serving version's store (a notebook or benchmark done with this index)."""
        self._version.close()

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
            "query_model": self.embedder.query_model(),
            "fusion": FusionWeights.of(self.config).to_dict(),
            "answered_questions": len(self.memory) if self.memory is not None else 0,
        }

    def categories(self) -> list[str]:
        return sorted(c for c in self._version.categories)

    # ---- ranking ------------------------------------------------------------
    def ranker(self, **changes) -> Ranker:
        """The ranking of the serving version with this Searcher's encoder, tokenizer, config and
        answered questions; `changes` swap any of them (`encoder=`, `config=`, `memory=`, `version=`)
        for a variant that ranks exactly as search does: training and benchmarks score through it."""
        parts = {"version": self._version, "encoder": self.embedder, "tokenizer": self.tokenizer,
                 "config": self.config, "memory": self.memory}
        return Ranker(**{**parts, **changes})

    def clean_query(self, query: str) -> str:
        """The query as searched (see `index.search.request.clean_query`); InvalidQuery for a non-string."""
        return parse_text(query, self.config.max_query_chars)

    def question_text(self, text: str) -> str:
        """A question as search reads it: cleaned, then Traditional read as Simplified and pinyin read
        into Chinese. Training keys its questions (vectors, answered questions, folds) by this."""
        return self.ranker().question_text(text)

    def read_query(self, query: str) -> str:
        """`query` (cleaned) as the models and BM25 read it (`Ranker.read_query`)."""
        return self.ranker().read_query(query)

    def rank_articles(self, query: str, mode: str = "hybrid", k: int = 100) -> list[str]:
        """Article ids best first: the order the page shows them in, as far as `k` reaches
        (`Ranker.rank_articles`: the same ranking and shaping as `search`)."""
        return self.ranker().rank_articles(query, mode, k)

    # ---- search -------------------------------------------------------------
    def search(self, query: str, k: int = 5, category: str | list[str] | None = None,
               date_from: str | dt.date | None = None, date_to: str | dt.date | None = None,
               mode: str = "hybrid", per_article: int | None = None) -> HitList:
        """The few passages that answer `query`, best first (at most `k`): one card per article, its
        best passage, the article's other matching passages in `Hit.more` (`per_article=N`: up to N
        passages of one article as cards of their own, raw).

        Every argument is checked by `SearchRequest.parse` first: a bad `k`,
        category, date or mode raises `InvalidQuery` (a ValueError) naming it,
        instead of a TypeError from inside the ranking or a silently dropped
        filter. A blank query is not an error: no hits, message "请输入问题".
        """
        request = SearchRequest.parse(query, k, category, date_from, date_to, mode,
                                      max_query_chars=self.config.max_query_chars, per_article=per_article)
        return self.search_request(request)

    def search_request(self, request: SearchRequest) -> HitList:
        """`search` for a request already parsed by `SearchRequest.parse` (nothing is checked twice).

        Safe to call from many threads at once: it reads the version current
        when it starts, and `refresh` never closes a version a search may hold.
        At most `search_slots` searches (default: one per usable core, plus one
        ready to take a core the moment another search leaves it) run at once;
        the others wait for a slot (`timings["queue_ms"]`). Why: past that, more
        threads only take turns on the cores and on Python's GIL, and an
        OS-descheduled thread holding the GIL stalls the rest. With more callers
        than cores (bench/busy.py), slots beat no slots, and one slot more than
        the cores beats one per core (measured:
        docs/decisions/serving-concurrency-screens.md). Slots are handed over
        first come, first served (index.search.slots).
        """
        started = time.perf_counter()
        with self._slots:
            timings = {"queue_ms": (time.perf_counter() - started) * 1000}
            return self._search_in_slot(request, started, timings)

    def _search_in_slot(self, request: SearchRequest, started: float, timings: dict[str, float]) -> HitList:
        self.refresh()
        v = self._version
        query, mode = request.query, request.mode
        check_categories(request.categories, v.category_codes)
        if not query:
            return HitList(query=query, message="请输入问题", timings=timings, version=v.name)
        mask = passage_filter(v, request)
        ranker = self.ranker(version=v)
        ranking = ranker.rank(query, mode, mask, timings)
        t = time.perf_counter()
        more: dict[int, list[int]] = {}
        chosen, texts, folded = ranker.shape(ranking.ranked, request.k, per_article=request.per_article, more=more)
        words = self.tokenizer.highlight_terms(ranking.read_as, ranking.tokens)  # marked, and what coverage counts
        hits = self._make_hits(v, chosen, texts, ranking, words, folded, more)
        timings["shaping_ms"] = (time.perf_counter() - t) * 1000
        if mode != "bm25" and ranking.judge_dense is None and self.embedder.judge is not None:
            t = time.perf_counter()
            scores, _ = v.retrieval.dense_top(self.embedder.judge.encode_queries([ranking.read_as])[0], 1, mask)
            ranking.judge_dense = float(scores[0]) if len(scores) else None
            timings["judge_ms"] = (time.perf_counter() - t) * 1000
        hits, weak, message = self._judge(v, hits, ranking, mode, words)
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        return HitList(hits, query=query, weak=weak, message=message, timings=timings, version=v.name,
                       read_as=ranking.read_as if ranking.read_as != query else None)

    def _judge(self, v: LoadedVersion, hits: list[Hit], ranking: Ranking, mode: str,
               words: list[str]) -> tuple[list[Hit], bool, str]:
        """(the cards worth showing, weak, message): "no good match" when the first card's relevance
        (`index.search.judge`) is below `weak_below`; otherwise the cards after the first that fall
        below it are not shown (a small site is not padded with unrelated articles)."""
        if not hits:
            return hits, True, NOTHING_MESSAGE
        if ranking.cited or mode == "bm25" or not ranking.dense_score:
            return hits, False, ""
        cfg = self.config
        texts = v.article_texts([h.article_id for h in hits])

        def score(hit: Hit, cosine: float) -> float:
            return relevance(cosine, coverage(words, texts.get(hit.article_id) or hit.passage), cfg.coverage_weight)

        # a tower's cosines sit elsewhere (trained with a sharp softmax): judge on the base model's, as calibrated
        best_dense = ranking.judge_dense if ranking.judge_dense is not None else max(ranking.dense_score.values())
        if score(hits[0], best_dense) < cfg.weak_below:
            return hits, True, WEAK_MESSAGE
        # a tower's own per-card cosines are not calibrated: judge cards on the base model's, when known
        cosines = ranking.judge_score if ranking.judge_dense is not None else ranking.dense_score
        if not cosines:
            return hits, False, ""
        best_of = _best_cosine_per_article(v, cosines)
        kept = [hits[0]] + [h for h in hits[1:] if score(h, best_of.get(h.article_id, 0.0)) >= cfg.weak_below]
        for rank, h in enumerate(kept, start=1):
            h.rank = rank
        return kept, False, ""

    def _make_hits(self, v, chosen, texts, ranking: Ranking, marks: list[str],
                   folded: dict[int, list[int]] | None = None, more: dict[int, list[int]] | None = None) -> list[Hit]:
        folded, more = folded or {}, more or {}
        copies = [q for p in chosen for q in folded.get(p, ())]
        heads = v.store.article_heads(texts[p].article_id for p in chosen)  # row + statutes cited in it
        copy_heads = v.store.articles(texts[q].article_id for q in copies) if copies else {}
        hits = []
        for rank, pos in enumerate(chosen, start=1):
            row = texts[pos]
            art, art_statutes = heads[row.article_id]
            spans = self.tokenizer.match_spans(ranking.read_as, row.text, tokens=marks)
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
                    article_statutes=art_statutes,
                    also_in=[self._copy(texts[q], copy_heads[texts[q].article_id]) for q in folded.get(pos, ())
                             if texts[q].article_id in copy_heads],
                    more=[self._excerpt(texts[q], art.url) for q in more.get(pos, ()) if q in texts],
                )
            )
        return hits

    def _excerpt(self, row: PassageRow, url: str | None) -> Excerpt:
        """Another matching passage of a card's article, with a link that scrolls to it."""
        return Excerpt(passage_id=row.id, heading=row.heading, passage=row.text, start=row.start, end=row.end,
                       link=link_for(url, row.article_id, row.id, row.text[:60], self.base_url))

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
        ranking = self.ranker(version=v).rank(self.clean_query(found[0].title), "hybrid")
        ordered = dict.fromkeys(v.article_ids[int(v.article_idx[p])] for p in ranking.ranked)
        ids = [a for a in ordered if a != article_id][:k]
        arts = v.store.articles(ids)
        return [(i, arts[i].title) for i in ids if i in arts]


def _best_cosine_per_article(v: LoadedVersion, dense_score: dict[int, float]) -> dict[str, float]:
    """article id -> the best cosine among its candidate passages (vectorised: ~300 candidates a search)."""
    if not dense_score:
        return {}
    positions = np.fromiter(dense_score.keys(), np.int64, len(dense_score))
    cosines = np.fromiter(dense_score.values(), np.float64, len(dense_score))
    articles = v.article_idx[positions]
    order = np.lexsort((-cosines, articles))  # by article, best cosine first
    firsts = order[np.r_[True, articles[order][1:] != articles[order][:-1]]]
    return {v.article_ids[int(articles[i])]: float(cosines[i]) for i in firsts}
