"""The Backend base class: what every backend plugin implements."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, AsyncIterator, ClassVar, Literal

from console.api.events import Event
from console.api.options import Option, resolve_options
from console.api.request import Request

Kind = Literal["local", "modeled", "remote"]


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
    ``stream`` call.

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

    @abc.abstractmethod
    def stream(self, request: Request) -> AsyncIterator[Event]:
        """Yield ``Started``, then ``TextDelta``/``RoutingStats``, then one
        ``Finished`` or ``Failed``. Usually written as an ``async def`` generator."""

    async def aclose(self) -> None:
        """Release resources (connections, loaded models). Optional."""
