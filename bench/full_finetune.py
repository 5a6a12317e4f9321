"""Full fine-tuning of both sides (the issue's first method) against the query tower, on one STARD fold.

`python -m bench.full_finetune --tower var/bench/towers/stard-t015 [--fold 0] [--epochs 2] [--out docs/bench]`

Why this exists: the query tower keeps the index's passage vectors, so it
never has to re-embed the corpus; what it cannot do is move a passage. The
STARD paper's best retriever fine-tunes both sides. This screen measures that
on one fold: the bundled e5 weights trained end to end on the fold's training
questions (in-batch negatives plus one hard negative per pair, mined with the
base model from other articles; contrastive loss at a fixed temperature, pairs
of the same question masked out of each other's negatives), every passage of
the 55k-statute index re-embedded with the result, then the fold's held-out
questions ranked. The tower's figures come from its out-of-fold vectors
(`.cv_out_of_fold.npz`, same folds: `split_folds`, seed 0), the base model's
from the index's own vectors. All three are dense only, an article scored by
its best passage, so they compare methods with each other, not with the page.

The cost is the point as much as the figures: an honest cross-validated
figure needs one re-embedding per fold (the passages must not have seen the
fold's questions) and one more for the served index.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parent.parent / "docs" / "bench"


def hard_negatives(vectors, question_vector: np.ndarray, positives: np.ndarray, n: int = 20) -> list[int]:
    """The base model's highest-ranked passages of articles that do not answer the question."""
    answering = set(vectors.article_of[positives].tolist())
    top = np.argsort(-(vectors.vectors @ question_vector))[: 3 * n + len(positives)]
    return [int(p) for p in top if int(vectors.article_of[p]) not in answering][:n]


def fine_tune(model, examples: list[tuple[str, int, list[int]]], passages: list[str], epochs: int,
              learning_rate: float, temperature: float, batch_size: int, seed: int, log,
              freeze_embeddings: bool = True) -> float:
    """Contrastive training of the model (query and passage share weights, as in e5); seconds.

    The token table (250k x 384, two thirds of the weights) stays frozen by default, as in the query
    tower: a dense gradient and two AdamW moments for it on every step cost time and memory and the
    tower's screening found nothing to gain from training it."""
    import resource

    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    steps = epochs * math.ceil(len(examples) / batch_size)
    warmup = max(1, int(0.1 * steps))
    if freeze_embeddings:
        for name, parameter in model.named_parameters():
            if "word_embeddings" in name:
                parameter.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: min((i + 1) / warmup, max(0.0, (steps - i) / max(steps - warmup, 1))))

    def encode(texts: list[str]):
        features = model.tokenize(texts)
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    model.train()
    started, step = time.perf_counter(), 0
    order = list(examples)
    for _epoch in range(epochs):
        rng.shuffle(order)
        for b in range(0, len(order), batch_size):
            batch = order[b:b + batch_size]
            queries = encode([f"query: {q}" for q, _, _ in batch])
            docs = [p for _, p, _ in batch] + [rng.choice(negs) for _, _, negs in batch]
            logits = queries @ encode([f"passage: {passages[p]}" for p in docs]).T / temperature
            # another positive of the same question is not a negative
            same = torch.tensor([[j < len(batch) and j != i and batch[j][0] == batch[i][0] for j in range(len(docs))]
                                 for i in range(len(batch))])
            loss = torch.nn.functional.cross_entropy(logits.masked_fill(same, -1e4), torch.arange(len(batch)))
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            if step % 10 == 0 or step == steps:
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
                log(f"step {step}/{steps} loss {loss.item():.3f} ({time.perf_counter() - started:.0f} s, "
                    f"peak RSS {peak:.1f} GiB)")
    model.eval()
    return time.perf_counter() - started


def article_metrics(questions: np.ndarray, passages: np.ndarray, article_of: np.ndarray, n_articles: int,
                    keys: list[str], qrels: dict[str, dict[str, int]], article_ids: list[str]) -> dict[str, float]:
    """Dense only: an article scored by its best passage; R@10 / MRR@10 / R@100 via index.evaluate."""
    from index.evaluate import score_runs

    run = {}
    for key, vector in zip(keys, questions, strict=True):
        best = np.full(n_articles, -np.inf, np.float32)
        np.maximum.at(best, article_of, passages @ vector)
        top = np.argpartition(-best, 100)[:100]
        run[key] = [article_ids[a] for a in top[np.argsort(-best[top], kind="stable")]]
    metrics = score_runs(run, {k: qrels[k] for k in keys})
    return {m: round(metrics[m], 4) for m in ("recall@10", "mrr@10", "recall@100")}


