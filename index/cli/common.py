"""What the operator commands share: defaults from the settings, opening a Searcher, common options."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from index.settings import BACKENDS, SettingsError, settings

EPILOG = "exit codes (build): 0 published or nothing to do, 1 failed (nothing changed), 2 refused by a guard, 3 locked"
MODES = ("hybrid", "bm25", "dense")  # = index.search.request.MODES, kept here so `--help` imports nothing heavy


def default_max_bytes() -> int:
    try:
        return settings().max_bytes  # LAWFAQ_MAX_BYTES
    except SettingsError:
        return settings({}).max_bytes


def default_backend() -> str:
    try:
        return settings().backend  # LAWFAQ_BACKEND
    except SettingsError:
        return BACKENDS[0]


def default_index() -> str:
    try:
        return settings().index
    except SettingsError:
        return "var/index"


def index_error(exc: Exception) -> str:
    """The one line an operator reads when no index can be opened (its hint names how to build one)."""
    return f"error: {exc}"


def open_searcher(index: str, serving: bool = True):
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
        print(index_error(exc), file=sys.stderr)
        raise SystemExit(1) from None


def iso_date(text: str) -> str:
    """A --date-from/--date-to value, checked as `Searcher.search` checks it (YYYY-MM-DD)."""
    from index.search.request import InvalidQuery, parse_date

    try:
        date = parse_date("date", text)
    except InvalidQuery:
        date = None
    if date is None:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}")
    return date.isoformat()


def add_index(p: argparse.ArgumentParser, required: bool = False) -> None:
    if required:
        p.add_argument("--index", required=True, help="index directory (e.g. var/index)")
    else:
        p.add_argument("--index", default=default_index(),
                       help="index directory (default: LAWFAQ_INDEX or var/index)")


def labelled_options(p: argparse.ArgumentParser, what: str, default_name: str) -> None:
    """The index, labelled questions, folds, mining and where to save a trained model."""
    add_index(p)
    p.add_argument("--queries", help='labelled questions, JSONL {"qid","question"} (never the eval set)')
    p.add_argument("--qrels", help="their answers, TSV qid<TAB>article_id[<TAB>grade]")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds over --queries (default 5; 0 = none)")
    p.add_argument("--cv-only", action="store_true", help="report cross-validated figures, save no model")
    p.add_argument("--no-mine", action="store_true", help="do not learn from the index's titles and headings")
    p.add_argument("--also-index", action="append",
                   help=f"also learn the titles and headings of this index (same model; repeatable): one {what} for both")
    p.add_argument("--name", help=f"the {what}'s folder name (default {default_name})")
    p.add_argument("--out", help=f"folder to save the {what} in (default LAWFAQ_CACHE/trained)")


def load_labelled(args: argparse.Namespace) -> tuple[dict, dict] | int:
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
