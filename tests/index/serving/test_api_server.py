"""index.serving.server: the listening socket uvicorn binds for --workers keeps TCP_NODELAY on its connections."""
from __future__ import annotations

import asyncio
import socket

import uvicorn.config

from index.serving.server import bind_tcp_socket


async def _nodelay_of_an_accepted_connection(listener: socket.socket) -> int:
    accepted: asyncio.Future = asyncio.get_running_loop().create_future()

    class Report(asyncio.Protocol):
        def connection_made(self, transport):
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Report, sock=listener)
    try:
        port = listener.getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        value = await asyncio.wait_for(accepted, 10)
        writer.close()
        return value
    finally:
        server.close()
        await server.wait_closed()


def test_the_bound_listener_reports_tcp_and_its_connections_get_nodelay():
    config = uvicorn.config.Config("index.serving.api:create_app", host="127.0.0.1", port=0, log_level="warning")
    listener = bind_tcp_socket(config)
    assert listener.proto == socket.IPPROTO_TCP and listener.get_inheritable()
    assert asyncio.run(_nodelay_of_an_accepted_connection(listener)) != 0


def test_a_unix_socket_is_left_alone(tmp_path):
    config = uvicorn.config.Config("index.serving.api:create_app", uds=str(tmp_path / "api.sock"), log_level="warning")
    sock = bind_tcp_socket(config)
    try:
        assert sock.family == socket.AF_UNIX
    finally:
        sock.close()
