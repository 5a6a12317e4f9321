"""The JSON shapes the API answers with, as pydantic models.

They are the contract with the firm's website, CMS and chatbots: FastAPI checks
every response against them and publishes them, descriptions included, as the
OpenAPI documentation at /docs. So a field's description says what a client may
rely on.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorOut(BaseModel):
    """Every error response: a bilingual message a client can show, plus machine-readable detail."""

    error: str = Field(description="What went wrong, in Chinese and English")
    detail: Any = Field(None, description="Per-parameter problems, the bad value, or null")


class RepealedOut(BaseModel):
    statute: str = Field(description="The cited provision as shown, e.g. 合同法第52条")
    status: str = Field(description="A short badge, e.g. 已废止（2021-01-01）")
    now: list[str] = Field(description="The provisions that replaced it, e.g. 民法典第153条 (may be empty)")


class CopyOut(BaseModel):
    article_id: str
    passage_id: str
    title: str
    link: str = Field(description="Absolute deep link to the copy's passage (source page or article view)")
    article_url: str = Field(description="This API's URL for that article")
    category: str | None
    published: str | None


class ExcerptOut(BaseModel):
    passage_id: str
    heading: str = Field(description="The section heading the passage sits under")
    passage: str = Field(description="The passage as plain text (no Markdown marks)")
    passage_markdown: str = Field(description="The passage verbatim from the article body, Markdown included")
    start: int = Field(description="Offset of `passage_markdown` in the article body")
    end: int
    link: str = Field(description="Absolute deep link to this passage (source page or article view)")


class HitOut(BaseModel):
    rank: int = Field(description="1 = best")
    passage_id: str
    article_id: str
    title: str
    url: str | None = Field(description="The article's source page, when it has one")
    link: str = Field(description="Absolute deep link: the source page scrolled to the passage "
                                  "(text fragment), else our article view (the search page at "
                                  "LAWFAQ_PUBLIC_URL, else this API's own /?article=)")
    article_url: str = Field(description="This API's URL for the whole article")
    category: str | None
    published: str | None = Field(description="Publication date, YYYY-MM-DD")
    passage: str = Field(description="The answering passage as plain text: heading hashes, bold and list "
                                     "markers of the Markdown off (list items start with •)")
    passage_markdown: str = Field(description="The passage verbatim from the article body, Markdown included")
    start: int = Field(description="Offset of `passage_markdown` in the article body")
    end: int
    heading: str = Field(description="The section heading the passage sits under")
    score: float = Field(description="Fused ranking score (relative; not comparable across queries)")
    dense_score: float | None = Field(description="Embedding cosine similarity, when computed")
    bm25_score: float | None = Field(description="BM25 score, when the passage matched lexically")
    statutes: list[str] = Field(description="Statutes the passage cites, e.g. 民法典第1077条")
    matched_terms: list[str] = Field(description="Query words found in the passage")
    match_spans: list[tuple[int, int]] = Field(description="[start, end) of each match in `passage` (the plain text)")
    best_sentence: tuple[int, int] = Field(description="[start, end) of the sentence to emphasise")
    cites_query_statute: bool = Field(description="The passage cites a statute named in the query")
    article_statutes: list[str] = Field(description="Statutes cited anywhere in the article")
    repealed_statutes: list[RepealedOut] = Field(
        description="Those of `statutes` and `article_statutes` that cite a repealed law")
    also_in: list[CopyOut] = Field(default_factory=list, description=(
        "Other articles whose passage is a near-copy of this one (a templated sister page, the same "
        "provision in another law), folded into this hit instead of shown again; best ranked first"))
    more: list[ExcerptOut] = Field(default_factory=list, description=(
        "The article's other passages that match the question too, best first (one card per article; "
        "ask with per_article=N for up to N passages of an article as hits of their own)"))


class SearchOut(BaseModel):
    query: str = Field(description="The query as searched (normalised)")
    read_as: str | None = Field(None, description="How the query was read when that differs from what was "
                                                  "typed: Traditional characters read as Simplified, toneless pinyin read "
                                                  "into Chinese words")
    weak: bool = Field(description="True when nothing matches well: show `message` with the hits")
    message: str = Field(description="A note for the reader (Chinese), empty when the match is good")
    version: str | None = Field(description="The index version that answered")
    timings_ms: dict[str, float]
    hits: list[HitOut]
    question_id: int | str | None = Field(None, description="Id of this question in the question log, "
                                                             "when the log is on")


class PassageOut(BaseModel):
    id: str
    start: int = Field(description="Offset in the article body")
    end: int
    heading: str
    text: str
    statutes: list[str]


class ArticleOut(BaseModel):
    id: str
    title: str
    url: str | None = Field(description="The source page, when the article has one")
    page_url: str = Field(description="The search page's view of this article")
    category: str | None
    published: str | None
    tags: list[str]
    body: str
    passages: list[PassageOut]
    repealed_statutes: list[RepealedOut] = Field(description="Statutes cited in the article that belong "
                                                             "to a repealed law")


class StatusOut(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())

    index: str
    version: str
    built_at: str | None = None
    articles: int
    passages: int
    model: str | None = None
    model_checksum: str | None = None
    dense: str | None = None
    categories: dict[str, int] = Field(description="Articles per category")
    versions: list[str] = Field(description="Published versions kept on disk, oldest first")
    code_version: str | None = None
    refresh_error: str | None = Field(None, description="Why a newer published version is not served")


class HealthOut(BaseModel):
    ok: bool
    version: str | None = Field(description="The index version being served")
    error: str | None = None


class CategoriesOut(BaseModel):
    categories: list[str]
