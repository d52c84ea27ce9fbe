"""Accelerator descriptions registered by hardware plugins (stdlib only).

Every number is a :class:`Figure`: a value with its unit, its source and a tag
saying what kind of number it is. The console prints the tag and the source
beside the value (``moe-console compare --explain`` and ``--json`` show every
declared figure). :func:`spec_problems` lists what is wrong with a spec, one
message per figure; the host refuses a spec with problems (the plugin's other
specs and backends still load) and shows them in ``moe-console plugins``.

Units (the ``unit`` of each figure, exactly as written here):

============================  ==========  =========================================
field                         unit        what
============================  ==========  =========================================
``peak_tflops[fp4|fp8|bf16]`` ``TFLOPS``  dense (not sparse) peak of a float format
``peak_tflops[int8|int4]``    ``TOPS``    dense peak of an integer format
``hbm_gb``                    ``GB``      HBM capacity per chip (1e9 bytes)
``hbm_tbps``                  ``TB/s``    HBM bandwidth per chip
``scale_up_gbps``             ``GB/s``    scale-up link per chip (NVLink, UB, xGMI), as quoted
``scale_out_gbps``            ``GB/s``    scale-out network per chip (IB/RoCE NICs), one direction
``a2a_gbps``                  ``GB/s``    *effective* MoE all-to-all bandwidth per chip
``price_usd_per_hour``        ``USD/h``   price of one chip for one hour
``power_w``                   ``W``       board/module power (optional)
============================  ==========  =========================================

The all-to-all figure dominates wide expert-parallel decode. Give a measured
effective bandwidth (DeepEP-style low-latency dispatch/combine) with tag
``derived`` when you computed it from a benchmark. With **no measurement**, tag
it ``assumption`` and say in ``note`` how you estimated it (for example a
measured figure of a similar fabric scaled by the link ratio); the console then
labels every modeled figure of the chip "all-to-all assumed, not measured".

``calibration`` names the measured run whose efficiency factors the performance
model uses for the chip: one of :data:`CALIBRATIONS` (``None``: modeled by
analogy to the SGLang H100 fit and shown as a range over sensitivities).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Tag = Literal["spec", "announced", "derived", "assumption", "market", "measured"]

#: Every tag a figure may carry.
TAGS: tuple[str, ...] = ("spec", "announced", "derived", "assumption", "market", "measured")

#: Unit of each peak format: floats in TFLOPS, integers in TOPS.
PEAK_UNITS: dict[str, str] = {"fp4": "TFLOPS", "fp8": "TFLOPS", "bf16": "TFLOPS", "fp16": "TFLOPS",
                              "int8": "TOPS", "int4": "TOPS"}

#: Unit of every other figure of :class:`HardwareSpec`.
UNITS: dict[str, str] = {"hbm_gb": "GB", "hbm_tbps": "TB/s", "scale_up_gbps": "GB/s",
                         "scale_out_gbps": "GB/s", "a2a_gbps": "GB/s", "price_usd_per_hour": "USD/h",
                         "power_w": "W"}

#: Calibrations a spec may name, with the measured runs behind each (the
#: performance model's ``calibrations.toml``; a test keeps the two equal).
CALIBRATIONS: dict[str, str] = {
    "sglang-96xh100": "SGLang, DeepSeek-V3, 96 x H100 (PD, EP72), LMSYS blog 2025-05-05: NVIDIA GPUs on SGLang/vLLM",
    "cloudmatrix384-910c": "Huawei CloudMatrix384, DeepSeek-R1 INT8 on Ascend 910C, arXiv 2506.12708",
    "cann-950dt-v4flash": "Huawei CANN recipe, DeepSeek-V4-Flash on 16 x Ascend 950DT (offline, forced balance, MTP1)",
    "sglang-8xh100-v4flash": "SGLang cookbook, DeepSeek-V4-Flash on 8 x H100 (TP8 aggregated, W4A16 MoE)",
    "moreh-mi300x-vllm-eager": "Moreh, DeepSeek-R1 on AMD MI300X with vLLM on ROCm in eager mode (PD, DP8+EP8)",
}

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Figure:
    """A sourced number. ``tag``: ``spec`` (vendor datasheet), ``announced``
    (roadmap, not shipped), ``derived`` (computed from other figures, the
    ``note`` says how), ``assumption`` (no public source; the note says why),
    ``market`` (a dated market price such as a rental index) or ``measured``
    (a published measurement). ``date`` matters for prices (ISO date)."""

    value: float
    unit: str
    source: str
    tag: Tag = "spec"
    note: str = ""
    date: str = ""


@dataclass(frozen=True)
class HardwareSpec:
    """One accelerator chip (units in the module doc; check it with :func:`spec_problems`).

    ``peak_tflops`` maps a format (``"fp4"``, ``"fp8"``, ``"bf16"`` in TFLOPS;
    ``"int8"`` in TOPS) to its dense peak. ``a2a_gbps`` is the *measured
    effective* all-to-all bandwidth per chip used for expert-parallel
    dispatch/combine (not the link peak; see the module doc when there is no
    measurement). ``calibration`` names one of :data:`CALIBRATIONS` or is ``None``.
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

    def figures(self) -> dict[str, Figure]:
        """Every declared figure by name (``peak_<format>`` for the peaks)."""
        out: dict[str, Any] = {f"peak_{fmt}": fig for fmt, fig in dict(self.peak_tflops or {}).items()}
        for key in UNITS:
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


