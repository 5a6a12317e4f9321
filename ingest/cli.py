"""`python -m ingest` — show what a source yields, exactly as the index will store it.

Building, rolling back and searching are operator commands of the index:
`python -m index build|rollback|search|eval|status`.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from ingest.records import DEFAULT_MAX_BYTES, Article, Skipped

NOISY_LOGGERS = ("httpx", "httpcore", "sentence_transformers", "transformers", "jieba", "bm25s", "faiss")


def setup_logging(verbose: bool = False, level: int = logging.INFO) -> None:
    """Timestamped lines on stderr; -v shows debug lines of our own modules."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def verbose_parent() -> argparse.ArgumentParser:
    """`-v` accepted before or after the subcommand."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="debug logging")
    return parent


def source_options() -> argparse.ArgumentParser:
    """How sources are read, the same for `ingest inspect` and `index build`."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="skip files larger than this")
    parent.add_argument("--follow-symlinks", action="store_true",
                        help="read symbolic links in a folder whose target is inside it (default: skip them)")
    parent.add_argument("--allow-private", action="store_true",
                        help="let a URL source fetch from loopback, private and link-local addresses")
    return parent


def prog_name(script: str, module: str) -> str:
    """The program name for usage lines: `script` when run as that console script, else `module`
    (`python -m index`, or a parser built inside another program such as the tests)."""
    name = Path(sys.argv[0] if sys.argv else "").name.lower()
    for suffix in (".exe", "-script.py", ".py"):
        name = name.removesuffix(suffix)
    return script if name == script else module


def run_cli(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run a CLI main; output piped into `head` ends quietly instead of with a BrokenPipe traceback."""
    try:
        code = main(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail again
        return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """Print what ingest makes of a file, folder, JSONL file or URL: articles, passages, statutes."""
    from ingest.load import LoadConfig, is_url, load

    if not is_url(args.path) and not Path(args.path).exists():
        print(f"error: no such file or folder: {args.path}", file=sys.stderr)
        return 1
    config = LoadConfig(max_bytes=args.max_bytes, follow_symlinks=args.follow_symlinks,
                        allow_private=args.allow_private)
    result = load(args.path, config)
    out = {"articles": [], "skipped": [asdict(s) for s in result.skipped]}
    for a in result.articles:
        shown = _inspect_article(a)
        if isinstance(shown, str):  # chunking failed: one article, never the whole command
            out["skipped"].append(asdict(Skipped(a.source, shown)))
        else:
            out["articles"].append(shown)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        _print_text(out)
    if not out["articles"] and not out["skipped"]:
        print(f"error: nothing found in {args.path}: no articles (supported: .md, .txt, .html, .jsonl, "
              "sitemap or page URLs)", file=sys.stderr)
        return 1
    # 1 only when nothing at all could be read: a bad record among good ones is a reported skip
    lost = [s for s in out["skipped"] if not s["kept"]]
    return 1 if not out["articles"] and lost else 0


def _inspect_article(a: Article) -> dict | str:
    """An article as the index stores it, with its passages; or why it could not be chunked."""
    from ingest.chunk import chunk_article

    try:
        passages = chunk_article(a)
    except Exception as exc:
        logging.getLogger(__name__).warning("cannot chunk %s", a.source, exc_info=True)
        return f"cannot cut into passages: {type(exc).__name__}: {exc}"
    return {
        "id": a.id, "url": a.url, "title": a.title, "category": a.category, "published": a.published,
        "tags": a.tags, "source": a.source, "body": a.body,
        "statutes": list(dict.fromkeys(x for p in passages for x in p.statute_labels)),
        "passages": [
            {"id": p.id, "text": p.text, "start": p.start, "end": p.end, "heading": p.heading,
             "statutes": p.statutes, "statute_labels": p.statute_labels}
            for p in passages
        ],
    }


def _print_text(out: dict) -> None:
    for a in out["articles"]:
        print(f"{a['id']}  {a['title']}")
        print(f"    category: {a['category'] or '-'}  date: {a['published'] or '-'}  "
              f"tags: {', '.join(a['tags']) or '-'}  url: {a['url'] or '-'}")
        statutes = ", ".join(a["statutes"]) or "-"
        print(f"    {len(a['body'])} chars, {len(a['passages'])} passages, statutes: {statutes}")
        for n, p in enumerate(a["passages"], 1):  # where each card would start: its heading and first words
            words = " ".join(re.sub(r"(?m)^#+\s.*$", "", p["text"]).split())  # the heading is shown in []
            print(f"      {n}. [{p['heading'] or '-'}] {words[:40]}{'…' if len(words) > 40 else ''}")
    for s in out["skipped"]:
        print(f"{'WARNING' if s['kept'] else 'SKIPPED'} {s['source']}: {s['reason']}")


def make_parser() -> argparse.ArgumentParser:
    parent = verbose_parent()
    parser = argparse.ArgumentParser(prog=prog_name("lawfaq-ingest", "python -m ingest"), description=__doc__.splitlines()[0],
                                     parents=[parent])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help=cmd_inspect.__doc__, description=cmd_inspect.__doc__,
                       parents=[parent, source_options()])
    p.add_argument("path", help="a file, folder, JSONL export, sitemap URL or page URL")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_inspect)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    setup_logging(getattr(args, "verbose", False), logging.WARNING)
    return args.func(args)
