"""``moe-console bench serve``: measure OpenAI-compatible endpoints under load.

    moe-console bench serve [--url URL|NAME] [--vs URL|NAME ...] [--model M]
        [--concurrency 1,4,16,64] [--requests N] [--prompt-tokens P] [--output-tokens O]
        [--request-rate R] [--slo-ttft-ms X --slo-tpot-ms Y] [--json]

A URL is an API root such as ``http://127.0.0.1:8000/v1``; a NAME is a
``[remote.NAME]`` table of settings.toml, which also gives the model, API key
variable, declared hardware, chips and price. Without ``--url`` it starts
``moe-console serve`` on the built-in model (or ``--serve-model PATH``) on a
free loopback port and stops it afterwards. Every run is saved to
``<data dir>/bench/`` (CONTRACTS.md §2); ``--json`` prints the same document
with the ratios added. When it started serve itself (or with ``--engine-baseline``)
it also measures the engine's own batch-1 decode on the same checkpoint in this
process, and prints it with the serving targets (issue 10) measured in the run:
1 stream vs that baseline, 16 streams vs 1, the engine loop's decode step at
batch 16 vs 1 (from the server's /metrics), p99 TTFT at 16 streams vs unloaded.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from typing import Any

from console.cli import UserError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="load-test OpenAI-compatible endpoints (vllm bench serve's definitions)",
                              description=__doc__.split("\n\n")[2])
    p.add_argument("--url", default=None, metavar="URL|NAME",
                   help="endpoint to measure (default: start moe-console serve here)")
    p.add_argument("--vs", action="append", default=[], metavar="URL|NAME",
                   help="also measure this endpoint with the same workload (repeatable); ratios are to --url")
    p.add_argument("--model", default="", help="model name sent to --url (default: its /v1/models' first)")
    p.add_argument("--serve-model", default=None, metavar="PATH",
                   help="checkpoint folder for the serve started without --url (default: the built-in model)")
    p.add_argument("--concurrency", default="1,4,16,64", help="concurrency levels, comma-separated (default %(default)s)")
    p.add_argument("--requests", type=int, default=32, metavar="N", help="requests per level (default %(default)s)")
    p.add_argument("--prompt-tokens", type=int, default=128, metavar="P", help="prompt length (default %(default)s)")
    p.add_argument("--output-tokens", type=int, default=64, metavar="O",
                   help="reply length, forced with ignore_eos (default %(default)s)")
    p.add_argument("--request-rate", type=float, default=None, metavar="R",
                   help="requests per second, Poisson arrivals (default: all at once)")
    p.add_argument("--slo-ttft-ms", type=float, default=None, help="goodput: TTFT limit in ms")
    p.add_argument("--slo-tpot-ms", type=float, default=None, help="goodput: TPOT limit in ms")
    p.add_argument("--seed", type=int, default=0, help="seed of prompts, arrivals and sampling (default 0)")
    p.add_argument("--tokenizer", default=None, metavar="PATH",
                   help="checkpoint folder whose tokenizer counts prompt tokens when an endpoint has no /tokenize")
    p.add_argument("--hardware", default=None, help="declared hardware of --url (e.g. h100)")
    p.add_argument("--chips", type=int, default=None, help="chips behind --url")
    p.add_argument("--price", type=float, default=None, metavar="USD", help="price per chip-hour of --url")
    p.add_argument("--read-timeout-s", type=float, default=120.0, help="longest silence mid-reply (default 120)")
    p.add_argument("--engine-baseline", nargs="?", const="", default=None, metavar="PATH",
                   help="measure the engine's own batch-1 decode here on PATH (default: the served checkpoint; "
                        "always on when bench serve starts serve itself)")
    p.add_argument("--json", action="store_true", help="print the results document as JSON")
    p.set_defaults(run=run)


def _levels(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UserError(f"--concurrency must be comma-separated integers such as 1,4,16 (got {text!r})") from None


def _target(spec: str, args: argparse.Namespace, first: bool, endpoints: dict[str, Any]):
    from console.loadgen.runner import Target
    from moe_console_remote.config import check_url

    if spec in endpoints:
        e = endpoints[spec]
        return Target(name=e.name, url=e.url, model=e.model, api_key_env=e.api_key_env, hardware=e.hardware or None,
                      chips=e.chips, price_usd_per_chip_hour=e.price_usd_per_chip_hour, tokenizer=args.tokenizer,
                      read_timeout_s=args.read_timeout_s)
    problem = check_url(spec)
    if problem:
        known = ", ".join(sorted(endpoints)) or "none configured"
        raise UserError(f"{spec!r} is neither an endpoint URL nor a [remote.NAME] (known: {known}): {problem}")
    from urllib.parse import urlsplit

    name = urlsplit(spec).netloc
    extra = dict(hardware=args.hardware, chips=args.chips, price_usd_per_chip_hour=args.price) if first else {}
    return Target(name=name, url=spec, model=args.model if first else "", tokenizer=args.tokenizer,
                  read_timeout_s=args.read_timeout_s, **extra)


def run(args: argparse.Namespace) -> int:
    from console.loadgen import LoadgenError, Workload
    from console.loadgen import report
    from console.loadgen.runner import Target, run_benchmark
    from console.loadgen.spawn import serve
    from console.settings import data_dir, load_settings
    from moe_console_remote.config import parse_endpoints

    workload = Workload(prompt_tokens=args.prompt_tokens, output_tokens=args.output_tokens, requests=args.requests,
                        concurrency=_levels(args.concurrency), request_rate=args.request_rate, seed=args.seed,
                        slo_ttft_ms=args.slo_ttft_ms, slo_tpot_ms=args.slo_tpot_ms)
    problems = workload.problems()
    if problems:
        raise UserError(problems[0])
    settings, _ = load_settings()
    endpoints, _ = parse_endpoints(settings.plugin_tables.get("remote"))
    log = lambda message: print(f"... {message}", file=sys.stderr)  # noqa: E731
    others = [_target(spec, args, False, endpoints) for spec in args.vs]
    with contextlib.ExitStack() as stack:
        if args.url is None:
            log("starting moe-console serve" + (f" on {args.serve_model}" if args.serve_model else " on the built-in model"))
            try:
                url = stack.enter_context(serve(args.serve_model))
            except LoadgenError as exc:
                raise UserError(str(exc)) from None
            first = Target(name="serve", url=url, model=args.model, hardware=args.hardware, chips=args.chips,
                           price_usd_per_chip_hour=args.price, tokenizer=args.tokenizer,
                           read_timeout_s=args.read_timeout_s, engine_baseline=True,
                           baseline_model=args.engine_baseline or args.serve_model)
        else:
            first = _target(args.url, args, True, endpoints)
            if args.engine_baseline is not None:
                first = dataclasses.replace(first, engine_baseline=True, baseline_model=args.engine_baseline or None)
        targets = [first, *others]
        names = [t.name for t in targets]
        if len(set(names)) != len(names):
            targets = [dataclasses.replace(t, name=f"{t.name}#{i + 1}") for i, t in enumerate(targets)]
        try:
            doc = run_benchmark(targets, workload, log)
        except LoadgenError as exc:
            raise UserError(str(exc)) from None
    path = report.save(doc, data_dir())
    from console.loadgen.engine_figures import target_figures, target_lines

    if args.json:
        print(json.dumps({**doc, "ratios": report.ratios(doc), "targets": target_figures(doc), "saved": str(path)},
                         indent=1))
    else:
        print(report.format_run(doc))
        extra = target_lines(doc)
        if extra:
            print("\n" + "\n".join(extra))
    log(f"saved {path}")
    return 0
