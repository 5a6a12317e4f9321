"""House rules that keep the code readable: small modules and functions, a thin page, a tree by job.

The direction of imports is checked over the whole tree by tests/test_imports.py.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 400
MAX_APP_LINES = 380
MAX_TOP_MODULES = 6  # index/: __init__, __main__, settings, the CLI ... everything else lives in a subpackage
MIN_SUBPACKAGES = 5


def _package_modules() -> list[Path]:
    return [*ROOT.glob("index/**/*.py"), *ROOT.glob("ingest/**/*.py")]


def test_no_function_in_the_packages_is_longer_than_the_limit():
    long = []
    for path in _package_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def test_no_module_in_the_packages_is_longer_than_the_limit():
    long = [f"{p.relative_to(ROOT)} ({n} lines)" for p in _package_modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert long == []


def test_index_is_a_tree_of_subpackages_by_job():
    top = sorted(p.name for p in (ROOT / "index").glob("*.py"))
    subpackages = sorted(p.parent.name for p in (ROOT / "index").glob("*/__init__.py"))
    assert len(top) <= MAX_TOP_MODULES, top
    assert len(subpackages) >= MIN_SUBPACKAGES, subpackages


def test_every_test_folder_mirrors_a_package_folder():
    """tests/index/<job>/ exists only where index/<job>/ does (tests mirror the packages)."""
    strays = [d.name for d in (ROOT / "tests" / "index").iterdir()
              if d.is_dir() and d.name != "__pycache__" and not (ROOT / "index" / d.name / "__init__.py").exists()]
    assert strays == []


def test_the_page_stays_thin_and_renders_nothing_itself():
    source = (ROOT / "app.py").read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_APP_LINES
    assert "<style>" not in source and "html.escape" not in source  # HTML lives in index/serving/render.py


def test_the_renderer_does_not_import_streamlit():
    assert "streamlit" not in (ROOT / "index" / "serving" / "render.py").read_text(encoding="utf-8")
