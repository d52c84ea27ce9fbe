"""Modeled backends: one per registered :class:`~console.api.HardwareSpec`.

The reply text comes from the local engine (the built-in model, or the
``model_path`` option), through the same batching loop and sampling as the
``local`` backend, so the tokens are the same for the same seed. The timings
and cost are those ``console.perf`` predicts for the target model (DeepSeek-V3,
V4-Flash or V4-Pro) served on the spec's hardware: events carry
``clock="modeled"`` and ``at`` in modeled seconds. With ``pace="modeled"`` the
tokens are released at the modeled times (a person feels the modeled latency;
a slower engine releases them as they come); with ``pace="fast"`` as fast as the
engine runs.

Labels: ``Timing.label`` and ``Cost.label`` name the model, its calibration and,
for hardware modeled by analogy (``spec.calibration is None``), the range of the
figure over the sensitivity scenarios.

The reply runs through the engine's shared chat-reply part
(``console.engine.chat_reply``), exactly as the ``local`` backend's does; this
module adds only the modeled clock (``TokenTimer`` fed the modeled time of each
token) and the modeled cost. Nothing heavy runs on the event loop: importing
the engine, loading the model and its tokenizer and encoding the prompt happen
in a worker thread.

Prices: the ``price_usd_per_hour`` option when > 0, else the user's price file
(``$MOE_CONSOLE_PRICES`` or ``prices.toml`` in the console's config directory),
else the plugin's price figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, ClassVar

from console import perf
from console.api import (
    Backend,
    BackendError,
    BackendInfo,
    Capabilities,
    Cost,
    Event,
    Failed,
    Finished,
    HardwareSpec,
    Option,
    PluginError,
    Request,
    RoutingStats,
    Started,
    TextDelta,
    TokenTimer,
    Usage,
    spec_problems,
)

TARGET_MODELS = ("deepseek-v3", "deepseek-v4-flash", "deepseek-v4-pro")

OPTIONS = (
    Option("target_model", "str", "deepseek-v3", "the full-size model whose serving the figures model",
           choices=TARGET_MODELS),
    Option("concurrency", "int", 128, "sequences decoding together on each chip (the load modeled)",
           minimum=1, maximum=4096),
    Option("context", "int", 2000, "average KV-cache length of the sequences in the batch, in tokens",
           minimum=1, maximum=1_048_576),
    Option("pace", "str", "modeled",
           "modeled: release tokens at the modeled TTFT/TPOT; fast: as fast as the engine runs",
           choices=("modeled", "fast")),
    Option("price_usd_per_hour", "float", 0.0,
           "price per chip-hour in USD; 0 uses the user price file or the hardware plugin's price",
           minimum=0.0),
    Option("model_path", "path", "", "checkpoint folder the reply text comes from; empty: the built-in model"),
    Option("ignore_eos", "bool", False,
           "keep generating past end-of-text until max tokens; for benchmarks and tests"),
)


# ------------------------------------------------------------------ spec -> chip
def chip_from_spec(spec: HardwareSpec) -> perf.Chip:
    """The performance model's view of ``spec``. ``a2a_gbps`` is taken as the
    effective bandwidth of both dispatch and combine. A spec with problems
    (:func:`console.api.spec_problems`) raises :class:`PluginError` listing them."""
    problems = spec_problems(spec)
    if problems:
        raise PluginError("; ".join(problems))
    figures = {name: perf.figure(f.value, f.unit, f.tag, f.source, f.note, f.date)
               for name, f in spec.figures().items()}
    a2a, price = spec.a2a_gbps, spec.price_usd_per_hour
    return perf.Chip(
        name=spec.name, display_name=spec.display_name,
        peak_tflops={fmt: float(f.value) for fmt, f in spec.peak_tflops.items()},
        hbm_gb=float(spec.hbm_gb.value), hbm_tbps=float(spec.hbm_tbps.value),
        a2a=perf.A2A(float(a2a.value), float(a2a.value), a2a.tag, a2a.source, f"{spec.name} (plugin)"),
        price_usd_per_hour=float(price.value), price_date=price.date, price_source=price.note or price.source,
        price_kind=price.tag, calibration=spec.calibration, figures=figures,
        scale_up_gbps=float(spec.scale_up_gbps.value), scale_out_gbps=float(spec.scale_out_gbps.value))


def spec_price(spec: HardwareSpec) -> perf.Price:
    p = spec.price_usd_per_hour
    return perf.Price(float(p.value), p.date, p.note or p.source, p.tag, "plugin")


def user_prices() -> dict[str, perf.Price]:
    """The user's price file, if any (``{}`` when there is none)."""
    from console.settings import config_dir

    path = perf.user_price_path(config_dir())
    return perf.load_price_file(path) if path is not None else {}