def main(argv: list[str] | None = None) -> int:
    """Screen full fine-tuning (both sides, corpus re-embedded) against the query tower on one STARD fold."""
    import torch
    from sentence_transformers import SentenceTransformer

    from bench.answered import cross_validation_from_tower
    from bench.data import find_stard
    from bench.indexes import STARD_INDEX
    from index.build import embed_text
    from index.evaluate import load_qrels, load_queries
    from index.searcher import Searcher
    from index.store import MetaStore
    from index.training.artifact import read_record
    from index.training.pairs import IndexVectors, labelled_pairs

    parser = argparse.ArgumentParser(prog="python -m bench.full_finetune", description=main.__doc__)
    parser.add_argument("--tower", required=True, help="a tower folder from `index train` (its folds and vectors)")
    parser.add_argument("--index", default=str(STARD_INDEX), help="the STARD index the tower was trained against")
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--temperature", type=float, default=0.02)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-seq-length", type=int, default=128,
                        help="tokens per text while training (activations grow with its square: 256 needed 19 GiB)")
    parser.add_argument("--encode-max-seq-length", type=int, default=512,
                        help="tokens per passage when re-embedding (the index's own limit)")
    parser.add_argument("--out", default=str(DOCS / "full_finetune"), help="report path without suffix")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    stard, why = find_stard()
    if stard is None:
        log(why)
        return 2
    tower = Path(args.tower)
    queries, qrels = load_queries(stard.queries), load_qrels(stard.qrels)
    searcher = Searcher.open(args.index)
    cv, questions = cross_validation_from_tower(searcher, tower, queries, qrels)
    version = searcher.layout.current()
    vectors = IndexVectors.load(version)
    pairs = labelled_pairs(vectors, queries, qrels)
    held = set(cv.splits[args.fold])
    store = MetaStore(version / "meta.sqlite", readonly=True)
    try:
        rows = store.db.execute("SELECT p.pos, a.title, p.text FROM passages p JOIN articles a "
                                "ON a.id = p.article_id ORDER BY p.pos").fetchall()
    finally:
        store.close()
    passages = [embed_text(title, text) for _pos, title, text in rows]
    examples = []
    for p in pairs:
        if p.key in held:
            continue
        negatives = hard_negatives(vectors, cv.base_vectors[questions[p.key]], p.positives)
        examples += [(questions[p.key], int(pos), negatives) for pos in p.positives.tolist()]
    log(f"fold {args.fold}: {len(pairs) - len(held)} training questions, {len(examples)} pairs; "
        f"{len(held)} held out; {len(passages)} passages")

    model = SentenceTransformer(read_record(tower)["base_model_dir"], device="cpu")
    model.max_seq_length = args.max_seq_length
    train_seconds = fine_tune(model, examples, passages, args.epochs, args.lr, args.temperature, args.batch_size,
                              seed=0, log=log)
    log(f"trained in {train_seconds / 60:.1f} min; re-embedding {len(passages)} passages")
    model.max_seq_length = args.encode_max_seq_length
    started = time.perf_counter()
    with torch.inference_mode():
        new_passages = model.encode([f"passage: {t}" for t in passages], batch_size=64, normalize_embeddings=True,
                                    convert_to_numpy=True).astype(np.float32)
        test = [p.key for p in pairs if p.key in held]
        new_questions = model.encode([f"query: {questions[k]}" for k in test], normalize_embeddings=True,
                                     convert_to_numpy=True).astype(np.float32)
    embed_seconds = time.perf_counter() - started
    log(f"re-embedded in {embed_seconds / 60:.1f} min")

    def score(qv: np.ndarray, pv: np.ndarray) -> dict[str, float]:
        return article_metrics(qv, pv, vectors.article_of, len(vectors.article_ids), test, qrels,
                               vectors.article_ids)

    results = {
        "base model (index vectors)": score(np.stack([cv.base_vectors[questions[k]] for k in test]), vectors.vectors),
        "query tower (index vectors, out of fold)": score(np.stack([cv.oof_vectors[questions[k]] for k in test]),
                                                          vectors.vectors),
        "full fine-tune (both sides, corpus re-embedded)": score(new_questions, new_passages),
    }
    report = {"fold": args.fold, "held_out_questions": len(test), "training_pairs": len(examples),
              "passages": len(passages), "config": {k: v for k, v in vars(args).items() if k not in ("out",)},
              "train_minutes": round(train_seconds / 60, 1), "embed_minutes": round(embed_seconds / 60, 1),
              "results": results}
    lines = [f"# Full fine-tuning vs the query tower (STARD fold {args.fold})", "",
             f"`python -m bench.full_finetune --tower {args.tower} --fold {args.fold} --epochs {args.epochs}` — "
             f"{len(test)} held-out questions, {len(examples)} training pairs, {len(passages)} passages re-embedded. "
             "Dense only, an article scored by its best passage.", "",
             "| method | Recall@10 | MRR@10 | Recall@100 |", "|---|---|---|---|"]
    lines += [f"| {name} | {m['recall@10']:.3f} | {m['mrr@10']:.3f} | {m['recall@100']:.3f} |"
              for name, m in results.items()]
    lines += ["", f"Cost on this machine: training {train_seconds / 60:.1f} min, re-embedding the corpus "
              f"{embed_seconds / 60:.1f} min (fp32). Cross-validated honestly, every fold needs its own "
              "re-embedding, and the served index one more."]
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    log("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
