"""The third-party example package: its real metadata, the host, and the conformance kit."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from importlib.metadata import Distribution
from pathlib import Path

import pytest

from console.api import Failed, Message, Request, Sampling, TextDelta
from console.plugins import PluginHost
from console.testing import check_events, collect

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "moe-console-echo"
sys.path[:0] = [str(EXAMPLE / "src"), str(EXAMPLE / "tests")]

from moe_console_echo.backend import EchoBackend  # noqa: E402
from openai_stub import OpenAIStub  # noqa: E402
# The example's own conformance suite, collected here too.
from test_echo_backend import TestEchoMode, TestServerMode  # noqa: E402,F401

REQUEST = Request(messages=(Message("user", "the quick brown fox"),), sampling=Sampling(max_tokens=3))


@pytest.fixture(scope="module")
def echo_distribution(tmp_path_factory):
    """Metadata built by setuptools from the example's own pyproject.toml."""
    work = tmp_path_factory.mktemp("echo")
    shutil.copytree(EXAMPLE, work / "pkg", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    code = "import sys; from setuptools import setup; sys.argv = ['setup.py', '-q', 'egg_info', '--egg-base', 'meta']; setup()"
    (work / "pkg" / "meta").mkdir()
    subprocess.run([sys.executable, "-c", code], cwd=work / "pkg", check=True, capture_output=True, timeout=120)
    return Distribution.at(work / "pkg" / "meta" / "moe_console_echo.egg-info")


async def test_host_discovers_loads_and_streams_the_example(echo_distribution, monkeypatch):
    for name in [m for m in sys.modules if m.startswith("moe_console_echo")]:
        monkeypatch.delitem(sys.modules, name)
    host = PluginHost.discover(distributions=[echo_distribution])
    (record,) = host.plugins
    assert (record.name, record.distribution, record.version, record.value) == (
        "echo", "moe-console-echo", "0.1.0", "moe_console_echo")
    assert "moe_console_echo" not in sys.modules
    host.load_all()
    assert (record.status, record.api_version, record.api_declared, record.backends) == ("loaded", "1.0", True, ("echo",))
    backend = host.create("echo", delay_s=0)
    events = [e async for e in host.stream(backend, REQUEST)]
    check_events(events, backend=backend, request=REQUEST)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "the quick brown"
    assert events[-1].reason == "length"


async def test_server_mode_sends_the_request_and_reads_usage():
    with OpenAIStub(delay_s=0) as stub:
        backend = EchoBackend(base_url=stub.base_url, model="m1", api_key_env="ECHO_TEST_KEY")
        request = Request(messages=(Message("system", "be brief"), Message("user", "hello you")),
                          sampling=Sampling(max_tokens=5, temperature=0.3, top_k=40, seed=7, stop=("zzz",)))
        events = await collect(backend.stream(request))
        check_events(events, backend=backend, request=request)
        sent = stub.requests[0]["body"]
    assert sent["model"] == "m1" and sent["stream"] is True and sent["max_tokens"] == 5
    assert (sent["temperature"], sent["top_k"], sent["seed"], sent["stop"]) == (0.3, 40, 7, ["zzz"])
    assert "min_p" not in sent  # neutral extensions are not sent
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "You said: hello you"
    assert events[0].model == "stub-model"
    assert (events[-1].usage.prompt_tokens, events[-1].usage.completion_tokens) == (4, 4)


async def test_server_errors_become_failed_events():
    with OpenAIStub() as stub:
        wrong = EchoBackend(base_url=stub.base_url.removesuffix("/v1") + "/v2")
        events = await collect(wrong.stream(REQUEST))
    assert len(events) == 1 and isinstance(events[0], Failed)
    assert events[0].error.endswith(
        "/v2/chat/completions: server answered HTTP/1.1 404 Not Found: no route /v2/chat/completions")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    events = await collect(EchoBackend(base_url=f"http://127.0.0.1:{port}/v1", timeout_s=2).stream(REQUEST))
    assert isinstance(events[-1], Failed) and "Connect call failed" in events[-1].error
