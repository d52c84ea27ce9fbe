"""Run the app on uvicorn: bind, announce, shut down gracefully on SIGINT/SIGTERM.

The socket is bound here (``port`` 0 picks a free one), so the announced URL is the real one.
The line ``serving <model> on http://HOST:PORT/v1`` is printed (CONTRACTS §3) once uvicorn
accepts connections and the model is loaded. On SIGINT or SIGTERM the server stops accepting,
ends every in-flight stream with a final chunk whose ``finish_reason`` is ``shutdown``, waits
for the responses to go out, closes the engine loop and returns 0; a second SIGINT forces the
exit. uvicorn's own signal capture would re-raise the signal after its shutdown (the process
would then die of it instead of exiting 0), so this server installs its own handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import socket
import sys
from typing import Callable, TextIO

import uvicorn

from console import __version__

from .app import create_app
from .bridge import EngineBridge
from .guard import DEFAULT_MAX_BODY_BYTES

#: The GIL switch interval of the server process. The engine thread runs many short numpy
#: calls while holding the GIL; with Python's default 5 ms the event loop waits up to that long
#: to send each token (measured on the built-in model, one stream: 0.18 of the engine's batch-1
#: rate at 5 ms, 0.41 at 0.5 ms, same run conditions).
SWITCH_INTERVAL_S = 0.0005
#: Seconds the server waits for in-flight responses after a signal before cancelling them.
GRACEFUL_SHUTDOWN_S = 10


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (OSError when it cannot be bound).

    Its protocol is named (IPPROTO_TCP): asyncio turns Nagle off (TCP_NODELAY) only on sockets
    that say so, and with Nagle on, a kept-alive connection's SSE chunks wait ~40 ms for the
    client's delayed ACK and arrive in one burst."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/v1"


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, bridge: EngineBridge, announce: Callable[[], None]) -> None:
        super().__init__(config)
        self.bridge, self.announce = bridge, announce
        self.failed = False
        self._announcer: asyncio.Task | None = None

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        self._announcer = asyncio.create_task(self._announce_when_ready())

    async def _announce_when_ready(self) -> None:
        while self.bridge.facts is None and self.bridge.load_error is None and not self.should_exit:
            await asyncio.sleep(0.01)
        if self.bridge.load_error is not None:
            print(f"moe-console: error: cannot load the model: {self.bridge.load_error}", file=sys.stderr, flush=True)
            self.failed, self.should_exit = True, True
        elif self.bridge.facts is not None:
            self.announce()

    @contextlib.contextmanager
    def capture_signals(self):
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
            return
        self.should_exit = True
        self.bridge.begin_shutdown()


def serve(bridge: EngineBridge, sock: socket.socket, *, api_key: str | None = None,
          max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, out: TextIO | None = None) -> int:
    """Serve until a signal; returns the exit status (0 after a graceful shutdown, 2 when the
    model cannot be loaded)."""
    out = out or sys.stdout
    app = create_app(bridge, api_key=api_key, max_body_bytes=max_body_bytes)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", server_header=False,
                            headers=[("server", f"moe-console/{__version__}")],
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    url = url_of(sock)

    def announce() -> None:
        print(f"serving {bridge.name} on {url}", file=out, flush=True)

    sys.setswitchinterval(SWITCH_INTERVAL_S)
    server = _Server(config, bridge, announce)
    server.run(sockets=[sock])
    return 2 if server.failed else 0
