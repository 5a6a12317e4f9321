"""`python -m ingest` — inspect sources, build/update an index, roll back.

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
from dataclasses import asdict
from pathlib import Path

EPILOG = "exit codes (build): 0 published or nothing to do, 1 failed (nothing changed), 2 refused by a guard, 3 locked"


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "httpcore", "sentence_transformers", "transformers", "jieba", "bm25s", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_inspect(args: argparse.Namespace) -> int:
    """Print what ingest makes of a file, folder, JSONL file or URL."""
    from ingest.chunk import chunk_article
    from ingest.citations import parse_citations, short_law_name
    from ingest.load import LoadConfig, load

    result = load(args.path, LoadConfig(max_bytes=args.max_bytes))
    out = {"articles": [], "skipped": [asdict(s) for s in result.skipped]}
    for a in result.articles:
        cites = []
        for c in parse_citations(a.body):
            item = {"law": c.law, "article": c.article, "short": short_law_name(c.law)}
            if c.paragraph:
                item["paragraph"] = c.paragraph
            if c.sub:
                item["sub"] = c.sub
            if item not in cites:
                cites.append(item)
        out["articles"].append(
            {
                "id": a.id, "url": a.url, "title": a.title, "category": a.category, "published": a.published,
                "tags": a.tags, "source": a.source, "body": a.body, "statutes": cites,
                "passages": [
                    {"id": p.id, "text": p.text, "start": p.start, "end": p.end, "heading": p.heading,
                     "statutes": p.statutes}
                    for p in chunk_article(a)
                ],
            }
        )
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        for a in out["articles"]:
            print(f"{a['id']}  {a['title']}  [{a['category'] or '-'}]  {a['url'] or ''}")
            print(f"    {len(a['body'])} chars, {len(a['passages'])} passages, statutes: "
                  + ", ".join(f"{c['short']} 第{c['article']}条" for c in a["statutes"]))
        for s in out["skipped"]:
            print(f"SKIPPED {s['source']}: {s['reason']}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    """Build or update the index (incremental unless --full); see exit codes below."""
    from index.build import BuildOptions, build_index

    options = BuildOptions(
        full=args.full, keep=args.keep, max_shrink=args.max_shrink, allow_shrink=args.allow_shrink,
        max_bytes=args.max_bytes, progress=False if args.no_progress else None,
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
    """Serve the version before the current one again."""
    from index.layout import IndexDir, IndexLocked

    layout = IndexDir(Path(args.index))
    try:
        with layout.lock():
            versions = layout.list_versions()
            current = layout.current_name()
            older = [v for v in versions if current is None or v < current]
            if not older:
                print(f"no older version to roll back to in {layout.root} (versions: {versions})", file=sys.stderr)
                return 1
            layout.switch(older[-1])
            print(f"rolled back {layout.root}: {current} -> {older[-1]}")
            return 0
    except IndexLocked as exc:
        print(str(exc), file=sys.stderr)
        return 3


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__.splitlines()[0], epilog=EPILOG)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("inspect", help=cmd_inspect.__doc__, description=cmd_inspect.__doc__)
    p.add_argument("path", help="a file, folder, JSONL export, sitemap URL or page URL")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--max-bytes", type=int, default=5 * 1024 * 1024, help="skip files larger than this")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("build", help=cmd_build.__doc__, description=cmd_build.__doc__, epilog=EPILOG)
    p.add_argument("--source", action="append", required=True, help="folder, file, JSONL, sitemap URL (repeatable)")
    p.add_argument("--index", required=True, help="index directory (e.g. var/index)")
    p.add_argument("--full", action="store_true", help="rebuild every article (the embedding cache still applies)")
    p.add_argument("--keep", type=int, default=3, help="versions to keep (default 3)")
    p.add_argument("--max-shrink", type=float, default=0.20, help="refuse to lose more than this share of articles")
    p.add_argument("--allow-shrink", action="store_true", help="publish even if many articles disappeared")
    p.add_argument("--max-bytes", type=int, default=5 * 1024 * 1024, help="skip files larger than this")
    p.add_argument("--no-progress", action="store_true", help="log lines instead of a progress bar")
    p.add_argument("--json", action="store_true", help="print the JSON report (also written to INDEX/report.json)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("rollback", help=cmd_rollback.__doc__, description=cmd_rollback.__doc__)
    p.add_argument("--index", required=True)
    p.set_defaults(func=cmd_rollback)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    setup_logging(args.verbose)
    return args.func(args)
