"""index.storage.lexical without a model: BM25 over token lists, masks, save/load."""
from __future__ import annotations

import numpy as np

from index.storage.lexical import LexicalIndex

DOCS = [["网贷", "逾期", "催收"], ["离婚", "冷静期"], ["网贷", "起诉"], ["工资", "拖欠", "仲裁"]]


def test_top_ranks_matching_passages_and_drops_zero_scores():
    index = LexicalIndex.build(DOCS)
    scores, pos = index.top(["网贷", "催收"], k=10)
    assert pos.tolist() == [0, 2] and scores[0] > scores[1] > 0


def test_mask_is_applied_before_the_top_k():
    index = LexicalIndex.build(DOCS)
    mask = np.array([False, False, True, False])
    scores, pos = index.top(["网贷", "催收"], k=1, mask=mask)
    assert pos.tolist() == [2]  # the filter's best, not what survives the global top 1


def test_unknown_tokens_and_empty_index_score_nothing():
    assert LexicalIndex.build(DOCS).top(["不存在"], 5)[1].tolist() == []
    empty = LexicalIndex.build([])
    assert empty.n_docs == 0 and empty.top(["网贷"], 5)[1].tolist() == []


def test_save_and_load_round_trip(tmp_path):
    LexicalIndex.build(DOCS).save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    assert loaded.n_docs == 4
    assert loaded.top(["离婚"], 3)[1].tolist() == [1]
