"""Events a backend's ``stream`` yields, in order.

A stream is ``Started``, then any number of ``TextDelta`` and ``RoutingStats``,
then exactly one of ``Finished`` or ``Failed``. All are frozen dataclasses.

Time: every event has ``at``, seconds since the request was accepted by the
backend, on the clock named by ``clock``:

* ``"measured"``: ``time.monotonic()`` read where the token was produced
  (never where it is drawn);
* ``"modeled"``: seconds predicted by a performance model for the target
  hardware; the backend's ``Timing.label`` names the model and calibration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

Clock = Literal["measured", "modeled"]
FinishReason = Literal["stop", "length", "cancelled"]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Timing:
    """Latency of one reply, in seconds.

    ``ttft_s``: request accepted -> first token; split into ``queue_s`` and
    ``prefill_s``. ``inter_token_s``: the gaps between consecutive tokens.
    ``decode_s``: first token -> last token. ``e2e_s``: the whole reply.
    ``label`` says where the numbers come from, e.g. ``"measured"`` or
    ``"modeled (calibrated to SGLang 96xH100, eta=0.37)"``.
    """

    ttft_s: float
    e2e_s: float
    inter_token_s: tuple[float, ...] = ()
    queue_s: float = 0.0
    prefill_s: float = 0.0
    decode_s: float = 0.0
    clock: Clock = "measured"
    label: str = "measured"

    @property
    def decode_tokens_per_s(self) -> float:
        n = len(self.inter_token_s)
        return n / self.decode_s if self.decode_s > 0 and n else 0.0


@dataclass(frozen=True)
class Cost:
    """What a reply cost, in US dollars, and the price it was computed from.

    ``usd_per_m_input`` / ``usd_per_m_output`` are the rates per million
    tokens for this backend; ``input_usd`` / ``output_usd`` this reply's share.
    ``price_date`` is the date of the price (ISO), ``label`` its provenance.
    """

    input_usd: float
    output_usd: float
    usd_per_m_input: float
    usd_per_m_output: float
    price_usd_per_chip_hour: float
    price_date: str = ""
    label: str = ""

    @property
    def total_usd(self) -> float:
        return self.input_usd + self.output_usd


@dataclass(frozen=True)
class Started:
    request_id: str
    backend: str
    model: str
    prompt_tokens: int
    at: float = 0.0
    clock: Clock = "measured"


@dataclass(frozen=True)
class TextDelta:
    """New reply text. ``text`` is always whole characters (a multi-byte
    character split across tokens is held back until complete)."""

    text: str
    token_ids: tuple[int, ...] = ()
    at: float = 0.0
    clock: Clock = "measured"


@dataclass(frozen=True)
class RoutingStats:
    """Experts chosen for one decoded token: ``experts[i]`` are the expert
    indices picked in the i-th MoE layer (``layers[i]`` is its layer index).

    ``hash_layers`` lists the layer indices (a subset of ``layers``) whose
    experts come from a fixed table indexed by the token id (DeepSeek-V4's
    hash-routed first layers) rather than from a learned router: their counts
    show which tokens were seen, not what the router preferred. Empty when
    every layer is router-chosen (or the backend does not say)."""

    layers: tuple[int, ...]
    experts: tuple[tuple[int, ...], ...]
    n_routed_experts: int
    at: float = 0.0
    clock: Clock = "measured"
    hash_layers: tuple[int, ...] = ()


@dataclass(frozen=True)
class Finished:
    reason: FinishReason
    usage: Usage
    timing: Timing
    cost: Cost | None = None
    at: float = 0.0
    clock: Clock = "measured"


@dataclass(frozen=True)
class Failed:
    """The request failed. ``error`` is one readable line; ``partial_text`` is
    what was produced before the failure (kept by the console)."""

    error: str
    partial_text: str = ""
    usage: Usage = field(default_factory=Usage)
    at: float = 0.0
    clock: Clock = "measured"


Event = Union[Started, TextDelta, RoutingStats, Finished, Failed]
