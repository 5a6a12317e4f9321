"""An int8 encoder: the configured SentenceTransformer, exported to ONNX and quantised, on ONNX Runtime.

Why: the fp32 torch path is slow per query and per passage on a small CPU;
int8 matrix multiplies (VNNI on this CPU) do the same work in a fraction of
the time, with vectors nearly identical to the fp32 ones (weights in 8-bit
blocks: `quantize_weights_8bit`; measured: docs/decisions/quantization-screens.md). The export is built locally from whatever model folder is
configured (the bundled e5, a trained one, LAWFAQ_MODEL): nothing is downloaded
and nothing is committed. sentence-transformers' own ONNX backend needs
`optimum-onnx`, which requires transformers < 4.58; this module needs only
`onnx` and `onnxruntime` (and `onnx-ir`, which its weight quantiser imports).

The exported graph holds the transformer, the pooling and the normalisation
of the SentenceTransformer folder, so encoding is tokenize -> one session run.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from index.encoders.base import ModelInfo, ModelUnavailable
from index.encoders.model import SERVING_ONLY, cache_dir, configured_threads
from index.settings import settings

log = logging.getLogger(__name__)

EXPORT_VERSION = "int8-onnx-v3"  # bump when the export or quantisation changes (another graph = another model)
OPSET = 17
BLOCK = 64  # weights per quantisation block (`quantize_weights_8bit`)
MAX_TOKENS = 512


class ExportError(ModelUnavailable):
    """The model folder cannot be exported to int8 ONNX (the message says why)."""


def _pooling(model_dir: Path) -> tuple[str, bool]:
    """('mean' | 'cls', normalize) from the SentenceTransformer folder's modules."""
    modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
    kinds = {m["type"].rsplit(".", 1)[-1]: m.get("path", "") for m in modules}
    mode = "mean"
    if "Pooling" in kinds:
        cfg = json.loads((model_dir / kinds["Pooling"] / "config.json").read_text(encoding="utf-8"))
        if cfg.get("pooling_mode_cls_token"):
            mode = "cls"
        elif not cfg.get("pooling_mode_mean_tokens", True):
            raise ExportError(f"{model_dir}: only mean or CLS pooling can be exported, not {cfg}")
    return mode, "Normalize" in kinds


def _wrapper(model_dir: Path):
    import torch
    from transformers import AutoModel

    mode, normalize = _pooling(model_dir)

    class Pooled(torch.nn.Module):
        """transformer -> pooling -> (normalize), the SentenceTransformer pipeline as one graph."""

        def __init__(self):
            super().__init__()
            # eager attention: its additive padding mask traces as plain graph ops for any batch
            self.model = AutoModel.from_pretrained(str(model_dir), local_files_only=True,
                                                   attn_implementation="eager")

        def forward(self, input_ids, attention_mask):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            if mode == "cls":
                pooled = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            if normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            return pooled

    return Pooled().eval()


def _export_fp32(model_dir: Path, path: Path) -> None:
    """Trace `model_dir` (transformer + pooling + normalisation) to an fp32 ONNX graph at `path`."""
    import torch

    wrapper = _wrapper(model_dir)
    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    mask[1, 9:] = 0  # a padded row: an all-ones dummy let a tower's trace drop the mask (v1)
    with torch.no_grad():
        torch.onnx.export(
            wrapper, (ids, mask), str(path), input_names=["input_ids", "attention_mask"],
            output_names=["embedding"], opset_version=OPSET, dynamo=False,
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          "embedding": {0: "batch"}},
        )


def quantize_weights_8bit(fp32_path: Path, out_path: Path, block: int = BLOCK) -> None:
    """Every MatMul weight of the graph in 8 bits, per block of `block` input rows (ONNX Runtime's
    MatMulNBits at accuracy level 4: int8 products on VNNI, activations quantised per row and block).

    Why not dynamic int8 (export v1, v2): it scales each activation tensor by its
    single largest value, and a few outlier features of e5 flatten the rest; v2
    (the first half of the FFN outputs kept fp32) still moved STARD dense-only
    Recall@10 further from fp32 than issue 14 allows, and the passage side was
    most of it. 8-bit blocks are slower than dynamic int8 but far closer to
    fp32: blocks of 64 keep the build well above fp32 speed with a small
    fraction of v2's error; 32 is slower for little gain, 128 gains little speed
    for more error (measured: docs/decisions/quantization-screens.md).
    """
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    config = DefaultWeightOnlyQuantConfig(block_size=block, is_symmetric=True, accuracy_level=4, bits=8,
                                          op_types_to_quantize=("MatMul",))
    quantizer = MatMulNBitsQuantizer(onnx.load(str(fp32_path)), bits=8, block_size=block, is_symmetric=True,
                                     accuracy_level=4, algo_config=config, op_types_to_quantize=("MatMul",))
    quantizer.process()
    quantizer.model.save_model_to_file(str(out_path), use_external_data_format=False)


