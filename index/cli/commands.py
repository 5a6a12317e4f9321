"""The operator commands, one function each: build, rollback, status, search, eval, train, insights."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from index.cli.common import MODES, index_error, load_labelled, open_searcher
from index.search.plain import plain_text
from index.settings import SettingsError, settings


def _had_version(index: Path) -> bool:
    from index.storage.layout import IndexDir

    try:
        return IndexDir(index).current_name() is not None
    except OSError:
        return False


def _remove_new_index_folder(index: Path, existed: bool) -> str:
    """After a failed first build: remove the folder this run created (only its lock and report), or
    say what is left."""
    if existed or not index.is_dir():
        return ""
    leftovers = sorted(p.name for p in index.iterdir())
    if set(leftovers) <= {"build.lock", "report.json"}:
        try:
            for name in leftovers:
                (index / name).unlink()
            index.rmdir()
            return f"; the folder {index} was removed"
        except OSError:
            pass
    return f"; {index} was left holding {', '.join(leftovers) or 'nothing'} (safe to delete)"


def cmd_build(args: argparse.Namespace) -> int:
    """Build or update the index (incremental unless --full); see the exit codes below."""
    from index.build.pipeline import BuildOptions, build_index

    options = BuildOptions(
        full=args.full, keep=args.keep, max_shrink=args.max_shrink, allow_shrink=args.allow_shrink,
        max_bytes=args.max_bytes, follow_symlinks=args.follow_symlinks, allow_private=args.allow_private,
        progress=False if args.no_progress else None, backend=args.backend, executor=args.executor,
        milvus_uri=settings().milvus_uri if args.backend == "milvus" else "",
    )
    index, existed = Path(args.index), Path(args.index).exists()
    had_version = _had_version(index)
    try:
        report = build_index(args.source, index, options)
    except Exception as exc:  # build_index reports its failures; this is for what it could not foresee
        logging.getLogger(__name__).debug("build raised", exc_info=True)
        message = f"{type(exc).__name__}: {exc}"
        if args.json:
            print(json.dumps({"status": "failed", "message": message, "exit_code": 1}, ensure_ascii=False, indent=2))
        print(f"failed: {message}", file=sys.stderr)
        return 1
    left = ""
    if not had_version and report.status != "published" and report.exit_code != 3:
        left = f"; no index was built{_remove_new_index_folder(index, existed)}"
    kept = sum(1 for s in report.skipped if s.get("kept"))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        if left:
            print(left.lstrip("; "), file=sys.stderr)
    else:
        print(
            f"{report.status}: {report.message}{left} | articles {report.articles_total} "
            f"(+{report.articles_added} ~{report.articles_changed} -{report.articles_removed} "
            f"={report.articles_unchanged}), passages {report.passages_total}, embedded {report.passages_embedded}, "
            f"skipped {len(report.skipped) - kept}, {kept} warnings, {report.seconds:.1f}s"
        )
    return report.exit_code


def cmd_rollback(args: argparse.Namespace) -> int:
    """Serve the version that served before the current one again (exit 1: none kept, it is damaged,
    or the index folder is not writable; 3: a build is running)."""
    from index.storage.layout import IndexDamaged, IndexDir, IndexLocked, IndexNotWritable, NothingToRollBack

    layout = IndexDir(Path(args.index))
    try:
        previous, current = layout.rollback()
    except (IndexLocked, NothingToRollBack, IndexDamaged, IndexNotWritable, OSError) as exc:
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


def cmd_status(args: argparse.Namespace) -> int:
    """Version, build time, counts, model and categories of the serving index, and the last build."""
    from index.storage.layout import IndexDir, IndexNotFound

    try:
        status = IndexDir(Path(args.index)).describe()
    except IndexNotFound as exc:
        print(index_error(exc), file=sys.stderr)
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


def cmd_search(args: argparse.Namespace) -> int:
    """Search the index and print the best passages."""
    s = open_searcher(args.index)
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
        text = plain_text(h.passage).text
        print(f"   {text[:160].replace(chr(10), ' ')}{'…' if len(text) > 160 else ''}")
        if h.statutes:
            print(f"   法条: {'、'.join(h.statutes)}")
        print(f"   {h.link}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Article-level Recall@1/5/10/100, MRR@10, nDCG@10 per mode; with --answers, the cards themselves."""
    from index.search.answers import AnswerSet, format_answers, load_answers, score_answers
    from index.search.evaluate import evaluate, format_table, load_eval_set, load_queries

    try:
        eval_set = load_eval_set(Path(args.queries), Path(args.qrels))
        answer_set = AnswerSet(eval_set.queries, load_answers(Path(args.answers)) if args.answers else {},
                               load_queries(Path(args.noanswer)) if args.noanswer else {})
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
        if args.answers or args.noanswer:
            report[label]["answers"] = score_answers(searcher, answer_set, k=args.k)
        if not args.json:
            print(f"{label}: {len(eval_set.queries)} queries, index version {searcher.version}")
            print(format_table(results))
            if "answers" in report[label]:
                print(f"the first {args.k} cards of each question (hybrid):")
                print(format_answers(report[label]["answers"]))
    if args.json:
        only = next(iter(report.values())) if len(report) == 1 else {"variants": report}
        print(json.dumps(only, ensure_ascii=False, indent=2))
    return 0


def _eval_variants(index: str, query_models: list[str]):
    """(label, Searcher) pairs: the configured model, then each trained tower (base always first)."""
    from index.encoders.base import ModelUnavailable
    from index.encoders.factory import tuned_embedder

    first = open_searcher(index)
    yield ("configured model" if settings().query_model else "base model"), first
    for name in query_models:
        try:
            embedder = tuned_embedder(name)
        except ModelUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
        yield f"query tower {name}", type(first).open(index, embedder=embedder, base_url=first.base_url)


def cmd_train(args: argparse.Namespace) -> int:
    """Train a query tower for an index: labelled questions (optional) + titles and headings it holds."""
    from index.training.run import train
    from index.training.tower import TrainConfig

    labelled = load_labelled(args)
    if isinstance(labelled, int):
        return labelled
    queries, qrels = labelled
    searcher = open_searcher(args.index, serving=False)
    if searcher.embedder.trained_folder is not None:
        print("error: unset LAWFAQ_QUERY_MODEL: a tower is trained from the base model", file=sys.stderr)
        return 2
    if searcher.embedder.judge is not None:  # the shipped query adapter: a tower learns from the base model
        from index.encoders.factory import base_embedder

        searcher = type(searcher).open(args.index, embedder=base_embedder(), base_url=searcher.base_url)
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
    searcher = open_searcher(args.index, serving=False)
    out = write_report(log_path, None, args.out, fmt=fmt, days=args.days, searcher=searcher)
    print(f"wrote {out} ({fmt}, last {args.days} days of {log_path})")
    return 0
