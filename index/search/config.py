"""How search ranks: the fusion weights (defined once, here) and the rest of the search settings.

`FusionWeights` is what training fits and a trained tower carries; `SearchConfig`
is those weights plus the knobs that are not learned. Both the Searcher's
`status` and training read the weights through `FusionWeights.of`, so a new
weight is added in one place.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from index.encoders.base import QueryEncoder
from index.search.request import MAX_QUERY_CHARS


@dataclass
class FusionWeights:
    """Weights of the reciprocal-rank lists fused in hybrid search (0 = the list is off)."""

    w_dense: float = 1.0
    w_bm25: float = 1.0
    rrf_k: float = 60.0
    # With a trained query tower, hybrid search can fuse a third list: the base model's own dense
    # candidates (its question vector is computed anyway, to judge "no good match"). The tower and
    # the base model miss different answers; the weight is learned with the others.
    w_base: float = 0.0
    # Answered questions (index.search.answered): articles that answered the nearest already-answered
    # questions vote; the weight is learned like the others.
    w_memory: float = 0.0
    # Past the first `head_articles` articles, the answered questions vote with this weight instead.
    # Why two weights: the head's vote is fitted for the first screen (Recall@10 + MRR@10) and a
    # strong vote there pushes good answers down; further down, a strong vote finds what the vectors
    # miss (docs/bench/answered.md).
    w_memory_tail: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def of(cls, config: FusionWeights) -> FusionWeights:
        """Just the fusion weights of `config` (a SearchConfig is a FusionWeights plus more)."""
        return cls(**{name: getattr(config, name) for name in cls.names()})


@dataclass
class SearchConfig(FusionWeights):
    head_articles: int = 10
    # Passages each retriever contributes to fusion; the same for every k, so
    # evaluation (k=100 articles) ranks exactly as the page (k=5) does.
    candidates: int = 300
    per_article: int = 1  # one card per article: its best passage (the others: Hit.more)
    dup_threshold: float = 0.7
    # "No good match" is judged on two signals that mean the same on a 5-article site as on a
    # 50,000-article one: the base model's best cosine (its scale is the model's, not the corpus's)
    # and how many of the question's words the first card's article holds at all. A question whose
    # relevance (cosine + coverage_weight * coverage) is below `weak_below` gets the notice, and a
    # card below it after the first is not shown. Chosen on bench/sets (never on eval/): see
    # docs/decisions/cards.md.
    weak_below: float = 0.914
    coverage_weight: float = 0.05
    max_query_chars: int = MAX_QUERY_CHARS


def learned_fusion(encoder: QueryEncoder, manifest: dict) -> dict | None:
    """A trained tower's fusion weights, only for the corpus they were fitted on (its sources); a query
    adapter's, which were chosen to hold on any corpus, everywhere.

    Weights fitted on statutes (BM25 worth a quarter of the vectors) cost a FAQ
    site with its own wording; elsewhere the 1:1 fusion stays.
    """
    record = getattr(encoder, "trained_record", None)  # a QueryEncoder (fixed vectors) has none
    if not record:
        return None
    fusion, sources = record.get("fusion"), record.get("fusion_sources") or []
    fits = record.get("fusion_any_corpus") or (sources and sorted(manifest.get("sources") or []) == sorted(sources))
    if fusion and fits:
        return {k: fusion[k] for k in FusionWeights.names() if k in fusion}
    return None
