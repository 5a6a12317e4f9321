"""Which parts of the encoder may be int8? Quantisation variants against the fp32 graph.

`python -m bench.quantization [--passages 1500] [--questions 600] [--out docs/bench]`

Why this exists: dynamic int8 quantisation of the whole e5 graph cost STARD
dense Recall@10 0.008 against fp32 (issue 14 asks for at most 0.005), and
keeping the early FFN outputs fp32 (export v2) still 0.006. Each variant is
the same exported fp32 graph, quantised dynamically with some MatMuls left in
fp32, or with 8-bit weight blocks (export v3); each is scored on STARD statutes (title + body, as the build embeds
them) and STARD questions by the cosine of its vectors to the fp32 graph's, by
the overlap of each question's top 10 among the sampled statutes, and by speed
(passages/s in length-sorted batches of 32 on every core; one question per run
on one thread). `index.int8.quantize_weights_8bit` is what the export uses; this
script is the measurement behind its block size. Written to quantization.{md,json}.
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.data import find_stard


def _dynamic(fp32_layers):
    """Dynamic int8 (weights per channel, activations per run), these layers' FFN outputs left fp32."""
    def make(fp32: Path, out: Path, layers: int) -> None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        keep = [f"/model/encoder/layer.{i}/output/dense/MatMul" for i in fp32_layers(layers)]
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=keep)
    return make


def _weights_8bit(block: int):
    """`index.int8.quantize_weights_8bit` with this block size."""
    def make(fp32: Path, out: Path, layers: int) -> None:
        from index.int8 import quantize_weights_8bit

        quantize_weights_8bit(fp32, out, block)
    return make


VARIANTS = {
    "dynamic int8, all (export v1)": _dynamic(lambda layers: []),
    "dynamic int8, FFN outputs of the first half in fp32 (export v2)": _dynamic(lambda layers: list(range(layers // 2))),
    "dynamic int8, FFN outputs of all layers in fp32": _dynamic(lambda layers: list(range(layers))),
    "8-bit weights, blocks of 32": _weights_8bit(32),
    "8-bit weights, blocks of 64 (export v3, the default)": _weights_8bit(64),
    "8-bit weights, blocks of 128": _weights_8bit(128),
}


class _Graph:
    def __init__(self, path: Path, tokenizer, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.tokenizer = tokenizer

    def encode(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.ones((len(texts), width), np.int64)  # <pad> is 1 in e5's vocabulary; masked anyway
        mask = np.zeros_like(ids)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        return self.session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]

    def encode_sorted(self, texts: list[str]) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = None
        for start in range(0, len(order), 32):
            chunk = order[start : start + 32]
            vectors = self.encode([texts[i] for i in chunk])
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), np.float32)
            out[chunk] = vectors
        return out


def _top10(q: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.argsort(-(q @ p.T), axis=1)[:, :10]


def measure(n_passages: int = 1500, n_questions: int = 600, seed: int = 0, log=print) -> dict:
    from index.int8 import _export_fp32, shared_tokenizer
    from index.model import Embedder

    stard, why = find_stard()
    if stard is None:
        raise SystemExit(why)
    base = Embedder()
    layers = int(json.loads((base.model_dir / "config.json").read_text(encoding="utf-8"))["num_hidden_layers"])
    rows = [json.loads(line) for line in open(stard.corpus, encoding="utf-8")]
    rng = random.Random(seed)
    passages = [base.passage_prompt + r["title"] + "\n" + r["body"] for r in rng.sample(rows, n_passages)]
    questions = [base.query_prompt + json.loads(line)["question"]
                 for line in open(stard.queries, encoding="utf-8")][:n_questions]
    tokenizer = shared_tokenizer(base.model_dir / "tokenizer.json")
    out = {"model": base.name, "layers": layers, "passages": n_passages, "questions": len(questions), "variants": []}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        _export_fp32(base.model_dir, fp32)
        reference = _Graph(fp32, tokenizer, 2)
        ref_p = reference.encode_sorted(passages)
        ref_q = np.vstack([reference.encode([q]) for q in questions])
        ref_top = _top10(ref_q, ref_p)
        for label, make in VARIANTS.items():
            path = Path(tmp) / "variant.onnx"
            make(fp32, path, layers)
            batch = _Graph(path, tokenizer, 2)
            t = time.perf_counter()
            vp = batch.encode_sorted(passages)
            per_s = len(passages) / (time.perf_counter() - t)
            single = _Graph(path, tokenizer, 1)
            single.encode(questions[:5])
            walls, vq = [], []
            for q in questions:
                t = time.perf_counter()
                vq.append(single.encode([q]))
                walls.append((time.perf_counter() - t) * 1000)
            vq = np.vstack(vq)
            cp, cq = (vp * ref_p).sum(1), (vq * ref_q).sum(1)
            overlap = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(_top10(vq, vp), ref_top, strict=True)]))
            row = {"variant": label, "passages_per_s": per_s,
                   "query_p50_ms": float(np.median(walls)),
                   "passage_cosine_median": float(np.median(cp)), "passage_cosine_min": float(cp.min()),
                   "passage_one_minus_cosine_mean": float(np.mean(1 - cp)),
                   "question_cosine_median": float(np.median(cq)), "question_cosine_min": float(cq.min()),
                   "top10_overlap": overlap}
            out["variants"].append(row)
            log(f"{label}: {per_s:.1f} passages/s, query p50 {row['query_p50_ms']:.2f} ms, 1-cos "
                f"{row['passage_one_minus_cosine_mean']:.2e}, top-10 overlap {overlap:.3f}")
    return out


