"""One chat reply on the engine, the part every engine-backed backend shares.

The ``local`` backend (measured) and the modeled backends (timings from the
performance model) produce the same tokens for the same seed because both run
this: :func:`open_reply` (blocking; run it in a worker thread) loads the
process-wide engine for a checkpoint, applies the chat template (dropping the
oldest turns that do not fit the context window beside the reply), converts
the request's sampling settings to :class:`SamplingParams` (the one
conversion: every field, stop strings included) and checks the window;
:meth:`ChatReply.items` submits the prompt to the batching loop and yields, as
they come, a :class:`Token` per generated token (its production time and
routing) and a :class:`Text` whenever whole characters can be shown (with the
ids they account for: every id is in exactly one ``Text``).

:attr:`ChatReply.routing` describes the routing every ``Token`` reports (the MoE
layers, which of them are hash-routed by token id, experts per layer), and
:func:`kv_bytes_at` the decode cache's size for a context length, so both kinds
of backend report them alike.

Stop strings are the engine's (:mod:`console.engine.stops`): a token whose
text reaches into a stop string is dropped whole, so the reply's text is
always the decoding of its token ids. Errors the user can fix are
:class:`EngineError` with one line; an error during generation ends the items
and is left in :attr:`ChatReply.error`. Callers map the items to their own
events and clocks; this module knows nothing of the plugin API.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Mapping, Sequence

from .errors import EngineError


@dataclass(frozen=True)
class Token:
    """One generated token: ``index`` 0 is the first, ``at`` the ``time.monotonic()``
    at which it was sampled, ``routing`` the experts per MoE layer (when asked)."""

    token_id: int
    index: int
    at: float
    routing: tuple[tuple[int, ...], ...] | None = None


@dataclass(frozen=True)
class Text:
    """Text ready to show: whole characters, the ids they come from, and the
    index and time of the last of those tokens."""

    text: str
    token_ids: tuple[int, ...]
    index: int
    at: float


@dataclass(frozen=True)
class RoutingLayout:
    """What the routing of each ``Token`` refers to: ``layers[i]`` is the layer index of
    ``routing[i]``; ``hash_layers`` those of them routed by token id (a fixed table,
    DeepSeek-V4's first layers), not by a learned router; ``n_routed_experts`` per layer."""

    layers: tuple[int, ...]
    hash_layers: tuple[int, ...]
    n_routed_experts: int


def routing_layout(model: Any) -> RoutingLayout:
    return RoutingLayout(tuple(model.moe_layers), tuple(getattr(model, "hash_moe_layers", ())),
                         int(model.config.n_routed_experts))


def kv_bytes_at(model: Any, tokens: int) -> int:
    """Bytes the model's decode cache holds for a context of ``tokens``: the model's own
    ``kv_bytes_at`` when it has one (DeepSeek-V4: sliding window plus compressed entries,
    not proportional to the length), else ``kv_bytes_per_token() * tokens`` (V3's latent
    cache, GQA). Derived from the cache layout, float32 as the engine stores it."""
    exact = getattr(model, "kv_bytes_at", None)
    return int(exact(tokens)) if exact is not None else int(model.kv_bytes_per_token()) * int(tokens)


class PromptTooLong(EngineError):
    """The prompt alone fills the context window; ``prompt_tokens`` says how long it is."""

    def __init__(self, message: str, prompt_tokens: int) -> None:
        super().__init__(message)
        self.prompt_tokens = prompt_tokens


def sampling_params(sampling: Any, stop_token_ids: Sequence[int] = ()) -> Any:
    """``SamplingParams`` from any object with the fields of ``console.api.Sampling``
    (``temperature``, ``top_k``, ``top_p``, ``min_p``, ``repetition_penalty``,
    ``seed``, ``stop``). Raises ``EngineError`` for a value the engine refuses."""
    from .sampling import SamplingParams

    return SamplingParams(
        temperature=float(sampling.temperature), top_k=int(sampling.top_k), top_p=float(sampling.top_p),
        min_p=float(sampling.min_p), repetition_penalty=float(sampling.repetition_penalty),
        seed=sampling.seed, stop_token_ids=tuple(stop_token_ids), stop_strings=tuple(sampling.stop))


class ChatReply:
    """A prepared reply (see :func:`open_reply`). ``prompt`` are its token ids,
    ``max_new`` the tokens it may generate (``max_tokens`` clamped to the window),
    ``start`` the ``time.monotonic()`` read once the model was loaded."""

    def __init__(self, engine: Any, prompt: list[int], params: Any, max_new: int, start: float) -> None:
        self.engine, self.prompt, self.params, self.max_new, self.start = engine, prompt, params, max_new, start
        self.model = engine.model
        self.routing = routing_layout(self.model)
        self.finish_reason = "stop"
        self.error: str | None = None
        self.tokens = 0
        self.text = ""

    @property
    def window(self) -> int:
        return int(self.model.config.max_position_embeddings)

    async def items(self, *, routing: bool = False) -> AsyncIterator[Token | Text]:
        """Run the reply on the shared loop; closing this iterator cancels the
        sequence and returns once the engine has let go of it."""
        from .aio import steps_of_handle

        try:
            handle = self.engine.loop.submit(self.prompt, self.max_new, self.params, routing=routing)
        except EngineError as exc:
            self.error = f"engine refused the request: {exc}"
            return
        decoder = self.model.tokenizer.stream_decoder()
        pending: list[int] = []
        last_at = self.start
        steps = steps_of_handle(handle)
        try:
            try:
                async for timed in steps:
                    step, last_at = timed.step, timed.at
                    index = self.tokens
                    self.tokens += 1
                    yield Token(step.token_id, index, timed.at, step.routing if routing else None)
                    pending.append(step.token_id)
                    piece = decoder.push(step.token_id)
                    if piece:
                        self.text += piece
                        yield Text(piece, tuple(pending), index, timed.at)
                        pending = []
                self.finish_reason = "length" if handle.finish_reason == "length" else "stop"
            except EngineError as exc:
                self.error = f"engine error: {exc}"
                return
            tail = decoder.flush()
            if tail or pending:
                self.text += tail
                yield Text(tail, tuple(pending), max(self.tokens - 1, 0), last_at)
        finally:
            await steps.aclose()


def open_reply(model_path: str | None, messages: Sequence[Mapping[str, str]], sampling: Any, *,
               ignore_eos: bool = False, raw: bool = False) -> ChatReply:
    """Blocking start of a reply (see the module doc); raises :class:`EngineError`
    with one line for a model that cannot load, has no tokenizer, a prompt that
    does not fit or sampling the engine refuses.

    ``messages`` are ``{"role", "content"}`` mappings; ``raw`` skips the chat
    template and continues the last message's text after the BOS token.
    ``ignore_eos`` passes no stop token ids, so the reply runs to ``max_tokens``
    (or the window)."""
    from .aio import shared_engine
    from .chat_template import fit_chat_prompt, prompt_budget

    try:
        engine = shared_engine(model_path or None)
    except EngineError as exc:
        raise EngineError(f"cannot load the model: {exc}") from None
    model = engine.model
    tokenizer = model.tokenizer
    if tokenizer is None:
        raise EngineError(f"model {model.name!r} has no tokenizer files (tokenizer.json); "
                          "a text prompt cannot be encoded")
    start = time.monotonic()
    window = int(model.config.max_position_embeddings)
    max_tokens = int(sampling.max_tokens)
    if raw:
        bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
        prompt = bos + list(tokenizer.encode(messages[-1]["content"] if messages else ""))
    else:
        prompt, _ = fit_chat_prompt(tokenizer, [dict(m) for m in messages], prompt_budget(window, max_tokens))
    if len(prompt) >= window:
        raise PromptTooLong(f"the prompt is {len(prompt)} tokens but {model.name} has a context window "
                            f"of {window} tokens; shorten the conversation", len(prompt))
    params = sampling_params(sampling, () if ignore_eos else tuple(tokenizer.stop_token_ids))
    return ChatReply(engine, prompt, params, min(max_tokens, window - len(prompt)), start)
