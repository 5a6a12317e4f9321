"""Does the int8 encoder hold quality? The same corpus indexed twice, int8 and fp32, evaluated alike.

Both indexes are built with the project's own `build_index` (an fp32 twin of
the bench index beside it, sharing nothing but the sources), searched with the
same fusion, and scored on the same questions. Reported: each mode's
Recall@10 / MRR@10 for both encoders and the int8 - fp32 difference.
"""
from __future__ import annotations

from pathlib import Path

MODES = ("hybrid", "dense")


def measure(name: str, sources: list[str], int8_dir: Path, fp32_dir: Path, eval_set, log) -> dict:
    from index.build.pipeline import BuildOptions, build_index
    from index.encoders.int8 import int8_embedder
    from index.encoders.model import Embedder
    from index.search.evaluate import evaluate
    from index.search.searcher import Searcher
    from index.text.tokenize import default_tokenizer

    fp32 = Embedder()
    encoders = {"int8": int8_embedder(fp32), "fp32": fp32}
    out: dict = {"set": name, "questions": len(eval_set.queries), "encoders": {}}
    for label, embedder in encoders.items():
        path = int8_dir if label == "int8" else fp32_dir
        report = build_index(sources, path, BuildOptions(progress=False), embedder, default_tokenizer())
        if report.exit_code != 0:
            raise RuntimeError(f"building {path} failed: {report.message}")
        log(f"encoder quality: {name} {label} index {report.status} ({report.seconds:.0f}s, "
            f"{report.passages_embedded} passages embedded)")
        searcher = Searcher.open(path, embedder=embedder)
        res = evaluate(searcher, eval_set, modes=MODES)
        out["encoders"][label] = {m: {k: res[m][k] for k in ("recall@5", "recall@10", "recall@100", "mrr@10")}
                                  for m in MODES}
        searcher.close()
    out["difference"] = {m: {k: out["encoders"]["int8"][m][k] - out["encoders"]["fp32"][m][k]
                             for k in ("recall@10", "mrr@10")} for m in MODES}
    log(f"encoder quality: {name}: hybrid R@10 int8 {out['encoders']['int8']['hybrid']['recall@10']:.3f} vs "
        f"fp32 {out['encoders']['fp32']['hybrid']['recall@10']:.3f}")
    return out
