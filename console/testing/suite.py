"""``BackendConformance``: the contract as a pytest test class to subclass.

::

    from console.testing import BackendConformance
    from my_plugin import MyBackend

    class TestMyBackend(BackendConformance):
        backend_class = MyBackend
        options = {"base_url": "http://127.0.0.1:8000/v1"}

Override ``make_backend``/``make_request`` to build them differently and
``assert_idle(backend)`` to prove your backend holds nothing (threads,
sequences, connections) after a cancelled reply. Tests are synchronous (each
runs its own event loop), so no asyncio pytest plugin is required.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from console.api import Backend, Finished, Message, OptionError, Request, Sampling
from console.testing.checks import check_backend_class
from console.testing.runner import check_aclose_stops, check_reply, check_task_cancel_stops


class BackendConformance:
    """Subclass (with a ``Test`` name) and set ``backend_class``."""

    backend_class: ClassVar[type[Backend]]
    #: Keyword options used to construct the backend.
    options: ClassVar[dict[str, Any]] = {}
    prompt: ClassVar[str] = "Say something about mixtures of experts, please."
    #: Tokens asked for in the ordinary reply; the cancel tests ask for ``cancel_max_tokens``.
    max_tokens: ClassVar[int] = 8
    cancel_max_tokens: ClassVar[int] = 64
    timeout_s: ClassVar[float] = 60.0

    def make_backend(self) -> Backend:
        return self.backend_class(**self.options)

    def make_request(self, *, max_tokens: int | None = None, want_routing: bool = False) -> Request:
        return Request(
            messages=(Message("user", self.prompt),),
            sampling=Sampling(max_tokens=max_tokens or self.max_tokens, temperature=0.0, seed=0),
            want_routing=want_routing,
        )

    async def assert_idle(self, backend: Backend) -> None:
        """Override: fail if ``backend`` still works on a cancelled reply."""

    def run(self, coro: Any) -> Any:
        """Run a coroutine to completion on a fresh event loop."""
        return asyncio.run(coro)

    # ------------------------------------------------------------------ tests
    def test_class_declares_contract(self) -> None:
        check_backend_class(self.backend_class)

    def test_unknown_option_is_refused(self) -> None:
        with pytest.raises(OptionError):
            self.backend_class(**self.options, no_such_option_for_conformance=1)

    def test_reply_follows_event_contract(self) -> None:
        backend = self.make_backend()
        events = self.run(check_reply(backend, self.make_request(), self.timeout_s))
        assert isinstance(events[-1], Finished), f"reply failed: {events[-1]}"

    def test_reply_with_routing_request(self) -> None:
        backend = self.make_backend()
        self.run(check_reply(backend, self.make_request(want_routing=True), self.timeout_s))

    def test_aclose_stops_stream(self) -> None:
        backend = self.make_backend()

        async def scenario() -> None:
            await check_aclose_stops(backend, self.make_request(max_tokens=self.cancel_max_tokens))
            await self.assert_idle(backend)

        self.run(scenario())

    def test_task_cancel_stops_stream(self) -> None:
        backend = self.make_backend()

        async def scenario() -> None:
            await check_task_cancel_stops(backend, self.make_request(max_tokens=self.cancel_max_tokens))
            await self.assert_idle(backend)

        self.run(scenario())

    def test_serves_again_after_cancel(self) -> None:
        backend = self.make_backend()

        async def scenario() -> list[Any]:
            await check_aclose_stops(backend, self.make_request(max_tokens=self.cancel_max_tokens))
            return await check_reply(backend, self.make_request(), self.timeout_s)

        events = self.run(scenario())
        assert isinstance(events[-1], Finished), f"reply after a cancel failed: {events[-1]}"
