"""The engine loop in a process of its own, so that it never waits for the server's GIL.

Why: in one process the engine thread and the asyncio thread share one GIL, and every token
the server sends (a wake-up, JSON, SSE, a socket write) is Python time during which the engine
cannot run its next numpy call; measured on the built-in model, that held one stream to 0.41
of the engine's own batch-1 rate and made a batch-16 step take 8.5x a batch-1 step. vLLM runs
its engine core in a separate process for the same reason. Here the child process runs the
:class:`~console.engine.loop.GenerationLoop` (model, continuous batching, prefix cache); the
server process keeps the HTTP side and a copy of the model that is never prepared (tokenizer,
config and request validation only: the weights stay memory-mapped and untouched).

Protocol over one ``multiprocessing`` pipe (pickled tuples):
parent -> child ``("submit", rid, prompt_ids, max_new_tokens, sampling, min_new_tokens)``,
``("cancel", rid)``, ``("close",)``; child -> parent ``("ready",)`` or ``("failed", message)``
once, then ``("steps", items, stats)`` after each loop iteration that produced anything:
``items`` are ``(rid, token_id, at)`` per token and ``(rid, None, (reason, error message,
scheduled_at, cached_tokens, finished_at))`` per finished request, ``stats`` a snapshot of the
loop's figures (whenever the running or waiting count changes, else at most every
``STATS_EVERY_S``) or None; and
``("closed",)`` last. Timestamps are ``time.monotonic()``, one clock for both processes (Linux).
One reader thread in the server process turns each message into Steps on the requests'
:class:`~console.engine.handle.Handle` objects and wakes their readers with one thread hop.
"""

from __future__ import annotations

import itertools
import multiprocessing
import signal
import threading
import time
from typing import Any

import numpy as np

from console.engine import EngineError, Handle
from console.engine.generation import SequenceState, Step
from console.engine.handle import wake_all
from console.engine.loop import LoopStats

#: Longest interval between two stats snapshots while the batch is busy (seconds).
STATS_EVERY_S = 0.05


class PrefixCounters:
    """The prefix cache's counters as the server's metrics read them (from the snapshots)."""

    query_tokens = hit_tokens = nbytes = 0


class _RemoteHandle(Handle):
    """A request's Handle in the server process; cancelling it tells the engine process."""

    def __init__(self, owner: "EngineProcess", rid: int) -> None:
        super().__init__()
        self._owner, self.rid = owner, rid

    def cancel(self) -> None:
        if not self.cancelled and not self.done:
            self._owner._send(("cancel", self.rid))
        super().cancel()


