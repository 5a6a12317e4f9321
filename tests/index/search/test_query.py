"""The one validated search request (no model, no index): what is accepted, normalised or refused."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from index.search.request import MAX_K, InvalidQuery, SearchRequest, clean_query


@pytest.mark.parametrize("k, want", [(1, 1), (5, 5), (MAX_K, MAX_K), ("5", 5), (" 7 ", 7), (np.int64(3), 3)])
def test_k_accepts_whole_numbers_and_digit_strings(k, want):
    assert SearchRequest.parse("离婚", k=k).k == want


@pytest.mark.parametrize("k", [0, -1, MAX_K + 1, 10**9, True, False, 5.0, 2.5, math.nan, math.inf, -math.inf,
                               None, "abc", "", "5.0", "1e3", "-3", [5], {"k": 5}, np.bool_(True), b"5"])
def test_bad_k_is_an_invalid_query_naming_k(k):
    with pytest.raises(InvalidQuery, match=r"^k: ") as err:
        SearchRequest.parse("离婚", k=k)
    assert err.value.param == "k" and isinstance(err.value, ValueError) and err.value.zh


@pytest.mark.parametrize("category, want", [
    (None, ()), ("", ()), ([], ()), ("   ", ()), (["  ", ""], ()),
    (" 劳动纠纷 ", ("劳动纠纷",)), (["劳动纠纷", "劳动纠纷 ", "婚姻家事"], ("劳动纠纷", "婚姻家事")),
    (("ＡＢＣ",), ("ABC",)),  # NFKC: full-width letters as stored
    ({"b", "a"}, ("a", "b")),
])
def test_categories_are_normalised(category, want):
    assert SearchRequest.parse("离婚", category=category).categories == want


@pytest.mark.parametrize("category", [123, 1.5, True, {"name": "劳动纠纷"}, ["劳动纠纷", 1], [None], [["a"]],
                                      b"bytes", ["x"] * 101, ["长" * 201]])
def test_bad_category_is_an_invalid_query(category):
    with pytest.raises(InvalidQuery, match=r"^category: ") as err:
        SearchRequest.parse("离婚", category=category)
    assert err.value.param == "category"


@pytest.mark.parametrize("value, want", [
    (None, None), ("", None), ("  ", None), ("2024-02-29", dt.date(2024, 2, 29)), (" 2024-01-01 ", dt.date(2024, 1, 1)),
    (dt.date(2023, 5, 6), dt.date(2023, 5, 6)), (dt.datetime(2023, 5, 6, 12, 0), dt.date(2023, 5, 6)),
])
def test_dates(value, want):
    assert SearchRequest.parse("离婚", date_from=value).date_from == want
    assert SearchRequest.parse("离婚", date_to=value).date_to == want


@pytest.mark.parametrize("value", ["2024-13-01", "2023-02-29", "yesterday", "2024/01/01", "20240101", "2024-W01-1",
                                   "２０２４-０１-０１", "2024-01-01T00:00", 20240101, 3.5, ["2024-01-01"]])
@pytest.mark.parametrize("param", ["date_from", "date_to"])
def test_invalid_dates_are_errors_for_both_bounds(param, value):
    """An invalid date_from used to be ignored (unfiltered results) and an invalid date_to
    to return nothing; both are the same clear error now."""
    with pytest.raises(InvalidQuery, match=rf"^{param}: must be a date as YYYY-MM-DD") as err:
        SearchRequest.parse("离婚", **{param: value})
    assert err.value.param == param


def test_date_from_after_date_to_is_an_error():
    with pytest.raises(InvalidQuery, match="^date_from: must not be after date_to"):
        SearchRequest.parse("离婚", date_from="2025-01-02", date_to="2025-01-01")
    same = SearchRequest.parse("离婚", date_from="2025-01-01", date_to="2025-01-01")
    assert same.date_from == same.date_to == dt.date(2025, 1, 1)


@pytest.mark.parametrize("mode, want", [("hybrid", "hybrid"), ("BM25", "bm25"), (" dense ", "dense")])
def test_modes(mode, want):
    assert SearchRequest.parse("离婚", mode=mode).mode == want


@pytest.mark.parametrize("mode", ["fuzzy", "", None, 1, ["bm25"]])
def test_bad_mode_is_an_invalid_query(mode):
    with pytest.raises(InvalidQuery, match="^mode: must be one of hybrid, bm25, dense"):
        SearchRequest.parse("离婚", mode=mode)


@pytest.mark.parametrize("query", [None, 123, b"\xe7\xa6\xbb", ["离婚"], 1.5])
def test_a_non_string_query_is_an_invalid_query(query):
    with pytest.raises(InvalidQuery, match="^query: must be a string"):
        SearchRequest.parse(query)


@pytest.mark.parametrize("query, want", [
    ("", ""), ("  \t\n ", ""), ("\x00\x1b", ""), (" 离婚\t冷静期  ", "离婚 冷静期"), ("ＡＰＰ借钱", "APP借钱"),
    ("\ud83d 截断的表情", "截断的表情"),  # a lone surrogate is dropped, not fatal
])
def test_query_is_cleaned_blank_is_not_an_error(query, want):
    assert SearchRequest.parse(query).query == want


def test_long_query_is_cut_to_the_limit_and_huge_input_is_cheap():
    assert len(SearchRequest.parse("离" * 500).query) == 200
    assert len(SearchRequest.parse("离" * 500, max_query_chars=None).query) == 500
    assert clean_query("网" * 10_000_000) == "网" * 200  # only the head of a huge string is read


def test_request_round_trips_through_search_keywords():
    r = SearchRequest.parse(" 网贷 ", "3", [" 金融债务", "劳动纠纷"], "2024-01-01", dt.date(2025, 1, 1), "BM25")
    assert SearchRequest.parse(**r.as_kwargs()) == r
    assert r.as_kwargs() == {"query": "网贷", "k": 3, "category": ["金融债务", "劳动纠纷"],
                             "date_from": "2024-01-01", "date_to": "2025-01-01", "mode": "bm25"}
    assert r.has_filter and not SearchRequest.parse("x").has_filter
    with pytest.raises(AttributeError):
        r.k = 4  # type: ignore[misc]  # frozen


def test_unknown_category_is_an_invalid_query_naming_category_and_listing_some():
    """Issue 29 item 4: a category the index does not have is named, with a few that exist (Chinese)."""
    from index.search.request import check_categories

    known = ["劳动纠纷", "婚姻家事", "金融债务", "刑事辩护", "合同纠纷", "房产物业", "交通事故"]
    check_categories((), known)
    check_categories(("劳动纠纷", "婚姻家事"), known)
    with pytest.raises(InvalidQuery, match=r"^category: ") as err:
        check_categories(("劳动纠纷", "不存在的分类"), known)
    assert err.value.param == "category" and "不存在的分类" in err.value.zh and "不存在的分类" in str(err.value)
    assert "现有分类" in err.value.zh and sum(name in err.value.zh for name in known) == 5


def test_searcher_refuses_an_unknown_category_but_accepts_any_spelling_of_a_known_one(built_index, embedder,
                                                                                     tokenizer):
    from index.search.searcher import Searcher

    s = Searcher.open(built_index, embedder=embedder, tokenizer=tokenizer)
    with pytest.raises(InvalidQuery, match=r"^category: ") as err:
        s.search("离婚", k=5, category="不存在的分类", mode="bm25")
    assert err.value.param == "category" and "劳动纠纷" in err.value.zh
    with pytest.raises(InvalidQuery):
        s.search("", category=["劳动纠纷", "不存在的分类"])
    spaced = s.search("被公司开除了能拿多少钱", k=5, category=[" 劳动纠纷 ", "劳动纠纷"], mode="bm25")
    assert spaced and all(h.category == "劳动纠纷" for h in spaced)


def test_link_filters_name_what_they_cannot_apply():
    """The page's ?category=/from=/to=: unknown categories and bad dates are listed, never silently dropped."""
    from index.search.request import link_filters

    chosen, d_from, d_to, problems = link_filters(["劳动纠纷", "婚姻家事"], ["不存在的分类", " 劳动纠纷 ", ""],
                                                  "2024-13-45", " 2025-01-31 ")
    assert chosen == ["劳动纠纷"] and d_from is None and d_to == dt.date(2025, 1, 31)
    assert problems == ["分类“不存在的分类”不存在", "起始日期“2024-13-45”不是有效日期（应为 YYYY-MM-DD）"]
    assert link_filters(["劳动纠纷"], [], "", "") == ([], None, None, [])
