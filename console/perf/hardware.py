"""Chips as the performance model sees them, and the reference chips of ``chips.toml``.

A :class:`Chip` is plain numbers (the host converts a plugin's ``HardwareSpec``
into one; ``console.perf`` never imports the plugin API). ``figures`` keeps, for
display, every declared figure as a plain record ``{"value", "unit", "tag",
"source", "note", "date"}`` (the fields of ``console.api.Figure``, the one figure
class; tags spec / announced / derived / assumption / market / measured).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from console.perf.datafiles import PerfDataError, data, require, table


@dataclass(frozen=True)
class A2A:
    """Effective all-to-all bandwidth per chip (GB/s) for dispatch and combine."""

    dispatch_gbps: float
    combine_gbps: float
    kind: str = "measured"
    source: str = ""
    name: str = ""

    def scaled(self, factor: float) -> A2A:
        return dataclasses.replace(self, dispatch_gbps=self.dispatch_gbps * factor,
                                   combine_gbps=self.combine_gbps * factor,
                                   source=f"{self.source} x {factor:g}", kind="assumption",
                                   name=f"{self.name} x{factor:g}")


def figure(value: float, unit: str, tag: str, source: str = "", note: str = "", date: str = "") -> dict[str, Any]:
    """One declared figure as the plain record :attr:`Chip.figures` holds."""
    return {"value": float(value), "unit": unit, "tag": tag, "source": source, "note": note, "date": date}


@dataclass(frozen=True)
class Chip:
    """One accelerator: dense peaks (TFLOPS per dtype), HBM, all-to-all, price.

    ``calibration`` names a calibration (``calibrations.toml``) measured on this
    hardware, or is ``None``: the chip is then modeled by analogy, with ranges.
    """

    name: str
    display_name: str
    peak_tflops: Mapping[str, float]
    hbm_gb: float
    hbm_tbps: float
    a2a: A2A
    price_usd_per_hour: float | None = None
    price_date: str = ""
    price_source: str = ""
    price_kind: str = ""
    calibration: str | None = None
    figures: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    scale_up_gbps: float | None = None
    scale_out_gbps: float | None = None

    @property
    def a2a_assumed(self) -> bool:
        """Whether the all-to-all figure is an assumption rather than a measurement."""
        return self.a2a.kind == "assumption"

    def __post_init__(self) -> None:
        if not self.peak_tflops or any(v <= 0 for v in self.peak_tflops.values()):
            raise PerfDataError(f"chip {self.name!r}: peak_tflops must be positive")
        if self.hbm_gb <= 0 or self.hbm_tbps <= 0:
            raise PerfDataError(f"chip {self.name!r}: HBM size and bandwidth must be positive")
        if self.a2a.dispatch_gbps <= 0 or self.a2a.combine_gbps <= 0:
            raise PerfDataError(f"chip {self.name!r}: all-to-all bandwidth must be positive")

    def with_peaks(self, peaks: Mapping[str, float]) -> Chip:
        """A copy whose peaks for the dtypes in ``peaks`` are replaced."""
        merged = {**self.peak_tflops, **{k: v for k, v in peaks.items() if k in self.peak_tflops}}
        return dataclasses.replace(self, peak_tflops=merged)

    def with_a2a(self, a2a: A2A) -> Chip:
        return dataclasses.replace(self, a2a=a2a)


def a2a_record(name: str) -> A2A:
    """All-to-all entry ``name`` of ``a2a.toml``."""
    entry = table("a2a.toml", name)
    where = f"a2a.toml [{name}]"
    return A2A(float(require(entry, "dispatch_gbps", where)), float(require(entry, "combine_gbps", where)),
               entry.get("kind", "measured"), entry.get("source", ""), name)


def reference_chip_names() -> list[str]:
    return sorted(data("chips.toml"))


def reference_chip(name: str) -> Chip:
    """Reference chip ``name`` of ``chips.toml``, priced from ``prices.toml`` when listed."""
    entry = table("chips.toml", name)
    where = f"chips.toml [{name}]"
    price = data("prices.toml").get(name, {})
    kind, source = entry.get("kind", "spec"), entry.get("source", "")
    a2a = a2a_record(require(entry, "a2a", where))
    figures: dict[str, Any] = {
        f"peak_{dtype}": figure(v, "TOPS" if dtype.startswith("int") else "TFLOPS", kind, source)
        for dtype, v in require(entry, "peak_tflops", where).items()
    }
    figures["hbm_gb"] = figure(entry["hbm_gb"], "GB", kind, source)
    figures["hbm_tbps"] = figure(entry["hbm_tbps"], "TB/s", kind, source)
    for key in ("scale_up_gbps", "scale_out_gbps"):
        if key in entry:
            figures[key] = figure(entry[key], "GB/s", kind, source)
    figures["a2a_dispatch_gbps"] = figure(a2a.dispatch_gbps, "GB/s", a2a.kind, a2a.source)
    figures["a2a_combine_gbps"] = figure(a2a.combine_gbps, "GB/s", a2a.kind, a2a.source)
    return Chip(
        name=name,
        display_name=entry.get("display_name", name),
        peak_tflops={k: float(v) for k, v in entry["peak_tflops"].items()},
        hbm_gb=float(require(entry, "hbm_gb", where)),
        hbm_tbps=float(require(entry, "hbm_tbps", where)),
        a2a=a2a,
        price_usd_per_hour=price.get("usd_per_hour"),
        price_date=str(price.get("date", "")),
        price_source=price.get("source", ""),
        price_kind=price.get("kind", ""),
        calibration=entry.get("calibration"),
        figures=figures,
        scale_up_gbps=float(entry["scale_up_gbps"]) if "scale_up_gbps" in entry else None,
        scale_out_gbps=float(entry["scale_out_gbps"]) if "scale_out_gbps" in entry else None,
    )
