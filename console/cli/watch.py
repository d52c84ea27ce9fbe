"""``moe-console watch URL``: a live view of a serving endpoint's Prometheus /metrics.

    moe-console watch URL|NAME [--interval 1] [--window 60] [--count N] [--json]

URL is an API root (``http://host:8000/v1``), a server root or a ``/metrics``
URL; NAME is a ``[remote.NAME]`` table. Every ``--interval`` seconds it scrapes
and shows running/waiting requests, batch size, KV-cache use, prompt and
generation throughput, TTFT/ITL/e2e percentiles from histogram bucket deltas
over ``--window`` seconds, finished and aborted counts, and sparklines of
throughput and queue depth. Every figure is the server's own (labelled
"reported by the server"). Works with vLLM, vllm-ascend, SGLang
(``--enable-metrics``), llama-server (``--metrics``), MindIE's metrics port
and ``moe-console serve``. ``--count`` stops after N scrapes; ``--json``
prints one JSON object per scrape.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from console.cli import UserError

LABEL = "reported by the server (its /metrics), not measured here"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("watch", help="live view of a server's /metrics (vLLM, SGLang, llama-server, serve)",
                              description=__doc__.split("\n\n")[2])
    p.add_argument("url", metavar="URL|NAME")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between scrapes (default 1)")
    p.add_argument("--window", type=float, default=60.0, help="seconds of histogram window (default 60)")
    p.add_argument("--count", type=int, default=None, help="stop after N scrapes")
    p.add_argument("--json", action="store_true", help="one JSON object per scrape")
    p.set_defaults(run=run)


def _resolve(spec: str) -> tuple[str, dict[str, str]]:
    from console.settings import load_settings
    from moe_console_remote.config import check_url, parse_endpoints

    endpoints, _ = parse_endpoints(load_settings()[0].plugin_tables.get("remote"))
    if spec in endpoints:
        return endpoints[spec].url, endpoints[spec].headers()
    problem = check_url(spec)
    if problem:
        raise UserError(f"{spec!r} is neither a URL nor a [remote.NAME] (known: "
                        f"{', '.join(sorted(endpoints)) or 'none configured'})")
    return spec, {}


def table(rows: list[tuple[str, str]], title: str):
    from rich.table import Table

    grid = Table(title=title, caption=LABEL, show_header=False, title_justify="left")
    grid.add_column("figure", style="bold")
    grid.add_column("value")
    for name, value in rows:
        grid.add_row(name, value)
    return grid


async def watch(url: str, headers: dict[str, str], args: argparse.Namespace) -> int:
    import httpx
    from rich.console import Console
    from rich.live import Live

    from console.watch import Watcher, fetch, metrics_url
    from console.watch.rows import view_rows

    target = metrics_url(url)
    watcher = Watcher(window_s=args.window)
    console = Console()
    live = Live(console=console, auto_refresh=False) if console.is_terminal and not args.json else None
    good = n = 0
    async with httpx.AsyncClient(timeout=httpx.Timeout(max(args.interval, 2.0))) as client:
        if live is not None:
            live.start()
        try:
            while args.count is None or n < args.count:
                started = time.monotonic()
                n += 1
                try:
                    watcher.add(await fetch(client, target, started, headers))
                    good += 1
                    error = None
                except ValueError as exc:
                    error = str(exc)
                view = watcher.view()
                if args.json:
                    print(json.dumps({"url": target, "error": error, "label": LABEL, **view.as_dict()}), flush=True)
                else:
                    title = f"{target} · scrape {n}" + (f" · [red]{error}[/]" if error else "")
                    grid = table(view_rows(view), title)
                    if live is not None:
                        live.update(grid, refresh=True)
                    else:
                        console.print(grid)
                if args.count is None or n < args.count:
                    await asyncio.sleep(max(0.0, args.interval - (time.monotonic() - started)))
        finally:
            if live is not None:
                live.stop()
    return 0 if good else 1


def run(args: argparse.Namespace) -> int:
    if args.interval <= 0 or args.window <= 0:
        raise UserError("--interval and --window must be positive")
    if args.count is not None and args.count < 1:
        raise UserError("--count must be at least 1")
    url, headers = _resolve(args.url)
    try:
        return asyncio.run(watch(url, headers, args))
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 0
