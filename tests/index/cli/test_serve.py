"""`python -m index page` and `api`: the page and the API started the way a pip install starts them."""
from __future__ import annotations

import os
import sys

import httpx
import psutil

from index.cli.serve import PAGE_FLAGS
from tests.servers import free_port, running


def _listening(pid: int, port: int) -> set[str]:
    """Addresses that process `pid` or its children listen on at `port` (uvicorn workers are children)."""
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return {c.laddr.ip for p in procs for c in p.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


def test_page_command_serves_the_installed_page_on_localhost(built_index, tmp_path):
    port = free_port()
    cmd = [sys.executable, "-m", "index", "page", "--index", str(built_index), "--port", str(port)]
    url = f"http://127.0.0.1:{port}/"
    with running(cmd, dict(os.environ), tmp_path / "page.log", url + "_stcore/health", 60) as proc:
        assert _listening(proc.pid, port) == {"127.0.0.1"}
        assert httpx.get(url, timeout=30).status_code == 200
        # the page's own settings travel as flags: a pip install has no .streamlit/config.toml beside app.py
        started = " ".join(psutil.Process(proc.pid).cmdline())
        assert " ".join(PAGE_FLAGS) in started and "app.py" in started


def test_api_command_serves_the_index_it_is_given(built_index, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "LAWFAQ_INDEX"}
    env["LAWFAQ_QUERY_LOG"] = "off"
    cmd = [sys.executable, "-m", "index", "api", "--index", str(built_index), "--port", str(port), "--workers", "1"]
    url = f"http://127.0.0.1:{port}"
    with running(cmd, env, tmp_path / "api.log", url + "/healthz", 60) as proc:
        assert _listening(proc.pid, port) == {"127.0.0.1"}
        version = (built_index / "CURRENT").read_text().strip()
        assert httpx.get(url + "/healthz", timeout=30).json()["version"] == version
