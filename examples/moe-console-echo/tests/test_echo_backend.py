"""The echo plugin passes the moe-console backend conformance kit, in both modes."""

from __future__ import annotations

import asyncio

import pytest

from console.testing import BackendConformance
from moe_console_echo.backend import EchoBackend
from openai_stub import OpenAIStub


class TestEchoMode(BackendConformance):
    backend_class = EchoBackend
    options = {"delay_s": 0.005}
    prompt = "one two three four five six seven eight nine ten eleven twelve"


class TestServerMode(BackendConformance):
    """Against a stand-in OpenAI-compatible server (see openai_stub.py)."""

    backend_class = EchoBackend
    prompt = "one two three four five six seven eight nine ten eleven twelve"

    @pytest.fixture(autouse=True)
    def _server(self):
        with OpenAIStub(delay_s=0.005) as stub:
            self.stub = stub
            self.options = {"base_url": stub.base_url, "model": "stub-model"}
            yield

    async def assert_idle(self, backend):
        # The cancelled client closed its connection, so the server stopped streaming.
        assert await asyncio.to_thread(self.stub.wait_idle), "server still streaming after cancel"
