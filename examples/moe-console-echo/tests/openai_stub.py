"""A stand-in for an OpenAI-compatible server (vLLM, SGLang, ...), for tests.

We cannot run a real inference server in the test suite, so this small stdlib
HTTP server speaks the same wire format: ``POST /v1/chat/completions`` with
``"stream": true`` answers ``text/event-stream`` in chunked encoding, one
``chat.completion.chunk`` per word of "You said: <last user message>" (cut
before the first ``stop`` string and at ``max_tokens`` words), a final
usage chunk (``stream_options.include_usage``) and ``data: [DONE]``. It counts
open streams so a test can see that a cancelled client really hung up.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import re

_PIECE = re.compile(r"\s*\S+|\s+")


class OpenAIStub:
    """Run with ``with OpenAIStub() as stub: stub.base_url``."""

    def __init__(self, delay_s: float = 0.01) -> None:
        self.delay_s = delay_s
        self.requests: list[dict] = []
        self.active = 0
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if self.path != "/v1/chat/completions":
                    self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                with stub._lock:
                    stub.active += 1
                try:
                    self._stream(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client hung up: a cancelled reply
                finally:
                    with stub._lock:
                        stub.active -= 1

            def _send_json(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _event(self, payload: object) -> None:
                data = f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _stream(self, body: dict) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                users = [m["content"] for m in body["messages"] if m["role"] == "user"]
                pieces = _PIECE.findall("You said: " + (users[-1] if users else ""))
                limit = body.get("max_tokens") or len(pieces)
                reason = "length" if len(pieces) > limit else "stop"
                text = "".join(pieces[:limit])  # stop strings cut the text as vLLM does (not included)
                cuts = [i for i in (text.find(s) for s in body.get("stop") or ()) if i >= 0]
                if cuts:
                    pieces, limit, reason = _PIECE.findall(text[: min(cuts)]), len(text), "stop"
                base = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "model": "stub-model"}
                for piece in pieces[:limit]:
                    time.sleep(stub.delay_s)
                    self._event({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
                self._event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
                prompt = sum(len(_PIECE.findall(m["content"])) for m in body["messages"])
                usage = {"prompt_tokens": prompt, "completion_tokens": min(limit, len(pieces)),
                         "total_tokens": prompt + min(limit, len(pieces))}
                self._event({**base, "choices": [], "usage": usage})
                self._event("[DONE]")
                self.wfile.write(b"0\r\n\r\n")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """True once no stream is open (a cancelled client has hung up)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.active == 0:
                return True
            time.sleep(0.01)
        return self.active == 0

    def __enter__(self) -> OpenAIStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
