"""index.search.fusion without a model: reciprocal-rank fusion and result shaping."""
from __future__ import annotations

import numpy as np

from index.search.fusion import jaccard, order, rrf, rrf_ranked, shape, shape_grouped, shingles


def test_rrf_sums_weighted_reciprocal_ranks():
    fused = rrf([[1, 2, 3], [3, 1]], [1.0, 2.0], k=10)
    assert fused[1] == 1 / 11 + 2 / 12
    assert fused[3] == 1 / 13 + 2 / 11
    assert fused[2] == 1 / 12


def test_rrf_zero_weight_ignores_a_list():
    assert rrf([[1], [2]], [1.0, 0.0]) == {1: 1 / 61}


def _rrf_loop(rankings, weights, k):
    """The per-item loop rrf_ranked replaced: the reference its floats must equal."""
    fused: dict[int, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        if w == 0:
            continue
        for rank, item in enumerate(ranking, start=1):
            fused[int(item)] = fused.get(int(item), 0.0) + w / (k + rank)
    return fused


def test_rrf_ranked_equals_the_loop_and_its_order_exactly():
    rng = np.random.default_rng(7)
    for _trial in range(50):
        dense = rng.choice(2000, 300, replace=False)
        bm25 = rng.choice(2000, int(rng.integers(0, 300)), replace=False)
        bm25[: len(bm25) // 3] = dense[: len(bm25) // 3]  # overlapping lists, as a real search has
        weights = [1.0, float(rng.choice([0.0, 0.25, 1.0, 2.0]))]
        k = float(rng.choice([20.0, 60.0]))
        ranked, fused = rrf_ranked([dense, bm25], weights, k)
        expected = _rrf_loop([dense.tolist(), bm25.tolist()], weights, k)
        assert fused == expected  # same keys, bit-identical sums
        assert ranked == order(expected)
    # ties (equal sums) are broken by item, like `order`
    assert rrf_ranked([[5, 2], [2, 5]], [1.0, 1.0], 10)[0] == [2, 5]
    assert rrf_ranked([[], []], [1.0, 1.0]) == ([], {})


def test_order_breaks_ties_by_position():
    assert order({5: 0.5, 2: 0.5, 9: 0.9}) == [9, 2, 5]


def test_shingles_and_jaccard():
    assert shingles("ab c") == frozenset({"abc"})
    assert shingles("") == frozenset()
    assert jaccard(shingles("网贷逾期怎么办"), shingles("网贷逾期怎么办")) == 1.0
    assert jaccard(frozenset(), shingles("abc")) == 0.0


def test_shape_caps_passages_per_article_and_collapses_near_duplicates():
    texts = {0: "甲文章第一段关于工资", 1: "甲文章第二段关于加班", 2: "甲文章第三段关于社保",
             3: "乙文章：网贷逾期会被起诉吗", 4: "乙文章：网贷逾期会被起诉吗？", 5: "丙文章讲离婚冷静期"}
    article_of = np.array([0, 0, 0, 1, 2, 3])
    chosen = shape([0, 1, 2, 3, 4, 5], article_of, texts.__getitem__, k=10, per_article=2, dup_threshold=0.7)
    assert chosen == [0, 1, 3, 5]  # third of 甲 capped; 4 is a near-copy of 3 from another article


def test_near_duplicates_are_folded_into_the_hit_they_copy():
    """One copy per article, under the earliest original; a capped passage is not a copy; folded
    articles count towards max_articles."""
    texts = {0: "乙文章：网贷逾期会被起诉吗", 1: "甲文章讲工资和加班费怎么算", 2: "乙文章：网贷逾期会被起诉吗？",
             3: "乙文章：网贷逾期会被起诉吗！", 4: "乙文章：网贷逾期会被起诉吗。", 5: "丙文章讲离婚冷静期"}
    article_of = np.array([0, 1, 2, 2, 3, 4])
    taken, folded = shape_grouped(range(6), article_of, texts.__getitem__, k=10)
    assert taken == [0, 1, 5] and folded == {0: [2, 4]}  # 3: its article (2) is already folded
    assert shape(range(6), article_of, texts.__getitem__, k=10) == taken
    taken, folded = shape_grouped(range(6), article_of, texts.__getitem__, k=10, max_articles=3)
    assert taken == [0, 1] and folded == {0: [2]}  # articles 0, 1 and the copy's 2


def test_shape_stops_at_k_and_is_a_prefix_of_a_longer_shape():
    texts = {i: f"第{i}段完全不同的内容{i * 7}" for i in range(20)}
    article_of = np.arange(20) // 3
    short = shape(range(20), article_of, texts.__getitem__, k=4)
    longer = shape(range(20), article_of, texts.__getitem__, k=12)
    assert len(short) == 4 and longer[:4] == short


def test_shape_can_stop_after_enough_articles():
    texts = {i: f"第{i}段完全不同的内容{i * 7}" for i in range(20)}
    article_of = np.arange(20) // 2
    every = shape(range(20), article_of, texts.__getitem__, k=20)
    first_three = shape(range(20), article_of, texts.__getitem__, k=20, max_articles=3)
    assert first_three == every[: len(first_three)] and len({int(article_of[p]) for p in first_three}) == 3


def _near_duplicate_everywhere(sh, shown, threshold):
    return any(jaccard(sh, other) >= threshold for other in shown)


def test_near_duplicates_found_by_size_are_exactly_those_found_by_comparing_all():
    """The size bound only skips pairs that cannot reach the threshold, including pairs exactly at it."""
    from index.search.fusion import _ShownShingles

    def chars(n, start=0):
        return frozenset(str(i) for i in range(start, start + n))

    at_threshold = _ShownShingles(0.7)
    at_threshold.add(chars(10))
    assert jaccard(chars(7), chars(10)) == 0.7 and at_threshold.near_duplicate(chars(7))  # 7/10: a copy
    assert not at_threshold.near_duplicate(chars(6))  # 6/10
    for small, large in ((chars(7), chars(100)), (chars(100), chars(7))):  # shown first, then asked
        loose = _ShownShingles(0.07)
        loose.add(small)
        assert jaccard(small, large) == 0.07 and 100 * 0.07 > 7 and 7 / 0.07 < 100  # floats, not fractions
        assert loose.near_duplicate(large)  # still a copy at exactly the threshold

    rng = np.random.default_rng(0)
    for threshold in (0.0, 0.3, 0.7, 0.9, 1.0):
        seen, shown = _ShownShingles(threshold), []
        for _ in range(300):
            size = int(rng.integers(0, 40))
            sh = frozenset(str(x) for x in rng.choice(60, size=size, replace=False))
            assert seen.near_duplicate(sh) == _near_duplicate_everywhere(sh, shown, threshold)
            if rng.random() < 0.5:
                seen.add(sh)
                shown.append(sh)
