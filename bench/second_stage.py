"""Would a learned second stage beat reciprocal-rank fusion? Offline, on a trained tower's out-of-fold vectors.

`python -m bench.second_stage --tower var/bench/towers/stard-shipped [--index var/stard/idx] [--out docs/bench]`

Why this exists: issue 13 asks for a combiner of BM25, dense and other scores
learned on training folds. With a query tower, three lists are at hand for
every question: the tower's dense top N, the base model's dense top N (its
question vector is computed anyway) and BM25's top N. Over the union of the
three, each passage gets six features (tower cosine, base cosine, BM25 score
over the question's best, and the reciprocal rank in each list); combiners are
fitted on four folds' questions and scored on the fifth, for the same 5 folds
the tower's cross-validation used (`split_folds`, seed 0), with each question's
tower vector from the fold tower that never saw it (`.cv_out_of_fold.npz`).

Scoring is simpler than the page's (first appearance of an article in the
passage order; no statute boost, per-article cap or near-duplicate collapse),
so the figures compare combiners with each other, not with the page's.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CANDIDATES = 200
FEATURES = ("tower", "base", "bm25_share", "rr_tower", "rr_base", "rr_bm25")
RRF_K = (20.0, 60.0)
WEIGHTS = (0.0, 0.25, 0.5, 1.0)


@dataclass
class Question:
    """One question's candidate passages, their features and whether each answers it."""

    qid: str
    candidates: np.ndarray  # passage positions
    features: np.ndarray  # (len(candidates), len(FEATURES))
    relevant: np.ndarray  # bool per candidate
    lists: dict[str, np.ndarray]  # "tower" / "base" / "bm25" -> positions, best first


def _top(scores: np.ndarray, n: int, positive: bool = False) -> np.ndarray:
    top = np.argpartition(-scores, n)[:n]
    top = top[np.argsort(-scores[top], kind="stable")]
    return top[scores[top] > 0] if positive else top


def gather(searcher, vectors, tower: dict[str, np.ndarray], queries: dict[str, str],
           qrels: dict[str, dict[str, int]], n: int = CANDIDATES) -> list[Question]:
    """Candidates and features for every question that has a tower vector and relevant articles."""
    lexical = searcher._version.retrieval.lexical
    texts = {q: searcher.question_text(t) for q, t in queries.items() if q in qrels}
    qids = [q for q, t in texts.items() if t in tower]
    base = searcher.embedder.encode_queries([texts[q] for q in qids])
    out = []
    for i, q in enumerate(qids):
        by_tower = vectors.vectors @ tower[texts[q]]
        by_base = vectors.vectors @ base[i]
        bm25 = lexical.scores(searcher.tokenizer.query_tokens(texts[q]))
        lists = {"tower": _top(by_tower, n), "base": _top(by_base, n), "bm25": _top(bm25, n, positive=True)}
        cand = np.unique(np.concatenate(list(lists.values())))
        ranks = []
        for name in ("tower", "base", "bm25"):
            rank = {p: r for r, p in enumerate(lists[name].tolist(), start=1)}
            ranks.append([1.0 / rank[p] if p in rank else 0.0 for p in cand.tolist()])
        features = np.column_stack([by_tower[cand], by_base[cand], bm25[cand] / (bm25.max() + 1e-9), *ranks])
        relevant = np.array([vectors.article_ids[vectors.article_of[p]] in qrels[q] for p in cand.tolist()])
        out.append(Question(q, cand, features, relevant, lists))
    return out


def articles(vectors, question: Question, scores: np.ndarray, k: int = 100) -> list[str]:
    order = question.candidates[np.argsort(-scores, kind="stable")]
    return list(dict.fromkeys(vectors.article_ids[vectors.article_of[p]] for p in order.tolist()))[:k]


def rrf_scores(question: Question, weights: dict[str, float], k: float) -> np.ndarray:
    where = {p: i for i, p in enumerate(question.candidates.tolist())}
    scores = np.zeros(len(question.candidates))
    for name, w in weights.items():
        for r, p in enumerate(question.lists[name].tolist(), start=1):
            scores[where[p]] += w / (k + r)
    return scores


