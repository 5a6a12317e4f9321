"""What this machine is, and how fast it multiplies matrices (the roofline baseline)."""
from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import sys
import time

import numpy as np


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    """The SIMD flags that decide matmul speed (avx2, avx512f, amx...)."""
    want = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return [f for f in want if f in have]
    except OSError:
        pass
    return []


def _ram_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _version(module: str) -> str | None:
    try:
        return str(getattr(importlib.import_module(module), "__version__", "?"))
    except Exception:  # a missing optional package is just "not installed"
        return None


def _blas() -> str | None:
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name')} {blas.get('version', '')}".strip() or None
    except Exception:
        return None


def machine_info() -> dict:
    """CPU model, cores, RAM and the versions that decide the figures."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "ram_bytes": _ram_bytes(),
        "ram_gib": round((_ram_bytes() or 0) / 2**30, 1),
        "gpu": "none used (CPU only)",
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numpy_blas": _blas(),
    }
    for mod in ("torch", "faiss", "sentence_transformers", "transformers", "bm25s", "jieba"):
        info[mod] = _version(mod)
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    except Exception:
        info["torch_threads"] = None
    return info


def matmul_gflops(n: int = 2048, repeats: int = 5) -> dict:
    """Best-of-`repeats` float32 n x n @ n x n with numpy: this machine's practical peak."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm-up: thread pool, page faults
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    flops = 2.0 * n**3
    out = {
        "n": n, "repeats": repeats, "best_seconds": min(times), "gflops": flops / min(times) / 1e9,
        "median_gflops": flops / float(np.median(times)) / 1e9,
    }
    try:  # the model runs in torch, whose BLAS may differ from numpy's: record both
        import torch

        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        ta @ tb
        ttimes = []
        for _ in range(repeats):
            t = time.perf_counter()
            ta @ tb
            ttimes.append(time.perf_counter() - t)
        out["torch_gflops"] = flops / min(ttimes) / 1e9
    except Exception:
        out["torch_gflops"] = None
    return out
