"""Checks of the backend contract, as plain functions.

Each raises :class:`ConformanceError` (an ``AssertionError``) whose message
says what is wrong in one line. They read only ``console.api`` types.
"""

from __future__ import annotations

import math
from typing import Any, Sequence, get_args

from console.api import (
    BACKEND_KINDS,
    Backend,
    BackendInfo,
    Capabilities,
    Event,
    Failed,
    Finished,
    Request,
    RoutingStats,
    Started,
    TextDelta,
    declaration_problems,
)
from console.api.options import NAME_PATTERN

_EVENTS = get_args(Event)
#: Slack for float sums of seconds.
TOLERANCE_S = 1e-6
#: Slack between a measured e2e and the wall time the kit saw the stream take.
WALL_SLACK_S = 0.05


class ConformanceError(AssertionError):
    """A backend broke the plugin contract."""


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConformanceError(message)


def check_backend_class(cls: Any) -> None:
    """The class is a concrete Backend with valid info, capabilities and options."""
    _require(isinstance(cls, type) and issubclass(cls, Backend), f"{cls!r} is not a console.api.Backend subclass")
    info = getattr(cls, "info", None)
    _require(isinstance(info, BackendInfo), f"{cls.__name__}.info must be a BackendInfo")
    _require(bool(NAME_PATTERN.match(info.name)), f"backend name {info.name!r}: use lowercase letters, digits, '.', '_', '-'")
    _require(bool(info.display_name.strip()), f"backend {info.name!r} has an empty display_name")
    _require(info.kind in BACKEND_KINDS, f"backend {info.name!r} kind {info.kind!r} is not one of {BACKEND_KINDS}")
    _require(isinstance(cls.capabilities, Capabilities), f"{cls.__name__}.capabilities must be Capabilities")
    _require(not getattr(cls, "__abstractmethods__", None), f"{cls.__name__} leaves stream() abstract")
    check_options(info.name, cls.options)


def check_options(backend: str, options: Any) -> None:
    """The declaration rule of ``console.api.options.declaration_problems`` (the
    host refuses a plugin on the same rule)."""
    problems = declaration_problems(options)
    _require(not problems, f"{backend}: {problems[0] if problems else ''}")


def check_events(
    events: Sequence[Any],
    *,
    backend: Backend,
    request: Request,
    arrivals: Sequence[float] | None = None,
    start: float | None = None,
) -> None:
    """One reply obeys the event contract: order, usage, timing, routing, cost.

    ``arrivals`` (``time.monotonic()`` when the kit received each event) and
    ``start`` (when it called ``stream``) let a measured stream be checked
    against the wall clock (:func:`check_measured_clock`)."""
    name = backend.info.name
    _require(len(events) > 0, f"{name}: stream yielded nothing")
    for ev in events:
        _require(isinstance(ev, _EVENTS), f"{name}: yielded {type(ev).__name__}, not a console.api event")
    last = events[-1]
    _require(isinstance(last, (Finished, Failed)), f"{name}: last event is {type(last).__name__}, not Finished/Failed")
    finals = [e for e in events if isinstance(e, (Finished, Failed))]
    _require(len(finals) == 1, f"{name}: {len(finals)} Finished/Failed events; exactly one is required")
    if isinstance(events[0], Failed):
        return  # refused before starting: a lone Failed is a valid stream
    first = events[0]
    _require(isinstance(first, Started), f"{name}: first event is {type(first).__name__}, not Started")
    _require(first.request_id == request.request_id, f"{name}: Started.request_id does not echo the request")
    _require(first.backend == name, f"{name}: Started.backend is {first.backend!r}")
    middle = events[1:-1]
    for ev in middle:
        _require(isinstance(ev, (TextDelta, RoutingStats)),
                 f"{name}: {type(ev).__name__} between Started and the end; only TextDelta/RoutingStats belong there")
    _check_clock(name, events)
    deltas = [e for e in middle if isinstance(e, TextDelta)]
    text = "".join(d.text for d in deltas)
    completion = _check_usage(name, first, last, deltas, request)
    if isinstance(last, Failed):
        _require(last.partial_text == text, f"{name}: Failed.partial_text differs from the streamed text")
        return
    _check_routing(name, backend, request, middle, completion)
    _check_timing(name, last, deltas, completion)
    _check_cost(name, backend, last)
    if arrivals is not None and last.clock == "measured":
        check_measured_clock(name, events, arrivals, arrivals[0] if start is None else start)


def check_measured_clock(name: str, events: Sequence[Any], arrivals: Sequence[float], start: float) -> None:
    """A ``measured`` reply's times are real: they advance, the end-to-end time is
    more than zero and not longer than the kit saw the stream take, and text
    that arrived apart in time is not stamped with one time."""
    last = events[-1]
    wall = arrivals[-1] - start
    t = last.timing
    _require(t.e2e_s > 0 and last.at > 0,
             f"{name}: measured reply has e2e_s {t.e2e_s} and final at {last.at}: measured clocks must advance "
             "(read time.monotonic() where tokens are produced)")
    limit = wall + WALL_SLACK_S + 0.1 * wall
    _require(t.e2e_s <= limit and t.ttft_s <= limit,
             f"{name}: measured e2e {t.e2e_s:.3f} s / ttft {t.ttft_s:.3f} s exceed the {wall:.3f} s the kit "
             "saw the stream take")
    timed = [(e.at, a) for e, a in zip(events, arrivals) if isinstance(e, TextDelta) and e.text]
    if len(timed) >= 2 and timed[-1][1] - timed[0][1] > 0.005:
        _require(timed[-1][0] > timed[0][0],
                 f"{name}: measured TextDeltas arrived {1000 * (timed[-1][1] - timed[0][1]):.0f} ms apart "
                 f"but carry the same time {timed[0][0]}")


