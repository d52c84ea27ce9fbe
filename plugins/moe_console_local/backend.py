"""The ``local`` backend: the numpy MoE engine on this machine, measured.

The reply runs through the engine's shared chat-reply part
(``console.engine.chat_reply``): the same prompt preparation, window fitting,
sampling conversion, stop strings and token loop as the modeled backends, so
the tokens are the same for the same seed. This backend adds only its clock
and its cost: times are ``time.monotonic()`` values read where the engine
produced each token (accumulated by ``console.api.TokenTimer``); cost is this
machine's price per hour times the measured time.

Nothing heavy runs on the event loop: importing the engine, loading the
weights and the tokenizer, and encoding the prompt happen in a worker thread
(``asyncio.to_thread``), so the console stays responsive during the first
reply. ``context_window`` is read from the checkpoint's ``config.json``
(``console.engine.config.context_window``) without loading the weights.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    TokenTimer,
    Usage,
)

from moe_console_local.accounting import DEFAULT_PRICE_USD_PER_HOUR, TIMING_LABEL, measured_cost


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
            "path",
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
        Option(
            "raw_prompt",
            "bool",
            False,
            "no chat template: continue the last message as plain text after BOS (generate --raw)",
        ),
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._window: int | None = None
        self._window_read = False
        self._model: Any = None

    @property
    def context_window(self) -> int | None:
        """The checkpoint's ``max_position_embeddings`` (prompt + reply tokens),
        read from its ``config.json`` without loading weights; ``None`` when the
        folder or the figure is missing (the first reply then fails with the
        engine's own message)."""
        if not self._window_read:
            from console.engine.config import context_window

            self._window_read = True
            self._window = context_window(self.settings["model_path"] or None)
        return self._window

    def kv_bytes_at(self, tokens: int) -> int | None:
        """Bytes the engine's decode cache holds for a context of ``tokens`` (prompt +
        reply), derived from the loaded model's cache layout (float32; DeepSeek-V4: window
        ring + compressed entries + indexer keys, V3: latent + rope key per token); ``None``
        until a reply has loaded the model. Plain ints: the caller needs no engine import."""
        if self._model is None:
            return None
        from console.engine.chat_reply import kv_bytes_at

        return kv_bytes_at(self._model, tokens)

    async def stream(self, request: Request) -> AsyncIterator[Event]:
        reply = await asyncio.to_thread(open_engine_reply, self.settings, request)
        if isinstance(reply, Failed):
            yield reply
            return
        self._window, self._window_read = reply.window, True
        timer = TokenTimer(label=TIMING_LABEL, start=reply.start)
        prompt = len(reply.prompt)
        yield Started(request.request_id, self.info.name, reply.model.name, prompt, at=timer.now())
        self._model, layout = reply.model, reply.routing
        from console.engine.chat_reply import Text  # imported by now (in the worker thread): cheap

        async with contextlib.aclosing(reply.items(routing=request.want_routing)) as items:
            async for item in items:  # closing this stream closes (cancels) the engine side at once
                at = timer.since_start(item.at)
                if isinstance(item, Text):
                    yield TextDelta(item.text, item.token_ids, at=at)
                    continue
                timer.token(at)
                if item.routing is not None:
                    yield RoutingStats(layout.layers, tuple(tuple(e) for e in item.routing),
                                       layout.n_routed_experts, at=at, hash_layers=layout.hash_layers)
        usage = Usage(prompt, reply.tokens)
        if reply.error is not None:
            yield Failed(error=reply.error, partial_text=reply.text, usage=usage, at=timer.now())
            return
        timing = timer.timing()
        cost = measured_cost(timing, usage, self.settings["price_usd_per_hour"])
        yield Finished(reason=reply.finish_reason, usage=usage, timing=timing, cost=cost, at=timing.e2e_s)


def open_engine_reply(settings: dict[str, Any], request: Request) -> Any:
    """Blocking start of a reply, for a worker thread: the engine's
    ``open_reply`` for this backend's options, or a ``Failed`` event with its
    one-line reason."""
    from console.engine.chat_reply import PromptTooLong, open_reply
    from console.engine.errors import EngineError

    messages = [{"role": m.role, "content": m.content} for m in request.messages]
    try:
        return open_reply(settings["model_path"] or None, messages, request.sampling,
                          ignore_eos=settings["ignore_eos"], raw=settings["raw_prompt"])
    except PromptTooLong as exc:
        return Failed(error=str(exc), usage=Usage(exc.prompt_tokens, 0))
    except EngineError as exc:
        return Failed(error=str(exc))
