"""`python -m index.serving.server APP [uvicorn options]`: uvicorn's own CLI, with TCP_NODELAY kept under `--workers`.

Why this exists: with `--workers N` uvicorn 0.54 binds the listening socket
itself and leaves its protocol number at 0; accepted connections inherit it,
and asyncio only switches Nagle's algorithm off (TCP_NODELAY) on sockets that
report IPPROTO_TCP. So on Linux every keep-alive request after a connection's
first waits for the client's delayed ACK (uvicorn issue #3149, open when
written). bench/api.py measures the API with one and two workers; its figures
are in docs/bench/results.md ("JSON API under concurrent clients"). The
one-worker path is unaffected (asyncio binds that socket from getaddrinfo,
which fills the protocol in).

The fix is the same listening socket, re-wrapped so that it reports
IPPROTO_TCP; everything else is uvicorn's CLI unchanged (`make api` runs it
with one worker process per core).
"""
from __future__ import annotations

import importlib
import socket

import uvicorn.config

_uvicorn_bind_socket = uvicorn.config.Config.bind_socket


def bind_tcp_socket(config: uvicorn.config.Config) -> socket.socket:
    """`Config.bind_socket`, with an IP listener's protocol set to TCP so its connections get TCP_NODELAY."""
    sock = _uvicorn_bind_socket(config)
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto != socket.IPPROTO_TCP:
        fixed = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        fixed.set_inheritable(True)
        return fixed
    return sock


def main(argv: list[str] | None = None) -> None:
    uvicorn.config.Config.bind_socket = bind_tcp_socket  # type: ignore[method-assign]
    cli = importlib.import_module("uvicorn.main").main  # the click command (`uvicorn.main` is shadowed by it)
    cli.main(args=argv, prog_name="python -m index.serving.server")


if __name__ == "__main__":
    main()