@contextlib.contextmanager
def quiet_export():
    """Silence what the export's libraries print and a user cannot act on, unless `-v` (debug) is on:
    ONNX Runtime's quantiser logs one INFO line per MatMul it skips (over a thousand), torch's tracer
    warns that a traced condition "might be incorrect" (checked: the export is compared with the
    model), and transformers draws a weight-loading progress bar. A first build then prints a few lines."""
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    ort = [logging.getLogger(name) for name in ("onnxruntime", "onnxruntime.quantization",
                                                 "onnxruntime.quantization.matmul_nbits_quantizer")]
    levels = [lg.level for lg in ort]
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        transformers_logging = None
    try:
        for lg in ort:
            lg.setLevel(logging.WARNING)
        if transformers_logging is not None:
            transformers_logging.disable_progress_bar()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(ort, levels, strict=True):
            lg.setLevel(level)
        if transformers_logging is not None:
            transformers_logging.enable_progress_bar()


def export_int8(model_dir: Path, out_dir: Path) -> Path:
    """Export `model_dir` to `out_dir/model_int8.onnx` (+ its tokenizer), atomically and once."""
    if (out_dir / "model_int8.onnx").exists():
        return out_dir  # the common case: no torch import, a serving process never loads it
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out_dir.parent / f".{out_dir.name}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second process waits for the first export
        if (out_dir / "model_int8.onnx").exists():
            return out_dir
        tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir.parent))
        try:
            log.info("exporting %s to int8 ONNX (once; about a minute)", model_dir)
            with quiet_export():
                _export_fp32(model_dir, tmp / "model_fp32.onnx")
                quantize_weights_8bit(tmp / "model_fp32.onnx", tmp / "model_int8.onnx")
            (tmp / "model_fp32.onnx").unlink()
            with contextlib.suppress(FileNotFoundError):
                (tmp / "model_fp32.onnx.data").unlink()
            shutil.copy(model_dir / "tokenizer.json", tmp / "tokenizer.json")
            os.replace(tmp, out_dir)
        except ImportError as exc:  # a serving-only install (requirements-serve.txt) has no torch
            raise ExportError(SERVING_ONLY.format(what=f"the int8 export of {model_dir}",
                                                  missing=exc.name or exc)) from exc
        except Exception as exc:
            raise ExportError(f"cannot export {model_dir} to int8 ONNX: {exc}") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def file_checksum(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def cached_file_checksum(path: Path) -> str:
    """`file_checksum`, remembered beside the file by size and mtime (v3's graph holds the 250k x 384
    word table in fp32: hashing it at every process start is a noticeable delay; measured:
    docs/decisions/quantization-screens.md)."""
    stat = path.stat()
    stamp = [stat.st_size, stat.st_mtime_ns]
    sidecar = path.parent / f".{path.name}.checksum.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        cached = json.loads(sidecar.read_text())
        if cached["stamp"] == stamp:
            return str(cached["checksum"])
    checksum = file_checksum(path)
    with contextlib.suppress(OSError):  # a read-only cache still works, it just hashes again next time
        tmp = sidecar.with_name(sidecar.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"stamp": stamp, "checksum": checksum}))
        os.replace(tmp, sidecar)
    return checksum


_tokenizers: dict[str, object] = {}
_tokenizers_lock = threading.Lock()


def shared_tokenizer(path: Path):
    """One loaded tokenizer per distinct tokenizer.json in the process.

    Why: the e5 tokenizer (a 250k-piece Unigram) is among the largest things a
    process holds once loaded (measured: docs/decisions/quantization-screens.md);
    the query and passage sessions, and a trained query tower exported from
    the same base model, all use the same file. Encoding only reads it, so
    threads and sessions can share one (truncation is set here, before any
    other thread sees it).
    """
    from tokenizers import Tokenizer

    key = file_checksum(path)
    with _tokenizers_lock:
        if key not in _tokenizers:
            tokenizer = Tokenizer.from_file(str(path))
            tokenizer.enable_truncation(MAX_TOKENS)
            _tokenizers[key] = tokenizer
        return _tokenizers[key]


