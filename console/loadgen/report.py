"""The results of ``bench serve``: files in the data directory, and the tables printed.

:func:`save` writes the document (CONTRACTS.md §2) to
``<data dir>/bench/<UTC date>T<HHMMSS>-<slug>.json``. :func:`format_run`
prints one endpoint's sweep (levels as columns) or, with several endpoints,
one side-by-side table per level in the shape of ``moe-console compare``:
every figure labelled measured, then the ratios of each endpoint to the first
with the press claims beside them, under "reported by the press, not measured".
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

MEASURED = "measured"
PRESS_HEADING = "reported by the press, not measured"
DEFINITIONS = (
    "measured: on this machine's monotonic clock as each chunk arrived, network included. Definitions of "
    "vllm bench serve: TTFT = first chunk with text; TPOT = (e2e - TTFT)/(output tokens - 1) per request; "
    "ITL = every gap between text chunks, pooled; percentiles over requests (ITL: over gaps). "
    "Names elsewhere: AIPerf's ITL = TPOT here; GuideLLM's TPOT includes the first token; "
    "llmperf's inter_token_latency is about e2e/n."
)


def slug(doc: dict[str, Any]) -> str:
    names = "-vs-".join(e["name"] for e in doc["endpoints"]) or "run"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", names)[:80].strip("-") or "run"


def save(doc: dict[str, Any], data_dir: Path) -> Path:
    """Write ``doc`` under ``data_dir/bench``; returns the path (never overwrites)."""
    folder = Path(data_dir) / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = doc["created"].replace(":", "").removesuffix("Z")
    path = folder / f"{stamp}-{slug(doc)}.json"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{stamp}-{slug(doc)}-{n}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


# ------------------------------------------------------------------ formatting

def _num(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{unit}"


def _trio(stats: dict[str, Any], keys: tuple[str, ...] = ("mean", "p50", "p99")) -> str:
    if stats.get(keys[0]) is None:
        return "-"
    return " / ".join(_num(stats[k], 1) for k in keys) + " ms"


#: (row title, how to show it from a level entry)
ROWS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("completed / failed", lambda lv: f"{lv['completed']} / {lv['failed']}"),
    ("duration", lambda lv: _num(lv["duration_s"], 2, " s")),
    ("request throughput", lambda lv: _num(lv["request_throughput"], 2, " req/s")),
    ("output throughput", lambda lv: _num(lv["output_tok_s"], 1, " tok/s")),
    ("throughput / chip", lambda lv: _num(lv["output_tok_s_per_chip"], 1, " tok/s")),
    ("total throughput", lambda lv: _num(lv["total_tok_s"], 1, " tok/s")),
    ("TTFT mean/p50/p99", lambda lv: _trio(lv["ttft_ms"])),
    ("TPOT mean/p50/p99", lambda lv: _trio(lv["tpot_ms"])),
    ("ITL p50/p99", lambda lv: _trio(lv["itl_ms"], ("p50", "p99"))),
    ("e2e p50/p99", lambda lv: _trio(lv["e2e_ms"], ("p50", "p99"))),
    ("goodput", lambda lv: _num(lv["goodput_req_s"], 2, " req/s")),
    ("$ / M output tokens", lambda lv: "-" if lv["usd_per_m_output_tokens"] is None
        else f"${lv['usd_per_m_output_tokens']:,.3f}"),
)

#: (ratio title, figure read from a level entry)
RATIOS: tuple[tuple[str, str, Callable[[dict[str, Any]], float | None]], ...] = (
    ("output throughput", "output_throughput", lambda lv: lv["output_tok_s"]),
    ("throughput per chip", "throughput_per_chip", lambda lv: lv["output_tok_s_per_chip"]),
    ("TTFT p50", "ttft", lambda lv: lv["ttft_ms"]["p50"]),
    ("TPOT p50", "tpot", lambda lv: lv["tpot_ms"]["p50"]),
    ("ITL p50", "itl_p50", lambda lv: lv["itl_ms"]["p50"]),
    ("ITL p99", "itl_p99", lambda lv: lv["itl_ms"]["p99"]),
    ("cost per M output tokens", "cost_per_m_output", lambda lv: lv["usd_per_m_output_tokens"]),
)


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b not in (None, 0) else None


def press_claims(hardware: str | None, base_hardware: str | None) -> dict[str, str]:
    """Press claims about ``hardware`` against an H100 baseline, by ratio key (text only)."""
    if not hardware or not base_hardware or "h100" not in base_hardware.lower():
        return {}
    from console.perf.compare import press_claims as claims_for

    # press_claims reads only the chip's name
    return {k: v["text"] for k, v in claims_for(SimpleNamespace(name=hardware.lower())).items()}


def _describe(e: dict[str, Any]) -> str:
    hw = f"{e['hardware']} (declared)" if e.get("hardware") else "hardware undeclared"
    if e.get("chips"):
        hw += f" x{e['chips']}"
    price = f", ${e['price_usd_per_chip_hour']}/chip-hour" if e.get("price_usd_per_chip_hour") is not None else ""
    server = f"{e['server']['kind']} {e['server']['version']}".strip()
    return f"{e['name']}: {server} at {e['url']}, model {e['model']}, {hw}{price}; prompts counted with {e['token_count']}"


def format_run(doc: dict[str, Any]) -> str:
    w = doc["workload"]
    rate = f"{w['request_rate']} req/s (Poisson)" if w["request_rate"] else "all at once"
    lines = [f"bench serve · {doc['created']} · prompt {w['prompt_tokens']} tokens · output {w['output_tokens']} "
             f"tokens (ignore_eos) · {w['requests']} requests per level, arriving {rate} · seed {w['seed']}"]
    if w.get("slo_ttft_ms") or w.get("slo_tpot_ms"):
        lines.append(f"goodput SLOs: TTFT <= {w['slo_ttft_ms'] or '-'} ms, TPOT <= {w['slo_tpot_ms'] or '-'} ms")
    lines += [_describe(e) for e in doc["endpoints"]]
    endpoints = doc["endpoints"]
    if len(endpoints) == 1:
        levels = endpoints[0]["levels"]
        header = ["figure [measured]"] + [f"concurrency {lv['concurrency']}" for lv in levels]
        lines += [""] + table(header, [[title] + [show(lv) for lv in levels] for title, show in ROWS])
    else:
        for i, concurrency in enumerate(w["concurrency"]):
            lines += [""] + _side_by_side(endpoints, i, concurrency)
    lines += ["", DEFINITIONS]
    return "\n".join(lines)


def _side_by_side(endpoints: list[dict[str, Any]], index: int, concurrency: int) -> list[str]:
    header = [f"concurrency {concurrency}"] + [f"{e['name']} [{MEASURED}]" for e in endpoints]
    rows = [[title] + [show(e["levels"][index]) for e in endpoints] for title, show in ROWS]
    out = table(header, rows)
    base = endpoints[0]
    for other in endpoints[1:]:
        claims = press_claims(other.get("hardware"), base.get("hardware"))
        ratio_rows = []
        for title, key, figure in RATIOS:
            value = ratio(figure(other["levels"][index]), figure(base["levels"][index]))
            ratio_rows.append([title, "-" if value is None else f"{value:.2f}", claims.get(key, "")])
        out += [""] + table([f"{other['name']} / {base['name']}", MEASURED, PRESS_HEADING], ratio_rows)
    return out


def ratios(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every endpoint / first-endpoint ratio per level (for ``--json``)."""
    endpoints = doc["endpoints"]
    out = []
    for other in endpoints[1:]:
        for i, concurrency in enumerate(doc["workload"]["concurrency"]):
            a, b = other["levels"][i], endpoints[0]["levels"][i]
            out.append({"endpoint": other["name"], "baseline": endpoints[0]["name"], "concurrency": concurrency,
                        "label": MEASURED,
                        **{key: ratio(fig(a), fig(b)) for _, key, fig in RATIOS}})
    return out
