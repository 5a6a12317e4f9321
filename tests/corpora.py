"""Indexes for tests that need the fixture corpus with an article or two of their own."""
from __future__ import annotations

import shutil
from pathlib import Path

FIXTURE_CORPUS = Path(__file__).resolve().parent / "fixtures" / "corpus"


def fixture_index_with(root: Path, articles: dict[str, str], embedder, tokenizer) -> Path:
    """A real index in `root`/idx of the fixture corpus plus `articles` (file name -> Markdown)."""
    from index.build.pipeline import BuildOptions, build_index

    corpus = root / "corpus"
    shutil.copytree(FIXTURE_CORPUS, corpus)
    for name, text in articles.items():
        (corpus / name).write_text(text, encoding="utf-8")
    report = build_index([str(corpus)], root / "idx", BuildOptions(progress=False), embedder, tokenizer)
    assert report.status == "published", report.message
    return root / "idx"
