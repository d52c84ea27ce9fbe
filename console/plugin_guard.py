"""The guard around every backend stream, and one readable line for what plugin code raises.

:func:`guarded_stream` yields a backend's events up to and including its one ``Finished`` or
``Failed``. ``BackendError`` becomes ``Failed``; any other exception, a non-event, or a stream
that ends without a final event becomes ``Failed`` with the text so far, and ``on_crash`` is
told (the host marks the plugin failed). Cancelling the task or calling ``aclose()`` closes the
backend's generator (its ``finally`` runs).
"""

from __future__ import annotations

import os
from typing import AsyncIterator, Callable, get_args

from console.api import (
    Backend, BackendError, Event, Failed, Finished, OptionError, PluginError, Request, Started, TextDelta, Usage,
)

_EVENT_TYPES = get_args(Event)


def describe_error(exc: BaseException) -> str:
    """One readable line for an exception raised by plugin code."""
    if isinstance(exc, SyntaxError):
        where = f" ({os.path.basename(exc.filename or '?')}, line {exc.lineno})"
        return f"SyntaxError: {exc.msg}{where}"
    if isinstance(exc, (PluginError, BackendError, OptionError)):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split()) or type(exc).__name__


async def guarded_stream(backend: Backend, request: Request, *,
                         on_crash: Callable[[str], None] = lambda error: None) -> AsyncIterator[Event]:
    """The backend's events, guarded (see the module doc)."""
    texts: list[str] = []
    usage, error, inner = Usage(), "", None
    at, clock = 0.0, "measured"  # the Failed we may add continues the backend's clock
    try:
        inner = backend.stream(request)
        async for event in inner:
            if not isinstance(event, _EVENT_TYPES):
                raise PluginError(f"stream yielded {type(event).__name__}, not a console.api event")
            at, clock = max(at, event.at), event.clock
            if isinstance(event, Started):
                usage = Usage(event.prompt_tokens, usage.completion_tokens)
            elif isinstance(event, TextDelta):
                texts.append(event.text)
                usage = Usage(usage.prompt_tokens, usage.completion_tokens + len(event.token_ids))
            yield event
            if isinstance(event, (Finished, Failed)):
                return
        raise PluginError("stream ended without a Finished or Failed event")
    except BackendError as exc:
        error = describe_error(exc)
    except Exception as exc:  # noqa: BLE001 - plugin code, isolated
        error = describe_error(exc)
        on_crash(error)
    finally:
        if inner is not None and hasattr(inner, "aclose"):
            await inner.aclose()
    yield Failed(error=error, partial_text="".join(texts), usage=usage, at=at, clock=clock)
