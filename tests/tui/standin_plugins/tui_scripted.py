"""TEST STAND-IN, not a real backend: a scripted backend for the TUI tests.

It replies with a fixed Markdown text (a heading, a list and a code block)
built from the prompt, one word per ``TextDelta``, with fixed *modeled*
timings, routing and cost, so screenshots are byte-for-byte repeatable. The
tests that exercise generation itself (send, stream, cancel) use the real
``local`` backend; this one stands in only where determinism matters
(snapshots) or where a test needs a slow, controllable stream.

Registered through a throw-away dist-info written by ``tests/tui/conftest.py``,
exactly as a third-party plugin would be.
"""

from __future__ import annotations

import asyncio

from console.api import (
    Backend,
    BackendInfo,
    Capabilities,
    Cost,
    Finished,
    Option,
    RoutingStats,
    Started,
    TextDelta,
    Timing,
    Usage,
    hookimpl,
)

MOE_CONSOLE_API = "1.0"
LABEL = "modeled (scripted stand-in, fixed timings)"
TTFT, GAP = 0.050, 0.010


def script_for(prompt: str) -> str:
    return (
        f"## Answer\n\nYou asked: *{prompt}*. Here is a list:\n\n- one\n- two\n\n"
        "```python\ndef square(x):\n    return x * x\n```\n\nDone."
    )


class ScriptedBackend(Backend):
    info = BackendInfo(
        name="scripted", display_name="Scripted stand-in", kind="remote",
        hardware="none (test stand-in)", model="script-1",
    )
    capabilities = Capabilities(cancel=True, routing_stats=True, modeled_timings=True, cost=True)
    options = (
        Option("delay", "float", 0.0, "seconds between words (makes a reply slow)", minimum=0.0),
        # stands in for a real backend's API key option: the forms must show its variable, never its value
        Option("api_key_env", "secret", "", "environment variable holding a key (the stand-in never reads it)"),
    )

    async def stream(self, request):
        prompt = request.messages[-1].content if request.messages else ""
        words = script_for(prompt).split(" ")
        words = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
        n_prompt = sum(len(m.content.split()) for m in request.messages)
        yield Started(request.request_id, "scripted", "script-1", n_prompt, at=0.0, clock="modeled")
        at = TTFT
        for i, word in enumerate(words[: request.sampling.max_tokens]):
            if self.settings["delay"]:
                await asyncio.sleep(self.settings["delay"])
            else:
                await asyncio.sleep(0)
            yield TextDelta(word, (i,), at=at, clock="modeled")
            yield RoutingStats((1, 2, 3), ((i % 8, (i * 3) % 8), (i % 4, 7), ((i * 5) % 8, 0)), 8,
                               at=at, clock="modeled")
            at += GAP
        n = min(len(words), request.sampling.max_tokens)
        reason = "length" if n < len(words) else "stop"
        timing = Timing(ttft_s=TTFT, e2e_s=TTFT + GAP * (n - 1), inter_token_s=(GAP,) * (n - 1),
                        queue_s=0.010, prefill_s=0.040, decode_s=GAP * (n - 1), clock="modeled", label=LABEL)
        cost = Cost(input_usd=n_prompt * 1e-6, output_usd=n * 4e-6, usd_per_m_input=1.0, usd_per_m_output=4.0,
                    price_usd_per_chip_hour=2.5, price_date="2026-01-01", label="stand-in price (fixed)")
        yield Finished(reason, Usage(n_prompt, n), timing, cost, at=timing.e2e_s, clock="modeled")


@hookimpl
def register_backends(register):
    register(ScriptedBackend)
