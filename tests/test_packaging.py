"""`pip install .` ships both packages, their data and the console scripts."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_pip_install_ships_packages_data_and_scripts(tmp_path):
    target = tmp_path / "site"
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(ROOT)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    probe = (
        "import index, ingest, index.text.tokenize as t, index.search.repeal as r, ingest.sources.web, index.training.run;"
        f"assert index.__file__.startswith({str(target)!r}), index.__file__;"
        "assert t.DEFAULT_DICT_PATH.exists() and r.SUCCESSORS_PATH.exists();"
        "from index.cli import make_parser; make_parser();"
        "print('ok')"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
    assert (target / "index" / "py.typed").exists() and (target / "ingest" / "py.typed").exists()
    entry_points = next(target.glob("lawfaq-*.dist-info")) / "entry_points.txt"
    text = entry_points.read_text()
    assert "lawfaq = index.__main__:main" in text and "lawfaq-ingest = ingest.__main__:main" in text
