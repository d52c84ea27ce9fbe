"""Streams on a kept-alive connection are not held back by Nagle's algorithm.

The server binds its own socket (so ``--port 0`` can announce the real port); asyncio turns
Nagle off (TCP_NODELAY) on accepted connections only when the listening socket names its
protocol. Without it, the second request on a kept-alive connection (every pooled client:
openai, httpx, ``bench serve``, the ``remote`` backend) got its SSE chunks in one burst
after the client's ~40 ms delayed ACK. Checked on the mechanism uvicorn uses
(``loop.create_server(sock=...)``), not on a timing.
"""

from __future__ import annotations

import asyncio
import socket

from console.server.runner import bind


async def test_connections_accepted_on_the_bound_socket_have_nagle_off():
    sock = bind("127.0.0.1", 0)
    nodelay = asyncio.get_running_loop().create_future()

    def accepted(reader, writer) -> None:
        option = writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        if not nodelay.done():
            nodelay.set_result(option)
        writer.close()

    server = await asyncio.start_server(accepted, sock=sock)
    try:
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        assert await asyncio.wait_for(nodelay, 10) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
