"""The kit fails each kind of broken backend that issue 13 found passing it, and passes a
correct twin of each (so every check can fail and can pass)."""

from __future__ import annotations

import asyncio
import time

import pytest

from console.api import (Backend, BackendInfo, Finished, Message, Option, Request, Sampling, Started, TextDelta,
                         Timing, TokenTimer, Usage)
from console.testing import (BackendConformance, ConformanceError, check_aclose_stops, check_concurrent_streams,
                             check_loop_not_blocked, check_max_tokens, check_option_bounds, check_reply,
                             check_stop_string, check_task_cancel_stops)

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()


def request(max_tokens: int = 8, prompt: str = "go", rid: str = "r1", **sampling) -> Request:
    return Request(messages=(Message("user", prompt),), request_id=rid,
                   sampling=Sampling(max_tokens=max_tokens, temperature=0.0, seed=0, **sampling))


class Words(Backend):
    """A correct backend: one word per token, measured, stop strings and max_tokens honoured."""

    info = BackendInfo(name="words", display_name="Words", kind="remote")
    options = (Option("pause_s", "float", 0.002, "seconds between words", minimum=0.0, maximum=1.0),
               Option("style", "str", "plain", "how words are written", choices=("plain", "upper")),)

    def word(self, i: int) -> str:
        w = WORDS[i % len(WORDS)] + " "
        return w.upper() if self.settings["style"] == "upper" else w

    async def pause(self) -> None:
        await asyncio.sleep(self.settings["pause_s"])

    async def stream(self, request):
        timer = TokenTimer(label="measured (words)")
        yield Started(request.request_id, self.info.name, "words", 1, at=timer.now())
        text, reason = "", "length"
        for i in range(request.sampling.max_tokens):
            await self.pause()
            if any(s in text + self.word(i) for s in request.sampling.stop):
                reason = "stop"
                break
            text += self.word(i)
            yield TextDelta(self.word(i), (i,), at=timer.token())
        timing = timer.timing()
        yield Finished(reason, Usage(1, timer.count), timing, at=timing.e2e_s)


class BlocksTheLoop(Words):
    """Calls blocking code inside stream: 20 ms of time.sleep per token."""

    async def pause(self) -> None:
        time.sleep(0.02)
        await asyncio.sleep(0)


class BlocksTheLoopThroughout(Words):
    """Never yields to the loop at all while it streams."""

    async def pause(self) -> None:
        time.sleep(0.02)


class OneHiccup(Words):
    """Well behaved, but the machine stalls its loop once for 60 ms mid-stream (a busy
    scheduler, another thread holding the GIL): not the backend's fault."""

    hiccups = 0

    async def pause(self) -> None:
        if OneHiccup.hiccups % 3 == 1:
            time.sleep(0.06)
        OneHiccup.hiccups += 1
        await asyncio.sleep(0.001)


class BlocksOnceForLong(Words):
    """Loads something synchronously inside stream: one 300 ms block."""

    async def pause(self) -> None:
        if not getattr(self, "loaded", False):
            time.sleep(0.3)
            self.loaded = True
        await asyncio.sleep(0.001)

    async def stream(self, request):
        self.loaded = False
        async for event in super().stream(request):
            yield event


class SlowToStop(Words):
    """Takes 8 s to let go after a cancel."""

    async def stream(self, request):
        try:
            async for event in super().stream(request):
                yield event
        finally:
            await asyncio.shield(asyncio.sleep(8))


class ZeroClock(Words):
    """Says 'measured' but every at is 0 and every timing is zero."""

    async def stream(self, request):
        async for event in super().stream(request):
            if isinstance(event, TextDelta):
                yield TextDelta(event.text, event.token_ids, at=0.0)
            elif isinstance(event, Finished):
                yield Finished(event.reason, event.usage, Timing(ttft_s=0.0, e2e_s=0.0), at=0.0)
            else:
                yield Started(event.request_id, event.backend, event.model, event.prompt_tokens, at=0.0)


class SkipsRangeChecks(Words):
    """Overrides __init__ and never validates its options."""

    def __init__(self, **options):  # noqa: D107 - deliberately broken
        self.settings = {**{o.name: o.default for o in self.options}, **options}


