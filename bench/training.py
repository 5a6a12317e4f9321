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
from index.search.evaluate import evaluate

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
    from index.search.evaluate import load_qrels, load_queries
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


def _weak_rates(searcher, eval_set, noanswer: list[str]) -> dict[str, float]:
    """Share of no-answer probes the page marks "no good match" (should be high) and of answerable
    questions it marks so (should be low)."""
    probes = [searcher.search(q, k=5).weak for q in noanswer]
    answerable = [searcher.search(q, k=5).weak for q in eval_set.queries.values()]
    return {"noanswer_marked_weak": sum(probes) / len(probes), "answerable_marked_weak": sum(answerable) / len(answerable),
            "probes": len(probes), "answerable": len(answerable)}


def compare(index_dir: Path, eval_set, towers: dict[str, Path], latency_questions: list[str], log,
            modes=("hybrid", "dense"), noanswer: list[str] | None = None) -> dict:
    """Quality (evaluate) and latency of the base model and each tower on one index."""
    from index.encoders.factory import base_embedder, tuned_embedder
    from index.search.searcher import ModelMismatch, Searcher

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
    weak = {label: _weak_rates(s, eval_set, noanswer) for label, s in searchers.items()} if noanswer else {}
    return {"quality": quality, "latency": _latency(searchers, latency_questions), "weak": weak,
            "fusion": {k: {"w_bm25": s.config.w_bm25, "rrf_k": s.config.rrf_k, "w_base": s.config.w_base,
                           "w_memory": s.config.w_memory, "answered_questions": len(s.memory) if s.memory else 0}
                       for k, s in searchers.items()}}


def render(t: dict) -> list[str]:
    """The markdown section for results.md and docs/bench/training.md."""
    out = ["## Trained query towers (issue 13)", ""]
    cv = next((tw["cross_validation"] for tw in (t.get("towers") or {}).values() if tw.get("cross_validation")), None)
    if cv:
        out += ["STARD, 5-fold cross-validation by question (mean ± sd over folds; every figure on questions "
                "the fold's tower never saw; the real page ranking):", ""]
        metrics = ("recall@1", "recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10")
        out += ["| variant | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
        for variant, ms in cv["summary"].items():
            out.append(f"| {variant} | " + " | ".join(f"{ms[m][0]:.3f} ± {ms[m][1]:.3f}" for m in metrics) + " |")
        fusions = ", ".join(f"{f['fusion']['w_bm25']:g}/{f['fusion'].get('w_base', 0):g}/{f['fusion']['rrf_k']:g}"
                            for f in cv["folds"])
        out += ["", f"Learned fusion per fold (BM25 weight / base-model list weight / RRF k; the tower's list "
                f"weighs 1): {fusions}.", ""]
        votes = [f.get("memory_votes") for f in cv["folds"] if f.get("memory_votes")]
        if votes:
            out += ["Answered questions' vote per fold (base hybrid / tower / tower past the first 10 articles): " + ", ".join(
                "/".join(f"{w:g}" for w in v.values()) for v in votes) + ".", ""]
    for name, tower in (t.get("towers") or {}).items():
        secs = tower.get("seconds", {})
        wall = f"wall {tower['wall_seconds'] / 60:.1f} min, " if tower.get("wall_seconds") else ""
        out.append(f"- tower `{name}`: " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in secs.items())
                   + f" ({wall}2 cores)")
    out.append("")
    for set_name, c in (t.get("compare") or {}).items():
        out += [f"### {set_name}", "", "| variant | mode | R@5 | R@10 | R@100 | MRR@10 | search p50 / p99 ms |",
                "|---|---|---|---|---|---|---|"]
        for label, modes in c["quality"].items():
            lat = c["latency"].get(label, {})
            for mode, r in modes.items():
                out.append(f"| {label} | {mode} | {r['recall@5']:.3f} | {r['recall@10']:.3f} | {r['recall@100']:.3f} "
                           f"| {r['mrr@10']:.3f} | {lat.get('p50', 0):.1f} / {lat.get('p99', 0):.1f} |")
        if c.get("weak"):
            out += ["", "No-answer handling (share marked \"没有找到很贴切的答案\"): " + "; ".join(
                f"{label}: probes {w['noanswer_marked_weak']:.2f}, answerable {w['answerable_marked_weak']:.2f}"
                for label, w in c["weak"].items())]
        out.append("")
    return out


