"""notebooks/quickstart.ipynb is executed end to end so it never rots."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def test_quickstart_notebook_runs(shipped_index, monkeypatch):
    monkeypatch.setenv("LAWFAQ_INDEX", str(shipped_index))
    nb = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = "".join(str(o) for c in nb.cells for o in c.get("outputs", []))
    assert "recall@5" in outputs and "Error" not in outputs
