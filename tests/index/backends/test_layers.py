"""Layering: the backends sit below the build, so importing any of them never imports `index.build`."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CHECK = """
import importlib, pkgutil, sys
import index.backends
for m in pkgutil.iter_modules(index.backends.__path__):
    importlib.import_module("index.backends." + m.name)
print(sorted(m for m in sys.modules if m == "index.build" or m.startswith("index.build.")))
"""


def test_no_backend_imports_the_build():
    out = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
