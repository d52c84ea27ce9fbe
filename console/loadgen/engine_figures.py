"""What issue 10's serving targets compare against, measured in the same run as the load.

* :func:`engine_baseline` — the engine's own batch-1 decode tok/s on the same checkpoint,
  measured in THIS process (``Model.generate``, greedy, tokens after the first, as
  ``moe-console bench --engine`` counts them), one BLAS thread as ``serve`` uses, with the
  workload's prompt and output lengths; run while the server is idle, just before and just
  after the 1-stream level (:func:`merge_baselines`: the median of both sets of runs), so a
  change of the machine's load during the run moves both sides of the ratio.
* :func:`step_times` — the engine loop's decode step time by batch size, scraped from the
  server's ``/metrics`` (``moe_console:decode_step_*``, see ``console.server.metrics``).
* :func:`target_lines` — the four target figures of a run document, each with its ratio.
"""

from __future__ import annotations

import re
import statistics
from typing import Any

import httpx

_STEP = re.compile(r'^moe_console:decode_step_(seconds_count|seconds_sum|median_seconds)\{([^}]*)\} (\S+)$')
_BATCH = re.compile(r'batch="(\d+)"')

#: (key, title, goal, "min" when the figure must reach the goal, "max" when it must stay under it)
TARGETS = (
    ("serve_vs_engine", "1 stream vs the engine's own batch-1 decode", 0.75, "min"),
    ("batching", "aggregate output tok/s, 16 streams vs 1", 2.5, "min"),
    ("step_16_vs_1", "engine loop decode step, batch 16 vs batch 1", 3.0, "max"),
    ("ttft_p99_16_vs_unloaded", "p99 TTFT at 16 streams vs unloaded (p50 at 1 stream)", 10.0, "max"),
)


def engine_baseline(model_path: str | None, prompt_tokens: int, output_tokens: int, reps: int = 3) -> dict[str, Any]:
    """Median over ``reps`` batch-1 greedy decodes of ``output_tokens`` after a
    ``prompt_tokens`` prompt (one warm-up first); tok/s after the first token."""
    from console.engine import blas, load_model
    from console.enginebench.measure import bench_prompt, engine_decode

    blas.set_threads(1)
    model = load_model(model_path).prepare()
    prompt = bench_prompt(model.config.vocab_size, prompt_tokens, seed=0)
    engine_decode(model, prompt, min(8, output_tokens))
    runs = [engine_decode(model, prompt, output_tokens) for _ in range(reps)]
    return {"label": "measured", "model": "builtin" if model_path is None else str(model_path),
            "prompt_tokens": prompt_tokens, "output_tokens": output_tokens, "blas_threads": 1,
            "runs_tok_s": runs, "tok_s": statistics.median(runs)}


