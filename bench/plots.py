"""The two figures: latency distribution per mode, recall@k curves per mode."""
from __future__ import annotations

from pathlib import Path

import numpy as np

COLOURS = {"bm25": "#1f77b4", "dense": "#2ca02c", "hybrid": "#d62728", "jieba_bm25_baseline": "#7f7f7f"}
LABELS = {"bm25": "bm25 (ours)", "dense": "dense", "hybrid": "hybrid",
          "jieba_bm25_baseline": "plain jieba BM25 (baseline)"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panels(n: int):
    """A row of n panels with the shared size."""
    plt = _plt()
    fig, axes = plt.subplots(1, n, figsize=(6.2 * n, 4.4), squeeze=False)
    return plt, fig, axes[0]


def _curve(ax, xs, ys, name: str, label: str) -> None:
    ax.plot(xs, ys, color=COLOURS.get(name), lw=1.8, ls="--" if name == "jieba_bm25_baseline" else "-", label=label)


def _finish(plt, fig, axes, title: str, path: Path) -> Path:
    """Log x axis, grid and legend on every panel; title, layout, save, close."""
    for ax in axes:
        ax.set_xscale("log")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def latency_png(latency: dict, path: Path) -> Path | None:
    """One panel per corpus: CDF of per-query wall time for each mode and the baseline."""
    corpora = [c for c in latency.get("corpora", []) if c.get("modes")]
    if not corpora:
        return None
    plt, fig, axes = _panels(len(corpora))
    for ax, c in zip(axes, corpora, strict=True):
        series = {m: c["modes"][m]["samples_ms"] for m in c["modes"]}
        if c.get("baseline"):
            series["jieba_bm25_baseline"] = c["baseline"]["samples_ms"]
        for name, samples in series.items():
            xs = np.sort(np.asarray(samples))
            p50, p95 = np.percentile(xs, 50), np.percentile(xs, 95)
            _curve(ax, xs, np.arange(1, len(xs) + 1) / len(xs), name,
                   f"{LABELS.get(name, name)}  p50 {p50:.1f} / p95 {p95:.1f} ms")
        ax.set_xlabel("latency per query, ms (log scale)")
        ax.set_ylabel("fraction of queries")
        ax.axhline(0.95, color="#bbbbbb", lw=0.8, ls=":")
        ax.set_title(f"{c['name']} ({c['passages']:,} passages), {c['questions']} questions, warm")
    return _finish(plt, fig, axes, "Query latency (CDF): Searcher.search per mode vs plain jieba BM25", path)


def recall_png(quality: dict, path: Path) -> Path | None:
    """One panel per question set: recall@k, k = 1..100, per mode and the baseline."""
    sets = [s for s in quality.get("sets", []) if s.get("recall_at_k")]
    if not sets:
        return None
    plt, fig, axes = _panels(len(sets))
    for ax, s in zip(axes, sets, strict=True):
        ks = s["recall_at_k"]["k"]
        for name, curve in s["recall_at_k"].items():
            if name != "k":
                _curve(ax, ks, curve, name, f"{LABELS.get(name, name)}  R@10 {curve[9]:.3f}")
        ax.set_xlim(1, 100)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("k (articles returned, log scale)")
        ax.set_ylabel("recall@k")
        ax.set_title(f"{s['set']}: {s['queries']} questions")
    return _finish(plt, fig, axes, "Article-level recall@k per mode vs plain jieba BM25", path)
