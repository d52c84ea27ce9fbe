"""Scripted backends for the console-core tests: a plugin module for the real PluginHost.

These stand in for hardware and servers we cannot have in a test run: they
yield a scripted sequence of ``console.api`` events (scripted ``at`` times,
measured or modeled clock) instead of running a model. Everything around them
(the plugin host, the session, the store on a real SQLite file, the metrics)
is the real code. ``conftest.make_host()`` registers this module through an
entry point exactly as an installed plugin is registered.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable

from console.api import (
    Backend, BackendInfo, Capabilities, Cost, Failed, Finished, Option, RoutingStats, Started,
    TextDelta, Timing, Usage, hookimpl,
)

MOE_CONSOLE_API = "1.0"

#: Shared with the tests: what each backend saw and did.
LOG: dict[str, list[Any]] = {"requests": [], "closed": [], "probes": []}
#: Called (with the request) when a stream starts; tests use it to look at the store.
PROBE: list[Callable[[Any], Any]] = []
#: Set by a stalling backend when it has stalled.
STALLED: dict[str, threading.Event] = {}  # set on the stream's own thread


def _prompt_tokens(request) -> int:
    return sum(len(m.content.split()) for m in request.messages)


class ScriptedBackend(Backend):
    """Measured-clock stand-in: yields ``words`` one token each, ``gap_s`` apart
    in scripted time, optionally stalling after ``stall_after`` tokens until
    cancelled. Refuses prompts over ``max_prompt_tokens`` with ``Failed``."""

    info = BackendInfo(name="scripted", display_name="Scripted", kind="local", model="script-1")
    capabilities = Capabilities(cancel=True, routing_stats=True)
    options = (
        Option("words", "str", "alpha beta gamma delta epsilon zeta eta theta", "reply words"),
        Option("gap_s", "float", 0.125, "scripted seconds between tokens", minimum=0.0),
        Option("ttft_s", "float", 0.25, "scripted time to first token", minimum=0.0),
        Option("stall_after", "int", 0, "stall after this many tokens (0: never)", minimum=0),
        Option("max_prompt_tokens", "int", 1000, "longest prompt accepted", minimum=1),
        Option("context_window", "int", 2048, "context window in tokens", minimum=1),
        Option("raise_after", "int", 0, "raise a plain exception after this many tokens", minimum=0),
    )
    clock = "measured"

    @property
    def context_window(self) -> int:
        return self.settings["context_window"]

    def timing_label(self) -> str:
        return "measured"

    def cost(self, usage: Usage) -> Cost | None:
        return None

    async def stream(self, request):
        name, s, clock = self.info.name, self.settings, self.clock
        LOG["requests"].append((name, request))
        for probe in PROBE:
            LOG["probes"].append(probe(request))
        prompt = _prompt_tokens(request)
        try:
            yield Started(request.request_id, name, self.info.model, prompt, at=0.0, clock=clock)
            if prompt > s["max_prompt_tokens"]:
                yield Failed(f"prompt of {prompt} tokens exceeds the {s['max_prompt_tokens']}-token window",
                             usage=Usage(prompt, 0), at=0.0, clock=clock)
                return
            words = s["words"].split()
            ats = []
            for i, word in enumerate(words):
                if s["stall_after"] and i == s["stall_after"]:
                    STALLED.setdefault(name, threading.Event()).set()
                    await asyncio.Event().wait()  # until cancelled
                if s["raise_after"] and i == s["raise_after"]:
                    raise RuntimeError("scripted crash")
                at = s["ttft_s"] + i * s["gap_s"]
                ats.append(at)
                yield TextDelta(word if i == 0 else " " + word, (100 + i,), at=at, clock=clock)
                if self.capabilities.routing_stats:
                    yield RoutingStats((1, 2), ((i % 4, 1), (2, 3)), 4, at=at, clock=clock)
                await asyncio.sleep(0)
            usage = Usage(prompt, len(words))
            gaps = tuple(b - a for a, b in zip(ats, ats[1:]))
            timing = Timing(ttft_s=s["ttft_s"], e2e_s=ats[-1], inter_token_s=gaps, queue_s=0.05,
                            prefill_s=s["ttft_s"] - 0.05, decode_s=ats[-1] - ats[0], clock=clock,
                            label=self.timing_label())
            yield Finished("stop", usage, timing, self.cost(usage), at=ats[-1], clock=clock)
        finally:
            LOG["closed"].append((name, request.request_id))


class OtherBackend(ScriptedBackend):
    """A second measured stand-in (another 'machine')."""

    info = BackendInfo(name="other", display_name="Other", kind="remote", model="other-1")
    capabilities = Capabilities(cancel=True, routing_stats=False)
    options = tuple(
        Option(o.name, o.type, "uno dos tres", o.help) if o.name == "words" else o
        for o in ScriptedBackend.options
    )


class ModeledStandIn(ScriptedBackend):
    """Modeled-clock stand-in with a price: what a modeled backend reports."""

    info = BackendInfo(name="modeled-x", display_name="Modeled X", kind="modeled", model="big-moe")
    capabilities = Capabilities(cancel=True, routing_stats=True, modeled_timings=True, cost=True)
    options = ScriptedBackend.options + (
        Option("price_usd_per_chip_hour", "float", 2.0, "price of one chip-hour", minimum=0.0),
    )
    clock = "modeled"

    def timing_label(self) -> str:
        return "modeled (calibrated to test-run, eta=0.5)"

    def cost(self, usage: Usage) -> Cost:
        per_in, per_out = 0.5, self.settings["price_usd_per_chip_hour"]  # USD per M tokens
        return Cost(usage.prompt_tokens * per_in / 1e6, usage.completion_tokens * per_out / 1e6,
                    per_in, per_out, self.settings["price_usd_per_chip_hour"], "2025-06-01", "test price list")


class BrokenBackend(ScriptedBackend):
    """A backend whose constructor fails (say, a driver that is not installed)."""

    info = BackendInfo(name="broken", display_name="Broken", kind="remote", model="none")

    def __init__(self, **settings: Any) -> None:
        raise RuntimeError("driver libfoo.so not found")


@hookimpl
def register_backends(register):
    register(ScriptedBackend)
    register(OtherBackend)
    register(ModeledStandIn)
    register(BrokenBackend)