def measure(searcher, vectors, tower: dict[str, np.ndarray], queries, qrels, log=print) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    from index.evaluate import score_runs
    from index.training.crossval import split_folds

    questions = {x.qid: x for x in gather(searcher, vectors, tower, queries, qrels)}
    log(f"second stage: {len(questions)} questions, candidates per question "
        f"{np.mean([len(x.candidates) for x in questions.values()]):.0f}")

    def score(rank: Callable[[Question], np.ndarray], qids: list[str]) -> dict[str, float]:
        return score_runs({q: articles(vectors, questions[q], rank(questions[q])) for q in qids},
                          {q: qrels[q] for q in qids})

    def best_rrf(qids: list[str], lists: tuple[str, ...]) -> tuple[dict[str, float], float]:
        grid = [({"tower": 1.0, **dict(zip(lists, ws, strict=True))}, k)
                for ws in np.array(np.meshgrid(*[WEIGHTS] * len(lists))).T.reshape(-1, len(lists))
                for k in RRF_K]
        return max(grid, key=lambda g: (lambda m: m["recall@10"] + m["mrr@10"])(
            score(lambda x, g=g: rrf_scores(x, g[0], g[1]), qids)))

    folds = split_folds(sorted(questions), 5, 0)
    per_fold: dict[str, list[dict]] = {}
    for f, test in enumerate(folds):
        train = [q for g, qs in enumerate(folds) if g != f for q in qs]
        rows = {"tower dense": score(lambda x: x.features[:, 0], test),
                "base dense": score(lambda x: x.features[:, 1], test)}
        for label, lists in (("RRF tower + BM25, learned", ("bm25",)),
                             ("RRF tower + BM25 + base, learned", ("bm25", "base"))):
            weights, k = best_rrf(train, lists)
            rows[label] = score(lambda x, w=weights, k=k: rrf_scores(x, w, k), test)
        x_train = np.vstack([questions[q].features for q in train])
        y_train = np.concatenate([questions[q].relevant for q in train])
        logistic = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(x_train, y_train)
        rows["logistic regression"] = score(lambda x, m=logistic: m.decision_function(x.features), test)
        trees = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                               random_state=0).fit(x_train, y_train)
        rows["gradient-boosted trees"] = score(lambda x, m=trees: m.predict_proba(x.features)[:, 1], test)
        for label, metrics in rows.items():
            per_fold.setdefault(label, []).append(metrics)
        log(f"second stage: fold {f + 1}/5 done")
    summary = {label: {m: [round(float(np.mean([x[m] for x in ms])), 4), round(float(np.std([x[m] for x in ms])), 4)]
                       for m in ("recall@10", "mrr@10", "recall@100")} for label, ms in per_fold.items()}
    return {"questions": len(questions), "candidates_per_list": CANDIDATES, "features": FEATURES,
            "summary": summary}


def report(r: dict) -> str:
    lines = ["# A learned second stage vs reciprocal-rank fusion (issue 13)", "",
             f"`python -m bench.second_stage`: {r['questions']} STARD training questions, 5 folds by question; "
             f"candidates: the union of the tower's, the base model's and BM25's top {r['candidates_per_list']} "
             "passages; features: " + ", ".join(r["features"]) + ". Simplified article ranking (first "
             "appearance), so compare rows with each other only. Mean ± sd over folds.", "",
             "| combiner | Recall@10 | MRR@10 | Recall@100 |", "|---|---|---|---|"]
    for label, m in r["summary"].items():
        lines.append(f"| {label} | " + " | ".join(f"{m[k][0]:.3f} ± {m[k][1]:.3f}"
                                                  for k in ("recall@10", "mrr@10", "recall@100")) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from bench.data import find_stard
    from bench.indexes import STARD_INDEX
    from index.evaluate import load_qrels, load_queries
    from index.searcher import Searcher
    from index.training.pairs import IndexVectors
    from index.training.run import OOF_FILE

    p = argparse.ArgumentParser(prog="python -m bench.second_stage", description=__doc__.splitlines()[0])
    p.add_argument("--tower", type=Path, required=True, help="a tower trained with cross-validation on STARD")
    p.add_argument("--index", type=Path, default=STARD_INDEX)
    p.add_argument("--out", type=Path, default=Path("docs/bench"))
    args = p.parse_args(argv)
    stard, why = find_stard()
    if stard is None:
        raise SystemExit(why)
    oof = np.load(args.tower / OOF_FILE)
    tower = dict(zip(oof["questions"].tolist(), oof["vectors"], strict=True))
    searcher = Searcher.open(args.index)
    vectors = IndexVectors.load(searcher.layout.current())
    r = measure(searcher, vectors, tower, load_queries(stard.queries), load_qrels(stard.qrels))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "second_stage.json").write_text(json.dumps(r, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (args.out / "second_stage.md").write_text(report(r), encoding="utf-8")
    print(report(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
