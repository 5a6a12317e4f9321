"""The int8 graph with its word-embedding table left on disk: rows are read per encode.

Why: the e5 word table is 250k rows x 384 values (even quantised by export
v2 it was most of what its session held; v3 keeps it fp32, four times the
bytes), and a question reads only the rows of its own tokens.
Memory-mapping it does not help (the kernel maps 64 KiB around every page
fault, so a hundred questions made most of it resident again; measured:
docs/decisions/quantization-screens.md). Here the table's Gather is cut out
of the graph: the session takes the gathered rows as an
input (`word_rows`), and `TableReader` reads them from a raw file with one
`pread` per distinct token (page cache, not process memory). The rest of the
graph is unchanged, so the vectors are the same bit for bit (tested).

The split copy is derived once from `model_int8.onnx` beside it, atomically;
the index manifest keeps the checksum of `model_int8.onnx`, so no index needs
rebuilding. A graph without such a table, or a cache that cannot be written,
keeps the whole file as before.
"""
from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

LAYOUT = "split-v1"  # bump when the layout changes
ROWS_INPUT = "word_rows"
TABLE_FILE = "word_embeddings.bin"
MIN_TABLE_BYTES = 1 << 24  # smaller tables are not worth a side file


def split_model(folder: Path) -> Path:
    """The graph taking `word_rows` for `folder/model_int8.onnx` (written on first use), else the file itself."""
    source = folder / "model_int8.onnx"
    target = folder / LAYOUT
    if (target / "model.onnx").exists():
        return target / "model.onnx"
    if (folder / f".{LAYOUT}.none").exists():
        return source  # looked once: nothing to split
    try:
        with open(folder / f".{LAYOUT}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (target / "model.onnx").exists() and not _write_split(source, target):
                (folder / f".{LAYOUT}.none").touch()
                return source
    except Exception as exc:  # noqa: BLE001 - any failure keeps the whole file, which always works
        log.warning("cannot split the word table out of %s (%s); loading it whole", source, exc)
        return source
    return target / "model.onnx"


def _table_gather(model):
    """(Gather node, its table initializer) of the word embeddings, or (None, None)."""
    inits = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if (node.op_type == "Gather" and len(node.input) == 2 and node.input[0] in inits
                and node.input[1] == "input_ids" and len(inits[node.input[0]].raw_data) >= MIN_TABLE_BYTES):
            return node, inits[node.input[0]]
    return None, None


def _write_split(source: Path, target: Path) -> bool:
    """Write `target/model.onnx` (Gather output -> graph input) and the raw table; False if there is none."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    try:
        node, table = _table_gather(model)
        if node is None or len(table.dims) != 2 or sum(table.name in n.input for n in model.graph.node) != 1:
            return False  # no table, or another node reads it too
        array = numpy_helper.to_array(table)
        tmp = Path(tempfile.mkdtemp(prefix=".split-", dir=target.parent))
        try:
            np.ascontiguousarray(array).tofile(tmp / TABLE_FILE)
            elem = helper.np_dtype_to_tensor_dtype(array.dtype)
            rows = helper.make_tensor_value_info(ROWS_INPUT, elem, ["batch", "seq", int(array.shape[1])])
            for other in model.graph.node:  # whatever read the Gather's output now reads the input
                for i, name in enumerate(other.input):
                    if name == node.output[0]:
                        other.input[i] = ROWS_INPUT
            model.graph.node.remove(node)
            model.graph.initializer.remove(table)
            model.graph.input.append(rows)
            onnx.save_model(model, str(tmp / "model.onnx"))
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return True
    finally:
        del model
        _trim()


class TableReader:
    """Rows of the on-disk table for token ids: one `pread` per id not yet seen.

    The first `cache_rows` distinct rows read are kept (8192 x 384 B = 3 MiB):
    question words are few and repeat, and a system call per token cost more
    than the rest of the gather.
    """

    def __init__(self, path: Path, width: int, dtype: np.dtype, cache_rows: int = 8192):
        self.cache_rows = cache_rows
        self._cache: dict[int, bytes] = {}
        self.width = width
        self.dtype = np.dtype(dtype)
        self.row_bytes = width * self.dtype.itemsize
        self._fd = os.open(path, os.O_RDONLY)
        self.rows = os.fstat(self._fd).st_size // self.row_bytes

    def gather(self, ids: np.ndarray) -> np.ndarray:
        """`table[ids]` for an integer array of any shape (what the removed Gather computed)."""
        flat = ids.reshape(-1).tolist()
        if flat and (min(flat) < 0 or max(flat) >= self.rows):
            raise IndexError(f"token id out of range 0..{self.rows - 1}")
        fd, size, cache = self._fd, self.row_bytes, self._cache
        parts = []
        for token in flat:
            row = cache.get(token)
            if row is None:
                row = os.pread(fd, size, token * size)
                if len(cache) < self.cache_rows:
                    cache[token] = row
            parts.append(row)
        return np.frombuffer(b"".join(parts), self.dtype).reshape(*ids.shape, self.width)

    def __del__(self, _close=os.close) -> None:  # os.close bound now: at shutdown module globals may be gone
        fd = getattr(self, "_fd", None)
        if fd is not None:
            _close(fd)


def table_reader(session, model_path: Path) -> TableReader | None:
    """The reader for a split graph's `word_rows` input, None for a whole graph."""
    inputs = {i.name: i for i in session.get_inputs()}
    if ROWS_INPUT not in inputs:
        return None
    width = int(inputs[ROWS_INPUT].shape[-1])
    dtype = {"tensor(uint8)": np.uint8, "tensor(int8)": np.int8, "tensor(float)": np.float32}[inputs[ROWS_INPUT].type]
    return TableReader(model_path.parent / TABLE_FILE, width, dtype)


def _trim() -> None:
    """Hand the memory the copy passed through back to the OS (glibc keeps freed heap otherwise)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
