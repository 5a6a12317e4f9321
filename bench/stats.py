"""Small statistics helpers (percentiles the way everyone reads them)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pct(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (linear interpolation), None for no values."""
    if not len(values):
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """n, mean, p50, p95, p99, max of a list of milliseconds."""
    arr = np.asarray(values, dtype=np.float64)
    if not len(arr):
        return {"n": 0, "mean": None, "p50": None, "p95": None, "p99": None, "max": None}
    return {
        "n": int(len(arr)),
        "mean": float(arr.mean()),
        "p50": float(np.percentile(arr, 50)),
        "p95": float(np.percentile(arr, 95)),
        "p99": float(np.percentile(arr, 99)),
        "max": float(arr.max()),
    }


def rounded(values: Sequence[float], digits: int = 3) -> list[float]:
    return [round(float(v), digits) for v in values]
