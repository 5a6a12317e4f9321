"""The training section of the bench report renders every variant, fold fusion and latency it was given."""
from __future__ import annotations

from bench.training import render
from index.training.crossval import REPORTED, VARIANTS


def test_render_lists_cross_validation_and_comparisons():
    summary = {v: {m: [0.5 + i / 100, 0.01] for m in REPORTED} for i, v in enumerate(VARIANTS)}
    result = {
        "towers": {"stard": {"cross_validation": {"summary": summary, "folds": [
            {"fusion": {"w_dense": 1.0, "w_bm25": 0.25, "rrf_k": 20.0}},
            {"fusion": {"w_dense": 1.0, "w_bm25": 0.5, "rrf_k": 60.0, "w_base": 0.25}}]},
            "seconds": {"cross_validation": 1800.0, "final_training": 420.0}, "wall_seconds": 2300.0}},
        "compare": {"shipped set": {
            "quality": {"base model": {"hybrid": {"recall@5": 0.863, "recall@10": 0.931, "recall@100": 1.0,
                                                  "mrr@10": 0.941}}},
            "latency": {"base model": {"p50": 6.0, "p99": 11.0}},
            "weak": {"base model": {"noanswer_marked_weak": 0.7, "answerable_marked_weak": 0.05}}}},
    }
    md = "\n".join(render(result))
    for variant in VARIANTS:
        assert f"| {variant} |" in md
    assert "0.540 ± 0.010" in md  # the fifth variant's mean and sd
    assert "0.25/0/20, 0.5/0.25/60" in md  # BM25 / base-model list / RRF k; a record without w_base reads 0
    assert "cross_validation 30.0 min" in md and "final_training 7.0 min" in md
    assert "| base model | hybrid | 0.863 | 0.931 | 1.000 | 0.941 | 6.0 / 11.0 |" in md
    assert "probes 0.70, answerable 0.05" in md
