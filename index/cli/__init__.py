"""`python -m index` — build, roll back, search, evaluate, inspect and serve an index.

Exit codes of `build` (for cron and systemd):
  0  published a new version, or nothing changed
  1  failed; the previous version keeps serving, nothing changed
  2  refused by a guard (e.g. the source lost too many articles)
  3  another build holds the lock
"""
from __future__ import annotations

import argparse
import logging
import os

from index.cli.commands import (
    cmd_build,
    cmd_eval,
    cmd_insights,
    cmd_rollback,
    cmd_search,
    cmd_status,
    cmd_train,
)
from index.cli.common import (
    EPILOG,
    MODES,
    add_index,
    default_backend,
    default_max_bytes,
    iso_date,
    labelled_options,
)
from index.cli.serve import cmd_api, cmd_page, serve_options
from index.settings import BACKENDS
from ingest.cli import prog_name, setup_logging, source_options, verbose_parent

__all__ = ["main", "make_parser"]


def _train_options(p: argparse.ArgumentParser) -> None:
    from index.training.tower import LOSSES, TrainConfig

    labelled_options(p, "tower", "query-<model>-<time>")
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
    parser = argparse.ArgumentParser(prog=prog_name("lawfaq", "python -m index"), description=__doc__.splitlines()[0],
                                     epilog=EPILOG, parents=[parent])
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, func, *extra: argparse.ArgumentParser, **kwargs) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=func.__doc__, description=func.__doc__, parents=[parent, *extra], **kwargs)
        p.set_defaults(func=func)
        return p

    p = command("build", cmd_build, source_options(), epilog=EPILOG)
    p.set_defaults(max_bytes=default_max_bytes())
    p.add_argument("--source", action="append", required=True,
                   help="folder, file, JSONL export, sitemap URL or URL list (repeatable)")
    add_index(p, required=True)
    p.add_argument("--full", action="store_true", help="rebuild every article (the embedding cache still applies)")
    p.add_argument("--keep", type=int, default=3, help="versions to keep (default 3)")
    p.add_argument("--max-shrink", type=float, default=0.20, help="refuse to lose more than this share of articles")
    p.add_argument("--allow-shrink", action="store_true", help="publish even if many articles disappeared")
    p.add_argument("--no-progress", action="store_true", help="log lines instead of a progress bar")
    p.add_argument("--backend", choices=BACKENDS, default=default_backend(),
                   help="where vectors and BM25 go: faiss (files in the version) or milvus (LAWFAQ_MILVUS_URI); "
                        "default LAWFAQ_BACKEND, else faiss")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="embed new passages in this process (default) or on a Ray cluster (needs the ray extra)")
    p.add_argument("--json", action="store_true", help="print the JSON report (also written to INDEX/report.json)")

    p = command("rollback", cmd_rollback)
    add_index(p, required=True)
    p.add_argument("--json", action="store_true", help="machine-readable result")

    p = command("search", cmd_search)
    p.add_argument("query", help="the question, in plain words")
    add_index(p)
    p.add_argument("-k", type=int, default=5, help="passages to return (1-50, default 5)")
    p.add_argument("--category", action="append", help="only this category (repeatable: any of them)")
    p.add_argument("--date-from", type=iso_date, help="only articles published on or after (YYYY-MM-DD)")
    p.add_argument("--date-to", type=iso_date, help="only articles published on or before (YYYY-MM-DD)")
    p.add_argument("--mode", choices=MODES, default="hybrid", help="retrieval mode (default hybrid)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("eval", cmd_eval)
    add_index(p)
    p.add_argument("--queries", required=True, help='JSONL, one {"qid","question"} per line')
    p.add_argument("--qrels", required=True, help="TSV: qid<TAB>article_id[<TAB>grade]")
    p.add_argument("--modes", default="hybrid,bm25,dense", help="comma-separated modes to score")
    p.add_argument("--limit", type=int, default=0, help="only the first N queries")
    p.add_argument("--answers", help='JSONL answer sentences, {"qid","article_id","sentences"}: score the cards too')
    p.add_argument("--noanswer", help='JSONL questions nothing answers: are they flagged "no good match"?')
    p.add_argument("-k", type=int, default=5, help="cards per question for --answers/--noanswer (default 5)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p.add_argument("--query-model", action="append",
                   help="also score this trained query tower (folder or name; repeatable), beside the base model")

    _train_options(command("train", cmd_train))

    p = command("insights", cmd_insights)
    add_index(p)
    p.add_argument("--log", help="question log (default: LAWFAQ_QUERY_LOG, else INDEX/query_log.sqlite)")
    p.add_argument("--out", default="insights.html", help="report file to write (default insights.html)")
    p.add_argument("--format", choices=("html", "md"), help="html or md (default: from --out's suffix)")
    p.add_argument("--days", type=int, default=30, help="questions of the last N days (default 30)")

    p = command("status", cmd_status)
    add_index(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    serve_options(command("page", cmd_page), 8501)
    p = command("api", cmd_api)
    serve_options(p, 8000)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="worker processes (default: one per core; each holds its own Searcher)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    # the nightly job logs each stage; the query commands only warn
    setup_logging(getattr(args, "verbose", False), logging.INFO if args.command == "build" else logging.WARNING)
    return args.func(args)
