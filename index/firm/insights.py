"""The firm's report: what people ask that the articles do not answer (`python -m index insights`).

    write_report(settings().query_log_path, "var/index", "report.html", days=30)

The question log (index/firm/querylog.py) says which questions got only a weak
match. The report groups those by meaning (index/firm/gaps.py), counts the
rest (index/firm/report.py: questions per day, channels, most opened articles,
feedback) and lays it out as HTML or Markdown (index/firm/report_render.py).
This module is the command that ties them together and writes the file.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from index.firm.querylog import QueryLog
from index.firm.report import build_report
from index.firm.report_render import render_html, render_markdown


def write_report(log_path: str | Path | None, index_path: str | Path | None, out_path: str | Path,
                 fmt: str = "html", days: int = 30, searcher=None) -> Path:
    """Build the report from a log file and an index and write it (atomically) to `out_path`.

    `searcher` reuses an open Searcher (the page, tests); otherwise `index_path` is opened.
    """
    if fmt not in ("html", "md"):
        raise ValueError(f"fmt must be 'html' or 'md', not {fmt!r}")
    if searcher is None:
        from index.search.searcher import Searcher

        if index_path is None:
            raise ValueError("write_report needs index_path or searcher")
        searcher = Searcher.open(index_path)
    log = QueryLog.open(Path(log_path) if log_path is not None else None)
    try:
        report = build_report(log, searcher, days=days)
    finally:
        log.close()
    text = render_html(report) if fmt == "html" else render_markdown(report)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the report is meant to be read by others
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
