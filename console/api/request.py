"""What a backend is asked to do: a conversation and sampling settings.

:class:`Sampling` carries the one rule for every sampling field
(:data:`SAMPLING_RULES`): the settings file, the TUI's sampling form, the
command line and every backend see the same bounds, because a ``Sampling``
that breaks them cannot be built (:class:`SamplingError` names the field).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    """One chat turn."""

    role: Role
    content: str


class SamplingError(ValueError):
    """A sampling field is out of its range. ``field`` names it, ``rule`` says
    what it must be (``"must be in (0, 1]"``), ``value`` is what was given.
    ``str()`` is ``"<field> <rule>, got <value>"``."""

    def __init__(self, field: str, rule: str, value: Any) -> None:
        self.field, self.rule, self.value = field, rule, value
        super().__init__(f"{field} {rule}, got {value!r}")


@dataclass(frozen=True)
class SamplingRule:
    """The range of one sampling field: ``kind`` is ``"int"``, ``"float"``,
    ``"seed"`` (a non-negative int or ``None``) or ``"stops"`` (strings).
    Bounds are inclusive unless ``low_open``."""

    kind: str
    rule: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def check(self, name: str, value: Any) -> Any:
        """``value`` normalised (int, float, tuple of str, None), or :class:`SamplingError`."""
        if self.kind == "stops":
            if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(
                    isinstance(v, str) for v in value):
                raise SamplingError(name, self.rule, value)
            return tuple(value)
        if self.kind == "seed" and value is None:
            return None
        integer = self.kind in ("int", "seed")
        number_types = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, number_types):
            raise SamplingError(name, self.rule, value)
        if not integer and not math.isfinite(value):
            raise SamplingError(name, self.rule, value)
        low_bad = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        high_bad = self.high is not None and value > self.high
        if low_bad or high_bad:
            raise SamplingError(name, self.rule, value)
        return int(value) if integer else float(value)

    def parse_text(self, name: str, text: str) -> Any:
        """The value typed in a form or on a command line (``""`` is ``None`` for a seed)."""
        raw = text.strip()
        if self.kind == "seed" and raw == "":
            return None
        if self.kind == "stops":
            return self.check(name, tuple(s for s in raw.split("\n") if s))
        try:
            value: Any = int(raw) if self.kind in ("int", "seed") else float(raw)
        except ValueError:
            raise SamplingError(name, self.rule, raw) from None
        return self.check(name, value)


#: One rule per :class:`Sampling` field, in form order.
SAMPLING_RULES: dict[str, SamplingRule] = {
    "temperature": SamplingRule("float", "must be a finite number >= 0 (0 = greedy)", low=0.0),
    "top_p": SamplingRule("float", "must be in (0, 1]", low=0.0, high=1.0, low_open=True),
    "top_k": SamplingRule("int", "must be an integer >= 0 (0 = off)", low=0),
    "min_p": SamplingRule("float", "must be in [0, 1] (0 = off)", low=0.0, high=1.0),
    "repetition_penalty": SamplingRule("float", "must be a finite number > 0 (1 = off)", low=0.0, low_open=True),
    "max_tokens": SamplingRule("int", "must be at least 1", low=1),
    "seed": SamplingRule("seed", "must be an integer >= 0 (none: a random seed)", low=0, high=2**64 - 1),
    "stop": SamplingRule("stops", "must be a list of strings"),
}


def check_sampling_field(name: str, value: Any) -> Any:
    """Validate one field of :class:`Sampling`; returns the normalised value.

    Raises :class:`SamplingError` (a ``ValueError``); ``KeyError`` for a name
    that is not a sampling field."""
    return SAMPLING_RULES[name].check(name, value)


@dataclass(frozen=True)
class Sampling:
    """Sampling settings. ``temperature == 0`` means greedy decoding.

    ``top_k == 0``, ``top_p == 1`` and ``min_p == 0`` disable those filters;
    ``seed`` makes a sampled run repeatable; ``stop`` lists strings that end
    the reply (not included in it). Every field is checked against
    :data:`SAMPLING_RULES` when the object is made: a bad value raises
    :class:`SamplingError` naming the field.
    """

    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, rule in SAMPLING_RULES.items():
            object.__setattr__(self, name, rule.check(name, getattr(self, name)))


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