# ------------------------------------------------------------------ the plan of one reply
@dataclass(frozen=True)
class Plan:
    """Modeled figures for one request: what the stream releases and reports."""

    result: perf.BackendResult
    price: perf.Price | None
    timing_label: str
    cost_label: str

    @property
    def ttft_s(self) -> float:
        return self.result.point.ttft_s

    @property
    def tpot_s(self) -> float:
        return self.result.point.tpot_s

    def at(self, index: int) -> float:
        """Modeled time of the ``index``-th generated token (0: out of prefill)."""
        return self.ttft_s + index * self.tpot_s


def _span(r: perf.Ranged, fmt: str) -> str:
    return f"{fmt.format(r.low)}-{fmt.format(r.high)}" if r.has_range else ""


def make_plan(chip: perf.Chip, settings: dict[str, Any], prompt_tokens: int, output_tokens: int,
              plugin_price: perf.Price | None) -> Plan:
    """Run the perf model for one request (raises ``PerfDataError`` for a bad setup)."""
    profile = perf.load_profile(settings["target_model"])
    explicit = settings["price_usd_per_hour"] or None
    price = perf.resolve_price(chip.name, explicit=explicit, user=user_prices(), plugin=plugin_price)
    workload = perf.Workload(prompt_tokens=max(1, prompt_tokens), output_tokens=max(1, output_tokens),
                             context=settings["context"], concurrency=settings["concurrency"])
    result = perf.evaluate(profile, chip, perf.default_deployment(), workload, price)
    point = result.point
    where = f"{profile.display_name} on {chip.display_name}, {point.batch} seq/chip, context {settings['context']}"
    if point.batch < settings["concurrency"]:
        where += f" (HBM caps the batch at {point.max_batch})"
    timing_label = f"{result.label}: {where}"
    figs = result.figures()
    spans = [f"{name} {_span(figs[key], '{:.0f}')} ms" for name, key in (("TPOT", "tpot_ms"), ("TTFT", "ttft_ms"))
             if figs[key].has_range]
    if spans:
        timing_label += "; range " + ", ".join(spans)
    cost_label = f"modeled at {price.describe()}" if price else "modeled (no price)"
    if price and price.source:
        cost_label += f" [{price.source}]"
    out_span = _span(figs["usd_per_m_output"], "${:.3f}")
    if out_span:
        cost_label += f"; range {out_span} per M output tokens"
    if point.deployment.utilization < 1:
        cost_label += f"; utilization {point.deployment.utilization:.0%}"
    return Plan(result, price, timing_label, cost_label)


