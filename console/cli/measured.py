"""Text of ``compare --measured`` and ``compare --calibrate`` (a user's bench-serve run).

The checking and fitting are :mod:`console.perf.own_runs`; this module resolves
the run's hardware through the plugin host and formats the result.
"""

from __future__ import annotations

from typing import Any, Callable

from console.perf.fitting import BOUNDS, at_bounds
from console.perf.own_runs import calibrate_to, measured_rows

__all__ = ["calibrate_to", "calibration_lines", "chip_resolver", "measured_lines", "measured_rows"]


def chip_resolver(host: Any) -> Callable[[str], Any]:
    """Hardware name -> chip: a registered plugin's first, else the model's reference chips."""
    from console.perf import PerfDataError, reference_chip
    from console.perf.selection import modeled_hardware

    chips = {name: cls.perf_chip for name, cls in modeled_hardware(host).items()}

    def resolve(name: str) -> Any:
        if name in chips:
            return chips[name]
        try:
            return reference_chip(name)
        except PerfDataError:
            raise PerfDataError(f"hardware {name!r} is not registered by any plugin; "
                                f"known: {', '.join(sorted(chips))}") from None

    return resolve


def measured_lines(rows: list[Any]) -> list[str]:
    """The measured column beside the model's figure at the same conditions, with its error."""
    from console.perf.report import render
    from console.perf.validate import measured_label

    lines = []
    body = []
    for r in rows:
        unit = "TPOT ms" if r.record.metric == "tpot_ms" else "out tok/s/chip"
        if r.modeled is None:
            body.append([r.record.id, r.record.hardware, unit, f"{r.record.measured:,.1f}", "-", "-"])
            lines.append(f"  {r.record.id}: not modeled: {r.why}")
        else:
            body.append([r.record.id, r.record.hardware, unit, f"{r.record.measured:,.1f}", f"{r.modeled:,.1f}",
                         f"{r.error:+.0%}"])
    head = ["your run (measured)", "hardware", "metric", "measured", "modeled", "model error"]
    labels = sorted({measured_label(r.record) for r in rows})
    return ["measured figures of your run beside the model at the same conditions:", render(head, body),
            *(f"  {label}" for label in labels), *lines]


def calibration_lines(calibrated: dict[str, dict[str, Any]]) -> list[str]:
    """How far the fit moved each factor, and the error before and after."""
    lines = []
    for hardware, c in calibrated.items():
        moved = ", ".join(f"{k} {m['from']:.3f} -> {m['to']:.3f}" + (f" ({m['change']:+.0%})" if m["change"] is not None
                                                                    else "")
                          for k, m in c["moved"].items())
        before = "n/a" if c["error_before"] is None else f"{c['error_before']:.0%}"
        after = "n/a" if c["error_after"] is None else f"{c['error_after']:.0%}"
        lines.append(f"calibrated {hardware} to your measured run ({c['runs']} figures): {moved}; "
                     f"median error {before} -> {after}. {hardware} is modeled with these factors above.")
        edges = at_bounds({k: m["to"] for k, m in c["moved"].items()}, c["moved"])
        if edges:
            lines.append(f"  warning: {', '.join(edges)} ended on the edge of its range "
                         f"({', '.join(f'{k} in [{BOUNDS[k][0]:g}, {BOUNDS[k][1]:g}]' for k in edges)}): the model "
                         f"cannot reach these figures on {hardware}; check the hardware, chip count and serving "
                         "setup declared for the run (a run on another machine gives meaningless factors)")
    return lines
