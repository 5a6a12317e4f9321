"""Peak memory of a build and of a serving process, and bytes per passage on disk and in memory.

Each peak comes from a fresh process (bench.probe). Baselines measured in
the same run: a process that only loads the model and encodes the same
questions (what serving costs before any index), and the raw float32
vector (dim x 4 bytes) and UTF-8 text of a passage.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import ROOT, SHIPPED_CORPUS
from bench.indexes import passage_text_bytes, version_footprint


def _probe(args: list[str], timeout: float = 3600) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.probe", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"bench.probe {args[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _probe_clean(args: list[str]) -> dict:
    """A probe started through `children`, so its ru_maxrss does not inherit ours (see bench.probe)."""
    outer = _probe(["children", "--", sys.executable, "-m", "bench.probe", *args])
    if outer["returncode"] != 0:
        raise RuntimeError(f"bench.probe {args[0]} failed: {outer.get('stderr_tail')}")
    inner = json.loads(outer["stdout_tail"].strip().splitlines()[-1])
    inner["launcher_children_maxrss_bytes"] = outer["peak_rss_bytes"]
    return inner


def build_peak(warm_cache: Path | None = None) -> dict:
    """`python -m index build --source corpus --index <tmp> --no-progress` in a child; its peak RSS.

    With `warm_cache` (an embeddings.sqlite) the cache is copied in first, so
    nothing is embedded; without it the build embeds every passage (cold).
    """
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        index = Path(tmp) / "idx"
        index.mkdir()
        if warm_cache is not None and Path(warm_cache).exists():
            shutil.copy(warm_cache, index / "embeddings.sqlite")
        out = _probe(["children", "--", sys.executable, "-m", "index", "build", "--source", str(SHIPPED_CORPUS),
                      "--index", str(index), "--no-progress"])
        if out["returncode"] != 0:
            raise RuntimeError(f"the build failed: {out.get('stderr_tail')}")
        report = json.loads((index / "report.json").read_text())
    embedded, total = report.get("passages_embedded", 0), report.get("passages_total", 0)
    cache = "cold (empty cache: every passage embedded)" if embedded == total else (
        "warm (every passage found in the embedding cache)" if embedded == 0 else f"partly warm ({embedded}/{total} embedded)"
    )
    return {"command": "python -m index build --source corpus --index <tmp> --no-progress",
            "peak_rss_bytes": out["peak_rss_bytes"], "seconds": out["seconds"], "passages": total,
            "passages_embedded": embedded, "cache": cache, "stage_seconds": report.get("stage_seconds", {})}


def serve_peak(index_dir: Path, questions: list[str], n: int = 100) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(questions, fh, ensure_ascii=False)
        qfile = fh.name
    try:
        return _probe_clean(["serve", "--index", str(index_dir), "--questions", qfile, "--n", str(n)])
    finally:
        Path(qfile).unlink(missing_ok=True)


def model_peak(questions: list[str], n: int = 100) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(questions, fh, ensure_ascii=False)
        qfile = fh.name
    try:
        return _probe_clean(["model", "--questions", qfile, "--n", str(n)])
    finally:
        Path(qfile).unlink(missing_ok=True)


def index_memory(name: str, index_dir: Path, questions: list[str], model_only: dict, n: int = 100) -> dict:
    """Serving peak for one index, beside the model-only baseline, plus bytes per passage."""
    serve = serve_peak(index_dir, questions, n)
    disk = version_footprint(index_dir)
    text = passage_text_bytes(index_dir)
    passages = disk["passages"]
    # what the index adds to a process that already holds the model: serving minus model-only
    peak_extra = serve["peak_rss_bytes"] - model_only["peak_rss_bytes"]
    dim = disk.get("dim") or 384
    return {
        "corpus": name, "passages": passages, "serve": serve, "disk": disk, "text": text,
        "peak_minus_model_bytes": peak_extra,
        "steady_minus_model_bytes": serve["rss_end_bytes"] - model_only["rss_end_bytes"],
        "memory_bytes_per_passage": peak_extra / max(1, passages),
        "raw_vector_bytes_per_passage": dim * 4,
    }