# ------------------------------------------------------------------ the backend
class ModeledBackend(Backend):
    """Base of the classes :func:`backend_class_for` makes (see the module doc)."""

    spec: ClassVar[HardwareSpec]
    perf_chip: ClassVar[perf.Chip]
    capabilities = Capabilities(cancel=True, routing_stats=True, modeled_timings=True, cost=True)
    options = OPTIONS

    @classmethod
    def perf_price(cls, explicit: float | None = None,
                   user: dict[str, perf.Price] | None = None) -> perf.Price | None:
        """The price ``compare`` uses: ``explicit``, else the user's price file
        (read when ``user`` is None), else the spec's own."""
        return perf.resolve_price(cls.perf_chip.name, explicit=explicit,
                                  user=user_prices() if user is None else user, plugin=spec_price(cls.spec))

    def plan(self, prompt_tokens: int, output_tokens: int) -> Plan:
        try:
            return make_plan(self.perf_chip, self.settings, prompt_tokens, output_tokens, spec_price(self.spec))
        except perf.PerfDataError as exc:
            raise BackendError(str(exc)) from None

    @property
    def context_window(self) -> int | None:
        """The window of the checkpoint the reply text comes from (the engine's
        ``max_position_embeddings``, read from its config.json without loading
        weights), not the target model's: the engine runs this conversation, so
        its window is what limits it. ``None`` when the folder is unreadable."""
        if not hasattr(self, "_window"):
            from console.engine.config import context_window

            self._window = context_window(self.settings["model_path"] or None)
        return self._window

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        reply = await asyncio.to_thread(_open, self.settings, request)
        if isinstance(reply, Failed):
            yield reply
            return
        self._window = reply.window
        prompt = len(reply.prompt)
        try:
            plan = self.plan(prompt, reply.max_new)
        except BackendError as exc:
            yield Failed(error=str(exc), usage=Usage(prompt, 0), clock="modeled")
            return
        from console.engine.chat_reply import Text  # imported by now (in the worker thread): cheap

        timer = TokenTimer(clock="modeled", label=plan.timing_label)
        paced, t0, layout = self.settings["pace"] == "modeled", time.monotonic(), reply.routing
        yield Started(request.request_id, self.info.name, self.settings["target_model"], prompt,
                      at=0.0, clock="modeled")
        async with contextlib.aclosing(reply.items(routing=request.want_routing)) as items:
            async for item in items:  # closing this stream closes (cancels) the engine side at once
                at = plan.at(item.index)
                if isinstance(item, Text):
                    yield TextDelta(item.text, item.token_ids, at=at, clock="modeled")
                    continue
                if paced:
                    await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
                timer.token(at)
                if item.routing is not None:
                    yield RoutingStats(layout.layers, tuple(tuple(e) for e in item.routing), layout.n_routed_experts,
                                       at=at, clock="modeled", hash_layers=layout.hash_layers)
        usage = Usage(prompt, reply.tokens)
        if reply.error is not None:
            yield Failed(error=reply.error, partial_text=reply.text, usage=usage, at=timer.last_at,
                         clock="modeled")
            return
        timing = timer.timing()
        yield Finished(reply.finish_reason, usage, timing, _cost(plan, usage), at=timing.e2e_s, clock="modeled")


def _cost(plan: Plan, usage: Usage) -> Cost:
    point = plan.result.point
    per_in, per_out = point.usd_per_m_input or 0.0, point.usd_per_m_output or 0.0
    return Cost(input_usd=usage.prompt_tokens * per_in / 1e6, output_usd=usage.completion_tokens * per_out / 1e6,
                usd_per_m_input=per_in, usd_per_m_output=per_out,
                price_usd_per_chip_hour=plan.price.usd_per_hour if plan.price else 0.0,
                price_date=plan.price.date if plan.price else "", label=plan.cost_label)


def _open(settings: dict[str, Any], request: Request) -> Any:
    """Blocking start of a reply, for a worker thread: the engine's ``open_reply``
    (the same as the local backend's) or a ``Failed`` event on the modeled clock."""
    from console.engine.chat_reply import PromptTooLong, open_reply
    from console.engine.errors import EngineError

    messages = [{"role": m.role, "content": m.content} for m in request.messages]
    try:
        return open_reply(settings["model_path"] or None, messages, request.sampling,
                          ignore_eos=settings["ignore_eos"])
    except PromptTooLong as exc:
        return Failed(error=str(exc), usage=Usage(exc.prompt_tokens, 0), clock="modeled")
    except EngineError as exc:
        return Failed(error=f"{exc} (the model the text comes from)", clock="modeled")


def backend_class_for(spec: HardwareSpec) -> type[Backend]:
    """A modeled Backend class for ``spec`` (name = ``spec.name``, kind ``modeled``).

    Validates the spec (units, positive figures, a known calibration) and raises
    :class:`PluginError` with one line when it cannot be modeled."""
    chip = chip_from_spec(spec)
    how = (f"calibrated to {perf.calibration(spec.calibration).run}" if spec.calibration
           else "modeled by analogy (ranges)")
    info = BackendInfo(
        name=spec.name, display_name=f"{spec.display_name} (modeled)", kind="modeled",
        hardware=spec.display_name, model="DeepSeek (target_model option)",
        description=f"Text from the local engine; timings and cost of the target model on "
                    f"{spec.display_name} from the performance model, {how}.")
    cls_name = "Modeled_" + "".join(ch if ch.isalnum() else "_" for ch in spec.name)
    return type(cls_name, (ModeledBackend,), {"info": info, "spec": spec, "perf_chip": chip,
                                              "__module__": __name__})
