"""The Backend base class: what every backend plugin implements."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, AsyncIterator, ClassVar, Literal, get_args

from console.api.events import Event
from console.api.options import Option, resolve_options
from console.api.request import Request

Kind = Literal["local", "modeled", "remote"]
#: The kinds a backend may declare (``BackendInfo.kind``).
BACKEND_KINDS: tuple[str, ...] = get_args(Kind)


@dataclass(frozen=True)
class BackendInfo:
    """Who a backend is. ``name`` is unique and stable (used in settings,
    CLI flags and stored conversations); ``kind`` is ``local`` (runs here,
    measured), ``modeled`` (timings from a performance model) or ``remote``
    (a server elsewhere). ``hardware`` and ``model`` are for display."""

    name: str
    display_name: str
    kind: Kind
    hardware: str = ""
    model: str = ""
    description: str = ""


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do beyond streaming text."""

    cancel: bool = True
    routing_stats: bool = False
    modeled_timings: bool = False
    cost: bool = False


class Backend(abc.ABC):
    """A source of streamed chat replies.

    Subclasses set the class attributes ``info`` (required), ``capabilities``
    and ``options``, and implement :meth:`stream`. The host constructs a
    backend with keyword options already validated against ``options``;
    ``self.settings`` holds the resolved values (defaults included).

    Construction must be cheap; load models or connect lazily on the first
    ``stream`` call. ``__init__`` may raise only :class:`~console.api.OptionError`
    (a bad option: the base class does it) or
    :class:`~console.api.BackendError` (e.g. a file option that names nothing);
    anything else marks the plugin failed. "Before streaming" means before the
    first event: a problem found then is a lone ``Failed`` event.

    ``context_window``: the most tokens (prompt + reply) one request may hold,
    or ``None`` when unknown; the console shows the conversation's use of it.
    Override the property when the backend knows it (cheaply: no model load).

    Concurrency: one instance serves every conversation, so ``stream`` may run
    several times at once; keep per-request state in the generator, not on
    ``self``. Never block the event loop (run blocking work with
    ``asyncio.to_thread``).

    Cancellation: the consumer stops a reply by cancelling the task that
    iterates the stream or by calling ``aclose()`` on it. A backend must then
    stop producing promptly (between tokens) and free what it holds in a
    ``finally`` block. Errors: raise :class:`~console.api.BackendError` or
    yield :class:`~console.api.Failed`; the host turns any other exception
    into ``Failed`` and marks the plugin's error, keeping the console alive.
    """

    info: ClassVar[BackendInfo]
    capabilities: ClassVar[Capabilities] = Capabilities()
    options: ClassVar[tuple[Option, ...]] = ()

    def __init__(self, **settings: Any) -> None:
        self.settings: dict[str, Any] = resolve_options(self.options, settings)

    @property
    def context_window(self) -> int | None:
        """Tokens one request may hold (prompt + reply); ``None``: unknown."""
        return None

    def secret(self, option: str) -> str | None:
        """The secret that the ``secret`` option ``option`` points at (read from
        the environment variable it names; ``None`` when unset). Never log it."""
        declared = {o.name: o for o in self.options}
        return declared[option].secret(self.settings[option])

    @abc.abstractmethod
    def stream(self, request: Request) -> AsyncIterator[Event]:
        """Yield ``Started``, then ``TextDelta``/``RoutingStats``, then one
        ``Finished`` or ``Failed``. Usually written as an ``async def`` generator."""

    async def aclose(self) -> None:
        """Release resources (connections, loaded models). Optional."""
