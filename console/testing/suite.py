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

What is checked: the class and its option declarations; a reply's events
(order, usage, timing, routing, cost; a measured clock against the wall
clock); the declared option types, bounds and choices are enforced; the event
loop never stalls for more than ``stall_bound_s`` while streaming; ``aclose()``
and a task cancel stop the stream within ``cancel_bound_s`` (1 s); two
requests stream at once on one instance; ``max_tokens`` and stop strings are
honoured (set ``honours_stop_strings = False`` only for a backend that cannot,
and say so in its README).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, ClassVar

import pytest

from console.api import Backend, Finished, Message, OptionError, Request, Sampling
from console.testing.behaviour import (
    STALL_BOUND_S,
    check_concurrent_streams,
    check_loop_not_blocked,
    check_max_tokens,
    check_option_bounds,
    check_stop_string,
)
from console.testing.checks import check_backend_class
from console.testing.runner import CANCEL_BOUND_S, check_aclose_stops, check_reply, check_task_cancel_stops


class BackendConformance:
    """Subclass (with a ``Test`` name) and set ``backend_class``."""

    backend_class: ClassVar[type[Backend]]
    #: Keyword options used to construct the backend.
    options: ClassVar[dict[str, Any]] = {}
    prompt: ClassVar[str] = "Say something about mixtures of experts, please."
    #: A different prompt for the second of two concurrent streams.
    other_prompt: ClassVar[str] = "And what is a router, in one sentence?"
    #: Tokens asked for in the ordinary reply; the cancel tests ask for ``cancel_max_tokens``.
    max_tokens: ClassVar[int] = 8
    cancel_max_tokens: ClassVar[int] = 64
    timeout_s: ClassVar[float] = 60.0
    cancel_bound_s: ClassVar[float] = CANCEL_BOUND_S
    stall_bound_s: ClassVar[float] = STALL_BOUND_S
    honours_stop_strings: ClassVar[bool] = True

    def make_backend(self) -> Backend:
        return self.backend_class(**self.options)

    def construct(self, **overrides: Any) -> Backend:
        """``backend_class`` with ``options`` and ``overrides`` (the option tests use it)."""
        return self.backend_class(**{**self.options, **overrides})

    def make_request(self, *, max_tokens: int | None = None, want_routing: bool = False,
                     prompt: str | None = None) -> Request:
        return Request(
            messages=(Message("user", prompt or self.prompt),),
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
            self.construct(no_such_option_for_conformance=1)

    def test_declared_option_bounds_are_enforced(self) -> None:
        check_option_bounds(self.construct, self.backend_class.options, {}, self.backend_class.info.name)

    def test_reply_follows_event_contract(self) -> None:
        backend = self.make_backend()
        events = self.run(check_reply(backend, self.make_request(), self.timeout_s))
        assert isinstance(events[-1], Finished), f"reply failed: {events[-1]}"

    def test_reply_with_routing_request(self) -> None:
        backend = self.make_backend()
        self.run(check_reply(backend, self.make_request(want_routing=True), self.timeout_s))

    def test_event_loop_is_never_blocked(self) -> None:
        backend = self.make_backend()

        async def scenario() -> None:
            await check_reply(backend, self.make_request(), self.timeout_s)  # warm-up, not measured
            await check_loop_not_blocked(backend, self.make_request(), bound_s=self.stall_bound_s,
                                         timeout_s=self.timeout_s)

        self.run(scenario())

    def test_aclose_stops_stream(self) -> None:
        backend = self.make_backend()

        async def scenario() -> None:
            await check_aclose_stops(backend, self.make_request(max_tokens=self.cancel_max_tokens),
                                     self.cancel_bound_s, self.timeout_s)
            await self.assert_idle(backend)

        self.run(scenario())

    def test_task_cancel_stops_stream(self) -> None:
        backend = self.make_backend()

        async def scenario() -> None:
            await check_task_cancel_stops(backend, self.make_request(max_tokens=self.cancel_max_tokens),
                                          self.cancel_bound_s, self.timeout_s)
            await self.assert_idle(backend)

        self.run(scenario())

    def test_serves_again_after_cancel(self) -> None:
        backend = self.make_backend()

        async def scenario() -> list[Any]:
            await check_aclose_stops(backend, self.make_request(max_tokens=self.cancel_max_tokens),
                                     self.cancel_bound_s, self.timeout_s)
            return await check_reply(backend, self.make_request(), self.timeout_s)

        events = self.run(scenario())
        assert isinstance(events[-1], Finished), f"reply after a cancel failed: {events[-1]}"

    def test_two_streams_at_once_on_one_instance(self) -> None:
        backend = self.make_backend()
        first = self.make_request()
        second = dataclasses.replace(self.make_request(prompt=self.other_prompt))
        self.run(check_concurrent_streams(backend, first, second, self.timeout_s))

    def test_max_tokens_is_honoured(self) -> None:
        self.run(check_max_tokens(self.make_backend(), self.make_request(), timeout_s=self.timeout_s))

    def test_stop_strings_are_honoured(self) -> None:
        if not self.honours_stop_strings:
            pytest.xfail(f"{self.backend_class.info.name} declares it cannot honour stop strings")
        self.run(check_stop_string(self.make_backend(), self.make_request(), self.timeout_s))
