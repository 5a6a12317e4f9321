"""`python -m index` — build, roll back, search, evaluate and inspect an index.

Exit codes of `build` (for cron and systemd):
  0  published a new version, or nothing changed
  1  failed; the previous version keeps serving, nothing changed
  2  refused by a guard (e.g. the source lost too many articles)
  3  another build holds the lock
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from index.settings import BACKENDS, SettingsError, settings
from ingest.cli import setup_logging, source_options, verbose_parent

EPILOG = "exit codes (build): 0 published or nothing to do, 1 failed (nothing changed), 2 refused by a guard, 3 locked"
MODES = ("hybrid", "bm25", "dense")  # = index.search.request.MODES, kept here so `--help` imports nothing heavy


def _default_max_bytes() -> int:
    try:
        return settings().max_bytes  # LAWFAQ_MAX_BYTES
    except SettingsError:
        return settings({}).max_bytes


def _default_backend() -> str:
    try:
        return settings().backend  # LAWFAQ_BACKEND
    except SettingsError:
        return BACKENDS[0]


def _default_index() -> str:
    try:
        return settings().index
    except SettingsError:
        return "var/index"


def _open(index: str, serving: bool = True):
    """The Searcher for a query command; `serving` ones (search, eval) answer questions one at a
    time like the page, so they take the same torch threads (LAWFAQ_TORCH_THREADS)."""
    from index.encoders.model import configure_threads
    from index.search.searcher import ModelMismatch, Searcher
    from index.storage.layout import IndexNotFound

    try:
        config = settings()
        if serving:
            configure_threads(config.torch_threads)
        return Searcher.open(index, base_url=config.public_url)
    except (IndexNotFound, ModelMismatch, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def _iso_date(text: str) -> str:
    """A --date-from/--date-to value, checked as `Searcher.search` checks it (YYYY-MM-DD)."""
    from index.search.request import InvalidQuery, parse_date

    try:
        date = parse_date("date", text)
    except InvalidQuery:
        date = None
    if date is None:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}")
    return date.isoformat()


def cmd_build(args: argparse.Namespace) -> int:
    """Build or update the index (incremental unless --full); see the exit codes below."""
    from index.build.pipeline import BuildOptions, build_index

    options = BuildOptions(
        full=args.full, keep=args.keep, max_shrink=args.max_shrink, allow_shrink=args.allow_shrink,
        max_bytes=args.max_bytes, follow_symlinks=args.follow_symlinks, allow_private=args.allow_private,
        progress=False if args.no_progress else None, backend=args.backend, executor=args.executor,
        milvus_uri=settings().milvus_uri if args.backend == "milvus" else "",
    )
    report = build_index(args.source, Path(args.index), options)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(
            f"{report.status}: {report.message} | articles {report.articles_total} "
            f"(+{report.articles_added} ~{report.articles_changed} -{report.articles_removed} "
            f"={report.articles_unchanged}), passages {report.passages_total}, embedded {report.passages_embedded}, "
            f"skipped {len(report.skipped)}, {report.seconds:.1f}s"
        )
    return report.exit_code


def cmd_rollback(args: argparse.Namespace) -> int:
    """Serve the version before the current one again (exit 1: none kept, 3: a build is running)."""
    from index.storage.layout import IndexDir, IndexLocked, NothingToRollBack

    layout = IndexDir(Path(args.index))
    try:
        previous, current = layout.rollback()
    except (IndexLocked, NothingToRollBack) as exc:
        if args.json:
            print(json.dumps({"status": "failed", "message": str(exc)}, ensure_ascii=False))
        print(str(exc), file=sys.stderr)
        return 3 if isinstance(exc, IndexLocked) else 1
    if layout.current_name():
        from index.backends.milvus_writer import follow_rollback

        follow_rollback(layout)
    if args.json:
        print(json.dumps({"status": "rolled_back", "index": str(layout.root), "from": previous, "to": current},
                         ensure_ascii=False))
    else:
        print(f"rolled back {layout.root}: {previous} -> {current}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Search the index and print the best passages."""
    s = _open(args.index)
    try:
        hits = s.search(args.query, k=args.k, category=args.category, date_from=args.date_from,
                        date_to=args.date_to, mode=args.mode)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(hits.to_dict(), ensure_ascii=False, indent=2))
        return 0
    if hits.read_as:
        print(f"已按拼音理解为：{hits.read_as}")
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
    from index.search.evaluate import evaluate, format_table, load_eval_set

    try:
        eval_set = load_eval_set(Path(args.queries), Path(args.qrels))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        print(f"error: unknown mode(s) {unknown}; choose from {MODES}", file=sys.stderr)
        return 2
    if args.limit:
        keep = list(eval_set.queries)[: args.limit]
        eval_set.queries = {q: eval_set.queries[q] for q in keep}
        eval_set.qrels = {q: eval_set.qrels[q] for q in keep}
    report = {}
    for label, searcher in _eval_variants(args.index, args.query_model or []):
        results = evaluate(searcher, eval_set, modes=modes, progress=sys.stderr.isatty())
        report[label] = {"index_version": searcher.version, "results": results}
        if not args.json:
            print(f"{label}: {len(eval_set.queries)} queries, index version {searcher.version}")
            print(format_table(results))
    if args.json:
        only = next(iter(report.values())) if len(report) == 1 else {"variants": report}
        print(json.dumps(only, ensure_ascii=False, indent=2))
    return 0


