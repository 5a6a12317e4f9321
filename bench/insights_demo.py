"""The report screenshot (docs/insights.md): a question log filled by asking the shipped corpus real questions.

    python -m bench.insights_demo --index var/index --out docs/insights.png

The questions are the shipped relevance set's (eval/queries.jsonl) and its
no-answer probes (eval/noanswer.jsonl, asked several times in paraphrase-free
repetition, as unanswered topics recur), spread over 14 days, each really
searched; a few results are opened and rated. The report is rendered by
`index.firm.insights` and photographed with headless Chromium.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import subprocess
import tempfile
from pathlib import Path

from index.firm.insights import write_report
from index.firm.querylog import QueryLog
from index.search.searcher import Searcher

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"


def _questions(path: Path) -> list[str]:
    return [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def fill_log(searcher: Searcher, log: QueryLog, seed: int = 7) -> int:
    """Ask every question once (unanswered ones up to 4 times); returns how many were asked."""
    rng = random.Random(seed)
    asked = _questions(ROOT / "eval" / "queries.jsonl")[:120]
    probes = _questions(ROOT / "eval" / "noanswer.jsonl")
    asked += [q for q in probes for _ in range(rng.randint(1, 4))]
    rng.shuffle(asked)
    now = dt.datetime.now(dt.UTC)
    for i, question in enumerate(asked):
        hits = searcher.search(question, k=5)
        at = now - dt.timedelta(days=13 - (i * 14) // len(asked), minutes=rng.randint(0, 600))
        qid = log.record(question, rng.choice(["page", "page", "api"]), {}, [h.article_id for h in hits],
                         hits.weak, at=at)
        if hits and rng.random() < 0.35:
            log.opened(qid, hits[0].article_id)
        if rng.random() < 0.25:
            log.feedback(qid, 0 if hits.weak else int(rng.random() < 0.85))
    log.flush()
    return len(asked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="var/index", help="an index of the shipped corpus")
    parser.add_argument("--out", default=str(ROOT / "docs" / "insights.png"), help="screenshot to write")
    args = parser.parse_args()
    searcher = Searcher.open(args.index)
    with tempfile.TemporaryDirectory() as tmp:
        log = QueryLog.open(Path(tmp) / "log.sqlite")
        n = fill_log(searcher, log)
        log.close()
        html = write_report(Path(tmp) / "log.sqlite", None, Path(tmp) / "report.html", searcher=searcher, days=14)
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--disable-background-networking", "--window-size=1100,1500",
                        f"--screenshot={Path(args.out).resolve()}", html.as_uri()], check=True,
                       capture_output=True, timeout=120)
    print(f"asked {n} questions; wrote {args.out}")


if __name__ == "__main__":
    main()
