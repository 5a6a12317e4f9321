"""`python -m index` — search, evaluate and inspect a built index."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _open(index: str):
    from index.layout import IndexNotFound
    from index.searcher import ModelMismatch, Searcher

    try:
        return Searcher.open(index)
    except (IndexNotFound, ModelMismatch) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_search(args: argparse.Namespace) -> int:
    """Search the index and print the best passages."""
    s = _open(args.index)
    hits = s.search(args.query, k=args.k, category=args.category, mode=args.mode)
    if args.json:
        print(json.dumps({"query": hits.query, "weak": hits.weak, "message": hits.message, "version": hits.version,
                          "timings_ms": hits.timings, "hits": [h.to_dict() for h in hits]}, ensure_ascii=False, indent=2))
        return 0
    if hits.message:
        print(hits.message)
    for h in hits:
        print(f"{h.rank}. {h.title}  [{h.category or '-'}] {h.published or ''}  score={h.score:.4f}")
        print(f"   {h.passage[:160].replace(chr(10), ' ')}{'…' if len(h.passage) > 160 else ''}")
        if h.statutes:
            print(f"   法条: {'、'.join(h.statutes)}")
        print(f"   {h.link}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Article-level Recall@1/5/10/100, MRR@10, nDCG@10 for hybrid, BM25-only and dense-only."""
    from index.evaluate import evaluate, format_table, load_eval_set

    s = _open(args.index)
    try:
        eval_set = load_eval_set(Path(args.queries), Path(args.qrels))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.limit:
        keep = list(eval_set.queries)[: args.limit]
        eval_set.queries = {q: eval_set.queries[q] for q in keep}
        eval_set.qrels = {q: eval_set.qrels[q] for q in keep}
    results = evaluate(s, eval_set, modes=args.modes.split(","), progress=sys.stderr.isatty())
    if args.json:
        print(json.dumps({"index_version": s.version, "results": results}, ensure_ascii=False, indent=2))
    else:
        print(f"{len(eval_set.queries)} queries, index version {s.version}")
        print(format_table(results))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Version, build time, counts, model and categories of the serving index."""
    from index.layout import IndexDir, IndexNotFound, read_manifest

    layout = IndexDir(Path(args.index))
    try:
        manifest = read_manifest(layout.current())
    except IndexNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    status = {"index": str(layout.root), "version": layout.current_name(), "versions": layout.list_versions(),
              **{k: manifest.get(k) for k in ("built_at", "counts", "model", "dense", "code_version",
                                               "source_fingerprint", "categories")}}
    if layout.report.exists():
        report = json.loads(layout.report.read_text(encoding="utf-8"))
        status["last_build"] = {k: report.get(k) for k in ("status", "message", "started_at", "seconds")}
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
    else:
        print(f"index {status['index']}  version {status['version']}  built {status['built_at']}")
        print(f"articles {status['counts']['articles']}, passages {status['counts']['passages']}, "
              f"model {status['model']['name']} ({status['model']['checksum']}), dense {status['dense']['kind']}")
        print("categories: " + ", ".join(f"{k} {v}" for k, v in (status["categories"] or {}).items()))
        if "last_build" in status:
            lb = status["last_build"]
            print(f"last build: {lb['status']} at {lb['started_at']} ({lb['message']})")
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m index", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("search", help=cmd_search.__doc__, description=cmd_search.__doc__)
    p.add_argument("query")
    p.add_argument("--index", default="var/index")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--category")
    p.add_argument("--mode", choices=("hybrid", "bm25", "dense"), default="hybrid")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("eval", help=cmd_eval.__doc__, description=cmd_eval.__doc__)
    p.add_argument("--index", default="var/index")
    p.add_argument("--queries", required=True, help='JSONL, one {"qid","question"} per line')
    p.add_argument("--qrels", required=True, help="TSV: qid<TAB>article_id[<TAB>grade]")
    p.add_argument("--modes", default="hybrid,bm25,dense")
    p.add_argument("--limit", type=int, default=0, help="only the first N queries")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser("status", help=cmd_status.__doc__, description=cmd_status.__doc__)
    p.add_argument("--index", default="var/index")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = make_parser().parse_args(argv)
    return args.func(args)
