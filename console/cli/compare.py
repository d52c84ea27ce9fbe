"""``moe-console compare``: modeled throughput, latency and cost per hardware, side by side.

The hardware is whatever the loaded plugins register (``register_hardware``):
each becomes a modeled backend whose chip the performance model compares. The
comparison itself is ``console.perf.selection.build_comparison`` (pure, shared
with the TUI's compare view); this module only parses options and formats.
``--measured`` and ``--calibrate`` read a ``bench serve`` result
(:mod:`console.cli.measured`).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Any

from console.cli import UserError
from console.cli.measured import calibrate_to, calibration_lines, chip_resolver, measured_lines, measured_rows
from console.cli.validate import parse_settings

DEFAULT_MODEL = "deepseek-v3"
#: Columns the text output is laid out for (wider tables wrap into blocks of columns).
TEXT_WIDTH = 120


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "compare",
        help="compare modeled throughput, latency and cost across hardware",
        description="Model a full-size DeepSeek serving deployment on every registered hardware "
                    "(or --backends) and print the figures side by side, with their labels, ranges "
                    "for hardware modeled by analogy, and the ratios to the baseline.",
    )
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help="target model: deepseek-v3, deepseek-v4-flash or deepseek-v4-pro (default %(default)s)")
    p.add_argument("--prompt-tokens", type=int, default=2000, help="prompt length (default %(default)s)")
    p.add_argument("--output-tokens", type=int, default=500, help="reply length (default %(default)s)")
    load = p.add_mutually_exclusive_group()
    load.add_argument("--concurrency", type=int, default=None,
                      help="sequences decoding together per chip (default 128)")
    load.add_argument("--tpot-ms", type=float, default=None,
                      help="instead of a concurrency: the largest batch whose TPOT meets this target")
    p.add_argument("--context", type=int, default=2000,
                   help="average KV-cache length during decode, in tokens (default %(default)s)")
    p.add_argument("--backends", default="",
                   help="comma-separated hardware backends (default: every registered hardware)")
    p.add_argument("--baseline", default=None, help="backend the ratios divide by (default h100)")
    p.add_argument("--ep", type=int, default=None, help="chips per expert-parallel decode instance (default 72)")
    p.add_argument("--redundant-experts", type=int, default=None, help="redundant expert replicas (default 32)")
    p.add_argument("--attention", choices=("bf16", "fp8"), default=None,
                   help="attention-core precision (default bf16, as DeepSeek serves it)")
    p.add_argument("--prefill-gemm", choices=("fp8", "fp4"), default=None,
                   help="prefill GEMM precision (default fp8; fp4 = MXFP4 where the chip has it)")
    p.add_argument("--mtp", default=None, metavar="DEPTH:ACCEPTED",
                   help="speculative decoding (MTP): draft tokens per step and mean accepted, e.g. 1:0.7")
    p.add_argument("--expert-balance", choices=("eplb", "forced"), default=None,
                   help="eplb (as the calibration runs, default) or forced (perfect balance: an upper bound)")
    p.add_argument("--colocated", action="store_true",
                   help="prefill and decode on the same chips (default: PD-disaggregated)")
    p.add_argument("--utilization", type=float, default=None,
                   help="fraction of paid chip-hours serving tokens, for cost (default 1.0)")
    p.add_argument("--prices", default=None,
                   help="price file (TOML, [<hardware>] usd_per_hour/date/source); default: "
                        "$MOE_CONSOLE_PRICES or prices.toml in the config directory")
    p.add_argument("--price", action="append", default=[], metavar="NAME=USD",
                   help="price per chip-hour for one backend, e.g. --price h100=2.10 (repeatable)")
    p.add_argument("--explain", action="store_true",
                   help="show what drives each figure: per-op breakdown, bounds, capacity, calibration "
                        "residuals and the sensitivity table")
    p.add_argument("--measured", default=None, metavar="FILE",
                   help="a `moe-console bench serve --json` result: its measured figures beside the "
                        "modeled ones, with the model's error on each")
    p.add_argument("--calibrate", default=None, metavar="FILE",
                   help="fit efficiency and overlap to a `bench serve` result of your deployment (the "
                        "shipped calibration's fitting) and model its hardware with them")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                   help="serving setup of the --measured/--calibrate run, e.g. --set moe_parallel=ep "
                        "(default: tensor parallel over all of its chips)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(run=run)


def plugin_problems(host: Any) -> list[str]:
    """One line per plugin that failed or is incompatible, or that had a hardware spec refused."""
    return [f"plugin {r.name}: {r.status}: {r.error}" for r in host.plugins
            if r.status in ("failed", "incompatible") or (r.status == "loaded" and r.error)]


def _explicit_prices(items: list[str]) -> dict[str, float]:
    prices = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            prices[name.strip()] = float(value)
        except ValueError:
            raise UserError(f"--price expects NAME=USD, e.g. h100=2.10 (got {item!r})") from None
    return prices


def _mtp(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    depth, sep, accepted = text.partition(":")
    try:
        return {"mtp_depth": int(depth), "mtp_accepted": float(accepted) if sep else float(depth)}
    except ValueError:
        raise UserError(f"--mtp expects DEPTH:ACCEPTED, e.g. 1:0.7 (got {text!r})") from None


def build(args: argparse.Namespace):
    """``(comparison, measured rows, calibration report)`` the arguments ask for (raises UserError)."""
    from console import perf
    from console.perf.selection import build_comparison
    from console.configured import discover_configured

    try:
        workload = perf.Workload(
            prompt_tokens=args.prompt_tokens, output_tokens=args.output_tokens, context=args.context,
            concurrency=None if args.tpot_ms is not None else (128 if args.concurrency is None else args.concurrency),
            tpot_ms=args.tpot_ms)
        deployment = perf.default_deployment(
            ep=args.ep, redundant_experts=args.redundant_experts, attention_dtype=args.attention,
            prefill_gemm_dtype=args.prefill_gemm, utilization=args.utilization,
            pd_disaggregated=False if args.colocated else None, expert_balance=args.expert_balance,
            **_mtp(args.mtp))
        perf.load_profile(args.model)  # an unknown model is reported before the plugins are read
        user = perf.load_price_file(args.prices) if args.prices else None
        host = discover_configured(warn=lambda line: print(f"moe-console: warning: {line}", file=sys.stderr))
        for line in plugin_problems(host):
            print(f"moe-console: warning: {line}", file=sys.stderr)
        names = [n.strip() for n in args.backends.split(",") if n.strip()]
        measured, calibrated, factors = [], None, None
        if args.measured or args.calibrate:
            resolve = chip_resolver(host)
            settings = parse_settings(args.settings)
        if args.measured:
            measured = measured_rows(args.measured, args.model, settings, resolve)
        if args.calibrate:
            calibrated = calibrate_to(args.calibrate, args.model, settings, resolve)
            factors = {hw: c["factors"] for hw, c in calibrated.items()}
        comparison = build_comparison(host, names, workload, model=args.model, deployment=deployment,
                                      baseline=args.baseline, prices=_explicit_prices(args.price),
                                      user_prices=user, explain=args.explain, factors=factors)
        return comparison, measured, calibrated
    except perf.PerfDataError as exc:
        raise UserError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from console.perf import PRESS_HEADING
    from console.perf.report import (
        explain_lines,
        figure_table,
        headline,
        ratio_table,
        render,
        render_wrapped,
        summary_dict,
        wrap_notes,
    )

    comparison, measured, calibrated = build(args)
    if args.json:
        out = summary_dict(comparison, explain=args.explain)
        if args.measured:
            out["measured"] = [r.as_dict() for r in measured]
        if calibrated is not None:
            out["calibration"] = {hw: {**c, "factors": c["factors"].as_dict(), "before": c["before"].as_dict()}
                                  for hw, c in calibrated.items()}
        print(json.dumps(out, indent=2))
        return 0
    print("\n".join(textwrap.wrap(headline(comparison), TEXT_WIDTH, subsequent_indent="  ")))
    print()
    columns, rows, notes = figure_table(comparison)
    print(render_wrapped(columns, rows, TEXT_WIDTH))
    print("\n".join(wrap_notes(notes, TEXT_WIDTH)))
    if calibrated is not None:
        print()
        print("\n".join(calibration_lines(calibrated)))
    if args.measured:
        print()
        print("\n".join(measured_lines(measured)))
    for target in comparison.ratios:
        print()
        print(render(*ratio_table(comparison, target)))
    if comparison.press:
        print()
        print(textwrap.fill(f'"{PRESS_HEADING}": claims from press coverage, not found in any public '
                            "measurement; they are not figures of this model.", TEXT_WIDTH))
    if args.explain:
        print()
        for line in explain_lines(comparison):
            indent = " " * (len(line) - len(line.lstrip()) + 4)
            print("\n".join(textwrap.wrap(line, TEXT_WIDTH, subsequent_indent=indent, drop_whitespace=False)
                            if len(line) > TEXT_WIDTH else [line]))
    return 0
