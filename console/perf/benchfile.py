"""Measured runs from a ``moe-console bench serve`` result file (CONTRACTS.md §2).

Each concurrency level of each endpoint becomes two :class:`~console.perf.records.Record`
s of kind ``user``: the output throughput per chip and the mean TPOT, at
``concurrency / chips`` sequences per chip, served aggregated (a real server
prefills on the chips that decode). The file does not say how the model was
served: ``deployment`` gives the parallelism and formats (default: tensor
parallel over all of the endpoint's chips, as a single vLLM/SGLang server runs
DeepSeek without expert parallelism). An endpoint without ``hardware`` or
``chips`` cannot be modeled and is returned unmatched, saying so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from console.perf.datafiles import PerfDataError
from console.perf.records import Record, record_from_table

SCHEMA = "moe-console/bench-serve/1"


def read_bench_file(path: str | Path) -> dict[str, Any]:
    """Parse and check the top level of a bench-serve result file."""
    path = Path(path)
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PerfDataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PerfDataError(f"{path}: not a bench-serve JSON file ({exc})") from None
    if not isinstance(content, dict) or content.get("schema") != SCHEMA:
        raise PerfDataError(f"{path}: expected schema {SCHEMA!r} (a `moe-console bench serve --json` result)")
    if not isinstance(content.get("endpoints"), list) or not isinstance(content.get("workload"), dict):
        raise PerfDataError(f"{path}: missing 'workload' or 'endpoints'")
    return content


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def bench_records(content: dict[str, Any], model: str, deployment: dict[str, Any] | None = None,
                  where: str = "bench file") -> list[Record]:
    """The records of a parsed bench-serve result (see the module doc)."""
    work = content["workload"]
    prompt, output = int(work.get("prompt_tokens") or 0), int(work.get("output_tokens") or 0)
    if prompt < 1 or output < 1:
        raise PerfDataError(f"{where}: workload needs prompt_tokens and output_tokens >= 1")
    out = []
    for endpoint in content["endpoints"]:
        name = str(endpoint.get("name", "endpoint"))
        server = endpoint.get("server") or {}
        who = f"you ({name}: {server.get('kind', 'unknown')} {server.get('version', '')}".rstrip() + ")"
        hardware, chips = endpoint.get("hardware"), endpoint.get("chips")
        for level in endpoint.get("levels", ()):
            conc = level.get("concurrency")
            base: dict[str, Any] = {
                "run": f"{name} ({content.get('created', '')})", "who": who, "kind": "user",
                "hardware": str(hardware or "unknown"), "model": model, "phase": "decode",
                "source": f"{where}: endpoint {name} {endpoint.get('url', '')}, concurrency {conc}",
                "serving": "aggregated", "prompt_tokens": prompt, "output_tokens": output,
                "context": prompt + output / 2, "redundant_experts": 0,
                "conditions": f"{server.get('kind', 'unknown')} serving, concurrency {conc}",
            }
            if not hardware or not isinstance(chips, int) or chips < 1 or not isinstance(conc, int) or conc < 1:
                why = "the result does not say which hardware and how many chips served it"
                out.append(record_from_table(f"{name}-c{conc}", {**base, "metric": "output_tok_s_per_chip",
                                                                  "measured": 1.0, "unmatched": why}, where))
                continue
            setup = {"tp": chips, "ep": chips, "moe_parallel": "tp", **(deployment or {})}
            base.update(chips=chips, batch_per_chip=conc / chips, **setup)
            per_chip = _number(level.get("output_tok_s_per_chip"))
            if per_chip is None and _number(level.get("output_tok_s")):
                per_chip = float(level["output_tok_s"]) / chips
            tpot = _number((level.get("tpot_ms") or {}).get("mean"))
            if per_chip:
                out.append(record_from_table(f"{name}-c{conc}-throughput",
                                             {**base, "metric": "output_tok_s_per_chip", "measured": per_chip}, where))
            if tpot:
                out.append(record_from_table(f"{name}-c{conc}-tpot",
                                             {**base, "metric": "tpot_ms", "measured": tpot}, where))
    if not out:
        raise PerfDataError(f"{where}: no measured level in the file")
    return out
