"""Train the shipped query adapter (index.encoders.adapter): `python -m index.training.adapter`.

What is learned is one matrix W with q' = normalize(q + W q), starting at zero
(the base model), against passage vectors an index already holds: a softmax
over every passage of that index, one term per answering article (the towers'
`every` loss). Labelled questions (STARD's training split) teach lay wording;
the titles and headings of a FAQ index (`--also-index`, the shipped corpus) are
trained in the same steps against that index's passages, so that a FAQ-style
question keeps finding FAQ articles. Cross-validation by question (`--folds`)
reports what it does on questions it never saw, scored as dense-only article
rankings; the final adapter is trained on all questions and written as package
data with its record (what it was trained on, settings, figures).

Never trained on eval/ (that set judges it). Needs torch (the full install).
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from index.encoders.adapter import SHIPPED_ADAPTER, move
from index.search.evaluate import score_runs
from index.storage.dense import load_dense
from index.storage.layout import IndexDir


@dataclass(frozen=True)
class AdapterConfig:
    epochs: int = 10
    learning_rate: float = 1e-3
    temperature: float = 0.015
    batch_size: int = 32
    seed: int = 0


@dataclass
class Corpus:
    """One index's passage vectors and, per passage, its article's number."""

    vectors: np.ndarray
    article_of: np.ndarray
    article_ids: list[str]

    @classmethod
    def of(cls, index: Path) -> tuple[Corpus, sqlite3.Connection]:
        version = IndexDir(index).current()
        dense = load_dense(version / "dense.faiss")
        meta = sqlite3.connect(version / "meta.sqlite")
        arts = [r[0] for r in meta.execute("select article_id from passages order by pos")]
        ids, article_of = np.unique(np.array(arts), return_inverse=True)
        return cls(dense.reconstruct_n(0, dense.ntotal), article_of, ids.tolist()), meta

    def numbers(self, article_ids: list[str]) -> list[int]:
        where = {a: i for i, a in enumerate(self.article_ids)}
        return [where[a] for a in article_ids if a in where]


def titles_and_headings(meta: sqlite3.Connection) -> list[tuple[str, str]]:
    """(text, article id) pairs: each article's title and each distinct section heading."""
    pairs = [(t, a) for a, t in meta.execute("select id, title from articles") if t]
    pairs += sorted({(h, a) for a, h in meta.execute("select article_id, heading from passages") if h})
    return pairs


def _loss(torch, delta, q, corpus_t, answers: list[list[int]], temperature: float):
    """Mean over (question, answering article) of -log P(article), P a softmax over every passage."""
    moved = torch.nn.functional.normalize(q + q @ delta.T, dim=-1)
    logits = moved @ corpus_t["vectors"].T / temperature
    everything = torch.logsumexp(logits, 1)
    terms = [everything[j] - torch.logsumexp(logits[j][corpus_t["article_of"] == a], 0)
             for j, arts in enumerate(answers) for a in arts]
    return torch.stack(terms).mean()


