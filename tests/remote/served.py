"""Real ``moe-console serve`` processes for the remote, watch and loadgen tests.

Each server is started once per test session by :func:`shared` (through
``console.loadgen.spawn.serve``, the same code ``bench serve`` uses) and shared
by every test that asks for it, from tests/remote and tests/loadgen alike (both
conftests import this module under one name, so they share its registry):

* ``plain``: the built-in model with the default flags;
* ``locked``: the built-in model with ``--max-batch 1`` (one sequence at a time,
  so a second request waits: the queue is visible) and an API key read from
  :data:`KEY_ENV` (401 without it).

:class:`Served` reads the server's own ``/metrics`` with prometheus_client's
parser and waits on conditions by polling (an event, not a deadline: the limit
is generous and only there so a broken server fails the test instead of
hanging it).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from console.loadgen.spawn import serve

KEY_ENV, KEY = "ONE_SEQ_KEY", "change-me"  # as in the README's "On one machine"
FLAGS = {"plain": (), "locked": ("--max-batch", "1", "--api-key-env", KEY_ENV)}
WAIT_S = 30.0


@dataclass
class Served:
    """A running server: ``url`` ends in ``/v1``; ``root`` is without it."""

    name: str
    url: str
    key: str | None = None

    @property
    def root(self) -> str:
        return self.url.removesuffix("/v1")

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of ``/metrics``: ``(name, sorted labels) -> value``."""
        text = httpx.get(self.root + "/metrics", timeout=10).text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples called ``name`` whose labels include ``labels`` (0 when none)."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.samples().items() if n == name and wanted <= set(ls))

    def running(self) -> float:
        return self.metric("vllm:num_requests_running")

    def aborted(self) -> float:
        return self.metric("vllm:request_success_total", finished_reason="abort")

    def wait_for(self, condition: Callable[[], Any], what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {what} did not happen within {WAIT_S} s")
            time.sleep(0.01)

    def wait_idle(self) -> None:
        self.wait_for(lambda: self.running() == 0 and self.metric("vllm:num_requests_waiting") == 0,
                      "running and waiting back to 0")

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(self.root + path, json=body, headers=self.headers, timeout=60)
        response.raise_for_status()
        return response.json()


_live: dict[str, tuple[Served, contextlib.ExitStack, list[int]]] = {}


@contextlib.contextmanager
def shared(name: str):
    """The session's server ``name`` (see the module doc), started on first use."""
    if name not in _live:
        stack = contextlib.ExitStack()
        home = stack.enter_context(tempfile.TemporaryDirectory(prefix="serve-home-"))
        env = {"MOE_CONSOLE_HOME": home}
        key = None
        if KEY_ENV in FLAGS[name]:
            key = env[KEY_ENV] = KEY
        url = stack.enter_context(serve(extra=FLAGS[name], env=env))
        _live[name] = (Served(name, url, key), stack, [0])
    served, stack, users = _live[name]
    users[0] += 1
    try:
        yield served
    finally:
        users[0] -= 1
        if users[0] == 0:
            del _live[name]
            stack.close()
