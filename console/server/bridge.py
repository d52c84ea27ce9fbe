"""The server's side of the engine: load the model, admit requests, stream their text.

One :class:`EngineBridge` per server owns the model and its ``GenerationLoop`` (continuous
batching, chunked prefill, prefix reuse: see ``console.engine.loop``), by default in an engine
process of its own (:mod:`.engine_process`: the loop then never waits for this process's GIL;
``engine_process=False`` runs it on a thread here). It lives on the asyncio event loop; only
:meth:`load` blocks (run it in a thread). Admission: up to ``max_batch``
sequences run, up to ``max_waiting`` more wait; past that a request gets a 429. Before the model
is loaded, after a failed load, and once shutdown has begun, requests get a 503.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

from console.engine import EngineError, GenerationLoop, Handle, builtin_model_path, load_model

from .errors import APIError
from .parse import GenerationRequest, ModelFacts

#: The generation_config.json keys used as sampling defaults (vLLM does the same).
DEFAULT_KEYS = ("temperature", "top_p", "top_k", "repetition_penalty")


@dataclass(frozen=True)
class Piece:
    """Text released by one wake-up of a stream: ``tokens`` new tokens, the last made at ``at``."""

    text: str
    tokens: int
    at: float
    gaps: tuple[float, ...]       # inter-token gaps of these tokens (seconds, monotonic)


def served_name(path: str | None) -> str:
    """The model name clients use: the folder name, ``builtin`` for the built-in model."""
    return "builtin" if path is None else Path(path).expanduser().resolve().name


class EngineBridge:
    def __init__(self, model_path: str | None = None, *, max_batch: int = 32, max_waiting: int = 64,
                 max_num_batched_tokens: int = 256, prefix_cache: bool = True,
                 blas_threads: int | None = 1, engine_process: bool = True) -> None:
        self.model_path = model_path
        self.name = served_name(model_path)
        self.max_batch, self.max_waiting = max(1, max_batch), max(0, max_waiting)
        self.max_num_batched_tokens, self.prefix_cache = max_num_batched_tokens, prefix_cache
        self.blas_threads, self.engine_process = blas_threads, engine_process
        self.model = None
        self.loop: GenerationLoop | None = None
        self.facts: ModelFacts | None = None
        self.load_error: str | None = None
        self.shutting_down = False
        self.inflight: set[Handle] = set()

    @property
    def ready(self) -> bool:
        return self.facts is not None and not self.shutting_down

    # ----- life cycle ------------------------------------------------------------------------
    def load(self) -> None:
        """Load the model and start the loop (blocking). A bad checkpoint sets ``load_error``
        (one line) and raises EngineError. ``blas_threads`` (default 1) is applied to OpenBLAS
        where the engine runs: the event loop needs a core of its own, and spinning BLAS workers
        on a busy machine make the engine's small products several times slower (see
        ``engine.blas``). With ``engine_process`` this process's model is only opened (tokenizer,
        config, validation); the engine process prepares its own."""
        if self.blas_threads is not None and not self.engine_process:
            from console.engine import blas

            blas.set_threads(self.blas_threads)
        try:
            model = load_model(self.model_path)
            tokenizer = model.tokenizer
            if self.engine_process:
                from .engine_process import EngineProcess

                loop = EngineProcess(self.model_path, model, max_batch=self.max_batch,
                                     max_num_batched_tokens=self.max_num_batched_tokens,
                                     prefix_cache=self.prefix_cache, blas_threads=self.blas_threads)
            else:
                model.prepare()
                loop = GenerationLoop(model, self.max_batch, max_num_batched_tokens=self.max_num_batched_tokens,
                                      prefix_cache=self.prefix_cache)
        except EngineError as exc:
            self.load_error = str(exc)
            raise
        self.model, self.loop = model, loop
        self.facts = ModelFacts(self.name, int(model.config.max_position_embeddings), tokenizer,
                                model.check_tokens, self._defaults())

    def _defaults(self) -> dict:
        folder = builtin_model_path() if self.model_path is None else Path(self.model_path).expanduser()
        try:
            config = json.loads((folder / "generation_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(config, dict):
            return {}
        return {k: config[k] for k in DEFAULT_KEYS
                if isinstance(config.get(k), (int, float)) and not isinstance(config.get(k), bool)}

    def begin_shutdown(self) -> None:
        """Refuse new requests and end every running one (their streams then close with
        ``finish_reason == "shutdown"``)."""
        self.shutting_down = True
        for handle in list(self.inflight):
            handle.cancel()

    def close(self) -> None:
        if self.loop is not None:
            self.loop.close()

    # ----- requests --------------------------------------------------------------------------
    def check_ready(self) -> ModelFacts:
        if self.shutting_down:
            raise APIError(503, "the server is shutting down")
        if self.facts is None:
            raise APIError(503, f"the model failed to load: {self.load_error}" if self.load_error
                           else "the model is still loading; retry when GET /health returns 200")
        return self.facts

    def submit(self, request: GenerationRequest) -> Handle:
        self.check_ready()
        if len(self.inflight) >= self.max_batch + self.max_waiting:
            raise APIError(429, f"too many requests: {self.max_batch} running and {self.max_waiting} "
                           "waiting (the --max-concurrency limit); retry later")
        try:
            handle = self.loop.submit(request.prompt_ids, request.max_tokens, request.sampling,
                                      min_new_tokens=request.min_tokens)
        except (EngineError, ValueError) as exc:       # numpy refuses e.g. a negative seed
            raise APIError(400, f"the engine refused the request: {exc}") from None
        self.inflight.add(handle)
        return handle

    def release(self, handle: Handle) -> None:
        """The response is over (sent, failed or abandoned): free the sequence."""
        handle.cancel()
        self.inflight.discard(handle)

    def finish_reason(self, handle: Handle) -> str:
        reason = handle.finish_reason
        if reason == "cancelled":
            return "shutdown" if self.shutting_down else "abort"
        return reason or "abort"

    async def pieces(self, handle: Handle) -> AsyncIterator[Piece]:
        """The reply's text as it is produced (whole characters; the engine has already cut
        stop strings and dropped stop tokens). Raises EngineError if the engine failed."""
        decoder = self.facts.tokenizer.stream_decoder() if self.facts.tokenizer else None
        last = None
        async for steps in handle.batches():
            text = "".join(decoder.push(s.token_id) for s in steps) if decoder else ""
            times = [s.at if s.at is not None else time.monotonic() for s in steps]
            chain = ([last] if last is not None else []) + times
            gaps = tuple(b - a for a, b in zip(chain, chain[1:]))
            last = times[-1]
            yield Piece(text, len(steps), times[-1], gaps)
        tail = decoder.flush() if decoder else ""
        if tail:
            yield Piece(tail, 0, time.monotonic(), ())
