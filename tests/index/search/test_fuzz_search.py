"""A reusable fuzz harness for `Searcher.search`: random argument types and values, on the real small index.

The contract: whatever a caller passes, `search` either answers with a
well-formed HitList or raises `InvalidQuery` (a ValueError naming the
parameter), and it raises exactly when `SearchRequest.parse` refuses the same
arguments. Nothing else (no TypeError from inside the ranking, no silently
dropped filter) is allowed.

Two drivers over the same oracle: hypothesis (shrinks a failure to a small
example) and a plain seeded loop of 10,000 calls (mostly `bm25` to stay fast,
some hybrid/dense so the encoder sees the odd inputs too).
"""
from __future__ import annotations

import datetime as dt
import json
import math
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from index.search.request import MAX_K, InvalidQuery, SearchRequest
from index.search.searcher import Searcher
from index.storage.fields import normalize_category

pytestmark = pytest.mark.slow

CATEGORIES = ["劳动纠纷", "交通事故", "婚姻家事", "金融债务", "房产物业"]
QUESTIONS = ["网贷逾期了，催收说要上门，是真的吗？", "被公司开除了能拿多少钱", "离婚冷静期", "民法典1077条说的什么",
             "撞车了第一时间该干嘛", "怎么办", "物业费"]
NASTY = ["\ud83d 截断的表情", "\udc00", "😀😀😀", "\x00\x1b[31m", "\u202e\u200b\ufeff", "'; DROP TABLE articles; --",
         "<script>alert(1)</script>", "％ＡＰＰ１２３", "\t\n\r", "離婚冷靜期", "合同法第五十二条" * 30, "𠀀𪚥" * 3]
FUZZ_CALLS = 10_000


@pytest.fixture(scope="module")
def s(built_index, embedder, tokenizer) -> Searcher:
    return Searcher.open(built_index, embedder=embedder, tokenizer=tokenizer)


# ---------------------------------------------------------------- oracle -----
def check_call(s: Searcher, args: dict[str, Any]) -> str:
    """Call `s.search(**args)`; assert the contract; return "ok" or "invalid"."""
    try:
        expected = SearchRequest.parse(**args)
    except InvalidQuery:
        expected = None
    try:
        hits = s.search(**args)
    except InvalidQuery as exc:
        known = {normalize_category(c) for c in s.categories()}
        unknown = expected is not None and exc.param == "category" and set(expected.categories) - known
        assert expected is None or unknown, f"search refused what parse accepts: {exc}"
        assert str(exc).split(":", 1)[0] == exc.param and exc.param in args
        return "invalid"
    assert expected is not None, "search answered although parse refuses these arguments"
    check_hits(hits, expected)
    return "ok"


def check_hits(hits, request: SearchRequest) -> None:
    """A well-formed answer that respects every filter of `request`."""
    assert hits.query == request.query and isinstance(hits.message, str) and isinstance(hits.weak, bool)
    assert len(hits) <= request.k
    if not request.query:
        assert len(hits) == 0 and hits.message
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    for h in hits:
        assert h.passage and isinstance(h.title, str) and math.isfinite(h.score)
        assert all(0 <= a < b <= len(h.passage) for a, b in h.match_spans)
        assert 0 <= h.best_sentence[0] <= h.best_sentence[1] <= len(h.passage)
        assert h.link.startswith(("https://", "http://", "?article="))  # never javascript:, data:, ...
        if request.categories:
            assert normalize_category(h.category or "未分类") in request.categories
        if request.date_from:
            assert h.published and h.published[:10] >= request.date_from.isoformat()
        if request.date_to:
            assert h.published and h.published[:10] <= request.date_to.isoformat()
    json.dumps(hits.to_dict(), ensure_ascii=False)  # what the API sends must serialise


# ------------------------------------------------------------ hypothesis -----
def mostly(valid: st.SearchStrategy, anything: st.SearchStrategy) -> st.SearchStrategy:
    """A valid value about 7 times in 8, so that many examples get past validation into the search.

    (`st.one_of(valid, valid, anything)` would not weight: hypothesis merges repeated branches.)
    """
    return st.sampled_from([True] * 7 + [False]).flatmap(lambda ok: valid if ok else anything)


any_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                       st.floats(allow_nan=True, allow_infinity=True), st.binary(max_size=8), st.text(max_size=8))
odd_text = st.one_of(st.text(st.characters(exclude_categories=()), max_size=60), st.sampled_from(NASTY + QUESTIONS),
                     st.builds(lambda t, n: t * n, st.sampled_from(QUESTIONS + NASTY), st.integers(50, 3000)))
