"""A first build on an empty model cache prints a few lines, not the export's libraries' chatter."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_a_first_build_on_an_empty_model_cache_prints_at_most_60_lines(tmp_path):
    env = {**os.environ, "LAWFAQ_CACHE": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-m", "index", "build", "--source", str(ROOT / "tests" / "fixtures" / "corpus"),
                          "--index", str(tmp_path / "idx")], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = (run.stdout + run.stderr).splitlines()
    assert (tmp_path / "cache" / "onnx").exists()  # the export really ran
    assert len(lines) <= 60, "\n".join(lines[:80])
    assert not any("onnxruntime.quantization" in line or "Warning" in line for line in lines), "\n".join(lines)
    assert any("exporting" in line for line in lines) and run.stdout.startswith("published")
