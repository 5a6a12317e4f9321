"""`python -m bench.run [--quick|--full] [--out DIR]`: run the benchmarks, write results.

Quick (~2-3 min, the CI check): shipped corpus only, 100 questions, 64
passages, 20k vectors. Full (~40+ min on 2 cores): adds the 55k-article
STARD index and its questions, 600 questions, 256 passages, 100k and 1M
vectors, the real-vector HNSW check, the search page under 1-8 concurrent
visitors (real Streamlit + headless Chromium, bench/page.py), and the nightly job on STARD (a cold
full build of its own copy, ~35 min more; `--only nightly` runs it alone). Writes results.json, results.md,
latency.png and recall_at_k.png to --out (default: bench/out for --quick,
docs/bench for --full).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import ROOT
from bench.sections import SECTIONS, Context


@dataclass
class Plan:
    mode: str
    questions: int
    warmup: int
    embed_passages: int
    scale_sizes: tuple[int, ...]
    scale_queries: int
    serve_queries: int
    use_stard_index: bool
    cold_build: bool
    busy_queries: int = 60  # questions per concurrency level and per idle/busy half (bench.busy)
    busy_rounds: int = 3

    @classmethod
    def for_mode(cls, mode: str) -> Plan:
        if mode == "full":
            return cls("full", 600, 20, 256, (100_000, 1_000_000), 200, 100, True, True, 100, 5)
        if mode == "quick":
            return cls("quick", 100, 20, 64, (20_000,), 200, 100, False, False, 40, 3)
        raise ValueError(f"mode must be quick or full, not {mode!r}")


class _Log:
    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self, msg: str) -> None:
        print(f"[bench {time.perf_counter() - self.t0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def run_bench(mode: str = "quick", out: Path | str | None = None, *, shipped_index: Path | None = None,
              stard_dir: Path | None = None, sections=tuple(SECTIONS), log=None) -> dict:
    """Run the chosen sections, write the output files into `out`, return the results dict.

    `shipped_index`: an already built index of corpus/ to measure (the test
    suite passes its session fixture); by default var/bench/shipped is built
    or updated.
    """
    from bench import data, indexes, machine
    from bench.load import LoadMeter

    plan = Plan.for_mode(mode)
    out = Path(out) if out else (ROOT / ("docs/bench" if mode == "full" else "bench/out"))
    out.mkdir(parents=True, exist_ok=True)
    log = log or _Log()
    started = time.perf_counter()
    logging.getLogger("index.build").setLevel(logging.WARNING)
    results: dict = {
        "bench": {"mode": mode, "command": f"python -m bench.run --{mode} --out {_rel(out)}",
                  "sections": list(sections), "plan": asdict(plan), "section_seconds": {}, "load": {}},
        "machine": machine.machine_info(),
        "skipped": [],
        "indexes": {},
    }

    @contextlib.contextmanager
    def section(name: str):
        with LoadMeter() as meter:
            yield
        results["bench"]["section_seconds"][name] = round(meter.result["seconds"], 1)
        results["bench"]["load"][name] = meter.result
        if (meter.result["other_processes_cores"] or 0) > 0.25:
            log(f"note: other processes used {meter.result['other_processes_cores']:.2f} cores during {name}")

    log(f"{mode} run on {results['machine']['cpu_model']}, {results['machine']['cores_usable']} cores -> {out}")
    stard, msg = data.find_stard(stard_dir)
    if msg:
        results["skipped"].append(msg)
        log(msg)
    use_stard_index = plan.use_stard_index and stard is not None
    if not plan.use_stard_index:
        results["skipped"].append("quick run: the 55k-article STARD index, the STARD quality figures, 100k/1M "
                                  "vectors and the real-vector check run only with --full")

    # ---- indexes ------------------------------------------------------------
    from index.search.searcher import Searcher

    with section("indexes"):
        if shipped_index is not None:
            shipped_dir, shipped_build = Path(shipped_index), None
            log(f"shipped index given: {shipped_dir}")
        else:
            shipped_dir, shipped_build = indexes.ensure_shipped()
            log(f"shipped index {_rel(shipped_dir)}: {shipped_build['status']} ({shipped_build['seconds']:.1f}s)")
        corpora = [("shipped corpus", shipped_dir, shipped_build)]
        if use_stard_index and set(sections) - {"nightly"}:  # the nightly section builds its own copy
            log("STARD index: building/updating (every passage should come from the embedding cache)")
            stard_idx, stard_build = indexes.ensure_stard(stard.corpus)
            log(f"STARD index {_rel(stard_idx)}: {stard_build['status']} ({stard_build['seconds']:.1f}s, "
                f"{stard_build['passages_embedded']} passages embedded)")
            corpora.append(("STARD statutes", stard_idx, stard_build))
        searchers = {}
        for name, path, build in corpora:
            searchers[name] = Searcher.open(path)
            fp = indexes.version_footprint(path)
            results["indexes"][name] = {"path": _rel(path), "articles": fp["articles"], "passages": fp["passages"],
                                        "dense_kind": fp["dense_kind"], "version": fp["version"], "build": build}

    # ---- the plain jieba BM25 baseline per corpus (latency and quality) -------
    from bench.baseline import JiebaBM25

    with section("baselines"):
        baselines = {"shipped corpus": JiebaBM25(data.shipped_articles())}
        if use_stard_index and ("latency" in sections or "quality" in sections):
            baselines["STARD statutes"] = JiebaBM25(data.stard_articles(stard))
            log(f"plain jieba BM25 over {baselines['STARD statutes'].n_docs:,} STARD articles built in "
                f"{baselines['STARD statutes'].build_seconds:.0f}s")
        results["baselines"] = {name: {"description": b.description, "docs": b.n_docs,
                                       "build_seconds": b.build_seconds} for name, b in baselines.items()}

    shipped_q, why = data.shipped_questions()
    stard_q = data.read_questions(stard.queries) if stard else []
    if why:
        results["skipped"].append(why)
        log(why)
    context = Context(plan=plan, results=results, log=log, searchers=searchers, corpora=corpora, baselines=baselines,
                      mix=data.question_mix(plan.questions, plan.warmup, shipped_q, stard_q), stard=stard,
                      use_stard_index=use_stard_index, shipped_dir=shipped_dir, shipped_q=shipped_q,
                      stard_q=stard_q, meter=section)
    for name, run_section in SECTIONS.items():
        if name in sections:
            run_section(context)

    for s in searchers.values():
        with contextlib.suppress(Exception):
            s.close()
    results["bench"]["seconds_total"] = round(time.perf_counter() - started, 1)
    write_outputs(results, out)
    log(f"done in {results['bench']['seconds_total'] / 60:.1f} min: {out / 'results.md'}")
    return results


def write_outputs(results: dict, out: Path) -> None:
    from bench import plots, report

    if results.get("latency"):
        plots.latency_png(results["latency"], out / "latency.png")
    if results.get("quality", {}).get("sets"):
        plots.recall_png(results["quality"], out / "recall_at_k.png")
    (out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / "results.md").write_text(report.render(results), encoding="utf-8")


def _rel(p: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="mode", action="store_const", const="quick", help="~2-3 min, shipped corpus only (default)")
    g.add_argument("--full", dest="mode", action="store_const", const="full", help="everything, incl. STARD and 1M vectors")
    p.add_argument("--out", type=Path, help="output folder (default bench/out for --quick, docs/bench for --full)")
    p.add_argument("--stard", type=Path, help="STARD data folder (default ../shared/data/stard beside the checkout)")
    p.add_argument("--only", help=f"comma-separated subset of: {','.join(SECTIONS)}")
    args = p.parse_args(argv)
    sections = tuple(s for s in (args.only.split(",") if args.only else tuple(SECTIONS)) if s)
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        p.error(f"unknown section(s) {unknown}; choose from {SECTIONS}")
    run_bench(args.mode or "quick", args.out, stard_dir=args.stard, sections=sections)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
