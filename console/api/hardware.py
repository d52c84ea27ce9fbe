"""Accelerator descriptions registered by hardware plugins.

Every number is a :class:`Figure`: a value with its unit, its source and a tag
saying what kind of number it is. The console prints the tag beside the value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Tag = Literal["spec", "announced", "derived", "assumption", "market"]


@dataclass(frozen=True)
class Figure:
    """A sourced number. ``tag``: ``spec`` (vendor datasheet), ``announced``
    (roadmap, not shipped), ``derived`` (computed from other figures, the
    ``note`` says how), ``assumption`` (no public source; the note says why)
    or ``market`` (a dated market price such as a rental index).
    ``date`` matters for prices (ISO date)."""

    value: float
    unit: str
    source: str
    tag: Tag = "spec"
    note: str = ""
    date: str = ""


@dataclass(frozen=True)
class HardwareSpec:
    """One accelerator chip.

    ``peak_tflops`` maps a dtype (``"fp4"``, ``"fp8"``, ``"int8"``, ``"bf16"``)
    to its dense peak. ``a2a_gbps`` is the *measured effective* all-to-all
    bandwidth per chip used for expert-parallel dispatch/combine (not the link
    peak). ``calibration`` names the measured run whose efficiency factors the
    performance model should use for this chip (``None``: by analogy, shown as
    a range).
    """

    name: str
    display_name: str
    vendor: str
    peak_tflops: dict[str, Figure]
    hbm_gb: Figure
    hbm_tbps: Figure
    scale_up_gbps: Figure
    scale_out_gbps: Figure
    a2a_gbps: Figure
    price_usd_per_hour: Figure
    power_w: Figure | None = None
    calibration: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
