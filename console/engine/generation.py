"""Token-by-token generation for one sequence: the state machine shared by ``Model.stream``
and the batching :class:`~console.engine.loop.GenerationLoop`.

``Step.routing`` lists, per MoE layer (``Model.moe_layers``), the routed experts chosen at the
position whose logits produced this token (the last prompt position for the first token, then
the previous generated token), ordered by routing weight, highest first.

This module knows the model only by the duck-typed surface of CONTRACTS §1 (``check_tokens``,
``new_cache``, ``prefill``, ``decode``, ``config``, ``tokenizer``); ``model.py`` imports it,
never the other way round.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from .errors import EngineError
from .sampling import GREEDY, Sampler, SamplingParams
from .stops import StopStringMatcher

Routing = list[tuple[np.ndarray, np.ndarray]]   # per MoE layer: (expert ids (N, k), weights (N, k))


@dataclass(frozen=True)
class Step:
    """One generated token. ``at`` is the ``time.monotonic()`` at which it was sampled."""

    token_id: int
    routing: tuple[tuple[int, ...], ...] | None = None
    prefill: bool = False
    at: float | None = None


def routing_tuples(routing: Routing, row: int) -> tuple[tuple[int, ...], ...]:
    out = []
    for idx, w in routing:
        order = np.argsort(-w[row], kind="stable")
        out.append(tuple(int(e) for e in idx[row][order]))
    return tuple(out)


class SequenceState:
    """One sequence being generated: prompt, cache, sampler, stop rules, finish reason.

    Validation happens in the constructor, so bad requests fail where they are made.
    ``finish_reason`` becomes ``"stop"`` (stop token or string), ``"length"`` or ``"cancelled"``.
    ``min_new_tokens``: stop tokens cannot be sampled before this many tokens (vLLM's
    ``min_tokens``). ``generated`` lists every sampled token (a stop token included), so
    ``tokens_in_cache()`` names the tokens whose keys the cache holds.
    """

    def __init__(self, model: Any, token_ids, max_new_tokens: int,
                 sampling: SamplingParams | None, routing: bool = False, min_new_tokens: int = 0) -> None:
        for name, value in (("max_new_tokens", max_new_tokens), ("min_new_tokens", min_new_tokens)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise EngineError(f"{name} must be a non-negative integer, got {value!r}")
        if sampling is not None and not isinstance(sampling, SamplingParams):
            raise EngineError(f"sampling must be a SamplingParams, got {type(sampling).__name__}")
        self.params = sampling or GREEDY
        self.prompt = model.check_tokens(token_ids)
        self.max_new_tokens = int(max_new_tokens)
        self.min_new_tokens = int(min_new_tokens)
        self.want_routing = routing
        self.cache = model.new_cache()
        self.sampler = Sampler(self.params, model.config.vocab_size, self.prompt)
        self.stop_ids = frozenset(self.params.stop_token_ids)
        self._stop_array = np.array(sorted(self.stop_ids), dtype=np.int64)
        self.matcher: StopStringMatcher[Step] | None = None
        self.decoder = None
        if self.params.stop_strings:
            tokenizer = model.tokenizer
            if tokenizer is None:
                raise EngineError(f"{getattr(model, 'path', 'the model')}: stop strings need a tokenizer, "
                                  "and the model folder has none")
            self.matcher = StopStringMatcher(self.params.stop_strings)
            self.decoder = tokenizer.stream_decoder()
        self.produced = 0
        self.generated: list[int] = []
        self.last_token: int | None = None
        self.finish_reason: str | None = "length" if self.max_new_tokens == 0 else None

    @property
    def done(self) -> bool:
        return self.finish_reason is not None

    @property
    def prompt_left(self) -> int:
        """Prompt tokens not yet in the cache (0 once the prompt is prefilled)."""
        return max(0, len(self.prompt) - self.cache.length)

    def tokens_in_cache(self) -> np.ndarray:
        """The token ids whose keys the cache holds (prompt, then fed generated tokens)."""
        n = self.cache.length
        if n <= len(self.prompt):
            return self.prompt[:n]
        return np.concatenate([self.prompt, np.asarray(self.generated[:n - len(self.prompt)], np.int64)])

    def finish(self, reason: str) -> list[Step]:
        """End generation; returns tokens still held back by the stop-string matcher."""
        if self.finish_reason is None:
            self.finish_reason = reason
        return self.matcher.flush() if (self.matcher and reason != "stop") else []

    def accept(self, logits: np.ndarray, routing: Routing, row: int, prefill: bool) -> list[Step]:
        """Sample the next token from ``logits`` (V,) and return the Steps now ready to emit."""
        if self.produced < self.min_new_tokens and self._stop_array.size:
            logits = logits.copy()
            logits[self._stop_array[self._stop_array < logits.shape[0]]] = -np.inf
        token = self.sampler(logits)
        self.produced += 1
        self.generated.append(token)
        self.last_token = token
        if token in self.stop_ids:
            return self.finish("stop") + (self.matcher.flush() if self.matcher else [])
        step = Step(token, routing_tuples(routing, row) if self.want_routing else None, prefill, time.monotonic())
        if self.matcher is not None:
            released = self.matcher.push(step, self.decoder.push(token))
            if self.matcher.stopped:
                self.finish("stop")
                return released
        else:
            released = [step]
        if self.produced >= self.max_new_tokens:
            released += self.finish("length")
        return released


class StepStream:
    """Iterator of :class:`Step`s for one prompt, with ``finish_reason`` once exhausted.

    ``should_stop()`` is called before every forward pass; when it returns True the stream ends
    with ``finish_reason == "cancelled"``.
    """

    def __init__(self, model: Any, token_ids, max_new_tokens: int, sampling: SamplingParams | None,
                 *, routing: bool = False, should_stop: Callable[[], bool] | None = None) -> None:
        self.model = model
        self.state = SequenceState(model, token_ids, max_new_tokens, sampling, routing)
        self.should_stop = should_stop or (lambda: False)
        self._steps = self._run()

    @property
    def finish_reason(self) -> str | None:
        return self.state.finish_reason

    def __iter__(self) -> Iterator[Step]:
        return self

    def __next__(self) -> Step:
        return next(self._steps)

    def close(self) -> None:
        self._steps.close()

    def _run(self) -> Iterator[Step]:
        st, model = self.state, self.model
        if st.done:
            return
        if self.should_stop():
            st.finish("cancelled")
            return
        logits, routing = model.prefill([st.prompt], [st.cache])
        yield from st.accept(logits[0], routing, 0, True)
        while not st.done:
            if self.should_stop():
                yield from st.finish("cancelled")
                return
            logits, routing = model.decode([st.cache], [st.last_token])
            yield from st.accept(logits[0], routing, 0, False)
