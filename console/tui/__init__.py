"""The Textual console (``moe-console`` with no subcommand).

:func:`run_app` builds the real dependencies (settings, plugin host, store)
and runs :class:`console.tui.app.ConsoleApp`; tests construct the app
directly with injected dependencies instead.
"""

from __future__ import annotations

import codecs
import functools
from typing import Any


def tolerate_bad_input_bytes() -> None:
    """Make Textual's terminal input decoder replace bytes that are not UTF-8
    (a stray byte typed or pasted becomes U+FFFD) instead of raising in its
    input thread, which ended the app. Textual's Linux driver builds the
    decoder with ``codecs.getincrementaldecoder("utf-8")()`` (strict); this
    gives it the same decoder with ``errors="replace"``. Idempotent."""
    try:
        from textual.drivers import linux_driver
    except ImportError:  # no POSIX driver on this platform
        return
    if getattr(linux_driver, "_moe_console_tolerant", False):
        return

    def getincrementaldecoder(encoding: str):
        return functools.partial(codecs.getincrementaldecoder(encoding), errors="replace")

    linux_driver.getincrementaldecoder = getincrementaldecoder
    linux_driver._moe_console_tolerant = True


def run_app(args: Any = None) -> int:
    """Open the console on the default backend (``local``: the built-in model,
    offline). Settings problems are shown as a notification at start; the
    console runs with the defaults for whatever was unusable. Returns the
    exit status: non-zero when the app ended on an error."""
    from console.tui.app import ConsoleApp

    tolerate_bad_input_bytes()
    app = ConsoleApp()
    result = app.run()
    return app.return_code or int(result or 0)


__all__ = ["run_app", "tolerate_bad_input_bytes"]
