"""API key (401), body size (413), waiting-room limit (429), and the non-loopback warning."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from .serving import ROOT, start_server
from .sse_client import events

KEY = "test-key-5b2e"


@pytest.fixture(scope="module")
def guarded():
    served = start_server("--api-key-env", "SERVE_TEST_KEY", "--max-batch", "1", "--max-concurrency", "1",
                          "--max-body-bytes", "4096", env={"SERVE_TEST_KEY": KEY})
    yield served
    assert served.stop() == 0
    assert not any(KEY in line for line in served.lines)          # the key is never printed


def _auth(key=KEY):
    return {"Authorization": f"Bearer {key}"}


def test_api_key_is_required_on_the_api_but_not_on_health_and_metrics(guarded):
    body = {"prompt": "Hi", "max_tokens": 2}
    for headers in ({}, _auth("wrong"), {"Authorization": KEY}):
        r = httpx.post(guarded.url + "/completions", json=body, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["type"] == "AuthenticationError"
    assert httpx.get(guarded.url + "/models").status_code == 401
    assert httpx.post(guarded.url + "/completions", json=body, headers=_auth()).status_code == 200
    assert httpx.get(guarded.base + "/health").status_code == 200
    assert httpx.get(guarded.base + "/metrics").status_code == 200


def test_bodies_over_the_limit_get_413(guarded):
    big = {"prompt": "x" * 5000, "max_tokens": 2}
    r = httpx.post(guarded.url + "/completions", json=big, headers=_auth())
    assert r.status_code == 413 and "4096 bytes" in r.json()["error"]["message"]

    def chunks():                                       # no Content-Length: counted as it arrives
        yield b'{"prompt": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}'

    r = httpx.post(guarded.url + "/completions", content=chunks(), headers=_auth())
    assert r.status_code == 413


def test_requests_past_the_waiting_room_get_429(guarded):
    body = {"prompt": "Long", "max_tokens": 900, "ignore_eos": True, "stream": True}
    with httpx.Client(timeout=30, headers=_auth()) as http:
        with http.stream("POST", guarded.url + "/completions", json=body) as running:
            first = events(running)                     # keep the reader: dropping it hangs up
            next(first)
            with http.stream("POST", guarded.url + "/completions", json=body) as waiting:
                assert waiting.status_code == 200
                refused = http.post(guarded.url + "/completions", json={"prompt": "x", "max_tokens": 1})
                assert refused.status_code == 429
                assert refused.json()["error"]["type"] == "RateLimitError"


def test_non_loopback_without_a_key_warns_and_bad_flags_fail_in_one_line():
    code = "import sys; from console.cli import main; sys.exit(main())"
    bad = subprocess.run([sys.executable, "-c", code, "serve", "--api-key-env", "SERVE_TEST_UNSET_VAR"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "SERVE_TEST_UNSET_VAR" in bad.stderr and "Traceback" not in bad.stderr
    served = start_server("--host", "0.0.0.0")
    try:
        assert any("warning" in line and "without an API key" in line for line in served.lines)
    finally:
        assert served.stop() == 0