def report(r: dict) -> str:
    lines = ["# Which parts of the encoder may be int8?", "",
             f"`python -m bench.quantization`: the bundled e5 ({r['layers']} layers) exported once to fp32 ONNX, "
             "then quantised two ways: dynamically (int8 weights per channel, activations per run) with some FFN "
             "output projections left in fp32, and weight-only 8-bit (ONNX Runtime's MatMulNBits at accuracy level "
             f"4: weights in blocks, activations quantised per row and block). {r['passages']} random STARD statutes and {r['questions']} STARD "
             "questions; every figure against the fp32 graph, in one run. Speed: passages/s in length-sorted "
             "batches of 32 on both cores, one question per run on one thread.", "",
             "| variant | passages/s | query p50 ms | passage cosine median / min | mean 1 − cosine "
             "| question cosine median / min | top-10 overlap with fp32 |",
             "|---|---|---|---|---|---|---|"]
    for v in r["variants"]:
        lines.append(f"| {v['variant']} | {v['passages_per_s']:.1f} | {v['query_p50_ms']:.2f} | "
                     f"{v['passage_cosine_median']:.4f} / {v['passage_cosine_min']:.4f} | "
                     f"{v['passage_one_minus_cosine_mean']:.2e} | {v['question_cosine_median']:.4f} / "
                     f"{v['question_cosine_min']:.4f} | {v['top10_overlap']:.3f} |")
    lines += ["", "The GELU outputs that feed the early layers' FFN output projections hold rare, very large "
              "values; quantising such a tensor with one scale per run flattens the rest of it. Keeping those "
              "MatMuls in fp32 removes part of dynamic int8's error; scaling activations per row and block "
              "(8-bit weights) removes nearly all of it, at about two thirds of dynamic int8's speed.",
              ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--passages", type=int, default=1500)
    p.add_argument("--questions", type=int, default=600)
    p.add_argument("--out", type=Path, default=Path("docs/bench"))
    args = p.parse_args(argv)
    r = measure(args.passages, args.questions)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "quantization.json").write_text(json.dumps(r, ensure_ascii=False, indent=1), encoding="utf-8")
    (args.out / "quantization.md").write_text(report(r), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
