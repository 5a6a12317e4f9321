"""Is there a good match at all, and which cards are worth showing? Judged the same on any corpus size.

A question's relevance to an article is the base model's cosine (calibrated on
the model, not on how the corpus's scores spread) plus a small share of its
coverage: the share of the question's words (two characters or more, and their
synonyms) that the article holds anywhere. Coverage separates "an article about
this" from "an article in the same field" (车贷 vs 网贷, 年假 vs 加班费), which
cosines of short texts in one domain cannot; it needs no corpus statistics, so
a five-article site is judged as a large one is.
"""
from __future__ import annotations

from collections.abc import Iterable

WEAK_MESSAGE = "没有找到很贴切的答案，下面是最接近的结果，仅供参考；可以换个说法或补充细节再试。"
NOTHING_MESSAGE = "没有找到相关内容，请换个说法再试试。"


def coverage(words: Iterable[str], text: str) -> float:
    """Share of the distinct `words` that occur in `text` (1.0 when there are none to look for)."""
    distinct = {w for w in words if len(w) >= 2}
    if not distinct:
        return 1.0
    return sum(1 for w in distinct if w in text) / len(distinct)


def relevance(cosine: float, covered: float, coverage_weight: float) -> float:
    return cosine + coverage_weight * covered
