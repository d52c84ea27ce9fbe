"""``moe-console compare``: modeled throughput, latency and cost per hardware, side by side.

The hardware is whatever the loaded plugins register (``register_hardware``):
each becomes a modeled backend whose chip the performance model compares. The
comparison itself is ``console.perf.compare`` (pure); this module only parses
options, gathers the hardware and prices, and formats.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Any

from console.cli import UserError

DEFAULT_MODEL = "deepseek-v3"
#: Columns the text output is laid out for (three backends fit).
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
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(run=run)


def modeled_hardware(host: Any) -> dict[str, Any]:
    """``{backend name: modeled backend class}`` for every hardware the loaded
    plugins of ``host`` (a :class:`console.plugins.PluginHost`) register."""
    return {e.name: e.cls for e in host.backends() if hasattr(e.cls, "perf_chip")}


def plugin_problems(host: Any) -> list[str]:
    """One line per plugin that failed or is incompatible."""
    return [f"plugin {r.name}: {r.status}: {r.error}" for r in host.plugins if r.status in ("failed", "incompatible")]


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


def _select(available: dict[str, Any], names: list[str]) -> list[str]:
    if not names:
        if not available:
            raise UserError("no hardware is registered: is any hardware plugin installed and enabled?")
        return list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        known = ", ".join(available) or "none"
        raise UserError(f"not a modeled hardware backend: {', '.join(unknown)}; known: {known}")
    return list(dict.fromkeys(names))


def build_comparison(host: Any, names: list[str], workload: Any, *, model: str = DEFAULT_MODEL,
                     deployment: Any = None, baseline: str | None = None,
                     prices: dict[str, float] | None = None, user_prices: dict[str, Any] | None = None,
                     explain: bool = False):
    """The :class:`console.perf.Comparison` of ``workload`` (a ``perf.Workload``)
    for the hardware behind the modeled backends ``names`` of ``host`` (empty:
    every registered hardware), as ``moe-console compare`` and the TUI's
    compare view show it. The baseline (``baseline``, else ``h100`` when
    compared) comes first. Each price: ``prices[name]`` (USD per chip-hour),
    else ``user_prices`` (the user's price file entries; ``None`` reads it),
    else the hardware plugin's own.

    Prints nothing and parses nothing. Raises ``UserError`` for a name that is
    not a modeled hardware backend or a price for a backend not compared, and
    ``console.perf.PerfDataError`` for a setup the model cannot evaluate."""
    from console import perf
    from console.modeled import spec_price
    from console.modeled import user_prices as read_user_prices

    available = modeled_hardware(host)
    chosen = _select(available, list(names))
    explicit = dict(prices or {})
    unknown = sorted(set(explicit) - set(chosen))
    if unknown:
        raise UserError(f"--price names a backend not compared: {', '.join(unknown)}")
    first = baseline or ("h100" if "h100" in chosen else None)
    if first in chosen:  # the baseline's column first
        chosen = [first, *(n for n in chosen if n != first)]
    user = read_user_prices() if user_prices is None else user_prices
    chips = [available[n].perf_chip for n in chosen]
    resolved = {n: perf.resolve_price(n, explicit=explicit.get(n), user=user, plugin=spec_price(available[n].spec))
                for n in chosen}
    return perf.compare(perf.load_profile(model), chips, deployment or perf.default_deployment(), workload,
                        resolved, baseline=baseline, explain=explain)


def build(args: argparse.Namespace):
    """The :class:`console.perf.Comparison` the arguments ask for (raises UserError)."""
    from console import perf
    from console.plugins import PluginHost

    try:
        workload = perf.Workload(
            prompt_tokens=args.prompt_tokens, output_tokens=args.output_tokens, context=args.context,
            concurrency=None if args.tpot_ms is not None else (128 if args.concurrency is None else args.concurrency),
            tpot_ms=args.tpot_ms)
        deployment = perf.default_deployment(
            ep=args.ep, redundant_experts=args.redundant_experts, attention_dtype=args.attention,
            prefill_gemm_dtype=args.prefill_gemm, utilization=args.utilization,
            pd_disaggregated=False if args.colocated else None)
        perf.load_profile(args.model)  # an unknown model is reported before the plugins are read
        user = perf.load_price_file(args.prices) if args.prices else None
        host = PluginHost.discover()
        for line in plugin_problems(host):
            print(f"moe-console: warning: {line}", file=sys.stderr)
        names = [n.strip() for n in args.backends.split(",") if n.strip()]
        return build_comparison(host, names, workload, model=args.model, deployment=deployment,
                                baseline=args.baseline, prices=_explicit_prices(args.price), user_prices=user,
                                explain=args.explain)
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
        summary_dict,
        wrap_notes,
    )

    comparison = build(args)
    if args.json:
        print(json.dumps(summary_dict(comparison, explain=args.explain), indent=2))
        return 0
    print("\n".join(textwrap.wrap(headline(comparison), TEXT_WIDTH, subsequent_indent="  ")))
    print()
    columns, rows, notes = figure_table(comparison)
    print(render(columns, rows))
    print("\n".join(wrap_notes(notes, TEXT_WIDTH)))
    for target in comparison.ratios:
        print()
        print(render(*ratio_table(comparison, target)))
    if comparison.press:
        print()
        print(textwrap.fill(f'"{PRESS_HEADING}": claims from press coverage, not found in any public '
                            "measurement; they are not figures of this model.", TEXT_WIDTH))
    if args.explain:
        print()
        print("\n".join(explain_lines(comparison)))
    return 0
