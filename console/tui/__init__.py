"""The Textual console (``moe-console`` with no subcommand).

:func:`run_app` builds the real dependencies (settings, plugin host, store)
and runs :class:`console.tui.app.ConsoleApp`; tests construct the app
directly with injected dependencies instead.
"""

from __future__ import annotations

from typing import Any


def run_app(args: Any = None) -> int:
    """Open the console on the default backend (``local``: the built-in model,
    offline). Settings problems are shown as a notification at start; the
    console runs with the defaults for whatever was unusable."""
    from console.tui.app import ConsoleApp

    app = ConsoleApp()
    result = app.run()
    return int(result or 0)


__all__ = ["run_app"]
