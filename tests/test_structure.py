"""House rules that keep the code readable: small functions, a thin page, one direction of imports."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_FUNCTION_LINES = 80
MAX_APP_LINES = 380


def test_no_function_in_the_packages_is_longer_than_the_limit():
    long = []
    for path in [*ROOT.glob("index/*.py"), *ROOT.glob("ingest/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def test_the_page_stays_thin_and_renders_nothing_itself():
    source = (ROOT / "app.py").read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_APP_LINES
    assert "<style>" not in source and "html.escape" not in source  # HTML lives in index/render.py


def test_the_renderer_does_not_import_streamlit():
    assert "streamlit" not in (ROOT / "index" / "render.py").read_text(encoding="utf-8")
