"""The cards a client reads, on the development set (`bench/sets/`): what passage-level work is tuned on.

`eval/` is never tuned on; `bench/sets/passages_dev.jsonl` (80 questions written
for this purpose, with the articles and verbatim sentences that answer them)
and `bench/sets/noanswer_dev.jsonl` (25 questions nothing answers) are.

    python -m bench.answers --index var/index        # prints the passage figures and article R@1 / MRR@10
"""
from __future__ import annotations

import argparse
from pathlib import Path

from bench import ROOT
from index.search.answers import AnswerSet, format_answers, score_answers
from index.search.evaluate import json_lines, load_queries, score_runs

SETS = ROOT / "bench" / "sets"


def load_dev(path: Path = SETS / "passages_dev.jsonl", noanswer: Path = SETS / "noanswer_dev.jsonl"):
    """(AnswerSet, qrels) of the development set: every answering article graded 2."""
    queries: dict[str, str] = {}
    answers: dict[str, dict[str, list[str]]] = {}
    for _, rec in json_lines(path, '{"qid", "question", "answers"}'):
        queries[rec["qid"]] = rec["question"]
        answers[rec["qid"]] = {a["article_id"]: a["sentences"] for a in rec["answers"]}
    qrels = {q: dict.fromkeys(arts, 2) for q, arts in answers.items()}
    return AnswerSet(queries, answers, load_queries(noanswer) if noanswer.exists() else {}), qrels


def measure(searcher, k: int = 5) -> dict:
    answer_set, qrels = load_dev()
    run = {q: searcher.rank_articles(text, k=100) for q, text in answer_set.queries.items()}
    return {"answers": score_answers(searcher, answer_set, k=k), "articles": score_runs(run, qrels)}


def main(argv: list[str] | None = None) -> int:
    from index.search.searcher import Searcher

    p = argparse.ArgumentParser(prog="python -m bench.answers", description=__doc__.splitlines()[0])
    p.add_argument("--index", default=str(ROOT / "var" / "index"))
    p.add_argument("-k", type=int, default=5)
    args = p.parse_args(argv)
    result = measure(Searcher.open(args.index), args.k)
    print(format_answers(result["answers"]))
    a = result["articles"]
    print(f"articles: R@1 {a['recall@1']:.3f}  R@5 {a['recall@5']:.3f}  MRR@10 {a['mrr@10']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
