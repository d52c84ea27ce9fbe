"""The ``moe-console`` command line.

One module per subcommand in this package. Each defines
``add_parser(subparsers)`` (cheap: no heavy imports at module level; it
calls ``set_defaults(run=run)`` on its parser) and ``run(args) -> int``. With no subcommand the Textual console opens.

User errors (:class:`UserError`, and the documented error types of the
engine, plugins and settings) print one line to stderr and exit 2; they
never show a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("generate", "bench", "compare", "validate", "plugins", "serve", "remote", "watch")


class UserError(Exception):
    """A problem with what the user asked for; printed as one line."""


def build_parser() -> argparse.ArgumentParser:
    from console import __version__

    parser = argparse.ArgumentParser(
        prog="moe-console",
        description="Serve and compare Mixture-of-Experts models across accelerators.",
    )
    parser.add_argument("--version", action="version", version=f"moe-console {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"console.cli.{name}").add_parser(sub)
    return parser


def _user_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [UserError]
    for module, name in (
        ("console.engine.errors", "EngineError"),
        ("console.api.errors", "PluginError"),
        ("console.api.errors", "OptionError"),
        ("console.api.errors", "BackendError"),
        ("console.store", "StoreError"),
    ):
        try:
            types.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(types)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            from console.tui import run_app

            return run_app(args) or 0
        return args.run(args) or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except _user_error_types() as exc:
        print(f"moe-console: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
