"""The ``local`` backend: the numpy MoE engine on this machine, measured.

Requests share one batching ``GenerationLoop`` per checkpoint
(``console.engine.aio.shared_engine``). The prompt goes through the
tokenizer's chat template; reply text comes from the tokenizer's stream
decoder (whole characters); timings are ``time.monotonic()`` values read where
the engine hands each token over; cost is this machine's price per hour times
the measured time.
"""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator

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
    )

    async def _engine(self):
        from console.engine.aio import shared_engine

        path = self.settings["model_path"] or None
        return await asyncio.to_thread(shared_engine, path)

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        from console.engine import EngineError, SamplingParams
        from console.engine.aio import steps_of_handle

        try:
            engine = await self._engine()
        except EngineError as exc:
            yield Failed(error=f"cannot load the model: {exc}")
            return
        model = engine.model
        tokenizer = model.tokenizer
        if tokenizer is None:
            yield Failed(error=f"model {model.name!r} has no tokenizer files; local needs one")
            return
        start = time.monotonic()  # after the one-time model load: a warm-up, not reply latency
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        prompt = list(tokenizer.apply_chat_template(messages, add_generation_prompt=True))
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
        stop_ids = tuple(tokenizer.stop_token_ids)
        params = SamplingParams(
            temperature=s.temperature,
            top_k=s.top_k,
            top_p=s.top_p,
            min_p=s.min_p,
            repetition_penalty=s.repetition_penalty,
            seed=s.seed,
            stop_token_ids=stop_ids,
        )  # stop strings are cut here, on the text, so every token keeps its own timestamp
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
