"""Shared fixtures: the real model, a real index built from a small fixture corpus."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def embedder():
    """The base model (int8): what builds embed passages with, and what model and training tests examine."""
    from index.encoders.factory import base_embedder

    return base_embedder()


@pytest.fixture(scope="session")
def served_embedder():
    """What the page, the API and the CLI serve: the base model with the shipped query adapter."""
    from index.encoders.factory import default_embedder

    return default_embedder()


@pytest.fixture(scope="session")
def tokenizer():
    from index.text.tokenize import default_tokenizer

    return default_tokenizer()


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    """A copy of the fixture corpus that tests may read (never modify: copy it)."""
    return FIXTURES / "corpus"


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, embedder, tokenizer) -> Path:
    """A real index (real model, FAISS, BM25, SQLite) over the fixture corpus, built once."""
    from index.build.pipeline import BuildOptions, build_index

    root = tmp_path_factory.mktemp("index")
    report = build_index([str(FIXTURES / "corpus")], root / "idx", BuildOptions(progress=False), embedder, tokenizer)
    assert report.status == "published", report.message
    return root / "idx"


@pytest.fixture(scope="session")
def shipped_index(tmp_path_factory, embedder, tokenizer) -> Path:
    """A real index over the shipped corpus/ (shares the embedding cache of var/ when present)."""
    from index.build.pipeline import BuildOptions, build_index

    root = tmp_path_factory.mktemp("shipped")
    cache = ROOT / "var" / "index" / "embeddings.sqlite"
    (root / "idx").mkdir()
    if cache.exists() and os.environ.get("LAWFAQ_TEST_NO_CACHE") != "1":
        shutil.copy(cache, root / "idx" / "embeddings.sqlite")
    report = build_index([str(ROOT / "corpus")], root / "idx", BuildOptions(progress=False), embedder, tokenizer)
    assert report.status == "published", report.message
    return root / "idx"


@pytest.fixture
def copy_corpus(tmp_path) -> Path:
    dst = tmp_path / "corpus"
    shutil.copytree(FIXTURES / "corpus", dst)
    return dst


# Tests that load the real model are slow by definition (`make test-fast` runs the ones that need none),
# whether or not their module remembered the marker.
MODEL_FIXTURES = {"embedder", "served_embedder", "built_index", "shipped_index", "fp32", "planted_index"}


def pytest_collection_modifyitems(items):
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
