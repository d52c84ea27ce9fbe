"""pytest plugin of the backend conformance kit (entry point ``pytest11``).

Fixture ``backend_conformance``: a :class:`Conformance` helper whose
``check(backend)`` runs the whole contract (class, reply, routing, cancel)
against one backend instance. For a ready-made test class, subclass
:class:`console.testing.BackendConformance` instead.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import pytest

from console.api import Backend, Message, Request, Sampling
from console.testing.behaviour import (
    check_concurrent_streams,
    check_loop_not_blocked,
    check_max_tokens,
    check_option_bounds,
    check_stop_string,
)
from console.testing.checks import check_backend_class
from console.testing.runner import check_aclose_stops, check_reply, check_task_cancel_stops


class Conformance:
    """Runs every conformance check against a backend."""

    def __init__(self, timeout_s: float = 60.0) -> None:
        self.timeout_s = timeout_s

    def request(self, prompt: str = "Hello there, how are you?", max_tokens: int = 8, *,
                want_routing: bool = False) -> Request:
        return Request(
            messages=(Message("user", prompt),),
            sampling=Sampling(max_tokens=max_tokens, temperature=0.0, seed=0),
            want_routing=want_routing,
        )

    def check(
        self,
        backend: Backend,
        *,
        max_tokens: int = 8,
        cancel_max_tokens: int = 64,
        assert_idle: Callable[[Backend], Awaitable[None]] | None = None,
        stop_strings: bool = True,
        options: dict[str, Any] | None = None,
    ) -> list[Any]:
        """Everything :class:`~console.testing.BackendConformance` checks, on one
        instance: class and option declarations (and, given the ``options`` the
        instance was made with, that bounds are enforced), a plain reply, one with
        routing, the event loop never blocked, both cancel paths within 1 s, two
        concurrent streams, ``max_tokens`` and (unless ``stop_strings=False``) stop
        strings. Returns the events of the plain reply."""
        cls = type(backend)
        check_backend_class(cls)
        check_option_bounds(cls, cls.options, dict(options or {}), cls.info.name)

        async def scenario() -> list[Any]:
            events = await check_reply(backend, self.request(max_tokens=max_tokens), self.timeout_s)
            await check_reply(backend, self.request(max_tokens=max_tokens, want_routing=True), self.timeout_s)
            await check_loop_not_blocked(backend, self.request(max_tokens=max_tokens), timeout_s=self.timeout_s)
            for check in (check_aclose_stops, check_task_cancel_stops):
                await check(backend, self.request(max_tokens=cancel_max_tokens))
                if assert_idle is not None:
                    await assert_idle(backend)
            await check_concurrent_streams(backend, self.request(max_tokens=max_tokens),
                                           self.request("What is a router?", max_tokens), self.timeout_s)
            await check_max_tokens(backend, self.request(max_tokens=max_tokens), timeout_s=self.timeout_s)
            if stop_strings:
                await check_stop_string(backend, self.request(max_tokens=max_tokens), self.timeout_s)
            return events

        return asyncio.run(scenario())


@pytest.fixture
def backend_conformance() -> Conformance:
    """The conformance kit (see :class:`Conformance`)."""
    return Conformance()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: backend conformance checks of moe-console")