def _check_clock(name: str, events: Sequence[Any]) -> None:
    clocks = {e.clock for e in events}
    _require(len(clocks) == 1, f"{name}: events mix clocks {sorted(clocks)}")
    times = [e.at for e in events]
    _require(all(t >= 0 and math.isfinite(t) for t in times), f"{name}: an event has a negative or infinite 'at'")
    _require(all(b >= a - TOLERANCE_S for a, b in zip(times, times[1:])),
             f"{name}: event times go backwards: {times}")


def _check_usage(name: str, first: Started, last: Any, deltas: list[TextDelta], request: Request) -> int:
    usage = last.usage
    # Started.prompt_tokens == 0 means "not known yet" (an OpenAI stream reports usage at its end).
    _require(first.prompt_tokens in (0, usage.prompt_tokens),
             f"{name}: usage.prompt_tokens {usage.prompt_tokens} != Started.prompt_tokens {first.prompt_tokens}")
    n_ids = sum(len(d.token_ids) for d in deltas)
    if n_ids:
        _require(usage.completion_tokens == n_ids,
                 f"{name}: usage.completion_tokens {usage.completion_tokens} != {n_ids} token ids in TextDeltas")
    else:
        shown = sum(1 for d in deltas if d.text)
        _require(usage.completion_tokens >= shown,
                 f"{name}: usage.completion_tokens {usage.completion_tokens} < {shown} non-empty TextDeltas")
    _require(usage.completion_tokens <= request.sampling.max_tokens,
             f"{name}: {usage.completion_tokens} tokens generated, max_tokens was {request.sampling.max_tokens}")
    return usage.completion_tokens


def _check_routing(name: str, backend: Backend, request: Request, middle: Sequence[Any], completion: int) -> None:
    routing = [e for e in middle if isinstance(e, RoutingStats)]
    if not request.want_routing:
        _require(not routing, f"{name}: RoutingStats sent although the request did not ask for them")
        return
    if backend.capabilities.routing_stats and completion:
        _require(bool(routing), f"{name}: declares routing_stats but sent no RoutingStats when asked")
    for ev in routing:
        _require(len(ev.layers) == len(ev.experts), f"{name}: RoutingStats layers/experts lengths differ")
        _require(all(0 <= x < ev.n_routed_experts for layer in ev.experts for x in layer),
                 f"{name}: RoutingStats names an expert outside 0..{ev.n_routed_experts - 1}")


def _check_timing(name: str, last: Finished, deltas: list[TextDelta], completion: int) -> None:
    t = last.timing
    _require(t.clock == last.clock, f"{name}: Timing.clock {t.clock!r} != event clock {last.clock!r}")
    _require(bool(t.label.strip()), f"{name}: Timing.label is empty")
    if t.clock == "modeled":
        _require("modeled" in t.label, f"{name}: modeled Timing.label {t.label!r} must say 'modeled'")
    values = (t.ttft_s, t.e2e_s, t.queue_s, t.prefill_s, t.decode_s, *t.inter_token_s)
    _require(all(v >= 0 and math.isfinite(v) for v in values), f"{name}: a Timing figure is negative or infinite")
    _require(t.ttft_s <= t.e2e_s + TOLERANCE_S, f"{name}: ttft {t.ttft_s} > e2e {t.e2e_s}")
    _require(t.queue_s + t.prefill_s <= t.ttft_s + TOLERANCE_S, f"{name}: queue + prefill exceed ttft")
    _require(t.ttft_s + t.decode_s <= t.e2e_s + TOLERANCE_S, f"{name}: ttft + decode exceed e2e")
    if t.inter_token_s:
        _require(abs(sum(t.inter_token_s) - t.decode_s) <= TOLERANCE_S + 1e-6 * t.decode_s,
                 f"{name}: decode_s {t.decode_s} is not the sum of the inter-token gaps")
        _require(len(t.inter_token_s) < max(completion, len(deltas)),
                 f"{name}: {len(t.inter_token_s)} inter-token gaps for {completion} tokens")
    if deltas:
        _require(t.ttft_s <= deltas[0].at + TOLERANCE_S, f"{name}: ttft is later than the first TextDelta")
        _require(deltas[-1].at <= t.e2e_s + TOLERANCE_S, f"{name}: a TextDelta comes after e2e")


def _check_cost(name: str, backend: Backend, last: Finished) -> None:
    cost = last.cost
    if backend.capabilities.cost:
        _require(cost is not None, f"{name}: declares cost but Finished.cost is None")
    if cost is None:
        return
    figures = (cost.input_usd, cost.output_usd, cost.usd_per_m_input, cost.usd_per_m_output,
               cost.price_usd_per_chip_hour)
    _require(all(v >= 0 and math.isfinite(v) for v in figures), f"{name}: a Cost figure is negative or infinite")
    u = last.usage
    for got, want, what in ((cost.input_usd, u.prompt_tokens * cost.usd_per_m_input / 1e6, "input"),
                            (cost.output_usd, u.completion_tokens * cost.usd_per_m_output / 1e6, "output")):
        _require(math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-12),
                 f"{name}: {what}_usd {got} != tokens x usd_per_m_{what} / 1e6 = {want}")
    _require(bool(cost.label.strip()), f"{name}: Cost.label must say where the price comes from")
