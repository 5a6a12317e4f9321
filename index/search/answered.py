"""Answered questions: questions someone already matched to their answers, as a retrieval list.

A law firm's questions repeat: on STARD, most held-out lay questions have an
answering statute that already answered another training question. A new
question close to an answered one probably wants the same articles — even
when its words and the statute's share nothing
(被老板开除 and 解除劳动合同). This list ranks articles by the answered
questions nearest to the new one (softmax-weighted over the `neighbors`
nearest, in the base model's question space) and enters hybrid search as one
more reciprocal-rank list (`SearchConfig.w_memory`), its weight learned with
the others on questions the memory never held.

`python -m index train` writes the memory beside the query tower it trains
(`answered_questions.npz`: the labelled questions' base-model vectors and
their article ids); it serves only on the corpus whose labels it holds.

Behind the trained tower the memory lifts the first screen a little, and
recall further down mostly through the tail's own vote past the first
`head_articles` articles (`SearchConfig.w_memory_tail`); behind an earlier,
blunter tower it added more: the better the tower, the less the memory adds.
The neighbour count, temperature and "none of them" cosine were chosen on fold
1 only, where the base model's question space beat the tower's. (Measured:
docs/bench/answered.md, docs/decisions/training-screens.md.)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

MEMORY_FILE = "answered_questions.npz"


@dataclass
class QuestionMemory:
    """Answered questions: unit vectors (base model), question texts and the article ids answering each."""

    vectors: np.ndarray  # (m, dim) float32, unit length
    texts: list[str]
    articles: list[list[str]]
    neighbors: int = 20
    temperature: float = 0.02
    # a "none of them" option in the softmax: neighbours much less similar than this give little weight
    null_cosine: float = 0.93

    def __len__(self) -> int:
        return len(self.texts)

    def article_scores(self, query_vector: np.ndarray, query_text: str = "") -> dict[str, float]:
        """P(article answers | nearest answered questions): softmax(cosine / T) over the neighbours and a
        "none of them" option at `null_cosine`; an article gets the weight of every neighbour it answered."""
        if not len(self.texts):
            return {}
        sims = self.vectors @ np.asarray(query_vector, np.float32)
        n = min(self.neighbors, len(sims))
        top = np.argpartition(-sims, n - 1)[:n]
        peak = max(float(sims[top].max()), self.null_cosine)
        weights = np.exp((sims[top] - peak) / self.temperature)
        weights /= weights.sum() + np.exp((self.null_cosine - peak) / self.temperature)
        scores: dict[str, float] = {}
        for row, w in zip(top.tolist(), weights.tolist(), strict=True):
            for aid in self.articles[row]:
                scores[aid] = scores.get(aid, 0.0) + w
        return scores

    def subset(self, keep: list[int]) -> QuestionMemory:
        return QuestionMemory(self.vectors[keep], [self.texts[i] for i in keep], [self.articles[i] for i in keep],
                              self.neighbors, self.temperature, self.null_cosine)

    def save(self, path: Path) -> None:
        np.savez_compressed(path, vectors=self.vectors.astype(np.float32), texts=np.array(self.texts),
                            articles=np.array(["\t".join(a) for a in self.articles]),
                            params=np.array([self.neighbors, self.temperature, self.null_cosine], np.float64))

    @classmethod
    def load(cls, path: Path) -> QuestionMemory:
        data = np.load(path)
        neighbors, temperature, null_cosine = data["params"].tolist()
        return cls(np.ascontiguousarray(data["vectors"], np.float32), data["texts"].tolist(),
                   [a.split("\t") if a else [] for a in data["articles"].tolist()], int(neighbors), float(temperature),
                   float(null_cosine))


def build_memory(texts: list[str], vectors: np.ndarray, articles: list[list[str]], **params) -> QuestionMemory:
    """A memory of answered questions (`vectors`: the base model's, unit length, one row per text)."""
    return QuestionMemory(np.ascontiguousarray(vectors, np.float32), list(texts), [list(a) for a in articles], **params)


class FoldMemory:
    """Cross-validation's memory: a question never sees its own fold's questions, nor the held-out fold's.

    `article_scores` looks the asking question up (by its cleaned text) and answers from the
    memory of every fold except its own and `held_out` — so weights fitted on the other folds
    see the memory exactly as a held-out question will: without the question and its neighbours
    from the same fold.
    """

    def __init__(self, memory: QuestionMemory, fold_of: dict[str, int], held_out: int | None):
        self.fold_of = fold_of
        folds = sorted(set(fold_of.values()))
        row_fold = np.array([fold_of.get(t, -1) for t in memory.texts])
        self.by_fold = {g: memory.subset(np.nonzero((row_fold != g) & (row_fold != held_out))[0].tolist())
                        for g in folds}
        self.length = len(memory)

    def __len__(self) -> int:
        return self.length

    def article_scores(self, query_vector: np.ndarray, query_text: str = "") -> dict[str, float]:
        g = self.fold_of.get(query_text)
        if g is None:
            raise KeyError(f"question not in any fold: {query_text!r}")
        return self.by_fold[g].article_scores(query_vector, query_text)


def trained_memory(encoder) -> QuestionMemory | None:
    """The answered questions a trained tower brings (its labelled questions), else None.

    Served, like the tower's fusion weights, only where those weights are (`learned_fusion`).
    """
    folder = getattr(encoder, "trained_folder", None)
    if folder is None or not (Path(folder) / MEMORY_FILE).exists():
        return None
    return QuestionMemory.load(Path(folder) / MEMORY_FILE)