def _int8_agreement(tower: Path, questions: list[str]) -> dict:
    """Cross-validation scores the fp32 tower; serving runs its int8 export: how close are they?"""
    import numpy as np

    from index.encoders.int8 import EXPORT_VERSION, int8_embedder
    from index.encoders.model import Embedder

    fp32 = Embedder(tower)
    int8 = int8_embedder(fp32, tower / f".int8-{EXPORT_VERSION}")  # the folder the served tower uses
    served = np.concatenate([int8.encode_queries([q]) for q in questions])  # one per search, as served
    cos = np.sum(fp32.encode_queries(questions) * served, axis=1)
    return {"questions": len(questions), "median_cosine": float(np.median(cos)), "min_cosine": float(cos.min())}


def measure_existing(tower: Path, shipped_dir: Path, stard_idx: Path | None, log) -> dict:
    """Base vs an already trained tower (its record holds the cross-validation): quality and latency."""
    import json

    from bench import data
    from index.encoders.records import read_record
    from index.search.evaluate import load_eval_set

    record = read_record(tower)
    out: dict = {"towers": {tower.name: {"model": {"path": str(tower), "name": record["name"]},
                                         "cross_validation": record.get("cross_validation"),
                                         "seconds": {"final_training": record["training"]["seconds"]},
                                         "pairs": record["training"]["pairs"], "fusion": record.get("fusion")}},
                 "compare": {}}
    files = data.shipped_eval_files()
    shipped_q, _ = data.shipped_questions()
    if files:
        log("shipped relevance set: base vs tower")
        out["compare"]["shipped relevance set (never trained on)"] = compare(
            shipped_dir, load_eval_set(*files), {f"tower {tower.name}": tower}, shipped_q[:210], log,
            noanswer=data.read_questions(Path(__file__).resolve().parent.parent / "eval" / "noanswer.jsonl"))
    stard, _ = data.find_stard()
    if stard is not None and stard_idx is not None:
        log("STARD: latency of base vs tower (its quality is the cross-validation above)")
        from index.encoders.factory import base_embedder, tuned_embedder
        from index.search.searcher import Searcher

        questions = data.read_questions(stard.queries)[:410]
        tuned = tuned_embedder(str(tower))
        searchers = {"base model": Searcher.open(stard_idx, embedder=base_embedder()),
                     f"tower {tower.name}": Searcher.open(stard_idx, embedder=tuned)}
        out["stard_latency"] = _latency(searchers, questions)
        out["int8_vs_fp32_tower"] = _int8_agreement(tower, questions[:200])
    log(json.dumps(out.get("stard_latency", {}), indent=1)[:400])
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.training --tower var/bench/towers/stard-shipped`: write docs/bench/training.{json,md}."""
    import argparse
    import json
    import sys

    from bench.indexes import SHIPPED_INDEX, STARD_INDEX

    parser = argparse.ArgumentParser(prog="python -m bench.training", description=main.__doc__)
    parser.add_argument("--tower", required=True, help="a tower folder from `python -m index train`")
    parser.add_argument("--out", default="docs/bench", help="folder for training.json and training.md")
    args = parser.parse_args(argv)
    log = lambda m: print(f"[bench.training] {m}", file=sys.stderr, flush=True)  # noqa: E731
    result = measure_existing(Path(args.tower), SHIPPED_INDEX, STARD_INDEX if STARD_INDEX.exists() else None, log)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "training.json").write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    lines = render(result)
    if result.get("stard_latency"):
        lines += ["### STARD, 55,502 statutes: search latency (k=5, interleaved, same questions)", "",
                  "| variant | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|"]
        lines += [f"| {k} | {v['p50']:.1f} | {v['p95']:.1f} | {v['p99']:.1f} |" for k, v in result["stard_latency"].items()]
    if result.get("int8_vs_fp32_tower"):
        a = result["int8_vs_fp32_tower"]
        lines += ["", f"The served int8 export of the tower vs the fp32 tower that cross-validation scored, "
                  f"{a['questions']} STARD questions: median cosine {a['median_cosine']:.4f}, "
                  f"min {a['min_cosine']:.4f}."]
    (out / "training.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    log(f"wrote {out / 'training.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