def merge_baselines(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    runs = a["runs_tok_s"] + b["runs_tok_s"]
    return {**a, "runs_tok_s": runs, "tok_s": statistics.median(runs)}


async def step_times(client: httpx.AsyncClient, root: str, headers: dict[str, str]) -> dict[int, dict[str, float]] | None:
    """``{batch: {"count", "sum_s", "median_s"}}`` from ``root/metrics``, or None when the
    endpoint does not publish ``moe_console:decode_step_*``."""
    try:
        response = await client.get(root.rstrip("/") + "/metrics", headers=headers)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    found: dict[int, dict[str, float]] = {}
    for line in response.text.splitlines():
        match = _STEP.match(line)
        batch = _BATCH.search(match.group(2)) if match else None
        if batch:
            key = {"seconds_count": "count", "seconds_sum": "sum_s", "median_seconds": "median_s"}[match.group(1)]
            found.setdefault(int(batch.group(1)), {})[key] = float(match.group(3))
    return found or None


def level_steps(before: dict | None, after: dict | None, batch: int) -> dict[str, Any] | None:
    """The decode steps of exactly ``batch`` sequences run between two scrapes: their count,
    mean (from the counters' difference) and the server's median of the recent ones."""
    if not after or batch not in after:
        return None
    old = (before or {}).get(batch, {})
    count = after[batch].get("count", 0) - old.get("count", 0)
    total = after[batch].get("sum_s", 0.0) - old.get("sum_s", 0.0)
    if count <= 0:
        return None
    median = after[batch].get("median_s")
    return {"batch": batch, "steps": int(count), "mean_ms": 1e3 * total / count,
            "median_ms": None if median is None else 1e3 * median, "label": "measured"}


def target_figures(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target's measured figure (a ratio) and its parts, from the first endpoint of ``doc``."""
    levels = {lv["concurrency"]: lv for lv in doc["endpoints"][0]["levels"]} if doc["endpoints"] else {}
    one, sixteen = levels.get(1), levels.get(16)
    baseline = doc["endpoints"][0].get("engine_baseline") if doc["endpoints"] else None
    out: dict[str, dict[str, Any]] = {}

    def put(key: str, value: float | None, parts: str) -> None:
        if value is not None:
            _, title, goal, sense = next(t for t in TARGETS if t[0] == key)
            met = value >= goal if sense == "min" else value <= goal if key == "step_16_vs_1" else value < goal
            out[key] = {"title": title, "value": value, "goal": goal, "sense": sense, "met": met, "parts": parts,
                        "label": "measured"}

    if one and baseline:
        put("serve_vs_engine", one["output_tok_s"] / baseline["tok_s"],
            f"{one['output_tok_s']:,.1f} vs {baseline['tok_s']:,.1f} tok/s")
    if one and sixteen and one["output_tok_s"]:
        put("batching", sixteen["output_tok_s"] / one["output_tok_s"],
            f"{sixteen['output_tok_s']:,.1f} vs {one['output_tok_s']:,.1f} tok/s")
    s1, s16 = (one or {}).get("engine_step"), (sixteen or {}).get("engine_step")
    if s1 and s16 and s1.get("median_ms") and s16.get("median_ms"):
        put("step_16_vs_1", s16["median_ms"] / s1["median_ms"],
            f"median {s16['median_ms']:.2f} vs {s1['median_ms']:.2f} ms (means {s16['mean_ms']:.2f} vs "
            f"{s1['mean_ms']:.2f} ms over {s16['steps']} and {s1['steps']} steps)")
    if one and sixteen and one["ttft_ms"].get("p50") and sixteen["ttft_ms"].get("p99") is not None:
        put("ttft_p99_16_vs_unloaded", sixteen["ttft_ms"]["p99"] / one["ttft_ms"]["p50"],
            f"{sixteen['ttft_ms']['p99']:.1f} vs {one['ttft_ms']['p50']:.1f} ms")
    return out


def target_lines(doc: dict[str, Any]) -> list[str]:
    """The printed block: the baseline, then one line per target that this run can measure."""
    lines = []
    baseline = doc["endpoints"][0].get("engine_baseline") if doc["endpoints"] else None
    if baseline:
        runs = ", ".join(f"{r:,.0f}" for r in baseline["runs_tok_s"])
        lines.append(f"engine baseline [measured]: batch-1 decode {baseline['tok_s']:,.1f} tok/s (median of {runs}; "
                     f"{baseline['model']}, prompt {baseline['prompt_tokens']}, {baseline['output_tokens']} tokens, "
                     "in this process before and after the 1-stream level, server idle, 1 BLAS thread)")
    for lv in doc["endpoints"][0]["levels"] if doc["endpoints"] else []:
        step = lv.get("engine_step")
        if step:
            median = "-" if step["median_ms"] is None else f"{step['median_ms']:.2f} ms"
            lines.append(f"engine loop decode step at batch {step['batch']} [measured, server /metrics]: median "
                         f"{median}, mean {step['mean_ms']:.2f} ms over {step['steps']} steps")
    for key, fig in target_figures(doc).items():
        sign = ">=" if fig["sense"] == "min" else "<=" if key == "step_16_vs_1" else "<"
        lines.append(f"target {fig['title']}: {fig['value']:.2f}x ({fig['parts']}); goal {sign} {fig['goal']}x: "
                     + ("met" if fig["met"] else "MISSED"))
    return lines
