"""The tower's loss on hand-made vectors: what "any" and "every" reward (no model needed)."""
from __future__ import annotations

import random

import numpy as np
import pytest

from index.training.pairs import IndexVectors, Pair, labelled_pairs
from index.training.tower import TrainConfig, _loss

torch = pytest.importorskip("torch")


def _passages() -> torch.Tensor:
    """Four unit passages: 0 and 1 belong to article A, 2 to article B, 3 to an unrelated article."""
    return torch.nn.functional.normalize(torch.tensor(
        [[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), dim=-1)


def _question_answered_by_a_and_b() -> Pair:
    return Pair("q", np.array([0, 1, 2]), "labelled", "q1", answers=np.array([0, 0, 1]))


def _loss_of(query: list[float], pair: Pair, loss: str) -> float:
    qv = torch.nn.functional.normalize(torch.tensor([query]), dim=-1)
    return float(_loss(torch, qv, _passages(), [pair], TrainConfig(loss=loss, temperature=0.1), random.Random(0)))


def test_any_is_satisfied_by_one_answer_every_wants_both():
    pair = _question_answered_by_a_and_b()
    on_a, between = [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]
    # "any": sitting on article A alone is (nearly) as good as it gets
    assert _loss_of(on_a, pair, "any") < _loss_of(between, pair, "any") + 0.05
    # "every": B is an answer too, so a question vector between A and B is clearly better
    assert _loss_of(between, pair, "every") < _loss_of(on_a, pair, "every") - 1.0


def test_every_treats_an_articles_passages_as_one_answer():
    """One term per answering article (log-sum over its passages), not one per passage: a long article
    must not count twice."""
    pair = _question_answered_by_a_and_b()
    query = [0.6, 0.8, 0.0]
    s = (_passages() @ torch.nn.functional.normalize(torch.tensor(query), dim=0)) / 0.1
    every = torch.logsumexp(s, 0)
    expected = ((every - torch.logsumexp(s[[0, 1]], 0)) + (every - s[2])) / 2
    per_passage = ((every - s[0]) + (every - s[1]) + (every - s[2])) / 3
    assert _loss_of(query, pair, "every") == pytest.approx(float(expected), abs=1e-5)
    assert abs(float(expected) - float(per_passage)) > 0.1


def test_without_article_tags_every_equals_any():
    """Mined pairs (a title -> its own article) carry no tags: one article, so both losses agree."""
    pair = Pair("title", np.array([0, 1]), "title", "A")
    for query in ([1.0, 0.0, 0.0], [0.2, 0.9, 0.1]):
        assert _loss_of(query, pair, "every") == pytest.approx(_loss_of(query, pair, "any"))


def test_labelled_pairs_tag_each_passage_with_its_article():
    vectors = IndexVectors(path=None, vectors=np.zeros((5, 3), np.float32),
                           article_of=np.array([0, 0, 1, 2, 2]), article_ids=["a", "b", "c"], model={})
    (pair,) = labelled_pairs(vectors, {"q": "问题"}, {"q": {"c": 2, "a": 1, "b": 0}})
    assert pair.positives.tolist() == [0, 1, 3, 4]
    groups = [pair.positives[g].tolist() for g in pair.answer_groups()]
    assert sorted(groups) == [[0, 1], [3, 4]]


def test_an_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="unknown loss"):
        TrainConfig(loss="all")
