"""Engine benchmark: measured speed of the numpy engine, with ratios.

``run_bench(path, ...)`` measures, in one process and one run (each figure
from ``time.perf_counter`` where the tokens are produced):

- decode tok/s at batch 1 (``Model.generate``, greedy, after a warm-up);
- this machine's matrix-vector bandwidth (numpy ``W @ x``, float32, a
  256 MiB matrix, best of a few repetitions) and the engine's achieved
  weight bandwidth (``Model.decode_weight_bytes(1)`` x tok/s), and their ratio;
- aggregate decode tok/s of the batching loop at 16 sequences vs 1, and the
  ratio, next to the bound that the weight bytes alone allow;
- prefill tok/s for a 512-token prompt (time to the first token);
- KV-cache bytes per token;
- optionally transformers' own greedy ``generate`` tok/s on the same folder
  (eager attention, the same prompt, token count and thread count), and the
  engine/transformers ratio. transformers and torch run only in a child
  interpreter (:mod:`console.enginebench.reference`; this one if it has them,
  else ``reference_python``), never imported here: the engine needs neither.

The machine is noisy; the ratios are the point. The run is ``reps`` rounds of
back-to-back measurements; every figure is the best over the rounds and every
ratio the median over rounds of the ratio within a round, so a load change
between rounds does not skew it. ``TARGETS`` lists the project's goals.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import time
from pathlib import Path

import numpy as np

#: (key, goal, the checkpoint the goal was set for)
TARGETS = (
    ("engine_vs_transformers", 6.0, "small (~15M)"),
    ("bandwidth_fraction", 0.60, "large (~400M)"),
    ("batch_speedup", 8.0, "large (~400M)"),
)

MATVEC_BYTES = 256 << 20


class BenchError(Exception):
    """A benchmark cannot run as asked (printed as one line by the CLI)."""


class ReferenceUnavailable(BenchError):
    """transformers/torch cannot be used for the reference measurement."""


def blas_threads(set_to: int | None = None) -> int:
    """Threads numpy's BLAS uses (after setting it to ``set_to`` when given).

    Asks OpenBLAS itself (``console.engine.blas``) when it can; otherwise the
    usual environment overrides, else the CPUs this process may run on."""
    try:
        from console.engine import blas
    except ImportError:  # pragma: no cover - engine without the helper
        blas = None
    if set_to is not None and (blas is None or not blas.set_threads(set_to)):
        raise BenchError("cannot set the BLAS thread count here (numpy's BLAS is not a "
                                   "reachable OpenBLAS); use OPENBLAS_NUM_THREADS instead")
    current = blas.get_threads() if blas is not None else None
    if current:
        return int(current)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def checkpoint_params(path: Path) -> int:
    """Number of parameters stored in a folder's safetensors files (headers only)."""
    total = 0
    for file in sorted(Path(path).glob("*.safetensors")):
        with open(file, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
        for name, entry in header.items():
            if name != "__metadata__":
                total += int(np.prod(entry["shape"], dtype=np.int64))
    return total


class MatvecProbe:
    """numpy float32 ``W @ x`` over a ``nbytes`` matrix: this machine's
    matrix-vector (memory) bandwidth, the engine's batch-1 ceiling."""

    def __init__(self, nbytes: int = MATVEC_BYTES) -> None:
        cols = 4096
        self.w = np.full((max(nbytes // (4 * cols), 1), cols), 0.5, dtype=np.float32)
        self.x = np.ones(cols, dtype=np.float32)
        self.w @ self.x  # touch every page once

    def bytes_per_s(self, reps: int = 5) -> float:
        """Best of ``reps`` timed products."""
        best = float("inf")
        for _ in range(reps):
            start = time.perf_counter()
            self.w @ self.x
            best = min(best, time.perf_counter() - start)
        return self.w.nbytes / best


def bench_prompt(vocab_size: int, length: int, seed: int) -> list[int]:
    """Random token ids (above the usual special ids), reproducible."""
    return np.random.default_rng(seed).integers(3, vocab_size, length).tolist()


def decode_rate(stamps: list[float]) -> float:
    """Tokens per second after the first token (which came out of prefill)."""
    if len(stamps) < 2 or stamps[-1] <= stamps[0]:
        return 0.0
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def engine_decode(model, prompt: list[int], tokens: int) -> float:
    """One batch-1 greedy decode through ``Model.generate``: tok/s after the first token."""
    return decode_rate([time.perf_counter() for _ in model.generate(prompt, tokens)])


def engine_prefill(model, length: int, reps: int = 3) -> dict:
    """Prompt tokens per second: a ``length``-token prompt to its first token."""
    prompt = bench_prompt(model.config.vocab_size, length, seed=7)
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        for _ in model.generate(prompt, 1):
            break
        best = min(best, time.perf_counter() - start)
    return {"tokens": length, "seconds": best, "tok_s": length / best}


def loop_decode(loop, prompts: list[list[int]], tokens: int) -> float:
    """One run of ``GenerationLoop`` with ``len(prompts)`` sequences: aggregate decode tok/s.

    All sequences are submitted at once; the rate counts the tokens that
    arrive after every sequence has its first (prefill) token, over the time
    from then to the last token."""
    from console.engine import SamplingParams

    return _aggregate_rate(_run_loop(loop, prompts, tokens, SamplingParams), len(prompts))


def _aggregate_rate(stamps: list[list[float]], batch: int) -> float:
    firsts = [s[0] for s in stamps if s]
    if len(firsts) < batch:
        raise RuntimeError("a sequence of the batch produced no token")
    start = max(firsts)
    end = max(s[-1] for s in stamps)
    after = sum(sum(1 for t in s if t > start) for s in stamps)
    return after / (end - start) if end > start else 0.0


def _run_loop(loop, prompts, tokens, sampling_cls) -> list[list[float]]:
    handles = [loop.submit(p, tokens, sampling_cls()) for p in prompts]
    stamps: list[list[float]] = [[] for _ in handles]

    def consume(handle, out):
        for _ in handle:
            out.append(time.perf_counter())

    threads = [threading.Thread(target=consume, args=(h, s), daemon=True) for h, s in zip(handles, stamps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stamps


def run_bench(path, *, tokens: int = 48, reference: str = "auto", reference_python: str | None = None,
              batch: int = 16, prefill_len: int = 512, reps: int = 3, threads: int | None = None,
              log=lambda message: None) -> dict:
    """All measurements of one run, as a JSON-ready dict (see module doc).

    ``reps`` rounds, each measuring back to back: matvec bandwidth, engine
    batch-1 decode, transformers batch-1 decode (if available), loop batch 1,
    loop batch ``batch``. Figures are the best over rounds; each ratio is the
    median over rounds of the ratio within a round (robust to load drifting
    on a shared machine). ``threads`` sets numpy's BLAS thread count first
    (transformers then gets the same count) and restores it afterwards."""
    previous = blas_threads() if threads is not None else None
    try:
        return _run_bench(path, tokens, reference, reference_python, batch, prefill_len, reps,
                          blas_threads(threads), log)
    finally:
        if previous is not None:
            blas_threads(previous)


def _run_bench(path, tokens, reference, reference_python, batch, prefill_len, reps, threads, log) -> dict:
    from .reference import start_reference

    from console.engine import GenerationLoop, SamplingParams, load_model

    model = load_model(path)  # no progress line before this: a bad folder is one line of error
    if hasattr(model, "prepare"):
        model.prepare()  # weights ready before timing (transformers loads them all too)
    cfg = model.config
    folder = str(model.path)
    prompt = bench_prompt(cfg.vocab_size, 16, seed=1)
    prompts = [bench_prompt(cfg.vocab_size, len(prompt), seed=100 + i) for i in range(batch)]
    worker, why_not = start_reference(reference, reference_python, folder, prompt, tokens, threads)
    probe = MatvecProbe()
    rounds = {"matvec": [], "decode": [], "reference": [], "loop1": [], "loop": []}
    loop = GenerationLoop(model)
    try:
        for _ in model.generate(prompt, 4):  # warm-up
            pass
        _run_loop(loop, prompts[:2], 2, SamplingParams)
        for i in range(reps):
            log(f"round {i + 1}/{reps}: matvec, decode x{tokens} at batch 1"
                + (", transformers" if worker else "") + f", loop at batch 1 and {batch}")
            rounds["matvec"].append(probe.bytes_per_s())
            rounds["decode"].append(engine_decode(model, prompt, tokens))
            if worker:
                rounds["reference"].append(worker.run())
            rounds["loop1"].append(loop_decode(loop, prompts[:1], tokens))
            rounds["loop"].append(loop_decode(loop, prompts, tokens))
    finally:
        loop.close()
        if worker:
            worker.close()
    del probe
    prefill_len = min(prefill_len, int(getattr(cfg, "max_position_embeddings", prefill_len)) - 2)
    log(f"prefill of {prefill_len} tokens")
    prefill = engine_prefill(model, prefill_len, reps)
    bytes1 = int(model.decode_weight_bytes(1))
    bytesn = int(model.decode_weight_bytes(batch))

    def paired(num: list[float], den: list[float], scale: float = 1.0) -> float | None:
        pairs = [scale * a / b for a, b in zip(num, den) if b > 0]
        return float(np.median(pairs)) if pairs else None

    best = {key: max(values) if values else None for key, values in rounds.items()}
    result = {
        "model": folder, "name": model.name, "architecture": getattr(cfg, "architecture", None),
        "params": checkpoint_params(Path(folder)), "threads": threads, "reps": reps, "tokens": tokens,
        "decode": {"tok_s": best["decode"], "runs": rounds["decode"]},
        "prefill": prefill,
        "loop_batch1": {"batch": 1, "tok_s": best["loop1"], "runs": rounds["loop1"]},
        "loop_batch": {"batch": batch, "tok_s": best["loop"], "steps_s": best["loop"] / batch,
                       "runs": rounds["loop"]},
        "weight_bytes_per_token": bytes1, "weight_bytes_per_step_batch": bytesn,
        "kv_bytes_per_token": int(model.kv_bytes_per_token()),
        "kv_bytes_per_token_at": {str(n): (model.kv_bytes_at(n) / n if hasattr(model, "kv_bytes_at")
                                           else float(model.kv_bytes_per_token())) for n in (1024, 8192, 65536)},
        "matvec_bytes_s": best["matvec"], "matvec_runs": rounds["matvec"],
        "achieved_bytes_s": bytes1 * best["decode"],
        "reference": ({"available": True, **worker.info, "tok_s": best["reference"], "runs": rounds["reference"]}
                      if worker else {"available": False, "reason": why_not}),
        "ratios": {
            "engine_vs_transformers": paired(rounds["decode"], rounds["reference"]),
            "bandwidth_fraction": paired(rounds["decode"], rounds["matvec"], bytes1),
            "batch_speedup": paired(rounds["loop"], rounds["loop1"]),
            "batch_speedup_bytes_bound": batch * bytes1 / bytesn if bytesn else None,
        },
    }
    result["targets"] = [
        {"ratio": key, "goal": goal, "set_for": size, "value": result["ratios"][key],
         "met": None if result["ratios"][key] is None else result["ratios"][key] >= goal}
        for key, goal, size in TARGETS
    ]
    return result