class Int8Session:
    """Tokenizer + ONNX Runtime session over an exported folder; `encode(texts)` -> unit vectors."""

    def __init__(self, folder: Path, threads: int | None = None):
        import onnxruntime as ort

        from index.encoders.int8_table import split_model, table_reader

        self.folder = folder
        self.tokenizer = shared_tokenizer(folder / "tokenizer.json")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # idle worker threads sleep instead of spinning: on a shared or busy machine a
        # spinning pool steals the cores other queries (and other processes) need
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # the word-embedding table stays on disk, its rows read per encode (index.encoders.int8_table):
        # most of what the session would hold (docs/decisions/quantization-screens.md)
        model_path = split_model(folder)
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.table = table_reader(self.session, model_path)

    def encode(self, texts: list[str]) -> np.ndarray:
        """One batch, padded to its longest text."""
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), np.int64)
        mask = np.zeros((len(texts), width), np.int64)
        pad = self.tokenizer.token_to_id("<pad>") or 0
        ids.fill(pad)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if self.table is not None:
            feed["word_rows"] = self.table.gather(ids)
        (out,) = self.session.run(["embedding"], feed)
        return np.ascontiguousarray(out, dtype=np.float32)

    def token_count(self, text: str) -> int:
        return len(self.tokenizer.encode(text).ids)


class Int8Embedder:
    """The int8 twin of `index.encoders.model.Embedder`: same interface, same prompts, ONNX Runtime inside.

    Queries run on a session with `query_threads` threads (serving: one per
    query, so concurrent questions share the cores instead of fighting over
    them); passages on a second session, created on first use, with every
    core (the nightly build). Neither spins while idle.
    """

    judge = None  # a base encoder: its own cosines are the calibrated ones
    trained_folder = None
    trained_record = None

    def __init__(self, base, folder: Path, query_threads: int = 1, batch_size: int = 32):
        self.base = base  # the fp32 Embedder: its folder, name and prompts
        self.folder = folder
        self.model_dir = base.model_dir
        self.name = f"{base.name}+{EXPORT_VERSION}"
        self.batch_size = batch_size
        self.query_prompt, self.passage_prompt = base.query_prompt, base.passage_prompt
        self.query_threads = max(1, query_threads)
        self._sessions: dict[str, Int8Session] = {}
        self._lock = threading.Lock()
        self._checksum: str | None = None
        self._dim: int | None = None

    def _session(self, role: str) -> Int8Session:
        with self._lock:
            if role not in self._sessions:
                threads = self.query_threads if role == "query" else (os.cpu_count() or 1)
                self._sessions[role] = Int8Session(self.folder, threads)
            return self._sessions[role]

    def query_model(self) -> dict | None:
        return None

    def set_query_threads(self, threads: int) -> None:
        """Re-open the query session with another thread count (benchmarks compare counts)."""
        with self._lock:
            self.query_threads = max(1, threads)
            self._sessions.pop("query", None)

    @property
    def checksum(self) -> str:
        """Of the int8 graph itself: another export is another model for the index."""
        if self._checksum is None:
            self._checksum = cached_file_checksum(self.folder / "model_int8.onnx")
        return self._checksum

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._session("query").encode(["维度"]).shape[1])
        return self._dim

    def info(self) -> ModelInfo:
        return ModelInfo(self.name, self.checksum, self.dim, self.query_prompt, self.passage_prompt)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return self._session("query").encode([self.query_prompt + t for t in texts])

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        session = self._session("passage")
        # similar lengths per batch: less padding
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), np.float32)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            out[chunk] = session.encode([self.passage_prompt + texts[i] for i in chunk])
        return out

    def token_count(self, text: str, prompt: str = "") -> int:
        return self._session("query").token_count(prompt + text)


def int8_embedder(base, export_dir: Path | None = None) -> Int8Embedder:
    """The int8 twin of `base` (an fp32 `Embedder`), exported on first use into `export_dir` (default:
    the cache, keyed by the model's checksum; a trained tower keeps its export in its own folder, so
    deleting the tower deletes it too)."""
    folder = export_int8(base.model_dir, export_dir or cache_dir() / "onnx" / f"{base.checksum}-{EXPORT_VERSION}")
    return Int8Embedder(base, folder, query_threads=configured_threads() or settings().torch_threads)