def _eval_variants(index: str, query_models: list[str]):
    """(label, Searcher) pairs: the configured model, then each trained tower (base always first)."""
    from index.encoders.base import ModelUnavailable
    from index.encoders.factory import tuned_embedder

    first = _open(index)
    yield ("configured model" if settings().query_model else "base model"), first
    for name in query_models:
        try:
            embedder = tuned_embedder(name)
        except ModelUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
        yield f"query tower {name}", type(first).open(index, embedder=embedder, base_url=first.base_url)


def _load_labelled(args: argparse.Namespace) -> tuple[dict, dict] | int:
    """--queries/--qrels read, or the exit code after saying what is wrong with them."""
    from index.search.evaluate import load_qrels, load_queries

    if bool(args.queries) != bool(args.qrels):
        print("error: --queries and --qrels go together", file=sys.stderr)
        return 2
    try:
        return (load_queries(Path(args.queries)) if args.queries else {},
                load_qrels(Path(args.qrels)) if args.qrels else {})
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def cmd_train(args: argparse.Namespace) -> int:
    """Train a query tower for an index: labelled questions (optional) + titles and headings it holds."""
    from index.training.run import train
    from index.training.tower import TrainConfig

    labelled = _load_labelled(args)
    if isinstance(labelled, int):
        return labelled
    queries, qrels = labelled
    searcher = _open(args.index, serving=False)
    if hasattr(searcher.embedder, "query_model"):
        print("error: unset LAWFAQ_QUERY_MODEL: a tower is trained from the base model", file=sys.stderr)
        return 2
    config = TrainConfig(epochs=args.epochs, learning_rate=args.learning_rate, temperature=args.temperature,
                         batch_size=args.batch_size, seed=args.seed, loss=args.loss)
    say = (lambda m: print(m, file=sys.stderr, flush=True)) if not args.json else None
    try:
        result = train(searcher, queries, qrels, folds=args.folds, final=not args.cv_only, mine=not args.no_mine,
                       also=[Path(p) for p in args.also_index or []],
                       name=args.name, out_root=Path(args.out) if args.out else None, config=config,
                       progress=say)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    elif result.model:
        print(f"LAWFAQ_QUERY_MODEL={result.model.path}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Version, build time, counts, model and categories of the serving index, and the last build."""
    from index.storage.layout import IndexDir, IndexNotFound

    try:
        status = IndexDir(Path(args.index)).describe()
    except IndexNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
        return 0
    print(f"index {status['index']}  version {status['version']}  built {status['built_at']}")
    print(f"articles {status['counts']['articles']}, passages {status['counts']['passages']}, "
          f"model {status['model']['name']} ({status['model']['checksum']}), dense {status['dense']['kind']}")
    print("categories: " + ", ".join(f"{k} {v}" for k, v in (status["categories"] or {}).items()))
    if "last_build" in status:
        lb = status["last_build"]
        print(f"last build: {lb['status']} at {lb['started_at']} ({lb['message']})")
    if status["build_running"]:
        print("a build is running now")
    return 0


def cmd_insights(args: argparse.Namespace) -> int:
    """The firm's report from the question log: unanswered questions grouped, top articles, feedback."""
    from index.firm.insights import write_report

    try:
        config = settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    log_path = Path(args.log) if args.log else config.query_log_path
    if log_path is None or not log_path.exists():
        print(f"error: no question log at {log_path or '(switched off: LAWFAQ_QUERY_LOG=off)'}; "
              "the page and the API write it while people search", file=sys.stderr)
        return 1
    fmt = args.format or ("md" if str(args.out).endswith(".md") else "html")
    # a batch job (it embeds every question at once): torch keeps its default threads
    searcher = _open(args.index, serving=False)
    out = write_report(log_path, None, args.out, fmt=fmt, days=args.days, searcher=searcher)
    print(f"wrote {out} ({fmt}, last {args.days} days of {log_path})")
    return 0


def _add_index(p: argparse.ArgumentParser, required: bool = False) -> None:
    if required:
        p.add_argument("--index", required=True, help="index directory (e.g. var/index)")
    else:
        p.add_argument("--index", default=_default_index(),
                       help="index directory (default: LAWFAQ_INDEX or var/index)")


def _labelled_options(p: argparse.ArgumentParser, what: str, default_name: str) -> None:
    """The index, labelled questions, folds, mining and where to save a trained model."""
    _add_index(p)
    p.add_argument("--queries", help='labelled questions, JSONL {"qid","question"} (never the eval set)')
    p.add_argument("--qrels", help="their answers, TSV qid<TAB>article_id[<TAB>grade]")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds over --queries (default 5; 0 = none)")
    p.add_argument("--cv-only", action="store_true", help="report cross-validated figures, save no model")
    p.add_argument("--no-mine", action="store_true", help="do not learn from the index's titles and headings")
    p.add_argument("--also-index", action="append",
                   help=f"also learn the titles and headings of this index (same model; repeatable): one {what} for both")
    p.add_argument("--name", help=f"the {what}'s folder name (default {default_name})")
    p.add_argument("--out", help=f"folder to save the {what} in (default LAWFAQ_CACHE/trained)")


def _train_options(p: argparse.ArgumentParser) -> None:
    from index.training.tower import LOSSES, TrainConfig

    _labelled_options(p, "tower", "query-<model>-<time>")
    defaults = TrainConfig()
    p.add_argument("--epochs", type=int, default=defaults.epochs, help="passes over the pairs (default %(default)s)")
    p.add_argument("--learning-rate", type=float, default=defaults.learning_rate,
                   help="AdamW learning rate (default %(default)s)")
    p.add_argument("--temperature", type=float, default=defaults.temperature,
                   help="softmax temperature (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, help="questions per step (default %(default)s)")
    p.add_argument("--loss", choices=LOSSES, default=defaults.loss,
                   help="any: one answering passage suffices; every: each answering article counts on its own "
                        "(default %(default)s)")
    p.add_argument("--seed", type=int, default=defaults.seed, help="shuffling and fold seed (default %(default)s)")
    p.add_argument("--json", action="store_true", help="machine-readable result")


def make_parser() -> argparse.ArgumentParser:
    parent = verbose_parent()
    parser = argparse.ArgumentParser(prog="python -m index", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, parents=[parent])
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, func, *extra: argparse.ArgumentParser, **kwargs) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=func.__doc__, description=func.__doc__, parents=[parent, *extra], **kwargs)
        p.set_defaults(func=func)
        return p

    p = command("build", cmd_build, source_options(), epilog=EPILOG)
    p.set_defaults(max_bytes=_default_max_bytes())
    p.add_argument("--source", action="append", required=True,
                   help="folder, file, JSONL export, sitemap URL or URL list (repeatable)")
    _add_index(p, required=True)
    p.add_argument("--full", action="store_true", help="rebuild every article (the embedding cache still applies)")
    p.add_argument("--keep", type=int, default=3, help="versions to keep (default 3)")
    p.add_argument("--max-shrink", type=float, default=0.20, help="refuse to lose more than this share of articles")
    p.add_argument("--allow-shrink", action="store_true", help="publish even if many articles disappeared")
    p.add_argument("--no-progress", action="store_true", help="log lines instead of a progress bar")
    p.add_argument("--backend", choices=BACKENDS, default=_default_backend(),
                   help="where vectors and BM25 go: faiss (files in the version) or milvus (LAWFAQ_MILVUS_URI); "
                        "default LAWFAQ_BACKEND, else faiss")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="embed new passages in this process (default) or on a Ray cluster (needs the ray extra)")
    p.add_argument("--json", action="store_true", help="print the JSON report (also written to INDEX/report.json)")

    p = command("rollback", cmd_rollback)
    _add_index(p, required=True)
    p.add_argument("--json", action="store_true", help="machine-readable result")

    p = command("search", cmd_search)
    p.add_argument("query", help="the question, in plain words")
    _add_index(p)
    p.add_argument("-k", type=int, default=5, help="passages to return (1-50, default 5)")
    p.add_argument("--category", action="append", help="only this category (repeatable: any of them)")
    p.add_argument("--date-from", type=_iso_date, help="only articles published on or after (YYYY-MM-DD)")
    p.add_argument("--date-to", type=_iso_date, help="only articles published on or before (YYYY-MM-DD)")
    p.add_argument("--mode", choices=MODES, default="hybrid", help="retrieval mode (default hybrid)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("eval", cmd_eval)
    _add_index(p)
    p.add_argument("--queries", required=True, help='JSONL, one {"qid","question"} per line')
    p.add_argument("--qrels", required=True, help="TSV: qid<TAB>article_id[<TAB>grade]")
    p.add_argument("--modes", default="hybrid,bm25,dense", help="comma-separated modes to score")
    p.add_argument("--limit", type=int, default=0, help="only the first N queries")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p.add_argument("--query-model", action="append",
                   help="also score this trained query tower (folder or name; repeatable), beside the base model")

    _train_options(command("train", cmd_train))

    p = command("insights", cmd_insights)
    _add_index(p)
    p.add_argument("--log", help="question log (default: LAWFAQ_QUERY_LOG, else INDEX/query_log.sqlite)")
    p.add_argument("--out", default="insights.html", help="report file to write (default insights.html)")
    p.add_argument("--format", choices=("html", "md"), help="html or md (default: from --out's suffix)")
    p.add_argument("--days", type=int, default=30, help="questions of the last N days (default 30)")

    p = command("status", cmd_status)
    _add_index(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    # the nightly job logs each stage; the query commands only warn
    setup_logging(getattr(args, "verbose", False), logging.INFO if args.command == "build" else logging.WARNING)
    return args.func(args)