def train_delta(labelled: tuple[np.ndarray, list[list[int]], Corpus],
                extra: tuple[np.ndarray, list[list[int]], Corpus] | None, config: AdapterConfig) -> np.ndarray:
    """W after `config.epochs` passes over the labelled questions; `extra` pairs (titles, headings) are
    trained alongside, a proportional share per step."""
    import torch

    torch.manual_seed(config.seed)
    dim = labelled[0].shape[1]
    delta = torch.zeros(dim, dim, requires_grad=True)
    opt = torch.optim.AdamW([delta], lr=config.learning_rate, weight_decay=0.0)

    def tensors(part):
        vectors, answers, corpus = part
        return torch.tensor(vectors), answers, {"vectors": torch.tensor(corpus.vectors),
                                                "article_of": torch.tensor(corpus.article_of)}

    q, answers, corpus_t = tensors(labelled)
    xq, xanswers, xcorpus_t = tensors(extra) if extra else (None, [], None)
    order, xorder = list(range(len(answers))), list(range(len(xanswers)))
    for epoch in range(config.epochs):
        rng = np.random.default_rng(config.seed + epoch)
        rng.shuffle(order)
        rng.shuffle(xorder)
        steps = max(1, -(-len(order) // config.batch_size))
        share = -(-len(xorder) // steps) if xorder else 0
        for step in range(steps):
            batch = order[step * config.batch_size:(step + 1) * config.batch_size]
            loss = _loss(torch, delta, q[batch], corpus_t, [answers[i] for i in batch], config.temperature)
            xbatch = xorder[step * share:(step + 1) * share]
            if xbatch:
                loss = loss + _loss(torch, delta, xq[xbatch], xcorpus_t, [xanswers[i] for i in xbatch],
                                    config.temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return delta.detach().numpy()


def article_metrics(vectors: np.ndarray, answers: list[list[int]], corpus: Corpus) -> dict[str, float]:
    """Dense-only article ranking (best passage per article), scored like every other run
    (`index.search.evaluate.score_runs`): Recall@10, MRR@10, Recall@100."""
    run: dict[str, list[str]] = {}
    qrels: dict[str, dict[str, int]] = {}
    for start in range(0, len(answers), 64):
        scores = vectors[start:start + 64] @ corpus.vectors.T
        best = np.full((len(scores), len(corpus.article_ids)), -np.inf, dtype=np.float32)
        for row, s in enumerate(scores):
            np.maximum.at(best[row], corpus.article_of, s)
        for j, row in enumerate(np.argsort(-best, axis=1)[:, :100]):
            qid = str(start + j)
            run[qid] = [str(a) for a in row.tolist()]
            qrels[qid] = {str(a): 1 for a in answers[start + j]}
    got = score_runs(run, qrels)
    return {m: round(got[m], 4) for m in ("recall@10", "mrr@10", "recall@100")}


def cross_validate(labelled, extra, config: AdapterConfig, folds: int, keep: Path | None = None,
                   qids: list[str] | None = None) -> dict:
    """Per fold: base vs adapter on the fold's questions, the adapter trained on the other folds
    (each fold's adapter and its test questions kept in `keep`, for scoring the served path)."""
    vectors, answers, corpus = labelled
    order = np.random.default_rng(42).permutation(len(answers))
    out = []
    for f, test in enumerate(np.array_split(order, folds)):
        train = np.setdiff1d(order, test)
        delta = train_delta((vectors[train], [answers[i] for i in train], corpus), extra, config)
        test_answers = [answers[i] for i in test]
        if keep is not None and qids is not None:
            keep.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(keep / f"fold{f}.npz", delta=delta.astype(np.float16),
                                record=np.array(json.dumps({"fold": f, "model_name": ""})),
                                test_qids=np.array([qids[i] for i in test]))
        out.append({"base": article_metrics(vectors[test], test_answers, corpus),
                    "adapter": article_metrics(move(vectors[test], delta), test_answers, corpus)})
        print(f"fold {f}: {out[-1]}", file=sys.stderr, flush=True)
    mean = {side: {m: round(float(np.mean([o[side][m] for o in out])), 4) for m in out[0][side]}
            for side in ("base", "adapter")}
    return {"folds": out, "mean": mean}


def main(argv: list[str] | None = None) -> int:
    from index.encoders.factory import base_embedder

    p = argparse.ArgumentParser(prog="python -m index.training.adapter", description=__doc__.splitlines()[0])
    p.add_argument("--index", required=True, help="the index the labelled questions are answered from")
    p.add_argument("--queries", required=True, help='JSONL {"qid","question"} (never eval/)')
    p.add_argument("--qrels", required=True, help="TSV qid<TAB>article_id")
    p.add_argument("--also-index", help="a FAQ index whose titles and headings are trained alongside")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (0: none)")
    p.add_argument("--out", default=str(SHIPPED_ADAPTER), help="where to write the adapter (.npz)")
    p.add_argument("--folds-out", help="also keep each fold's adapter and test questions here (bench.adapter)")
    args = p.parse_args(argv)
    config, started = AdapterConfig(), time.time()
    encoder = base_embedder()
    corpus, _ = Corpus.of(Path(args.index))
    questions = [json.loads(line) for line in open(args.queries, encoding="utf-8") if line.strip()]
    rels: dict[str, list[str]] = {}
    for line in open(args.qrels, encoding="utf-8"):
        qid, article = line.rstrip("\n").split("\t")[:2]
        rels.setdefault(qid, []).append(article)
    kept = [(str(q["qid"]), q["question"], corpus.numbers(rels.get(str(q["qid"]), []))) for q in questions]
    kept = [(qid, text, arts) for qid, text, arts in kept if arts]
    labelled = (encoder.encode_queries([t for _, t, _ in kept]), [a for _, _, a in kept], corpus)
    extra, extra_count = None, 0
    if args.also_index:
        faq, meta = Corpus.of(Path(args.also_index))
        pairs = titles_and_headings(meta)
        extra = (encoder.encode_queries([t for t, _ in pairs]), [faq.numbers([a]) for _, a in pairs], faq)
        extra_count = len(pairs)
    keep = Path(args.folds_out) if args.folds_out else None
    cv = cross_validate(labelled, extra, config, args.folds, keep, [q for q, _, _ in kept]) if args.folds > 1 else None
    delta = train_delta(labelled, extra, config)
    record = {"name": "lay-question adapter (STARD + FAQ titles)", "model_name": encoder.info().name,
              "trained_on": {"labelled_questions": len(kept), "titles_and_headings": extra_count},
              "config": asdict(config), "cross_validation": cv["mean"] if cv else None,
              "seconds": round(time.time() - started, 1)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, delta=delta.astype(np.float16), record=np.array(json.dumps(record)))
    print(json.dumps({**record, "out": args.out, "bytes": Path(args.out).stat().st_size}, ensure_ascii=False,
                     indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
