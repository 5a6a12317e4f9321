"""`page` and `api`: start the search page or the JSON API on an index, wherever the project is installed.

Why commands and not only `make run` / `make api`: a firm that installed the
package with pip has no Makefile and no `.streamlit/config.toml` beside its
`app.py` (the page is installed as the top-level module `app`). These commands
find the installed page and pass the page's own settings as flags — listen on
127.0.0.1 unless told, no developer menu, no error tracebacks, no usage
statistics — so a pip install serves exactly what a checkout serves. The
process is replaced by the server (`exec`): signals from systemd or Ctrl-C
reach it directly.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys

PAGE_FLAGS = ("--server.headless", "true", "--client.toolbarMode", "minimal", "--client.showErrorDetails", "none",
              "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none")


def page_command(port: int, host: str) -> list[str]:
    """The command line that serves the installed search page."""
    spec = importlib.util.find_spec("app")
    if spec is None or not spec.origin:
        raise FileNotFoundError("the search page (app.py) is not installed beside the index package")
    return [sys.executable, "-m", "streamlit", "run", spec.origin, "--server.port", str(port),
            "--server.address", host, *PAGE_FLAGS]


def api_command(port: int, host: str, workers: int) -> list[str]:
    """The command line that serves the JSON API (through index.serving.server: redacted logs, no Nagle)."""
    return [sys.executable, "-m", "index.serving.server", "index.serving.api:create_app", "--factory",
            "--host", host, "--port", str(port), "--workers", str(workers)]


def _exec(cmd: list[str], index: str | None) -> int:
    env = dict(os.environ)
    if index:
        env["LAWFAQ_INDEX"] = index
    sys.stdout.flush()
    os.execve(cmd[0], cmd, env)
    return 0  # not reached


def cmd_page(args: argparse.Namespace) -> int:
    """Serve the search page (Streamlit) on an index: 127.0.0.1:8501 unless --host/--port say otherwise."""
    try:
        cmd = page_command(args.port, args.host)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"search page on http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
    return _exec(cmd, args.index)


def cmd_api(args: argparse.Namespace) -> int:
    """Serve the JSON API (uvicorn) on an index: 127.0.0.1:8000 unless --host/--port say otherwise."""
    print(f"JSON API on http://{args.host}:{args.port}/ (documentation at /docs; Ctrl-C stops it)", flush=True)
    return _exec(api_command(args.port, args.host, args.workers), args.index)


def serve_options(p: argparse.ArgumentParser, port: int) -> None:
    p.add_argument("--index", help="the index to serve (default LAWFAQ_INDEX, else var/index)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 for a LAN)")
    p.add_argument("--port", type=int, default=port, help=f"port (default {port})")