class SharesState(Words):
    """Keeps the request being served on self: two streams at once trample each other."""

    async def stream(self, request):
        self.current = request
        self.count = 0
        timer = TokenTimer(label="measured (words)")
        await asyncio.sleep(0.005)
        yield Started(self.current.request_id, self.info.name, "words", 1, at=timer.now())
        for i in range(self.current.sampling.max_tokens):
            await self.pause()
            self.count += 1
            yield TextDelta(self.word(i), (i,), at=timer.token())
        timing = timer.timing()
        yield Finished("length", Usage(1, self.count), timing, at=timing.e2e_s)


class IgnoresStops(Words):
    async def stream(self, request):
        async for event in super().stream(Request(request.messages, Sampling(
                max_tokens=request.sampling.max_tokens, temperature=0.0), request_id=request.request_id)):
            yield event


class IgnoresMaxTokens(Words):
    async def stream(self, request):
        more = Sampling(max_tokens=request.sampling.max_tokens + 4, temperature=0.0, stop=request.sampling.stop)
        async for event in super().stream(Request(request.messages, more, request_id=request.request_id)):
            yield event


async def test_a_correct_backend_passes_every_behaviour_check():
    backend = Words()
    await check_reply(backend, request())
    await check_loop_not_blocked(backend, request())
    await check_aclose_stops(backend, request(64))
    await check_task_cancel_stops(backend, request(64))
    await check_concurrent_streams(backend, request(rid="a"), request(prompt="other", rid="b"))
    await check_max_tokens(backend, request())
    assert await check_stop_string(backend, request()) == "be"
    check_option_bounds(Words, Words.options, {}, "words")


@pytest.mark.parametrize("cls", [BlocksTheLoop, BlocksTheLoopThroughout])
async def test_blocking_the_event_loop_fails(cls):
    with pytest.raises(ConformanceError, match=r"event loop stalled \d+ times for up to \d+ ms while streaming "
                                               r"\(bound 10 ms\).*asyncio.to_thread"):
        await check_loop_not_blocked(cls(), request())


async def test_one_brief_hiccup_of_the_machine_is_not_the_backends_fault():
    OneHiccup.hiccups = 0
    await check_loop_not_blocked(OneHiccup(), request())


async def test_one_long_block_inside_stream_fails():
    with pytest.raises(ConformanceError, match=r"event loop stalled 1 times for up to (29\d|3\d\d) ms"):
        await check_loop_not_blocked(BlocksOnceForLong(), request())


async def test_taking_8_s_to_stop_after_a_cancel_fails_within_about_a_second():
    began = time.monotonic()
    with pytest.raises(ConformanceError, match="cancelled stream still running after 1.0 s"):
        await check_task_cancel_stops(SlowToStop(), request(64))
    with pytest.raises(ConformanceError, match=r"aclose\(\) did not return within 1.0 s"):
        await check_aclose_stops(SlowToStop(), request(64))
    assert time.monotonic() - began < 5


async def test_a_measured_clock_that_does_not_advance_fails():
    with pytest.raises(ConformanceError, match="measured clocks must advance"):
        await check_reply(ZeroClock(), request())


def test_skipping_range_checks_of_options_fails():
    with pytest.raises(ConformanceError, match=r"option 'pause_s' accepted a value of the wrong type"):
        check_option_bounds(SkipsRangeChecks, SkipsRangeChecks.options, {}, "skips")


async def test_breaking_with_two_streams_on_one_instance_fails():
    with pytest.raises(ConformanceError, match="with two requests streaming at once on one instance"):
        await check_concurrent_streams(SharesState(), request(rid="a"), request(prompt="other", rid="b"))
    await check_reply(SharesState(), request())  # alone it looks fine: only the concurrent check sees it


async def test_ignoring_stop_strings_fails():
    with pytest.raises(ConformanceError, match="with stop='be' the reply was 'alpha beta gamma"):
        await check_stop_string(IgnoresStops(), request())


async def test_ignoring_max_tokens_fails():
    with pytest.raises(ConformanceError, match="12 tokens generated, max_tokens was 8"):
        await check_max_tokens(IgnoresMaxTokens(), request())


class TestWordsPassesTheWholeSuite(BackendConformance):
    backend_class = Words
    prompt = "anything"
