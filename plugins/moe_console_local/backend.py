"""The ``local`` backend: the numpy MoE engine on this machine, measured.

Requests share one batching ``GenerationLoop`` per checkpoint
(``console.engine.aio.shared_engine``). The prompt goes through the
tokenizer's chat template; reply text comes from the tokenizer's stream
decoder (whole characters); timings are ``time.monotonic()`` values read where
the engine hands each token over; cost is this machine's price per hour times
the measured time.

Nothing heavy runs on the event loop: importing the engine, loading the
weights and the tokenizer, and encoding the prompt happen in a worker thread
(``asyncio.to_thread``), so the console stays responsive during the first
reply. ``context_window`` is read from the checkpoint's ``config.json``
without loading the weights.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

from console.api import (
    Backend,
    BackendInfo,
    Capabilities,
    Event,
    Failed,
    Finished,
    Option,
    Request,
    RoutingStats,
    Started,
    TextDelta,
    Usage,
)

from moe_console_local.accounting import DEFAULT_PRICE_USD_PER_HOUR, measured_cost, measured_timing
from moe_console_local.text import ReplyText


class LocalBackend(Backend):
    """Runs the engine in this process (see the module doc)."""

    info = BackendInfo(
        name="local",
        display_name="Local engine",
        kind="local",
        hardware="this machine (CPU, numpy)",
        model="built-in (or the model_path option)",
        description="The moe-console numpy MoE engine running here; every figure is measured.",
    )
    capabilities = Capabilities(cancel=True, routing_stats=True, modeled_timings=False, cost=True)
    options = (
        Option(
            "model_path",
            "str",
            "",
            "Hugging Face checkpoint folder (config.json, *.safetensors, tokenizer files); "
            "empty: the built-in model",
        ),
        Option(
            "price_usd_per_hour",
            "float",
            DEFAULT_PRICE_USD_PER_HOUR,
            "price of this machine in USD per hour, used for the cost per million tokens "
            "(default: an assumed small cloud VM, 2026-11-28)",
            minimum=0.0,
        ),
        Option(
            "ignore_eos",
            "bool",
            False,
            "keep generating past end-of-text until max tokens; for benchmarks and tests",
        ),
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._window: int | None = None
        self._window_read = False

    @property
    def context_window(self) -> int | None:
        """The checkpoint's ``max_position_embeddings`` (prompt + reply tokens),
        read from its ``config.json`` without importing the engine or loading
        weights; ``None`` when the folder or the figure is missing (the first
        reply then fails with the engine's own message)."""
        if not self._window_read:
            self._window_read = True
            self._window = config_window(self.settings["model_path"])
        return self._window

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        prepared = await asyncio.to_thread(prepare, self.settings, request)
        if isinstance(prepared, Failed):
            yield prepared
            return
        from console.engine import EngineError  # imported by now (in the worker thread): cheap
        from console.engine.aio import steps_of_handle

        engine, tokenizer, prompt, start = prepared.engine, prepared.tokenizer, prepared.prompt, prepared.start
        model = engine.model
        self._window, self._window_read = model.config.max_position_embeddings, True
        window = model.config.max_position_embeddings
        if len(prompt) >= window:
            yield Failed(
                error=f"the prompt is {len(prompt)} tokens but {model.name} has a "
                f"context window of {window} tokens; shorten the conversation",
                usage=Usage(len(prompt), 0),
                at=time.monotonic() - start,
            )
            return
        s = request.sampling
        max_new = min(s.max_tokens, window - len(prompt))
        params = prepared.params
        yield Started(request.request_id, self.info.name, model.name, len(prompt), at=time.monotonic() - start)

        text = ReplyText(tokenizer.stream_decoder(), tuple(s.stop))
        token_times: list[float] = []
        completion = 0
        reason = "stop"  # stop token (the engine drops it) or stop string
        partial: list[str] = []
        try:
            handle = engine.loop.submit(prompt, max_new, params, routing=request.want_routing)
        except EngineError as exc:
            yield Failed(error=f"engine refused the request: {exc}", usage=Usage(len(prompt), 0),
                         at=time.monotonic() - start)
            return
        steps = steps_of_handle(handle)
        try:
            try:
                async for timed in steps:
                    step, at = timed.step, timed.at
                    token_times.append(at)
                    if request.want_routing and step.routing is not None:
                        yield RoutingStats(
                            layers=tuple(model.moe_layers),
                            experts=tuple(tuple(e) for e in step.routing),
                            n_routed_experts=model.config.n_routed_experts,
                            at=at - start,
                        )
                    chunk = text.push(step.token_id)
                    completion += 1
                    if chunk.token_ids:
                        partial.append(chunk.text)
                        yield TextDelta(chunk.text, chunk.token_ids, at=at - start)
                    if text.stopped:
                        break
                else:
                    reason = "length" if handle.finish_reason == "length" else "stop"
            except EngineError as exc:
                yield Failed(
                    error=f"engine error: {exc}",
                    partial_text="".join(partial),
                    usage=Usage(len(prompt), completion),
                    at=time.monotonic() - start,
                )
                return
            chunk = text.flush()
            if chunk.token_ids:
                yield TextDelta(chunk.text, chunk.token_ids, at=token_times[-1] - start)
        finally:
            await steps.aclose()
        end = time.monotonic()
        usage = Usage(len(prompt), completion)
        timing = measured_timing(start, token_times, end)
        cost = measured_cost(timing, usage, self.settings["price_usd_per_hour"])
        yield Finished(reason=reason, usage=usage, timing=timing, cost=cost, at=end - start)


@dataclass(frozen=True)
class Prepared:
    """What the worker thread readies for one reply (see :func:`prepare`)."""

    engine: Any
    tokenizer: Any
    prompt: list[int]
    params: Any
    start: float


def prepare(settings: dict[str, Any], request: Request) -> Prepared | Failed:
    """Blocking part of a reply's start, run in a worker thread: import the
    engine, load (once per process) the model and its tokenizer, apply the chat
    template (dropping the oldest turns that do not fit the context window
    beside the reply), build the engine's sampling parameters. ``start`` is read after
    the one-time model load (a warm-up, not reply latency).

    ``ignore_eos`` passes no stop token ids to the engine, so the reply runs to
    ``max_tokens`` (or the context window); stop strings are cut on the text by
    :class:`ReplyText` either way, so every token keeps its own timestamp."""
    from console.engine import EngineError, SamplingParams
    from console.engine.aio import shared_engine
    from console.engine.chat_template import fit_chat_prompt, prompt_budget

    try:
        engine = shared_engine(settings["model_path"] or None)
    except EngineError as exc:
        return Failed(error=f"cannot load the model: {exc}")
    model = engine.model
    tokenizer = model.tokenizer
    if tokenizer is None:
        return Failed(error=f"model {model.name!r} has no tokenizer files; local needs one")
    start = time.monotonic()
    messages = [{"role": m.role, "content": m.content} for m in request.messages]
    s = request.sampling
    window = model.config.max_position_embeddings
    prompt, _ = fit_chat_prompt(tokenizer, messages, prompt_budget(window, s.max_tokens))
    try:
        params = SamplingParams(
            temperature=s.temperature,
            top_k=s.top_k,
            top_p=s.top_p,
            min_p=s.min_p,
            repetition_penalty=s.repetition_penalty,
            seed=s.seed,
            stop_token_ids=() if settings["ignore_eos"] else tuple(tokenizer.stop_token_ids),
        )
    except EngineError as exc:
        return Failed(error=f"bad sampling: {exc}", usage=Usage(len(prompt), 0))
    return Prepared(engine, tokenizer, prompt, params, start)


def config_window(model_path: str) -> int | None:
    """``max_position_embeddings`` of the checkpoint at ``model_path`` (empty:
    the built-in model), from its config.json alone; ``None`` if unreadable."""
    folder = Path(model_path).expanduser() if model_path else builtin_folder()
    if folder is None:
        return None
    try:
        value = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("max_position_embeddings")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def builtin_folder() -> Path | None:
    """The built-in model folder (``console.engine.builtin_model_path()``),
    found without executing ``console.engine`` (which imports numpy) when it
    is not imported yet."""
    import importlib.util
    import sys

    engine = sys.modules.get("console.engine")
    if engine is not None:
        return Path(engine.builtin_model_path())
    spec = importlib.util.find_spec("console.engine")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "builtin"
