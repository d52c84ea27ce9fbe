"""What a backend is asked to do: a conversation and sampling settings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    """One chat turn."""

    role: Role
    content: str


@dataclass(frozen=True)
class Sampling:
    """Sampling settings. ``temperature == 0`` means greedy decoding.

    ``top_k == 0``, ``top_p == 1`` and ``min_p == 0`` disable those filters;
    ``seed`` makes a sampled run repeatable; ``stop`` lists strings that end
    the reply (not included in it).
    """

    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Request:
    """A chat completion request.

    ``want_routing`` asks a backend that can (``Capabilities.routing_stats``)
    to emit :class:`~console.api.events.RoutingStats` events as it decodes.
    """

    messages: tuple[Message, ...]
    sampling: Sampling = field(default_factory=Sampling)
    want_routing: bool = False
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
