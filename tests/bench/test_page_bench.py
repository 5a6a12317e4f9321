"""bench/page.py: its results.md section (no server), and one short real run (Streamlit + Chromium)."""
from __future__ import annotations

import pytest

from bench import page, report


def _run(clients: int, per_s: float) -> dict:
    wall = {"n": 10, "mean": 200.0, "p50": 190.0, "p95": 260.0, "p99": 280.0, "max": 300.0}
    return {"clients": clients, "searches": 10, "errors": 0, "error_examples": [], "seconds": 10 / per_s,
            "per_s": per_s, "wall": wall, "server_cores": 0.4, "vs_one_client": per_s / 5.5}


def test_section_renders_every_level():
    result = {"questions": 10, "index": "shipped", "browser": page.CHROMIUM,
              "load": {"other_processes_cores": 0.9}, "runs": [_run(n, 5.0 * (1 + n / 10)) for n in page.CLIENTS]}
    md = "\n".join(page.render(result))
    assert "## The search page under concurrent visitors" in md
    assert all(f"\n| {n} | " in md for n in page.CLIENTS) and "1.00×" in md


def test_the_page_section_is_wired_into_the_bench_and_its_report():
    import inspect

    from bench import run

    assert "page" in run.SECTIONS
    assert "page_section(r[\"page\"])" in inspect.getsource(report.render)


@pytest.mark.slow
@pytest.mark.browser
def test_a_short_real_run_answers_every_search(shipped_index, monkeypatch):
    why = page.available()
    if why:
        pytest.skip(why)
    monkeypatch.setattr(page, "CLIENTS", (1, 2))
    questions = ["网贷逾期会被起诉吗", "被公司辞退能拿多少补偿", "离婚冷静期是多少天", "交通事故对方全责怎么赔"]
    out = page.measure(shipped_index, questions, questions[:1], lambda msg: None)
    assert [r["clients"] for r in out["runs"]] == [1, 2]
    for r in out["runs"]:
        assert r["errors"] == 0 and r["searches"] == len(questions) and r["wall"]["p50"] > 0
    assert out["runs"][0]["vs_one_client"] == 1.0
