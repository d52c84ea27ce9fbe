"""Start-up (/health 503 until loaded, the URL line), and shutdown mid-stream on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import socket
import threading
import time

import httpx
import pytest
import uvicorn

from console.server import EngineBridge, create_app

from .serving import start_server
from .sse_client import events


def test_health_is_503_until_the_model_is_loaded():
    bridge = EngineBridge(None)
    app = create_app(bridge, load_on_startup=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        while not server.started:
            time.sleep(0.01)
        r = httpx.get(base + "/health")
        assert r.status_code == 503 and "loading" in r.json()["error"]["message"]
        r = httpx.post(base + "/v1/completions", json={"prompt": "x"})
        assert r.status_code == 503
        bridge.load()
        assert httpx.get(base + "/health").status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)


def test_start_prints_the_url_quickly():
    began = time.monotonic()
    served = start_server()
    took = time.monotonic() - began
    try:
        assert served.url.startswith("http://127.0.0.1:") and served.url.endswith("/v1")
        assert httpx.get(served.base + "/health").status_code == 200
        print(f"start to 'serving' line: {took:.2f} s")
    finally:
        assert served.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shutdown_mid_stream_ends_the_stream_and_exits_0(sig):
    served = start_server()
    body = {"prompt": "Tell", "max_tokens": 900, "ignore_eos": True, "stream": True}
    with httpx.Client(timeout=30) as http:
        with http.stream("POST", served.url + "/completions", json=body) as response:
            stream = events(response)
            for _ in range(3):
                next(stream)
            served.process.send_signal(sig)
            rest = [payload for _, payload in stream]
    assert rest[-1] == "[DONE]"
    final = rest[-2]["choices"][0]
    assert final["finish_reason"] == "shutdown"
    assert served.process.wait(30) == 0
