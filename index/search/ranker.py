"""The ranking of one index version with one encoder, tokenizer and config: the page's order, in public.

Query -> (BM25 over jieba tokens with colloquial->legal expansion) and (question
vector -> dense top-n) -> reciprocal-rank fusion (+ the base model's own list and
the answered questions' vote when a trained tower brings them) -> passages citing
a statute the question names first -> per-article cap, near-copies folded.

The Searcher builds a Ranker for every search (`Searcher.ranker()`); training and
benchmarks build variants of it (`ranker.with_(encoder=..., config=...)`) to score
other encoders and weights through exactly the served path, without touching the
Searcher's insides.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from index.encoders.adapter import BaseVectorsJudge
from index.encoders.base import QueryEncoder
from index.search.config import SearchConfig
from index.search.fusion import order, rrf_ranked, shape_grouped
from index.search.repeal import related_keys
from index.search.request import parse_mode, parse_text
from index.search.version import LoadedVersion
from index.storage.store import PassageRow, PassageWindow
from index.text.pinyin import looks_like_pinyin
from ingest.citations import parse_citations


@dataclass
class Ranking:
    """Passages best first, as both the page and evaluation see them."""

    ranked: list[int]
    fused: dict[int, float]
    dense_score: dict[int, float]
    bm25_score: dict[int, float]
    cited: set[int]
    tokens: list[str]  # the query's BM25 tokens, reused to highlight every hit
    read_as: str  # the query as the models and BM25 read it (pinyin read into Chinese, index.text.pinyin)
    # with a trained query tower: the base model's best cosine, what the "no good match" floors were set on
    judge_dense: float | None = None
    # with a tower whose base list is fused: the base model's cosine of each of its candidates
    judge_score: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Ranker:
    """Ranks questions over `version` with `encoder` (questions), `tokenizer` (BM25) and `config`.

    `memory`: answered questions that vote for their articles (index.search.answered), or None.
    Immutable: `with_` returns a variant, so concurrent searches never see a half-changed ranker.
    """

    version: LoadedVersion
    encoder: QueryEncoder
    tokenizer: object
    config: SearchConfig = field(default_factory=SearchConfig)
    memory: object | None = None

    def with_(self, **changes) -> Ranker:
        """This ranker with other parts (`encoder`, `config`, `memory`, `version`)."""
        return replace(self, **changes)

    def with_weights(self, **weights) -> Ranker:
        """This ranker with other fusion weights (`FusionWeights` fields)."""
        return replace(self, config=replace(self.config, **weights))

    def clean_query(self, query: str) -> str:
        """The query as searched (see `index.search.request.clean_query`); InvalidQuery for a non-string."""
        return parse_text(query, self.config.max_query_chars)

    def question_text(self, text: str) -> str:
        """A question as search reads it: cleaned, then pinyin read into Chinese. Training keys its
        questions (vectors, answered-question memory, folds) by this, as `_rank` looks them up."""
        return self.read_query(self.clean_query(text))

    def read_query(self, query: str) -> str:
        """`query` (cleaned) as the models and BM25 read it: Traditional characters as Simplified
        ("網貸逾期會有人上門嗎" -> "网贷逾期会有人上门吗"), then toneless pinyin read into Chinese words
        ("bang xin zui 会不会留案底" -> "帮信罪 会不会留案底", index.text.pinyin); anything else unchanged."""
        query = self.tokenizer.simplify(query)
        if not looks_like_pinyin(query):
            return query
        return self.version.pinyin_reader(self.tokenizer).read(query)

    def _candidates(self, read_as: str, tokens: list[str], mode: str, mask, timings: dict):
        """Ranked positions, their fused scores, their dense and BM25 scores, the base model's best
        cosine when a judge was asked (else None) and its cosine of each of its own candidates when its
        list was fused (else empty). `read_as` is what the models, BM25 and the
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
            scores_b, idx = self.version.retrieval.bm25_top(tokens, n, mask)
            bm25_rank = idx.tolist()
            bm25_score = dict(zip(bm25_rank, scores_b.tolist(), strict=True))
            timings["bm25_ms"] = (time.perf_counter() - t) * 1000
        if mode in ("hybrid", "dense"):
            t = time.perf_counter()
            qv = self.encoder.encode_queries([read_as])[0]
            timings["encode_ms"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            scores_d, ids = self.version.retrieval.dense_top(qv, n, mask)
            dense_rank = ids.tolist()
            dense_score = dict(zip(dense_rank, scores_d.tolist(), strict=True))
            timings["faiss_ms"] = (time.perf_counter() - t) * 1000
        # the answered-question memory is searched with the base model's question vector (with a
        # tower: the judge's, computed anyway); on STARD fold 1 the tower's own vector did worse
        use_memory = mode == "hybrid" and self.memory is not None and (self.config.w_memory > 0
                                                                        or self.config.w_memory_tail > 0)
        base_qv = None
        judge_scores: dict[int, float] = {}
        # an adapter's judge has the base vector already (no second encoding): judge the cards on it too
        free_judge = isinstance(self.encoder.judge, BaseVectorsJudge) and mode != "bm25"
        if ((mode == "hybrid" and (self.config.w_base or use_memory)) or free_judge) and self.encoder.judge is not None:
            t = time.perf_counter()
            base_qv = self.encoder.judge.encode_queries([read_as])[0]
            cards = self.config.w_base or free_judge
            scores_j, ids_j = self.version.retrieval.dense_top(base_qv, n if cards else 1, mask)
            base_rank = ids_j.tolist() if self.config.w_base else []
            judge = float(scores_j[0]) if len(scores_j) else None
            if cards:  # the base model's cosine of each of its candidates: cards are judged on them
                judge_scores = dict(zip(ids_j.tolist(), scores_j.tolist(), strict=True))
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
                ranked = self._add_memory(read_as, base_qv if base_qv is not None else qv, ranked, fused,
                                          mask)
                timings["memory_ms"] = (time.perf_counter() - t_memory) * 1000
        timings["fusion_ms"] = (time.perf_counter() - t) * 1000
        return ranked, fused, dense_score, bm25_score, judge, judge_scores

    def _add_memory(self, query: str, base_vector: np.ndarray, ranked: list[int],
                    fused: dict[int, float], mask) -> list[int]:
        """Answered questions vote: each passage of an article they point to gains
        `w_memory * P(article) / (rrf_k + 1)` — at most w_memory times a first place in one list.

        Why a score and not one more ranked list: the list's first place would then weigh the same
        whether the nearest answered question is a paraphrase or barely related. On STARD fold 1,
        behind the tower, a ranked list lifted Recall@10 but pushed first answers down (MRR@10 fell);
        this vote lifted both (measured: docs/decisions/training-screens.md, table 5).
        """
        scores = self.memory.article_scores(base_vector, query)
        if not scores:
            return ranked
        positions = self.version.article_positions()
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
            ranked = self._recall_tail(ranked, fused, votes)
        return ranked

    def _recall_tail(self, ranked: list[int], fused: dict[int, float],
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
            seen.add(int(self.version.article_idx[p]))
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

    def rank(self, query: str, mode: str = "hybrid", mask=None, timings: dict | None = None) -> Ranking:
        """Fused candidates, then passages citing a statute the query names go first.

        The one ranking function: `search` (the page, the API) and
        `rank_articles` (evaluation) both call it, so eval scores the served order.
        """
        t = time.perf_counter()
        timings = {} if timings is None else timings
        read_as = self.read_query(query)
        tokens = self.tokenizer.query_tokens(read_as)
        timings["tokenize_ms"] = (time.perf_counter() - t) * 1000
        ranked, fused, dense_score, bm25_score, judge, judge_scores = self._candidates(read_as, tokens, mode, mask,
                                                                                       timings)
        meaning = dense_score
        if judge_scores and isinstance(self.encoder.judge, BaseVectorsJudge):
            # an adapter orders the articles; which passage of an article is its card, the base model's
            # list says (the adapter moves questions towards how answers are worded across a corpus, not
            # towards the section that answers: on the FAQ development set it chose worse cards)
            base = rrf_ranked([order(judge_scores), order(bm25_score)], [self.config.w_dense, self.config.w_bm25],
                              self.config.rrf_k)[0] if mode == "hybrid" else order(judge_scores)
            ranked = self._passages_in_order(ranked, fused, base)
            meaning = judge_scores
        cited = self._statute_positions(query, mask)
        if cited:
            extra = sorted(p for p in cited if p not in fused)
            ranked = [p for p in ranked if p in cited] + extra + [p for p in ranked if p not in cited]
            for p in extra:
                fused[p] = 0.0
        ranked = self._with_stand_ins(ranked, fused, meaning, cited)
        return Ranking(ranked, fused, dense_score, bm25_score, cited, tokens, read_as, judge, judge_scores)

    def _passages_in_order(self, ranked: list[int], fused: dict[int, float], preferred: list[int]) -> list[int]:
        """`ranked` with each article's passages refilled into the places its passages hold, in the order of
        `preferred` (those it lacks after, as they were): the articles keep their places, the fused scores
        stay with the places (so they still read best first)."""
        article_of = self.version.article_idx
        rank_in = {p: i for i, p in enumerate(preferred)}
        groups: dict[int, list[int]] = {}
        for i, p in enumerate(ranked):
            groups.setdefault(int(article_of[p]), []).append(i)
        out = list(ranked)
        place_score = [fused.get(p, 0.0) for p in ranked]
        for places in groups.values():
            if len(places) > 1:
                members = sorted((ranked[i] for i in places), key=lambda p: rank_in.get(p, len(rank_in)))
                for i, p in zip(places, members, strict=True):
                    out[i] = p
        for i, p in enumerate(out):
            fused[p] = place_score[i]
        return out

    def _with_stand_ins(self, ranked: list[int], fused: dict[int, float],
                          dense: dict[int, float] | None = None, cited: set[int] | None = None) -> list[int]:
        """`ranked` with what a card should not show replaced, where it stands, by a better passage of
        the same article: a template passage (ingest.template: the closing section, a disclaimer) by
        the article's ranked plain passage closest to the question in meaning (else its first
        passage that is not template); an intro (the story-telling opening before the first section)
        likewise, when any of the article's sections ranked at all.

        Why replace rather than drop: the passage ranked because its article is relevant (it lists the
        statute asked about, or retells the asker's situation), so the article keeps its place; only
        what the card shows changes. An intro restates the question in the asker's words and so
        matches it best, while the answer sits in a section; among the sections, the words the intro
        shares with the question say little, so the stand-in is chosen by meaning (dense cosine).
        A stand-in for a passage citing the statute asked about counts as citing it (`cited`): its
        article does, in the list the card does not show.
        """
        if not self.version.any_avoid:
            return ranked
        template, avoid = self.version.template, self.version.avoid
        article_of = self.version.article_idx
        dense = dense or {}
        best_plain: dict[int, int] = {}  # article -> its plain passage closest in meaning (dense), else first
        for p in ranked:
            if not avoid[p]:
                a = int(article_of[p])
                if a not in best_plain or dense.get(p, -1.0) > dense.get(best_plain[a], -1.0):
                    best_plain[a] = p
        out: list[int] = []
        seen: set[int] = set()
        for p in ranked:
            q = p
            if avoid[p]:
                q = best_plain.get(int(article_of[p]))
                if q is None:
                    q = self._first_plain(int(article_of[p]), p) if template[p] else p
                fused[q] = max(fused.get(q, float("-inf")), fused.get(p, 0.0))
                if cited is not None and p in cited:
                    cited.add(q)
            if q not in seen:
                seen.add(q)
                out.append(q)
        return out

    def _first_plain(self, article: int, fallback: int) -> int:
        """The article's first passage in reading order that is not template (else `fallback`)."""
        positions = self.version.article_positions().get(self.version.article_ids[article], ())
        return next((p for p in positions if not self.version.template[p]), fallback)

    def shape(self, ranked: list[int], k: int, max_articles: int | None = None, per_article: int | None = None,
              more: dict[int, list[int]] | None = None,
              ) -> tuple[list[int], dict[int, PassageRow], dict[int, list[int]]]:
        """At most `per_article` passages per article, near-duplicates folded into the hit they copy,
        `k` at most (`index.search.fusion.shape_grouped`).

        Looks at the first max(60, 12k) ranked passages, reading their rows
        lazily (`PassageWindow`): a page search stops after about k of them.
        Returns the chosen positions, the rows read (the chosen and folded ones among them)
        and each chosen position's folded near-duplicates; `more` (when given) collects each card's
        further passages of the same article that the per-article cap left out.
        """
        window = PassageWindow(self.version.store, ranked[: max(60, k * 12)], chunk=min(k, max_articles or k) + 4)
        chosen, folded = shape_grouped(window.present(), self.version.article_idx, lambda p: window.rows[p].text, k,
                                       per_article or self.config.per_article, self.config.dup_threshold,
                                       max_articles, more)
        return chosen, window.rows, folded

    def rank_articles(self, query: str, mode: str = "hybrid", k: int = 100) -> list[str]:
        """Article ids best first: the order the page shows them in, as far as `k` reaches.

        Same ranking and shaping as `search` (per-article cap, near-duplicates
        folded into the hit they copy), so the first article of `search(q)` is the
        first one here; a hit's "相同内容也见于" articles follow it, in that order.
        """
        mode = parse_mode(mode)
        query = self.clean_query(query)
        if not query:
            return []
        ranking = self.rank(query, mode, None, {})
        chosen, _, folded = self.shape(ranking.ranked, len(ranking.ranked), max_articles=k)
        listed = (q for p in chosen for q in (p, *folded.get(p, ())))
        out = list(dict.fromkeys(self.version.article_ids[int(self.version.article_idx[p])] for p in listed))
        return out[:k]

    def _statute_positions(self, query: str, mask) -> set[int]:
        keys = list(dict.fromkeys(c.key for c in parse_citations(query)))
        if not keys:
            return set()
        # 合同法第52条 and 民法典第153条 state the same rule: a question citing one finds both
        keys = related_keys(keys)
        cited = self.version.store.positions_citing(keys)
        if mask is not None:
            cited = {p for p in cited if mask[p]}
        return cited
