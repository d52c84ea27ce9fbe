"""``moe-console bench``: measure the numpy engine on a checkpoint folder.

    moe-console bench [--engine PATH] [--tokens N] [--reference auto|on|off] [--json]
    moe-console bench serve [--url URL|NAME] [--vs URL|NAME ...] --concurrency 1,4,16,64 ...

``bench serve`` is the load generator for OpenAI-compatible endpoints (see
:mod:`console.cli.bench_serve`).

Prints measured decode tok/s (batch 1 and batched), prefill tok/s, bytes of
weights read per token, achieved vs matrix-vector bandwidth, KV bytes per
token and, when transformers + torch can run (in this interpreter, or in the
one named by ``--reference-python`` / ``MOE_CONSOLE_REFERENCE_PYTHON``),
transformers' own greedy decode speed on the same folder; then the ratios
against the project's goals. The measuring lives in ``console.enginebench``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from console.cli import UserError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure the engine's decode/prefill speed and compare with transformers",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--engine", metavar="PATH", default=None,
                        help="Hugging Face checkpoint folder (default: the built-in model)")
    parser.add_argument("--tokens", type=int, default=48, metavar="N",
                        help="tokens to decode per measurement (default 48)")
    parser.add_argument("--batch", type=int, default=16, metavar="B",
                        help="sequences in the batched measurement (default 16)")
    parser.add_argument("--prefill", type=int, default=512, metavar="T",
                        help="prompt length of the prefill measurement (default 512)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="BLAS threads for the engine (and torch threads for transformers); "
                             "default: numpy's current setting")
    parser.add_argument("--reps", type=int, default=3, metavar="R",
                        help="repetitions of each measurement; the best is kept (default 3)")
    parser.add_argument("--reference", choices=("auto", "on", "off"), default="auto",
                        help="measure transformers too: auto (if available), on (required), off")
    parser.add_argument("--reference-python", metavar="PYTHON",
                        default=os.environ.get("MOE_CONSOLE_REFERENCE_PYTHON"),
                        help="interpreter with torch + transformers, used when this one lacks them "
                             "(default $MOE_CONSOLE_REFERENCE_PYTHON)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)
    from console.cli import bench_serve

    bench_serve.add_parser(parser.add_subparsers(dest="bench_command", metavar="{serve}"))


def run(args: argparse.Namespace) -> int:
    from console import enginebench as bench

    if args.tokens < 2:
        raise UserError(f"--tokens must be at least 2 (got {args.tokens})")
    if args.batch < 2:
        raise UserError(f"--batch must be at least 2 (got {args.batch})")
    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads must be positive (got {args.threads})")
    if args.reps < 1:
        raise UserError(f"--reps must be positive (got {args.reps})")
    if args.prefill < 1:
        raise UserError(f"--prefill must be positive (got {args.prefill})")
    path = args.engine
    if path is not None and not Path(path).is_dir():
        raise UserError(f"no checkpoint folder at {path}")
    if path is None:
        from console.engine import builtin_model_path

        path = builtin_model_path()
    log = (lambda message: None) if args.json else (lambda message: print(f"... {message}", file=sys.stderr))
    try:
        result = bench.run_bench(path, tokens=args.tokens, reference=args.reference,
                                 reference_python=args.reference_python, batch=args.batch,
                                 prefill_len=args.prefill, reps=args.reps, threads=args.threads, log=log)
    except bench.BenchError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_report(result))
    return 0


def _si(value: float, unit: str) -> str:
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {prefix}{unit}"
    return f"{value:.0f} {unit}"


def _ratio_line(label: str, value, goal: float, set_for: str, percent: bool, note: str = "") -> str:
    show = (lambda v: f"{100 * v:.0f}%") if percent else (lambda v: f"{v:.2f}x")
    if value is None:
        return f"  {label:<30} {'n/a':>8}   goal >= {show(goal)} (set for {set_for})"
    verdict = "met" if value >= goal else f"MISSED ({show(value)} of {show(goal)}, {value / goal:.0%} of goal)"
    return f"  {label:<30} {show(value):>8}   goal >= {show(goal)} (set for {set_for}): {verdict}{note}"


def format_report(r: dict) -> str:
    ratios = r["ratios"]
    ref = r["reference"]
    lines = [
        f"moe-console bench: {r['name']} ({r['architecture']}, {r['params'] / 1e6:.1f}M parameters), "
        f"{r['threads']} BLAS threads",
        f"measured (perf_counter where tokens are produced), greedy, random prompts, {r['tokens']} tokens "
        f"per run; best of {r['reps']} rounds:",
        f"  decode, batch 1 (generate)   {r['decode']['tok_s']:9.1f} tok/s",
        f"  prefill, {r['prefill']['tokens']:<4} tokens         {r['prefill']['tok_s']:9.1f} tok/s   "
        f"({r['prefill']['seconds']:.3f} s to the first token)",
        f"  loop, batch 1                {r['loop_batch1']['tok_s']:9.1f} tok/s",
        f"  loop, batch {r['loop_batch']['batch']:<3}              {r['loop_batch']['tok_s']:9.1f} tok/s   "
        f"({r['loop_batch']['steps_s']:.1f} steps/s)",
        f"  weights read per token       {_si(r['weight_bytes_per_token'], 'B'):>15}   "
        f"(batch {r['loop_batch']['batch']}: {_si(r['weight_bytes_per_step_batch'], 'B')} per step)",
        f"  achieved weight bandwidth    {_si(r['achieved_bytes_s'], 'B/s'):>15}",
        f"  matrix-vector bandwidth      {_si(r['matvec_bytes_s'], 'B/s'):>15}   "
        "(numpy float32 W @ x over 256 MiB)",
        f"  KV cache per token           {_si(r['kv_bytes_per_token'], 'B'):>15}",
    ]
    if ref.get("available"):
        lines.append(f"  transformers, batch 1        {ref['tok_s']:9.1f} tok/s   ({ref['implementation']}, "
                     f"{ref['threads']} threads)")
    else:
        lines.append(f"  transformers                 not measured: {ref['reason']}")
    lines.append(f"ratios (median over the {r['reps']} rounds of each round's ratio):")
    bound = ratios.get("batch_speedup_bytes_bound")
    notes = {"batch_speedup": f"; weight-bytes bound {bound:.2f}x" if bound else ""}
    labels = {
        "engine_vs_transformers": ("engine / transformers (paired)", False),
        "bandwidth_fraction": ("achieved / matvec bandwidth", True),
        "batch_speedup": (f"batch {r['loop_batch']['batch']} / batch 1 (loop)", False),
    }
    for target in r["targets"]:
        label, percent = labels[target["ratio"]]
        lines.append(_ratio_line(label, target["value"], target["goal"], target["set_for"], percent,
                                 notes.get(target["ratio"], "")))
    return "\n".join(lines)