def _figure_problems(where: str, fig: Any, unit: str, *, zero_ok: bool = False) -> list[str]:
    if not isinstance(fig, Figure):
        return [f"{where} must be a console.api.Figure, got {type(fig).__name__}"]
    problems = []
    value = fig.value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        problems.append(f"{where} must be a positive number, got {value!r}")
    elif value < 0 or (value == 0 and not zero_ok):
        problems.append(f"{where} must be a {'number >= 0' if zero_ok else 'positive number'}, got {value!r}")
    if fig.unit != unit:
        problems.append(f"{where} must be in {unit}, got {fig.unit!r}")
    if fig.tag not in TAGS:
        problems.append(f"{where} has tag {fig.tag!r}; use one of {', '.join(TAGS)}")
    if not str(fig.source or "").strip():
        problems.append(f"{where} has no source (say where the number comes from)")
    return problems


def spec_problems(spec: Any) -> list[str]:
    """Everything wrong with ``spec``, one clear message per wrong figure
    (empty: the spec is valid). Never raises for a malformed spec."""
    if not isinstance(spec, HardwareSpec):
        return [f"expected a console.api.HardwareSpec, got {type(spec).__name__}"]
    name = spec.name if isinstance(spec.name, str) else repr(spec.name)
    prefix = f"hardware {name!r}: "
    problems = []
    if not isinstance(spec.name, str) or not _NAME.match(spec.name):
        problems.append("name must be lower-case letters, digits, '-' or '_' (it becomes a backend name)")
    if not isinstance(spec.display_name, str) or not spec.display_name.strip():
        problems.append("display_name is empty")
    peaks = spec.peak_tflops
    if not isinstance(peaks, dict) or not peaks:
        problems.append("declares no peak_tflops (give at least one dense peak, e.g. bf16)")
    else:
        for fmt, fig in peaks.items():
            unit = PEAK_UNITS.get(fmt)
            if unit is None:
                problems.append(f"peak_tflops[{fmt!r}]: unknown format; use {', '.join(PEAK_UNITS)}")
            else:
                problems += _figure_problems(f"peak_tflops[{fmt!r}]", fig, unit)
    for key, unit in UNITS.items():
        fig = getattr(spec, key)
        if fig is None and key == "power_w":
            continue
        problems += _figure_problems(key, fig, unit, zero_ok=key == "price_usd_per_hour")
    if spec.calibration is not None and spec.calibration not in CALIBRATIONS:
        problems.append(f"names unknown calibration {spec.calibration!r}; known: {', '.join(CALIBRATIONS)} "
                        "(or None: modeled by analogy)")
    return [prefix + p for p in problems]
