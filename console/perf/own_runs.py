"""A user's own measured runs (a ``bench serve`` result) against the model, and fitted to it.

:func:`measured_rows` checks each measured level against the model (the same
:func:`~console.perf.validate.check` as ``validate``). :func:`calibrate_to`
fits ``eta``, ``overlap`` (and, for aggregated serving, the prefill MFU that
shares the chips) to them with :func:`~console.perf.fitting.fit`, the fitting
the shipped calibrations use, starting from the chip's own factors, and says
how far each factor moved and how the error changed.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Callable

from console.perf.benchfile import bench_records, read_bench_file
from console.perf.calibration import Factors
from console.perf.fitting import fit
from console.perf.hardware import Chip
from console.perf.ranges import point_factors
from console.perf.records import Record
from console.perf.validate import Row, check


def own_records(path: str | Path, model: str, settings: dict[str, Any] | None = None) -> list[Record]:
    return bench_records(read_bench_file(path), model, settings, where=str(path))


def measured_rows(path: str | Path, model: str, settings: dict[str, Any] | None,
                  resolve: Callable[[str], Chip]) -> list[Row]:
    """Every measured level of the file against the model."""
    return [check(r, resolve, {}) for r in own_records(path, model, settings)]


def _median_error(rows: list[Row]) -> float | None:
    errors = [abs(r.error) for r in rows if r.error is not None]
    return statistics.median(errors) if errors else None


def calibrate_to(path: str | Path, model: str, settings: dict[str, Any] | None,
                 resolve: Callable[[str], Chip]) -> dict[str, dict[str, Any]]:
    """``{hardware: {"before", "factors", "moved", "error_before", "error_after", "runs"}}``."""
    recs = [r for r in own_records(path, model, settings) if r.matched]
    out: dict[str, dict[str, Any]] = {}
    for hardware in dict.fromkeys(r.hardware for r in recs):
        mine = [r for r in recs if r.hardware == hardware]
        chip = resolve(hardware)
        before = point_factors(chip, model)
        start = {"eta": before.eta, "overlap": before.overlap, "mfu": before.mfu}
        values = fit(mine, start, ("eta", "overlap", "mfu"), chips=resolve)
        after = Factors(eta=values["eta"], overlap=values["overlap"], mfu=values["mfu"],
                        calibration="user", run=f"your run {Path(path).name}")
        rows_before = [check(r.__class__(**{**r.__dict__, "calibration": None}), resolve, {}) for r in mine]
        rows_after = [Row(r, "fitted", _predict(r, after, resolve), after) for r in mine]
        out[hardware] = {"before": before, "factors": after, "runs": len(mine),
                         "moved": {k: {"from": start[k], "to": values[k],
                                       "change": values[k] / start[k] - 1 if start[k] else None} for k in start},
                         "error_before": _median_error(rows_before), "error_after": _median_error(rows_after)}
    return out


def _predict(rec: Record, factors: Factors, resolve: Callable[[str], Chip]) -> float:
    from console.perf.fitting import predict

    return predict(rec, factors.eta, factors.overlap, factors.mfu, chips=resolve).value
