"""The workload of a benchmark run, and prompts of exactly ``prompt_tokens`` tokens.

Prompts are random words from a fixed pool, drawn with a seed derived from the
workload seed, the concurrency level and the request index: every endpoint of
a run, and every later run with the same seed, gets the same texts. Each level
gets its own prompts so a prefix cache cannot serve one level from another.

Exact length: a :class:`TokenCounter` counts a text's tokens, either with the
endpoint's own ``POST /tokenize`` (vLLM, SGLang, ``moe-console serve``,
llama-server's shape too) or with a local tokenizer (a checkpoint folder's);
``TokenCounter.source`` says which, and the report prints it. The longest
prefix of the words that fits is found by bisection, then one-token fillers
top it up to exactly P.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import asdict, dataclass
from typing import Any, Awaitable, Callable

import httpx

#: Common words; each is a whole token (or a few) in any BPE vocabulary.
POOL = ("the of and to in is was for on that with as by at from his her they this which but not are "
        "have one all were when there can an more their time will about if out some would who so what up "
        "its into them other then only over new like these may first two any after well way years most "
        "such work made where between through both being under people many water long make world city "
        "state house since three year while still number great small part place each country even world "
        "river light music story field north south early large high line point open power school").split()
FILLERS = (" a", " the", " of", " I", ".", ",", " and", " x")


class LoadgenError(Exception):
    """A benchmark could not run as asked; the message is one line."""


@dataclass(frozen=True)
class Workload:
    """What every endpoint of a run is asked to do (CONTRACTS.md §2 ``workload``)."""

    prompt_tokens: int
    output_tokens: int
    requests: int
    concurrency: tuple[int, ...]
    request_rate: float | None = None
    seed: int = 0
    ignore_eos: bool = True
    slo_ttft_ms: float | None = None
    slo_tpot_ms: float | None = None

    def problems(self) -> list[str]:
        out = []
        for name in ("prompt_tokens", "output_tokens", "requests"):
            if getattr(self, name) < 1:
                out.append(f"--{name.replace('_', '-')} must be at least 1 (got {getattr(self, name)})")
        if not self.concurrency or any(c < 1 for c in self.concurrency):
            out.append(f"--concurrency must list positive integers (got {','.join(map(str, self.concurrency))})")
        if self.request_rate is not None and self.request_rate <= 0:
            out.append(f"--request-rate must be positive (got {self.request_rate})")
        for name in ("slo_ttft_ms", "slo_tpot_ms"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                out.append(f"--{name.replace('_', '-')} must be positive (got {value})")
        return out

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["concurrency"] = list(self.concurrency)
        return out

    def arrivals(self, level: int) -> list[float]:
        """Seconds after the level starts at which each request is sent: all at 0
        without a rate, else a seeded Poisson process (exponential gaps) at ``request_rate``."""
        if self.request_rate is None:
            return [0.0] * self.requests
        rng = random.Random(f"arrivals/{self.seed}/{level}")
        t, out = 0.0, []
        for _ in range(self.requests):
            out.append(t)
            t += rng.expovariate(self.request_rate)
        return out


class TokenCounter:
    """Counts tokens of a text; ``source`` says how (printed with the results)."""

    source = "?"

    async def count(self, text: str) -> int:  # pragma: no cover - interface
        raise NotImplementedError


class EndpointCounter(TokenCounter):
    """``POST {root}/tokenize`` with ``{"model", "prompt"}``; reads ``count`` or ``len(tokens)``."""

    def __init__(self, client: httpx.AsyncClient, root: str, model: str, headers: dict[str, str]) -> None:
        self.client, self.url, self.model, self.headers = client, root.rstrip("/") + "/tokenize", model, headers
        self.source = f"the endpoint's {self.url}"

    async def count(self, text: str) -> int:
        try:
            response = await self.client.post(self.url, json={"model": self.model, "prompt": text},
                                              headers=self.headers)
        except httpx.HTTPError as exc:
            raise LoadgenError(f"{self.url}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise LoadgenError(f"{self.url}: HTTP {response.status_code}")
        body = response.json()
        if isinstance(body.get("count"), int):
            return body["count"]
        if isinstance(body.get("tokens"), list):
            return len(body["tokens"])
        raise LoadgenError(f"{self.url}: the answer has neither count nor tokens")

    async def works(self) -> bool:
        try:
            return await self.count("hello world") > 0
        except (LoadgenError, ValueError):
            return False


class LocalCounter(TokenCounter):
    """A checkpoint folder's tokenizer (``console.engine``), counting as a server counts a
    text prompt of ``/v1/completions``: its BOS token (when the tokenizer has one) plus the
    text's tokens. ``/tokenize`` of vLLM and ``moe-console serve`` counts the same way
    (``add_special_tokens`` defaults to true), so both counters make the same prompts."""

    def __init__(self, folder: str, label: str | None = None) -> None:
        from console.engine.tokenizer import load_tokenizer

        tokenizer = load_tokenizer(folder)
        if tokenizer is None:
            raise LoadgenError(f"{folder}: no tokenizer files there (tokenizer.json)")
        self.tokenizer = tokenizer
        self.bos = 1 if tokenizer.bos_token_id is not None else 0
        self.source = f"the model's tokenizer ({label or folder}; BOS {'counted' if self.bos else 'none'})"

    async def count(self, text: str) -> int:
        return self.bos + len(self.tokenizer.encode(text))


async def exact_prompt(count: Callable[[str], Awaitable[int]], tokens: int, rng: random.Random) -> str:
    """A text of exactly ``tokens`` tokens as ``count`` counts them (LoadgenError if none is found)."""
    words = [rng.choice(POOL) for _ in range(tokens + 8)]
    cache: dict[int, int] = {}

    async def counted(k: int) -> int:
        if k not in cache:
            cache[k] = await count(" ".join(words[:k]))
        return cache[k]

    while await counted(len(words)) < tokens:  # words merged into fewer tokens than expected
        words += [rng.choice(POOL) for _ in range(len(words))]
    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if await counted(mid) <= tokens:
            lo = mid
        else:
            hi = mid - 1
    text, have = " ".join(words[:lo]), await counted(lo)
    while have < tokens:
        for filler in FILLERS:
            longer = await count(text + filler)
            if longer == have + 1:
                text, have = text + filler, longer
                break
        else:
            raise LoadgenError(f"cannot make a prompt of exactly {tokens} tokens with this tokenizer")
    return text


async def build_prompts(counter: TokenCounter, workload: Workload, level: int, parallel: int = 8) -> list[str]:
    """``workload.requests`` prompts for the level with index ``level``."""
    gate = asyncio.Semaphore(parallel)

    async def one(i: int) -> str:
        async with gate:
            rng = random.Random(f"prompt/{workload.seed}/{level}/{i}")
            return await exact_prompt(counter.count, workload.prompt_tokens, rng)

    return list(await asyncio.gather(*(one(i) for i in range(workload.requests))))
