"""``moe-console plugins``: list backend plugins and their status.

By default plugins are listed from package metadata only (nothing is imported,
so a broken plugin cannot break this command). With --load every enabled plugin
is imported, isolated, and the listing adds the hooks it implements, the
backends it provides, its API version and any error. MOE_CONSOLE_PLUGINS (an
allowlist; empty: none) and MOE_CONSOLE_DISABLE_PLUGINS (a denylist) apply.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

WIDTH = 80


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plugins",
        help="list backend plugins, their versions and status",
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--load",
        action="store_true",
        help="import the plugins to show hooks, backends, API version and errors",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from console.api import API_VERSION
    from console.configured import discover_configured

    host = discover_configured(warn=lambda line: print(f"moe-console: warning: {line}", file=sys.stderr))
    if args.load:
        host.load_all()
    records = host.plugins
    if args.json:
        payload = {
            "api_version": API_VERSION,
            "loaded": bool(args.load),
            "plugins": [r.as_dict() for r in records],
        }
        if args.load:
            payload["backends"] = [
                {
                    "name": e.name,
                    "display_name": e.info.display_name,
                    "kind": e.info.kind,
                    "plugin": e.plugin,
                    "options": [
                        {"name": o.name, "type": o.type, "default": o.default, "help": o.help,
                         "rule": o.rule(), "choices": list(o.choices), "minimum": o.minimum,
                         "maximum": o.maximum}
                        for o in e.options
                    ],
                }
                for e in host.backends()
            ]
        print(json.dumps(payload, indent=2))
        return 0
    print(render_table(records, API_VERSION, loaded=args.load))
    return 0


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(records: list, host_api: str, *, loaded: bool) -> str:
    """The human listing: one row per plugin, fitting 80 columns; hooks,
    backends and errors on indented lines below the row."""
    widths = (14, 12, 9, 20, 10)  # name, status, version, distribution, api (+ spaces = 69)
    head = ("PLUGIN", "STATUS", "VERSION", "DISTRIBUTION", "API")
    lines = [f"moe-console plugin API {host_api}", ""]
    lines.append(" ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
    for r in records:
        api = r.api_version if r.api_version is not None else ("undeclared" if r.status == "loaded" else "-")
        cells = (r.name, r.status, r.version, r.distribution, api)
        lines.append(" ".join(_cut(c, w).ljust(w) for c, w in zip(cells, widths)).rstrip())
        details = []
        if r.hooks:
            details.append(("hooks", ", ".join(r.hooks)))
        if r.backends:
            details.append(("backends", ", ".join(r.backends)))
        if r.error:
            details.append(("error" if r.status != "disabled" else "why", r.error))
        for warning in r.warnings:
            details.append(("warning", warning))
        for label, text in details:
            lines.extend(
                textwrap.wrap(
                    text,
                    WIDTH,
                    initial_indent=f"  {label}: ",
                    subsequent_indent=" " * (len(label) + 4),
                    break_on_hyphens=False,
                )
            )
    if not records:
        lines.append("(no plugins installed in entry-point group moe_console)")
    if any(r.status == "loaded" and r.api_version is None for r in records):
        lines += ["", "undeclared: the plugin states no API version (neither a moe_console.api entry",
                  "point nor MOE_CONSOLE_API); it was loaded as built for this API's major version"]
    if not loaded:
        lines += ["", "Plugins were not imported; run `moe-console plugins --load` for hooks,",
                  "backends and import errors."]
    return "\n".join(lines)