class EngineProcess:
    """The surface of ``GenerationLoop`` the server uses (``submit``, ``close``, ``stats``,
    ``prefix_cache``, ``step_summary``) over a loop running in a child process. The
    constructor blocks until the child has loaded the model; EngineError if it cannot."""

    def __init__(self, model_path: str | None, model: Any, *, max_batch: int, max_num_batched_tokens: int,
                 prefix_cache: bool, blas_threads: int | None, start_timeout_s: float = 300.0) -> None:
        self.model = model
        moe = len(getattr(model, "moe_layers", ()))
        self.stats = LoopStats(expert_tokens=np.zeros((moe, int(getattr(model.config, "n_routed_experts", 0) or 0)),
                                                      np.int64))
        self.prefix_cache = PrefixCounters() if prefix_cache else None
        self._summary: dict[int, tuple[int, float, float]] = {}
        self._handles: dict[int, _RemoteHandle] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._closed = False
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        options = dict(model_path=model_path, max_batch=max_batch, max_num_batched_tokens=max_num_batched_tokens,
                       prefix_cache=prefix_cache, blas_threads=blas_threads)
        self._process = ctx.Process(target=worker_main, args=(child, options), name="moe-console-engine",
                                    daemon=True)
        self._process.start()
        child.close()
        self._await_ready(start_timeout_s)
        self._reader = threading.Thread(target=self._read, name="engine-process-reader", daemon=True)
        self._reader.start()

    def _await_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not self._conn.poll(0.05):
            if not self._process.is_alive() or time.monotonic() > deadline:
                self._process.kill()
                raise EngineError("the engine process " + ("exited" if not self._process.is_alive() else "timed out")
                                  + " before loading the model")
        try:
            reply = self._conn.recv()
        except EOFError:
            raise EngineError("the engine process exited before loading the model") from None
        if reply[0] != "ready":
            self._process.join(5)
            raise EngineError(reply[1])

    # ----- GenerationLoop's surface ----------------------------------------------------------
    def submit(self, token_ids, max_new_tokens: int, sampling=None, routing: bool = False, *,
               min_new_tokens: int = 0) -> Handle:
        """Validate here (EngineError in the caller's thread, as ``GenerationLoop.submit``), then
        queue the request in the engine process."""
        state = SequenceState(self.model, token_ids, max_new_tokens, sampling, False, min_new_tokens)
        with self._lock:
            if self._closed:
                raise EngineError("the generation loop is closed")
            handle = _RemoteHandle(self, next(self._ids))
            handle.prompt_tokens = len(state.prompt)
            self._handles[handle.rid] = handle
            self._conn.send(("submit", handle.rid, state.prompt, int(max_new_tokens), sampling, int(min_new_tokens)))
        return handle

    def step_summary(self) -> dict[int, tuple[int, float, float]]:
        """Per decode batch size: (steps, total seconds, median seconds of the recent ones)."""
        return dict(self._summary)

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop the engine process; unfinished requests end as cancelled."""
        with self._lock:
            if not self._closed:
                self._closed = True
                try:
                    self._conn.send(("close",))
                except OSError:
                    pass
        self._reader.join(timeout)
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    # ----- the reader thread -----------------------------------------------------------------
    def _send(self, message: tuple) -> None:
        with self._lock:
            try:
                self._conn.send(message)
            except OSError:           # the engine process is gone; the reader fails the requests
                pass

    def _read(self) -> None:
        try:
            while True:
                message = self._conn.recv()
                if message[0] == "closed":
                    break
                _, items, stats = message
                self._deliver(items)
                if stats is not None:
                    self._apply(stats)
        except (EOFError, OSError):
            pass
        finally:
            lost = EngineError("the engine process stopped")
            for handle in list(self._handles.values()):
                handle._finish("cancelled" if self._closed else "error", None if self._closed else lost)
            self._handles.clear()
            self.stats.running = self.stats.waiting = self.stats.running_tokens = 0

    def _deliver(self, items: list) -> None:
        waiters, owners = [], []
        for rid, token, extra in items:
            handle = self._handles.get(rid)
            if handle is None:
                continue
            if token is not None:
                waiter = handle._emit(Step(token, None, handle.completion_tokens == 0, extra), defer=True)
            else:
                reason, error, handle.scheduled_at, handle.cached_tokens, at = extra
                del self._handles[rid]
                waiter = handle._finish(reason, EngineError(error) if error else None, defer=True, at=at)
            if waiter is not None:
                waiters.append(waiter)
                owners.append(handle)
        wake_all(waiters, owners)

    def _apply(self, stats: dict) -> None:
        s = self.stats
        s.running, s.waiting, s.running_tokens = stats["running"], stats["waiting"], stats["running_tokens"]
        s.steps, s.decode_steps = stats["steps"], stats["decode_steps"]
        if stats["expert_tokens"].shape == s.expert_tokens.shape:
            s.expert_tokens = stats["expert_tokens"]
        if self.prefix_cache is not None and stats["prefix"] is not None:
            p = self.prefix_cache
            p.query_tokens, p.hit_tokens, p.nbytes = stats["prefix"]
        self._summary.update(stats["step_summary"])


# ----- the engine process ------------------------------------------------------------------

def worker_main(conn, options: dict) -> None:
    """The child: load the model, run a GenerationLoop, forward its Steps (see the module doc)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C reaches the whole process group:
    from console.engine import GenerationLoop, blas, load_model   # the server decides when we stop

    try:
        if options["blas_threads"] is not None:
            blas.set_threads(options["blas_threads"])
        model = load_model(options["model_path"])
        model.prepare()
    except Exception as exc:  # noqa: BLE001 - any load failure is reported as one line
        conn.send(("failed", str(exc) if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"))
        return
    forward = _Forwarder(conn)
    loop = GenerationLoop(model, options["max_batch"], max_num_batched_tokens=options["max_num_batched_tokens"],
                          prefix_cache=options["prefix_cache"], on_step=forward.flush)
    forward.loop = loop
    conn.send(("ready",))
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "close":
                break
            forward.command(message)
    finally:
        loop.close(None)
        forward.flush()
        forward.send(("closed",))


class _Forwarder:
    """The child's side: Handles that record into an outbox, flushed once per loop iteration."""

    def __init__(self, conn) -> None:
        self.conn, self.loop = conn, None
        self.outbox: list = []
        self.handles: dict[int, Handle] = {}
        self.lock = threading.Lock()
        self.last_stats = 0.0
        self.last_counts = (0, 0)
        self.counted: dict[int, int] = {}

    def send(self, message: tuple) -> None:
        with self.lock:
            try:
                self.conn.send(message)
            except OSError:
                pass

    def command(self, message: tuple) -> None:
        if message[0] == "submit":
            _, rid, prompt, max_new, sampling, min_new = message
            handle = self.handles[rid] = _ForwardingHandle(self, rid)
            try:
                self.loop.submit(prompt, max_new, sampling, min_new_tokens=min_new, handle=handle)
            except (EngineError, ValueError) as exc:
                handle._finish("error", EngineError(str(exc)))
        elif message[0] == "cancel":
            handle = self.handles.get(message[1])
            if handle is not None:
                handle.cancel()
        self.flush()

    def flush(self) -> None:
        with self.lock:
            items, self.outbox = self.outbox, []
        stats = self.loop.stats
        now = time.monotonic()
        snapshot = None
        counts = (stats.running, stats.waiting)
        if now - self.last_stats >= STATS_EVERY_S or counts != self.last_counts:
            # the gauges a client watches (running, waiting) are sent as soon as they change
            snapshot, self.last_stats, self.last_counts = self._snapshot(), now, counts
        if items or snapshot is not None:
            self.send(("steps", items, snapshot))

    def _snapshot(self) -> dict:
        loop, stats = self.loop, self.loop.stats
        summary = {}
        for batch, count in list(stats.decode_step_count.items()):
            if self.counted.get(batch) != count:          # medians only where steps were added
                self.counted[batch] = count
                summary[batch] = (count, stats.decode_step_sum_s[batch], stats.step_median(batch))
        cache = loop.prefix_cache
        return {"running": stats.running, "waiting": stats.waiting, "running_tokens": stats.running_tokens,
                "steps": stats.steps, "decode_steps": stats.decode_steps,
                "expert_tokens": stats.expert_tokens.copy(), "step_summary": summary,
                "prefix": None if cache is None else (cache.query_tokens, cache.hit_tokens, cache.nbytes)}


class _ForwardingHandle(Handle):
    def __init__(self, owner: _Forwarder, rid: int) -> None:
        super().__init__()
        self.owner, self.rid = owner, rid

    def _emit(self, step: Step, defer: bool = False):
        with self.owner.lock:
            self.owner.outbox.append((self.rid, step.token_id, step.at))

    def _finish(self, reason, error=None, defer: bool = False, at=None):
        if self._done.is_set():
            return
        self._done.set()
        self.owner.handles.pop(self.rid, None)
        item = (self.rid, None, (reason, None if error is None else str(error), self.scheduled_at,
                                 self.cached_tokens, time.monotonic()))
        with self.owner.lock:
            self.owner.outbox.append(item)
