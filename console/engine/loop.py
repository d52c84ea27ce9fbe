"""Continuous batching: one thread steps every running sequence of one model together.

Each iteration of the loop thread
1. ends cancelled requests (waiting or running): their sequences are freed in this step;
2. admits waiting requests while fewer than ``max_batch`` run, looking each prompt up in the
   prefix cache (:mod:`~console.engine.prefix_cache`): a stored prefix is forked and only the
   rest of the prompt is prefilled;
3. decodes one token for every running sequence whose prompt is in its cache, in ONE batched
   ``Model.decode`` call;
4. prefills prompt chunks in ONE batched ``Model.prefill`` call under the step's token budget
   (``max_num_batched_tokens`` less one token per decoding sequence, as vLLM counts): a long
   prompt is prefilled across several steps, so decoding streams keep receiving tokens while
   it goes in; a sequence whose last chunk went in samples its first token and decodes from
   the next step on;
5. hands every request its Steps through its :class:`~console.engine.handle.Handle`; a
   finished sequence leaves the batch and its cache goes to the prefix cache.

The same loop serves the TUI's ``local`` backend (through ``console.engine.aio``), the
command line (``moe-console bench --engine``) and the HTTP server (``moe-console serve``, which
runs it in an engine process of its own: ``console.server.engine_process``).
:attr:`GenerationLoop.stats` is read by the server's metrics from any thread; ``on_step`` (if
given) is called by the loop thread after every iteration, once its Steps are in the handles.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .errors import EngineError
from .generation import SequenceState
from .handle import Handle
from .prefix_cache import DEFAULT_PREFIX_CACHE_BYTES, PrefixCache
from .sampling import SamplingParams

__all__ = ["GenerationLoop", "Handle", "LoopStats"]

#: Default token budget of one step (decode tokens + prefill chunk tokens).
DEFAULT_MAX_NUM_BATCHED_TOKENS = 256
#: Decode step durations kept per batch size for :meth:`LoopStats.step_median`.
STEP_SAMPLES = 512


@dataclass
class LoopStats:
    """Live figures of a loop (plain numbers; read them from any thread).

    ``expert_tokens[i][e]``: routed assignments of decoded tokens by MoE layer ``moe_layers[i]``
    to expert ``e`` so far (decode steps; prefill routing is not returned per token).
    ``decode_step_s[b]``: the last ``STEP_SAMPLES`` durations (seconds, monotonic clock) of
    decode steps of exactly ``b`` sequences (the batched ``Model.decode`` call and the sampling
    of its tokens); ``decode_step_count[b]`` / ``decode_step_sum_s[b]``: all of them so far."""

    running: int = 0
    waiting: int = 0
    running_tokens: int = 0            # tokens held by the running sequences' caches
    steps: int = 0
    decode_steps: int = 0
    last_decode_batch: int = 0
    last_decode_s: float = 0.0
    prompt_tokens_prefilled: int = 0
    expert_tokens: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    decode_step_s: dict[int, deque] = field(default_factory=dict)
    decode_step_count: dict[int, int] = field(default_factory=dict)
    decode_step_sum_s: dict[int, float] = field(default_factory=dict)

    def record_decode_step(self, batch: int, seconds: float) -> None:
        self.decode_steps += 1
        self.last_decode_batch, self.last_decode_s = batch, seconds
        self.decode_step_s.setdefault(batch, deque(maxlen=STEP_SAMPLES)).append(seconds)
        self.decode_step_count[batch] = self.decode_step_count.get(batch, 0) + 1
        self.decode_step_sum_s[batch] = self.decode_step_sum_s.get(batch, 0.0) + seconds

    def step_median(self, batch: int) -> float | None:
        """Median of the recent decode steps of exactly ``batch`` sequences (None if none ran)."""
        samples = list(self.decode_step_s.get(batch, ()))
        return statistics.median(samples) if samples else None


class GenerationLoop:
    """Serve many requests on one model from one background thread (started on creation).

    ``max_batch``: sequences running at once (the rest wait); ``max_num_batched_tokens``: the
    token budget of one step; ``prefix_cache``: reuse cached prefixes (bounded by
    ``prefix_cache_bytes``; only for models whose caches have ``fork``)."""

    def __init__(self, model: Any, max_batch: int = 32, *,
                 max_num_batched_tokens: int = DEFAULT_MAX_NUM_BATCHED_TOKENS,
                 prefix_cache: bool = True, prefix_cache_bytes: int = DEFAULT_PREFIX_CACHE_BYTES,
                 on_step: Callable[[], None] | None = None) -> None:
        self.model = model
        self.on_step = on_step
        self.max_batch = max(1, int(max_batch))
        self.max_num_batched_tokens = max(1, int(max_num_batched_tokens))
        self.prefix_cache = PrefixCache(prefix_cache_bytes) if prefix_cache else None
        self._pending: deque[tuple[SequenceState, Handle]] = deque()
        self._cond = threading.Condition()
        self._closed = False
        moe_layers = tuple(getattr(model, "moe_layers", ()))
        experts = int(getattr(model.config, "n_routed_experts", 0) or 0)
        self.stats = LoopStats(expert_tokens=np.zeros((len(moe_layers), experts), np.int64))
        self._thread = threading.Thread(target=self._run, name="engine-generation-loop", daemon=True)
        self._thread.start()

    @property
    def steps(self) -> int:
        """Batched iterations run so far."""
        return self.stats.steps

    def step_summary(self) -> dict[int, tuple[int, float, float]]:
        """Per decode batch size: (steps, total seconds, median seconds of the recent ones)."""
        s = self.stats
        return {b: (n, s.decode_step_sum_s[b], s.step_median(b)) for b, n in list(s.decode_step_count.items())}

    def submit(self, token_ids, max_new_tokens: int, sampling: SamplingParams | None = None,
               routing: bool = False, *, min_new_tokens: int = 0, handle: Handle | None = None) -> Handle:
        """Queue a request; bad arguments raise EngineError here, in the caller's thread.
        ``handle``: the Handle (or subclass) to deliver into (default: a new one)."""
        state = SequenceState(self.model, token_ids, max_new_tokens, sampling, routing, min_new_tokens)
        if handle is None:
            handle = Handle()
        handle.prompt_tokens = len(state.prompt)
        with self._cond:
            if self._closed:
                raise EngineError("the generation loop is closed")
            if state.done:
                handle._finish(state.finish_reason)
            else:
                self._pending.append((state, handle))
                self.stats.waiting = len(self._pending)
                self._cond.notify()
        return handle

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop the thread; unfinished requests end as cancelled."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def __enter__(self) -> "GenerationLoop":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----- the thread ----------------------------------------------------------------------
    def _run(self) -> None:
        running: list[tuple[SequenceState, Handle]] = []
        try:
            while True:
                with self._cond:
                    while not self._pending and not running and not self._closed:
                        self._cond.wait()
                    if self._closed:
                        break
                    self._end_cancelled_waiting()
                    running = self._drop_cancelled(running)
                    while self._pending and len(running) < self.max_batch:
                        running.append(self._admit(*self._pending.popleft()))
                    self.stats.waiting = len(self._pending)
                self._step(running)
                running = [(s, h) for s, h in running if not self._retire(s, h)]
                self.stats.running = len(running)
                self.stats.running_tokens = sum(s.cache.length for s, _ in running)
                self.stats.steps += 1
                if self.on_step is not None:
                    self.on_step()
        finally:
            with self._cond:
                leftover, self._pending = list(self._pending), deque()
                self._closed = True
            self.stats.running = self.stats.waiting = self.stats.running_tokens = 0
            for state, handle in running + leftover:
                self._end(state, handle, "cancelled")
            if self.on_step is not None:
                self.on_step()

    def _step(self, running) -> None:
        decoding = [(s, h) for s, h in running if s.prompt_left == 0 and not s.done]
        if decoding:
            t0 = time.monotonic()
            self._guarded(decoding, self._decode)
            self.stats.record_decode_step(len(decoding), time.monotonic() - t0)
        budget = max(1, self.max_num_batched_tokens - len(decoding))
        chunks = []
        for state, handle in running:
            if budget <= 0:
                break
            if state.prompt_left and not state.done:
                n = min(state.prompt_left, budget)
                chunks.append((state, handle, n))
                budget -= n
        if chunks:
            self._guarded([(s, h) for s, h, _ in chunks], lambda group: self._prefill(chunks))

    def _admit(self, state: SequenceState, handle: Handle) -> tuple[SequenceState, Handle]:
        if self.prefix_cache is not None and hasattr(state.cache, "fork"):
            cache, n = self.prefix_cache.lookup(state.prompt)
            if cache is not None:
                state.cache, handle.cached_tokens = cache, n
        return state, handle

    def _retire(self, state: SequenceState, handle: Handle) -> bool:
        """True when the sequence has finished (its cache then goes to the prefix cache)."""
        if not state.done:
            return False
        detach = getattr(state.cache, "detach", None)
        if detach is not None:            # leave the decode batch's arena (see engine.cache)
            detach()
        if self.prefix_cache is not None and state.finish_reason != "error":
            self.prefix_cache.insert(state.tokens_in_cache(), state.cache)
        return True

    def _end(self, state: SequenceState, handle: Handle, reason: str) -> None:
        for step in state.finish(reason):
            handle._emit(step)
        handle._finish(state.finish_reason)

    def _end_cancelled_waiting(self) -> None:
        if any(h.cancelled for _, h in self._pending):
            kept = deque()
            for state, handle in self._pending:
                if handle.cancelled:
                    self._end(state, handle, "cancelled")
                else:
                    kept.append((state, handle))
            self._pending = kept

    def _drop_cancelled(self, group):
        kept = [(s, h) for s, h in group if not h.cancelled]
        if len(kept) < len(group):
            self.stats.running = len(kept)        # counted out before their handles end
            for state, handle in group:
                if handle.cancelled:
                    self._end(state, handle, "cancelled")
                    self._retire(state, handle)
        return kept

    def _guarded(self, group, fn) -> None:
        try:
            fn(group)
        except Exception as exc:  # a failure ends these requests, never the loop
            error = exc if isinstance(exc, EngineError) else EngineError(f"engine failure: {exc!r}")
            for state, handle in group:
                state.finish_reason = "error"
                handle._finish("error", error)

    def _count_experts(self, routing) -> None:
        counts = self.stats.expert_tokens
        if counts.size:
            for i, (idx, _) in enumerate(routing[:counts.shape[0]]):
                counts[i] += np.bincount(np.asarray(idx).ravel(), minlength=counts.shape[1])[:counts.shape[1]]

    def _deliver(self, state: SequenceState, handle: Handle, logits, routing, row: int, prefill: bool) -> None:
        for step in state.accept(logits, routing, row, prefill):
            handle._emit(step)
        if state.done:
            handle._finish(state.finish_reason)

    def _prefill(self, chunks) -> None:
        now = time.monotonic()
        for _, handle, _ in chunks:
            if handle.scheduled_at is None:
                handle.scheduled_at = now
        pieces = [s.prompt[s.cache.length:s.cache.length + n] for s, _, n in chunks]
        logits, routing = self.model.prefill(pieces, [s.cache for s, _, _ in chunks])
        self.stats.prompt_tokens_prefilled += sum(n for _, _, n in chunks)
        for row, (state, handle, _) in enumerate(chunks):
            if state.prompt_left == 0:
                self._deliver(state, handle, logits[row], routing, row, True)

    def _decode(self, group) -> None:
        logits, routing = self.model.decode([s.cache for s, _ in group], [s.last_token for s, _ in group])
        self._count_experts(routing)
        for row, (state, handle) in enumerate(group):
            self._deliver(state, handle, logits[row], routing, row, False)