queries = mostly(odd_text, st.one_of(any_scalar, st.lists(st.text(max_size=3), max_size=2)))
ks = mostly(st.one_of(st.integers(1, MAX_K), st.sampled_from(["5", " 3 "])),
            st.one_of(st.integers(-3, MAX_K + 3), st.sampled_from(["0", "abc", "", "5.0", "1e400"]), any_scalar,
                      st.lists(st.integers(1, 5), max_size=2)))
categories = mostly(
    st.one_of(st.none(), st.sampled_from(CATEGORIES + [" 劳动纠纷 ", "不存在的分类", "", "  "]),
              st.lists(st.sampled_from(CATEGORIES + ["  "]), max_size=3), st.frozensets(st.sampled_from(CATEGORIES))),
    st.one_of(any_scalar, st.lists(st.one_of(st.text(max_size=6), any_scalar), max_size=4),
              st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
dates = mostly(st.one_of(st.none(), st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31)).map(dt.date.isoformat),
                         st.dates(), st.datetimes()),
               st.one_of(st.sampled_from(["2024-13-01", "2023-02-29", "", "yesterday", "20240101"]), any_scalar))
modes = mostly(st.sampled_from(["bm25"] * 6 + ["hybrid", "dense", "BM25", " bm25 "]),
               st.one_of(st.sampled_from(["fuzzy", ""]), any_scalar))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(query=queries, k=ks, category=categories, date_from=dates, date_to=dates, mode=modes)
def test_search_answers_or_refuses_clearly_hypothesis(s, query, k, category, date_from, date_to, mode):
    event(check_call(s, {"query": query, "k": k, "category": category, "date_from": date_from,
                         "date_to": date_to, "mode": mode}))


# ------------------------------------------------------------ plain loop -----
def _random_text(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        return rng.choice(QUESTIONS)
    if roll < 0.6:
        return rng.choice(NASTY)
    if roll < 0.9:  # any code point, surrogates and unassigned ones included
        return "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(0, 40)))
    return rng.choice(QUESTIONS + NASTY) * rng.randrange(100, 5000)


def _random_scalar(rng: random.Random) -> Any:
    return rng.choice([None, True, False, 0, -1, 10**30, math.nan, math.inf, -math.inf, 2.5, b"\xff", "", "abc",
                       [], {}, (), object(), dt.date(2024, 1, 1), rng.random()])


def _random_value(rng: random.Random, good: list[Any], bad: list[Any]) -> Any:
    """A valid value 7 times in 8 (so about half the calls pass every check), else anything at all."""
    roll = rng.random()
    if roll < 0.875:
        return rng.choice(good)
    if roll < 0.92:
        return rng.choice(bad)
    if roll < 0.96:
        return _random_scalar(rng)
    if roll < 0.98:
        return _random_text(rng)
    return [rng.choice([*good, _random_scalar(rng)]) for _ in range(rng.randrange(0, 4))]


def random_args(rng: random.Random) -> dict[str, Any]:
    dates = [None, "", "2024-01-01", "2025-06-01", "2025-12-31", dt.date(2025, 1, 1), " 2025-03-01 "]
    return {
        "query": _random_text(rng) if rng.random() < 0.97 else _random_scalar(rng),
        "k": _random_value(rng, [1, 3, 5, 10, MAX_K, "5"], [0, -1, MAX_K + 1, True, 5.0, "abc", None]),
        "category": _random_value(rng, [None, *CATEGORIES, [" 劳动纠纷", "金融债务"], [], "不存在的分类", ""],
                                  [123, {"a": 1}, ["劳动纠纷", 1], [None]]),
        "date_from": _random_value(rng, dates, ["2024-13-01", "2025/01/01", 20250101, "yesterday"]),
        "date_to": _random_value(rng, dates, ["2023-02-29", "2025-1-1", 3.5, "tomorrow"]),
        # the encoder costs ~30 ms a call: ~1 call in 20 hybrid/dense keeps 10,000 calls near a minute
        "mode": "bm25" if rng.random() < 0.93 else _random_value(rng, ["hybrid", "dense"], ["fuzzy", None, 1]),
    }


def test_ten_thousand_fuzzed_calls_raise_nothing_unexpected(s):
    rng = random.Random(20251129)
    outcomes = {"ok": 0, "invalid": 0}
    unexpected: list[tuple[dict, str]] = []
    for _ in range(FUZZ_CALLS):
        args = random_args(rng)
        try:
            outcomes[check_call(s, args)] += 1
        except Exception as exc:  # noqa: BLE001 - every one is a finding, collected for the message
            unexpected.append(({k: repr(v)[:60] for k, v in args.items()}, f"{type(exc).__name__}: {exc}"))
    assert unexpected == [], f"{len(unexpected)} unexpected exceptions, e.g. {unexpected[:3]}"
    assert outcomes["ok"] > FUZZ_CALLS // 5 and outcomes["invalid"] > FUZZ_CALLS // 5, outcomes
