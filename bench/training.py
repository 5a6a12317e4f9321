"""Trained query towers against the base model, in one run: cross-validated STARD, the shipped set, latency.

STARD: `index.training.run.train` with 5-fold cross-validation over its
training questions (every figure on questions the fold's tower never saw),
then the final tower on all of them. Shipped corpus: a tower trained only on
the index's own titles and headings (no labels; the eval questions are never
used), scored on the shipped relevance set. Both towers are also scored on
the *other* corpus's questions where the passage model matches — the
"questions from another source" check. Latency: `Searcher.search(q, k=5)`
per variant, interleaved, same questions.
"""
from __future__ import annotations

import time
from pathlib import Path

from bench.stats import summary
from index.evaluate import evaluate

TOWERS = Path(__file__).resolve().parent.parent / "var" / "bench" / "towers"


def _latency(searchers: dict[str, object], questions: list[str], warmup: int = 10) -> dict[str, dict]:
    """Wall ms of search(q, k=5) per variant, taking turns question by question."""
    names = list(searchers)
    for q in questions[:warmup]:
        for n in names:
            searchers[n].search(q, k=5)
    walls: dict[str, list[float]] = {n: [] for n in names}
    for i, q in enumerate(questions[warmup:]):
        for j in range(len(names)):
            n = names[(i + j) % len(names)]
            t = time.perf_counter()
            searchers[n].search(q, k=5)
            walls[n].append((time.perf_counter() - t) * 1000)
    return {n: summary(w) for n, w in walls.items()}


def train_towers(stard_searcher, stard, shipped_searcher, log, folds: int = 5) -> dict:
    """Train (and cross-validate) the STARD tower and the shipped corpus's mined-only tower."""
    from index.evaluate import load_qrels, load_queries
    from index.training.run import train

    out: dict = {}
    if stard_searcher is not None:
        t = time.perf_counter()
        result = train(stard_searcher, load_queries(stard.queries), load_qrels(stard.qrels), folds=folds,
                       name="stard", out_root=TOWERS, progress=lambda m: log(f"  stard: {m}"))
        out["stard"] = {**result.to_dict(), "wall_seconds": round(time.perf_counter() - t, 1)}
    t = time.perf_counter()
    result = train(shipped_searcher, None, None, folds=0, name="shipped", out_root=TOWERS,
                   progress=lambda m: log(f"  shipped: {m}"))
    out["shipped"] = {**result.to_dict(), "wall_seconds": round(time.perf_counter() - t, 1)}
    return out


def compare(index_dir: Path, eval_set, towers: dict[str, Path], latency_questions: list[str], log,
            modes=("hybrid", "dense")) -> dict:
    """Quality (evaluate) and latency of the base model and each tower on one index."""
    from index.model import base_embedder, tuned_embedder
    from index.searcher import ModelMismatch, Searcher

    searchers = {"base model": Searcher.open(index_dir, embedder=base_embedder())}
    for label, folder in towers.items():
        try:
            searchers[label] = Searcher.open(index_dir, embedder=tuned_embedder(str(folder)))
        except (ModelMismatch, RuntimeError) as exc:
            log(f"  {label}: not comparable on {index_dir} ({exc})")
    quality = {}
    for label, s in searchers.items():
        quality[label] = evaluate(s, eval_set, modes=modes)
        log(f"  {label}: " + ", ".join(f"{m} R@10 {r['recall@10']:.3f} MRR@10 {r['mrr@10']:.3f}"
                                       for m, r in quality[label].items()))
    return {"quality": quality, "latency": _latency(searchers, latency_questions),
            "fusion": {k: {"w_bm25": s.config.w_bm25, "rrf_k": s.config.rrf_k} for k, s in searchers.items()}}


def render(t: dict) -> list[str]:
    """The markdown section for results.md and docs/bench/training.md."""
    out = ["## Trained query towers (issue 13)", ""]
    cv = (t.get("towers", {}).get("stard") or {}).get("cross_validation")
    if cv:
        out += ["STARD, 5-fold cross-validation by question (mean ± sd over folds; every figure on questions "
                "the fold's tower never saw; the real page ranking):", ""]
        metrics = ("recall@1", "recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10")
        out += ["| variant | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
        for variant, ms in cv["summary"].items():
            out.append(f"| {variant} | " + " | ".join(f"{ms[m][0]:.3f} ± {ms[m][1]:.3f}" for m in metrics) + " |")
        fusions = ", ".join(f"{f['fusion']['w_bm25']:g}/{f['fusion']['rrf_k']:g}" for f in cv["folds"])
        out += ["", f"Learned fusion per fold (BM25 weight / RRF k): {fusions}.", ""]
    for name, tower in (t.get("towers") or {}).items():
        secs = tower.get("seconds", {})
        out.append(f"- tower `{name}`: " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in secs.items())
                   + f" (wall {tower.get('wall_seconds', 0) / 60:.1f} min, 2 cores)")
    out.append("")
    for set_name, c in (t.get("compare") or {}).items():
        out += [f"### {set_name}", "", "| variant | mode | R@5 | R@10 | R@100 | MRR@10 | search p50 / p99 ms |",
                "|---|---|---|---|---|---|---|"]
        for label, modes in c["quality"].items():
            lat = c["latency"].get(label, {})
            for mode, r in modes.items():
                out.append(f"| {label} | {mode} | {r['recall@5']:.3f} | {r['recall@10']:.3f} | {r['recall@100']:.3f} "
                           f"| {r['mrr@10']:.3f} | {lat.get('p50', 0):.1f} / {lat.get('p99', 0):.1f} |")
        out.append("")
    return out
