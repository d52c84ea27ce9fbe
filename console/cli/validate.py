"""``moe-console validate``: the performance model against every measured run.

For each shipped run (``console/perf/data/runs.toml``), or the runs of
``--runs FILE`` (a TOML file in the same format, or a ``bench serve --json``
result), the model's figure under the run's conditions, the measured one and
the error, which runs the factors were fitted on, and a summary: median and
worst absolute error per hardware family and per model, held-out runs apart.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from console.cli import UserError

WIDTH = 120


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "validate",
        help="hold the performance model against every published measured run",
        description="Model every measured run under its own conditions and print the model's error, "
                    "fitted and held-out runs apart, with a summary per hardware family and model.")
    p.add_argument("--runs", default=None, metavar="FILE",
                   help="runs to check instead of the shipped ones: a TOML file in the format of "
                        "console/perf/data/runs.toml, or a `moe-console bench serve --json` result")
    p.add_argument("--model", default="deepseek-v3",
                   help="target model of a bench-serve result (default %(default)s)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                   help="serving setup of a bench-serve result, e.g. --set ep=8 --set moe_parallel=ep "
                        "(default: tensor parallel over all of its chips)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(run=run)


def parse_settings(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs with numbers and booleans typed (shared with ``compare``)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set expects KEY=VALUE, e.g. ep=8 (got {item!r})")
        value: Any = raw.strip()
        for cast in (int, float):
            try:
                value = cast(value)
                break
            except ValueError:
                pass
        if value in ("true", "false"):
            value = value == "true"
        out[key.strip()] = value
    return out


def load_runs(path: str | None, model: str, settings: dict[str, Any]) -> list[Any]:
    """The records to validate: shipped, a runs TOML file or a bench-serve JSON file."""
    from console import perf
    from console.perf.benchfile import bench_records, read_bench_file
    from console.perf.records import records, records_file

    if path is None:
        return records()
    perf.load_profile(model)
    if str(path).endswith(".json"):
        return bench_records(read_bench_file(path), model, settings, where=str(path))
    return records_file(path)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.0%}"


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def table_lines(rows: list[Any]) -> list[str]:
    """The per-run table (plain text, <= 120 columns)."""
    from console.perf.report import render

    unit = {"output_tok_s_per_chip": "out tok/s", "tpot_ms": "TPOT ms", "prefill_tok_s_per_chip": "prefill"}
    body = [[r.record.id[:30], r.status, r.record.hardware, r.record.model.replace("deepseek-", ""),
             unit[r.record.metric], _num(r.record.measured), _num(r.modeled), _pct(r.error),
             (r.factors.calibration if r.factors else "")[:18]] for r in rows if r.status != "unmatched"]
    cols = ["run", "status", "hardware", "model", "metric", "measured", "modeled", "error", "factors from"]
    return render(cols, body).splitlines()


def summary_lines(summ: dict[str, Any]) -> list[str]:
    def fmt(s: dict[str, Any]) -> str:
        if not s["runs"]:
            return "no runs"
        return f"median {s['median']:.0%}, worst {s['worst']:.0%} over {s['runs']} runs"

    t = summ["targets"]
    lines = [f"held-out: {fmt(summ['held_out'])} (targets: median <= {t['median']:.0%} "
             f"{'met' if t['median_met'] else 'NOT met'}, worst <= {t['worst']:.0%} "
             f"{'met' if t['worst_met'] else 'NOT met'})",
             f"fitted: {fmt(summ['fitted'])}; all scored: {fmt(summ['all_scored'])}; "
             f"not matched: {summ['unmatched']}",
             "held-out by hardware family:"]
    lines += [f"  {k:<22} {fmt(v)}" for k, v in summ["held_out_by_family"].items()]
    lines.append("held-out by model:")
    lines += [f"  {k:<22} {fmt(v)}" for k, v in summ["held_out_by_model"].items()]
    return lines


def run(args: argparse.Namespace) -> int:
    import textwrap

    from console import perf
    from console.perf.validate import summary, validate

    try:
        rows = validate(load_runs(args.runs, args.model, parse_settings(args.settings)))
        summ = summary(rows)
    except perf.PerfDataError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps({"runs": [r.as_dict() for r in rows], "summary": summ}, indent=2))
        return 0
    print("\n".join(table_lines(rows)))
    unmatched = [r for r in rows if r.status == "unmatched"]
    if unmatched:
        print("\nnot matched (listed, never scored):")
        for r in unmatched:
            print("\n".join(textwrap.wrap(f"{r.record.id}: {r.why}", WIDTH, initial_indent="  ",
                                          subsequent_indent="      ")))
    print()
    print("\n".join(summary_lines(summ)))
    return 0
