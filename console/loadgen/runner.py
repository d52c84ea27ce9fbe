"""Run a workload against one endpoint after another and collect the results document.

For each endpoint, in turn (never together, so they do not share this
machine's CPU or network): probe it (server kind, version, models), pick the
model, choose how to count prompt tokens, send one warm-up request (not
counted), measure the engine's own batch-1 decode in this process when asked
(``Target.engine_baseline``, while the server is idle), then for each concurrency level build that level's prompts and send
``requests`` requests, at most ``concurrency`` in flight, arriving all at once
or at ``request_rate`` (Poisson, seeded). Around each level the server's
``/metrics`` is read for the engine loop's decode step time at a batch of the
level's concurrency (``engine_step``, moe-console servers only). The document is
CONTRACTS.md §2, with those two additions.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import httpx

from console.loadgen.client import RequestRecord, completion_payload, send
from console.loadgen.engine_figures import engine_baseline, level_steps, merge_baselines, step_times
from console.loadgen.stats import level_figures
from console.loadgen.workload import EndpointCounter, LoadgenError, LocalCounter, TokenCounter, Workload, build_prompts
from moe_console_remote.detect import probe

SCHEMA = "moe-console/bench-serve/1"


@dataclass(frozen=True)
class Target:
    """One endpoint to measure. ``tokenizer``: a checkpoint folder to count prompt
    tokens with when the endpoint has no ``/tokenize``."""

    name: str
    url: str
    model: str = ""
    api_key_env: str = ""
    hardware: str | None = None
    chips: int | None = None
    price_usd_per_chip_hour: float | None = None
    tokenizer: str | None = None
    read_timeout_s: float = 120.0
    #: measure the engine's own batch-1 decode on this checkpoint (None: the built-in model)
    engine_baseline: bool = False
    baseline_model: str | None = None

    def headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        return {"Authorization": f"Bearer {key}"} if key else {}

    @property
    def root(self) -> str:
        url = self.url.rstrip("/")
        return url[: -len("/v1")] if url.endswith("/v1") else url


async def _counter(client: httpx.AsyncClient, target: Target, model: str) -> TokenCounter:
    endpoint = EndpointCounter(client, target.root, model, target.headers())
    if await endpoint.works():
        return endpoint
    folder, label = target.tokenizer, None
    if folder is None and model == "builtin":
        from console.engine import builtin_model_path

        folder, label = str(builtin_model_path()), "built-in model"
    if folder is None:
        raise LoadgenError(f"{target.url}: the endpoint has no /tokenize and its model's tokenizer is unknown; "
                           "pass --tokenizer PATH (a checkpoint folder) to count prompt tokens")
    return LocalCounter(folder, label)


async def run_level(client: httpx.AsyncClient, url: str, payloads: list[dict[str, Any]], headers: dict[str, str],
                    concurrency: int, arrivals: list[float]) -> tuple[list[RequestRecord], float]:
    """Send every payload (at most ``concurrency`` in flight, each not before its
    arrival time); returns the records in payload order and the level's duration."""
    gate = asyncio.Semaphore(concurrency)
    start = time.monotonic()

    async def one(payload: dict[str, Any], at: float) -> RequestRecord:
        delay = start + at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        async with gate:
            return await send(client, url, payload, headers, sent_s=time.monotonic() - start)

    records = await asyncio.gather(*(one(p, a) for p, a in zip(payloads, arrivals)))
    return list(records), time.monotonic() - start


async def run_endpoint(target: Target, workload: Workload, log: Callable[[str], None]) -> dict[str, Any]:
    """The ``endpoints[]`` entry of one target (raises LoadgenError when it cannot run at all)."""
    limits = httpx.Limits(max_connections=max(workload.concurrency) + 4,
                          max_keepalive_connections=max(workload.concurrency) + 4)
    timeout = httpx.Timeout(10.0, read=target.read_timeout_s)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        info = await probe(client, target.url, target.headers(), target.hardware or "")
        if info.error:
            raise LoadgenError(info.error)
        model = target.model or (info.models[0].id if info.models else "")
        if not model:
            raise LoadgenError(f"{target.url}/models lists no model; pass --model")
        counter = await _counter(client, target, model)
        log(f"{target.name}: {info.kind} {info.version or ''} at {target.url}, model {model}; "
            f"prompt tokens counted with {counter.source}")
        url = target.url.rstrip("/") + "/completions"
        warm = await send(client, url, completion_payload(model, "Hello", 2, workload.seed, True), target.headers())
        if warm.error:
            raise LoadgenError(f"warm-up request failed: {warm.error}")
        baseline = None
        if target.engine_baseline:
            baseline = engine_baseline(target.baseline_model, workload.prompt_tokens, workload.output_tokens)
            log(f"{target.name}: engine baseline {baseline['tok_s']:.1f} tok/s (batch-1 decode in this process)")
        levels = []
        for index, concurrency in enumerate(workload.concurrency):
            prompts = await build_prompts(counter, workload, index)
            payloads = [completion_payload(model, p, workload.output_tokens, workload.seed + i, workload.ignore_eos)
                        for i, p in enumerate(prompts)]
            before = await step_times(client, target.root, target.headers())
            records, duration = await run_level(client, url, payloads, target.headers(), concurrency,
                                                workload.arrivals(index))
            after = await step_times(client, target.root, target.headers()) if before is not None else None
            level = level_figures(records, concurrency=concurrency, duration_s=duration,
                                  prompt_tokens=workload.prompt_tokens, chips=target.chips,
                                  price_usd_per_chip_hour=target.price_usd_per_chip_hour,
                                  slo_ttft_ms=workload.slo_ttft_ms, slo_tpot_ms=workload.slo_tpot_ms)
            if baseline is not None and concurrency == 1:    # bracket the 1-stream level
                baseline = merge_baselines(baseline, engine_baseline(target.baseline_model, workload.prompt_tokens,
                                                                     workload.output_tokens))
            step = level_steps(before, after, concurrency)
            if step is not None:
                level["engine_step"] = step
            levels.append(level)
            log(f"{target.name}: concurrency {concurrency}: {level['completed']} done, {level['failed']} failed, "
                f"{level['output_tok_s']:.1f} output tok/s")
    return {"name": target.name, "url": target.url, "model": model,
            "server": {"kind": info.kind, "version": info.version}, "hardware": target.hardware,
            "chips": target.chips, "price_usd_per_chip_hour": target.price_usd_per_chip_hour,
            "token_count": counter.source, "levels": levels,
            **({"engine_baseline": baseline} if baseline is not None else {})}


def run_benchmark(targets: list[Target], workload: Workload, log: Callable[[str], None] = lambda m: None,
                  now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> dict[str, Any]:
    """The whole results document, endpoints measured one after the other."""
    problems = workload.problems()
    if problems:
        raise LoadgenError(problems[0])

    async def main() -> list[dict[str, Any]]:
        return [await run_endpoint(t, workload, log) for t in targets]

    endpoints = asyncio.run(main())
    return {"schema": SCHEMA, "created": now().strftime("%Y-%m-%dT%H:%M:%SZ"), "workload": workload.as_dict(),
            "endpoints": endpoints}
