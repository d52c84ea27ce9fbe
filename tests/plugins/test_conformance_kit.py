"""The conformance kit fails backends that break the contract, and works as a pytest plugin."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from console.api import (Backend, BackendInfo, Capabilities, Cost, Failed, Finished, Message, Option,
                         Request, RoutingStats, Sampling, Started, TextDelta, Timing, Usage)
from console.testing import (ConformanceError, check_aclose_stops, check_backend_class, check_events,
                             check_task_cancel_stops)

ROOT = Path(__file__).resolve().parents[2]
#: Plugins of this environment that the probe run does not need (start-up time only).
UNRELATED_PLUGINS_OFF = ("-p", "no:textual-snapshot", "-p", "no:hypothesispytest", "-p", "no:syrupy",
                         "-p", "no:benchmark")
REQUEST = Request(messages=(Message("user", "hi"),), sampling=Sampling(max_tokens=8), request_id="r1")


class Good(Backend):
    info = BackendInfo(name="good", display_name="Good", kind="remote")
    capabilities = Capabilities(cost=True)
    options = (Option("pace", "float", 0.0, "seconds between tokens", minimum=0),)

    async def stream(self, request):
        yield Started("r1", "good", "m", 3)


def _reply(**changes):
    """A valid reply; ``changes`` replace events by index or patch the Finished."""
    timing = Timing(ttft_s=0.1, e2e_s=0.3, inter_token_s=(0.1, 0.1), prefill_s=0.1, decode_s=0.2)
    cost = Cost(input_usd=3e-6, output_usd=3e-6, usd_per_m_input=1.0, usd_per_m_output=1.0,
                price_usd_per_chip_hour=2.0, label="test price")
    events = [
        Started("r1", "good", "m", 3),
        TextDelta("a", (1,), at=0.1),
        TextDelta("b", (2,), at=0.2),
        TextDelta("c", (3,), at=0.3),
        Finished("stop", Usage(3, 3), timing, cost=cost, at=0.3),
    ]
    for key, value in changes.items():
        if key.startswith("at_"):
            events[int(key[3:])] = value
        else:
            events[-1] = replace(events[-1], **{key: value})
    return events


def test_a_valid_reply_passes():
    check_events(_reply(), backend=Good(), request=REQUEST)
    check_backend_class(Good)


BROKEN_REPLIES = {
    "no Started": (_reply()[1:], "first event is TextDelta, not Started"),
    "two finals": (_reply() + [Failed("x")], "2 Finished/Failed events"),
    "no final": (_reply()[:-1], "last event is TextDelta"),
    "foreign object": (_reply(at_2="text"), "yielded str, not a console.api event"),
    "wrong request id": (_reply(at_0=Started("other", "good", "m", 3)), "request_id does not echo"),
    "usage vs ids": (_reply(usage=Usage(3, 5)), "completion_tokens 5 != 3 token ids"),
    "usage vs prompt": (_reply(usage=Usage(4, 3)), "prompt_tokens 4 != Started.prompt_tokens 3"),
    "time backwards": (_reply(at_2=TextDelta("b", (2,), at=0.05)), "event times go backwards"),
    "ttft after e2e": (_reply(timing=Timing(ttft_s=0.5, e2e_s=0.3)), "ttft 0.5 > e2e 0.3"),
    "decode not gaps": (_reply(timing=Timing(ttft_s=0.1, e2e_s=0.3, inter_token_s=(0.1, 0.1), decode_s=0.15)),
                        "decode_s 0.15 is not the sum"),
    "unlabelled": (_reply(timing=Timing(ttft_s=0.1, e2e_s=0.3, label=" ")), "Timing.label is empty"),
    "modeled label": (None, "must say 'modeled'"),
    "cost sum": (_reply(cost=Cost(1.0, 0.0, 1.0, 1.0, 2.0, label="x")), "input_usd 1.0 != tokens"),
    "cost missing": (_reply(cost=None), "declares cost but Finished.cost is None"),
    "routing unasked": (_reply()[:2] + [RoutingStats((1,), ((0, 1),), 8, at=0.1)] + _reply()[2:],
                        "did not ask for them"),
    "partial text": ([Started("r1", "good", "m", 3), TextDelta("a", (1,), at=0.1),
                      Failed("boom", partial_text="b", usage=Usage(3, 1), at=0.2)], "partial_text differs"),
}


@pytest.mark.parametrize("case", list(BROKEN_REPLIES))
def test_broken_replies_are_caught(case):
    events, message = BROKEN_REPLIES[case]
    if events is None:  # a modeled clock needs every event on it
        events = [replace(e, clock="modeled") for e in _reply()]
        events[-1] = replace(events[-1], timing=replace(events[-1].timing, clock="modeled", label="fast"))
    with pytest.raises(ConformanceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_events(events, backend=Good(), request=REQUEST)


def _variant(**attrs):
    return type("Variant", (Good,), attrs)


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (_variant(info=BackendInfo(name="Bad Name", display_name="B", kind="remote")), "backend name 'Bad Name'"),
        (_variant(info=BackendInfo(name="b", display_name="B", kind="cloud")), "kind 'cloud'"),
        (_variant(options=(Option("x", "int", 1, ""),)), "option 'x' needs a help text"),
        (_variant(options=(Option("x", "int", 0, "at least one, please", minimum=1),)), "invalid default"),
        (_variant(options=(Option("x", "float", "0.5", "a number, given as text"),)), "not of type float"),
        (_variant(options=[Option("x", "int", 1, "a list, not a tuple")]), "options must be a tuple"),
    ],
)
def test_broken_classes_are_caught(cls, message):
    with pytest.raises(ConformanceError, match=message):
        check_backend_class(cls)


class Swallows(Backend):
    """Turns cancellation into a normal end: the console could never stop it."""

    info = BackendInfo(name="swallows", display_name="S", kind="remote")

    async def stream(self, request):
        yield Started(request.request_id, "swallows", "m", 1)
        try:
            for i in range(1000):
                await asyncio.sleep(0.001)
                yield TextDelta("x", (i,))
        except asyncio.CancelledError:
            pass
        yield Finished("stop", Usage(1, 1), Timing(ttft_s=0, e2e_s=0))


class Lingers(Backend):
    """Keeps working for a long time after being closed."""

    info = BackendInfo(name="lingers", display_name="L", kind="remote")

    async def stream(self, request):
        yield Started(request.request_id, "lingers", "m", 1)
        try:
            while True:
                await asyncio.sleep(0.001)
                yield TextDelta("x", (1,))
        finally:
            await asyncio.sleep(30)


async def test_a_backend_that_swallows_cancellation_is_caught():
    with pytest.raises(ConformanceError, match="swallowed the cancellation"):
        await check_task_cancel_stops(Swallows(), REQUEST, timeout_s=2)


async def test_a_backend_that_lingers_after_aclose_is_caught():
    with pytest.raises(ConformanceError, match="aclose\\(\\) did not return within 0.2 s"):
        await check_aclose_stops(Lingers(), REQUEST, timeout_s=0.2)


TEST_FILE = '''
import asyncio
from console.api import Backend, BackendInfo, Finished, Started, TextDelta, TokenTimer, Usage
from console.testing import BackendConformance

class Counter(Backend):
    info = BackendInfo(name="counter", display_name="Counter", kind="remote")
    finals = 1

    async def stream(self, request):
        timer = TokenTimer(label="measured (counting)")
        yield Started(request.request_id, "counter", "m", 1, at=timer.now())
        text, reason = "", "length"
        for i in range(request.sampling.max_tokens):
            await asyncio.sleep(0.001)
            if any(stop in text + f"{i} " for stop in request.sampling.stop):
                reason = "stop"
                break
            text += f"{i} "
            yield TextDelta(f"{i} ", (i,), at=timer.token())
        timing = timer.timing()
        for _ in range(self.finals):
            yield Finished(reason, Usage(1, timer.count), timing, at=timing.e2e_s)

class DoubleFinish(Counter):
    finals = 2

def test_with_fixture(backend_conformance):
    events = backend_conformance.check(Counter())
    assert isinstance(events[-1], Finished)

class TestCounter(BackendConformance):
    backend_class = Counter

class TestDoubleFinish(BackendConformance):
    backend_class = DoubleFinish
'''


def test_kit_runs_as_an_installed_pytest_plugin(tmp_path):
    """The pytest11 entry point of pyproject.toml, installed as a distribution, loads the kit."""
    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["pytest11"]
    site = tmp_path / "site"
    info = site / "moe_console_kit_probe-0.0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: moe-console-kit-probe\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text(
        "[pytest11]\n" + "".join(f"{k} = {v}\n" for k, v in entry.items()))
    (tmp_path / "test_probe.py").write_text(textwrap.dedent(TEST_FILE))
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         *UNRELATED_PLUGINS_OFF,
         "-c", os.devnull, str(tmp_path / "test_probe.py")],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )
    tail = out.stdout[-3000:]
    assert "7 failed, 18 passed" in tail, tail
    assert "FAILED test_probe.py::TestDoubleFinish::test_reply_follows_event_contract" in tail
    assert "2 Finished/Failed events; exactly one is required" in tail
