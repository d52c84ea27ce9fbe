"""Figures of one concurrency level from its raw request records, with vLLM's definitions.

Over the *successful* requests of the level (as ``vllm bench serve``):

* request throughput = completed / duration; output tok/s = Σ output tokens /
  duration; total tok/s adds Σ prompt tokens; ``duration`` runs from the first
  request sent to the last one finished;
* TTFT per request; TPOT per request = (e2e − TTFT) / (output tokens − 1), only
  for requests of more than one token; ITL = every gap between text chunks,
  pooled over all requests; e2e per request;
* mean, p50 and p99 with linear interpolation between closest ranks (numpy's
  default), in milliseconds;
* goodput = requests per second meeting every SLO given (a one-token request
  has TPOT 0, as in vLLM);
* per chip and cost: output tok/s ÷ chips; USD per million output tokens =
  chips × price per chip-hour ÷ (output tok/s × 3600) × 10⁶, i.e. the whole
  deployment's hour charged to the tokens it produced at this level.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

from console.loadgen.client import RequestRecord


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary_ms(values_s: Iterable[float]) -> dict[str, float | None]:
    """``{"mean", "p50", "p99"}`` in milliseconds (all None without values)."""
    values = [v * 1000.0 for v in values_s]
    if not values:
        return {"mean": None, "p50": None, "p99": None}
    return {"mean": sum(values) / len(values), "p50": percentile(values, 50), "p99": percentile(values, 99)}


def tpot_s(record: RequestRecord) -> float | None:
    """(e2e − TTFT) / (n − 1), None for one-token or failed requests."""
    if not record.ok or record.output_tokens < 2 or record.e2e_s is None:
        return None
    return (record.e2e_s - record.ttft_s) / (record.output_tokens - 1)


def meets_slo(record: RequestRecord, slo_ttft_ms: float | None, slo_tpot_ms: float | None) -> bool:
    if slo_ttft_ms is not None and record.ttft_s * 1000.0 > slo_ttft_ms:
        return False
    tpot = tpot_s(record) or 0.0
    return slo_tpot_ms is None or tpot * 1000.0 <= slo_tpot_ms


def level_figures(records: list[RequestRecord], *, concurrency: int, duration_s: float, prompt_tokens: int,
                  chips: int | None, price_usd_per_chip_hour: float | None,
                  slo_ttft_ms: float | None = None, slo_tpot_ms: float | None = None) -> dict[str, Any]:
    """One ``levels[]`` entry of CONTRACTS.md §2 (the raw records included)."""
    done = [r for r in records if r.ok]
    out_tokens = sum(r.output_tokens for r in done)
    in_tokens = sum(r.prompt_tokens if r.prompt_tokens is not None else prompt_tokens for r in done)
    per_s = (lambda x: x / duration_s) if duration_s > 0 else (lambda x: 0.0)
    output_tok_s = per_s(out_tokens)
    goodput = None
    if slo_ttft_ms is not None or slo_tpot_ms is not None:
        goodput = per_s(sum(1 for r in done if meets_slo(r, slo_ttft_ms, slo_tpot_ms)))
    usd = None
    if price_usd_per_chip_hour is not None and output_tok_s > 0:
        usd = (chips or 1) * price_usd_per_chip_hour / (output_tok_s * 3600.0) * 1e6
    return {
        "concurrency": concurrency,
        "completed": len(done),
        "failed": len(records) - len(done),
        "duration_s": duration_s,
        "request_throughput": per_s(len(done)),
        "output_tok_s": output_tok_s,
        "output_tok_s_per_chip": output_tok_s / chips if chips else None,
        "total_tok_s": per_s(in_tokens + out_tokens),
        "ttft_ms": summary_ms(r.ttft_s for r in done),
        "tpot_ms": summary_ms(t for t in map(tpot_s, done) if t is not None),
        "itl_ms": summary_ms(g for r in done for g in r.itl_s),
        "e2e_ms": summary_ms(r.e2e_s for r in done),
        "goodput_req_s": goodput,
        "usd_per_m_output_tokens": usd,
        "requests": [r.as_dict() for r in records],
    }
