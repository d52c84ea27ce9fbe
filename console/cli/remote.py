"""``moe-console remote``: configure and probe OpenAI-compatible endpoints.

    moe-console remote add NAME URL [--model M] [--api-key-env VAR] [--hardware H]
                                    [--chips N] [--price USD] [--connect-timeout-s S] [--read-timeout-s S]
    moe-console remote list [--json]
    moe-console remote check NAME [--json]
    moe-console remote remove NAME

``add`` writes a ``[remote.NAME]`` table to settings.toml, keeping the rest of
the file as you wrote it (comments included); the API key itself is never
written, only the name of the variable holding it. Each table becomes a
backend called NAME. ``check`` reports reachability, models, server kind and
version and the evidence for it, and whether /metrics can be watched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from console.cli import UserError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("remote", help="add, list and check remote OpenAI-compatible endpoints",
                              description=__doc__.split("\n\n")[2])
    sub = p.add_subparsers(dest="remote_command", metavar="{add,list,check,remove}", required=True)
    add = sub.add_parser("add", help="add or replace an endpoint in settings.toml")
    add.add_argument("name")
    add.add_argument("url", help="API root, e.g. http://10.0.0.5:8000/v1")
    add.add_argument("--model", default=None, help="model name sent (default: the server's first)")
    add.add_argument("--api-key-env", default=None, metavar="VAR", help="environment variable holding the API key")
    add.add_argument("--hardware", default=None, help="declared hardware, e.g. h100 or ascend950")
    add.add_argument("--chips", type=int, default=None, help="chips serving this endpoint (for cost per chip)")
    add.add_argument("--price", type=float, default=None, metavar="USD", help="price per chip-hour")
    add.add_argument("--connect-timeout-s", type=float, default=None)
    add.add_argument("--read-timeout-s", type=float, default=None)
    add.set_defaults(run=run_add)
    for name, helptext, runner in (("list", "list configured endpoints", run_list),
                                   ("check", "probe an endpoint: reachability, models, server kind", run_check)):
        q = sub.add_parser(name, help=helptext)
        if name == "check":
            q.add_argument("name")
        q.add_argument("--json", action="store_true")
        q.set_defaults(run=runner)
    rm = sub.add_parser("remove", help="remove an endpoint from settings.toml")
    rm.add_argument("name")
    rm.set_defaults(run=run_remove)


def _endpoints() -> tuple[dict[str, Any], list[str]]:
    from console.settings import load_settings
    from moe_console_remote.config import parse_endpoints

    settings, problems = load_settings()
    endpoints, found = parse_endpoints(settings.plugin_tables.get("remote"))
    return endpoints, problems + found


def run_add(args: argparse.Namespace) -> int:
    from console.configured import discover_configured
    from moe_console_remote.config import parse_endpoint

    table: dict[str, Any] = {"url": args.url}
    for key, value in (("model", args.model), ("api_key_env", args.api_key_env), ("hardware", args.hardware),
                       ("chips", args.chips), ("price_usd_per_chip_hour", args.price),
                       ("connect_timeout_s", args.connect_timeout_s), ("read_timeout_s", args.read_timeout_s)):
        if value is not None:
            table[key] = value
    endpoint, problems = parse_endpoint(args.name, table)
    if endpoint is None or problems:
        raise UserError(problems[0].replace(f"[remote.{args.name}]: ", "") if problems else "invalid endpoint")
    taken = {e.name: e.plugin for e in discover_configured().backends() if e.plugin != "remote"}
    if args.name in taken:
        raise UserError(f"{args.name!r} is already the name of a backend of plugin {taken[args.name]!r}; pick another")
    path = _write(args.name, endpoint.as_table())
    print(f"[remote.{args.name}] written to {path}; backend {args.name!r} is in the picker")
    return 0


def _write(name: str, table: dict[str, Any] | None):
    """Set (or, with None, remove) ``[remote.NAME]`` in settings.toml, keeping the rest."""
    from console.settings import update_table

    try:
        return update_table(None, ("remote", name), table)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _known(endpoints: dict[str, Any], name: str):
    if name not in endpoints:
        raise UserError(f"no endpoint {name!r} (known: {', '.join(sorted(endpoints)) or 'none'})")
    return endpoints[name]


def run_remove(args: argparse.Namespace) -> int:
    _known(_endpoints()[0], args.name)
    print(f"[remote.{args.name}] removed from {_write(args.name, None)}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    endpoints, problems = _endpoints()
    if args.json:
        print(json.dumps({"endpoints": [{"name": e.name, **e.as_table()} for e in endpoints.values()],
                          "problems": problems}, indent=1))
        return 0
    if not endpoints:
        print("no remote endpoint configured; add one with: moe-console remote add NAME URL")
    for e in endpoints.values():
        hw = f"{e.hardware} (declared)" if e.hardware else "hardware undeclared"
        extra = f" x{e.chips}" if e.chips else ""
        price = f", ${e.price_usd_per_chip_hour}/chip-hour" if e.price_usd_per_chip_hour is not None else ""
        key = f", key from ${e.api_key_env}" if e.api_key_env else ""
        print(f"{e.name:<16} {e.url}  model {e.model or '(server default)'}, {hw}{extra}{price}{key}")
    for problem in problems:
        print(f"problem: {problem}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    endpoint = _known(_endpoints()[0], args.name)
    from moe_console_remote.detect import check_endpoint

    info = asyncio.run(check_endpoint(endpoint)).as_dict()
    if info["error"] and endpoint.key_note() and " 401 " in info["error"]:
        info["error"] += endpoint.key_note()
    if args.json:
        print(json.dumps({"name": endpoint.name, **info}, indent=1))
    else:
        state = "reachable" if info["reachable"] and not info["error"] else (
            "answers with an error" if info["reachable"] else "unreachable")
        print(f"{endpoint.name}: {endpoint.url} is {state}")
        if info["error"]:
            print(f"  error: {info['error']}")
        print(f"  server: {info['kind']} {info['version'] or '(version not reported)'}")
        for line in info["evidence"]:
            print(f"    because {line}")
        for m in info["models"]:
            length = f", max_model_len {m['max_model_len']}" if m["max_model_len"] else ""
            print(f"  model: {m['id']} (owned_by {m['owned_by'] or '?'}{length})")
        print(f"  metrics: {'GET /metrics answers; moe-console watch ' + endpoint.url if info['metrics'] else 'none'}")
    return 0 if info["reachable"] and not info["error"] else 1
