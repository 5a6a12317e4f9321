"""Where the questions and articles come from: the shipped eval set and STARD.

STARD (../shared/data/stard) is read in place, never copied into the project.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from bench import DEFAULT_STARD, SHIPPED_CORPUS, SHIPPED_QRELS, SHIPPED_QUERIES

STARD_FILES = ("corpus.jsonl", "train_queries.jsonl", "train_qrels.tsv")


@dataclass
class Stard:
    dir: Path

    @property
    def corpus(self) -> Path:
        return self.dir / "corpus.jsonl"

    @property
    def queries(self) -> Path:
        return self.dir / "train_queries.jsonl"

    @property
    def qrels(self) -> Path:
        return self.dir / "train_qrels.tsv"


def find_stard(path: Path | None = None) -> tuple[Stard | None, str]:
    """(Stard, "") when the data is there, else (None, a message saying what is skipped and why)."""
    path = Path(path or DEFAULT_STARD)
    missing = [f for f in STARD_FILES if not (path / f).exists()]
    if not missing:
        return Stard(path), ""
    return None, (
        f"STARD data not found at {path} (expected ../shared/data/stard beside the checkout; "
        f"missing {', '.join(missing)}): skipping the 55k-article index, the STARD questions and "
        "the STARD quality figures"
    )


def shipped_eval_files() -> tuple[Path, Path] | None:
    """(queries, qrels) of the shipped relevance set, or None while it does not exist."""
    if SHIPPED_QUERIES.exists() and SHIPPED_QRELS.exists() and SHIPPED_QUERIES.stat().st_size > 0:
        return SHIPPED_QUERIES, SHIPPED_QRELS
    return None


def shipped_questions() -> tuple[list[str], str]:
    """The shipped relevance questions for latency, or ([], why not) while the file is missing or half-written."""
    if not SHIPPED_QUERIES.exists():
        return [], f"{SHIPPED_QUERIES.name} not found: latency uses STARD questions only"
    try:
        return read_questions(SHIPPED_QUERIES), ""
    except (OSError, ValueError) as exc:
        return [], f"eval/{SHIPPED_QUERIES.name} unreadable ({exc}): latency uses STARD questions only"


def read_questions(path: Path) -> list[str]:
    from index.search.evaluate import load_queries

    return list(load_queries(path).values())


def stard_articles(stard: Stard) -> list[dict]:
    """The raw STARD records ({id, title, body, category}), untouched by our ingest."""
    out = []
    with open(stard.corpus, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.append(json.loads(line))
    return out


def shipped_articles() -> list[dict]:
    """The shipped corpus as {id, title, body}: ids are the ones the shipped qrels use."""
    from ingest.load import load

    return [{"id": a.id, "title": a.title, "body": a.body} for a in load(SHIPPED_CORPUS).articles]


@dataclass
class QuestionMix:
    """Measured questions plus separate warm-up questions, and where they came from."""

    measured: list[str]
    warmup: list[str]
    sources: dict[str, int] = field(default_factory=dict)
    distinct: int = 0
    note: str = ""


def question_mix(n: int, n_warmup: int, shipped: list[str], stard: list[str], seed: int = 0) -> QuestionMix:
    """Up to half shipped eval questions, the rest STARD train questions, shuffled.

    The warm-up questions are not among the measured ones. With too few
    questions in total (no STARD, small eval set) the list is cycled and
    the note says so.
    """
    rng = random.Random(seed)
    shipped = list(dict.fromkeys(q for q in shipped if q.strip()))
    stard = list(dict.fromkeys(q for q in stard if q.strip() and q not in shipped))
    rng.shuffle(shipped)
    rng.shuffle(stard)
    fallback = ""
    if not shipped and not stard:
        shipped = [a["title"] for a in shipped_articles()]
        fallback = "no question set found: article titles used as questions; "
    # warm-up first from the larger pool so the small shipped set stays measured
    pool_warm = stard if len(stard) >= n_warmup else shipped
    warmup = pool_warm[:n_warmup]
    if pool_warm is stard:
        stard = stard[n_warmup:]
    else:
        shipped = shipped[n_warmup:] or shipped
    take_shipped = min(len(shipped), n // 2 if stard else n)
    take_stard = min(len(stard), n - take_shipped)
    chosen = [("shipped", q) for q in shipped[:take_shipped]] + [("stard", q) for q in stard[:take_stard]]
    rng.shuffle(chosen)
    distinct = len(chosen)
    note = fallback
    if distinct < n and chosen:
        note += f"only {distinct} distinct questions: cycled to {n}"
        chosen = [chosen[i % distinct] for i in range(n)]
    sources: dict[str, int] = {}
    for src, _ in chosen:
        sources[src] = sources.get(src, 0) + 1
    return QuestionMix([q for _, q in chosen], warmup, sources, distinct, note.strip("; "))
