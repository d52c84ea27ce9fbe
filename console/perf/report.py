"""Plain-text rows of a :class:`~console.perf.compare.Comparison` (for the CLI and the TUI).

Each function returns ``(columns, rows)`` of strings (``figure_table`` adds
footnotes) or a list of lines; no terminal styling. Ranges print as
``value [low-high]``. Every figure says what it is: the ``label`` row of the
figure table holds a footnote marker per column (``[1]``), the footnotes under
the table spell the labels out in full, so three backends fit ~120 columns.
"""

from __future__ import annotations

import textwrap
from typing import Any

from console.perf.compare import PRESS_HEADING, RATIOS, Comparison
from console.perf.ranges import Ranged

_ROWS = (
    ("tokens_per_s_per_chip", "throughput / chip", "{:,.0f} tok/s"),
    ("tpot_ms", "TPOT", "{:,.1f} ms"),
    ("tokens_per_s_per_user", "tok/s per user", "{:,.1f}"),
    ("ttft_ms", "TTFT", "{:,.0f} ms"),
    ("usd_per_m_output", "$ / M output tokens", "${:,.3f}"),
    ("usd_per_m_input", "$ / M input tokens", "${:,.3f}"),
)


def _num(fmt: str, value: float | None) -> str:
    return "n/a" if value is None else fmt.format(value)


def ranged(r: Ranged, fmt: str) -> str:
    """``value [low-high]`` (the range only when there is one)."""
    text = _num(fmt, r.value)
    if r.has_range:
        bare = fmt.replace(" tok/s", "").replace(" ms", "")
        text += f" [{_num(bare, r.low)}-{_num(bare, r.high)}]"
    return text


def headline(c: Comparison) -> str:
    w, d = c.workload, c.deployment
    load = f"{w.concurrency} seq/chip" if w.concurrency is not None else f"TPOT target {w.tpot_ms:g} ms"
    mode = "PD-disaggregated" if d.pd_disaggregated else "prefill and decode colocated"
    return (f"{c.profile.display_name} · prompt {w.prompt_tokens:,} · output {w.output_tokens:,} · "
            f"context {w.decode_context:,.0f} · {load} · {mode}, EP{d.ep} decode "
            f"(+{d.redundant_experts} redundant experts), attention {d.attention_dtype}")


#: Label of the ideal-bound rows of the figure table.
IDEAL_LABEL = "modeled (ideal): eta=1, full overlap, MFU=1 (a bound, not an estimate)"
_IDEAL_ROWS = (("tokens_per_s_per_chip", "throughput / chip", "{:,.0f} tok/s"),
               ("tpot_ms", "TPOT", "{:.1f} ms"), ("ttft_ms", "TTFT", "{:,.0f} ms"))


def figure_table(c: Comparison) -> tuple[list[str], list[list[str]], list[str]]:
    """``(columns, rows, notes)``: one column per backend with the modeled
    figures, the price, the label as a footnote marker and the ideal bound;
    ``notes`` are the footnotes (``"[1] modeled (calibrated to ...)"``), one
    per distinct label, which must be shown with the table."""
    names = list(c.results)
    columns = ["figure", *names]
    rows: list[list[str]] = [["hardware", *(c.results[n].chip.display_name for n in names)]]
    batch = []
    for n in names:
        p = c.results[n].point
        cell = f"{p.batch}"
        if c.workload.concurrency is not None and p.batch < c.workload.concurrency:
            cell += f" (HBM cap {p.max_batch})"
        if not p.tpot_target_met:
            cell += " (TPOT target not met)"
        batch.append(cell)
    rows.append(["batch / chip", *batch])
    for metric, title, fmt in _ROWS:
        if metric == "ttft_ms":
            title = f"TTFT ({c.workload.prompt_tokens:,}-token prompt)"
        rows.append([title, *(ranged(c.results[n].figure(metric), fmt) for n in names)])
    rows.append(["price / chip-hour", *((c.results[n].point.price.describe() if c.results[n].point.price else "n/a")
                                        for n in names)])
    labels = list(dict.fromkeys(c.results[n].label for n in names))
    rows.append(["label", *(f"[{labels.index(c.results[n].label) + 1}]" for n in names)])
    ideal = f"[{len(labels) + 1}]"
    for metric, title, fmt in _IDEAL_ROWS:
        rows.append([f"ideal {ideal}: {title}", *(fmt.format(c.results[n].ideal.metrics()[metric]) for n in names)])
    notes = [f"[{i}] {label}" for i, label in enumerate([*labels, IDEAL_LABEL], start=1)]
    if c.published:
        marks = {}
        cells = []
        for n in names:
            p = c.published.get(n)
            if p is None:
                cells.append("none published")
                continue
            mark = marks.setdefault(p.record.id, f"[m{len(marks) + 1}]")
            cells.append(f"{p.cell()} {mark}")
        rows.append(["published (not ours)", *cells])
        notes += [f"{mark} {c.published[n].note()}" for rid, mark in marks.items()
                  for n in names if n in c.published and c.published[n].record.id == rid][:len(marks)]
    return columns, rows, notes


def wrap_notes(notes: list[str], width: int = 120) -> list[str]:
    """Footnotes wrapped to ``width`` columns, continuation lines indented."""
    return [line for note in notes for line in textwrap.wrap(note, width, subsequent_indent="    ")]


def ratio_table(c: Comparison, target: str) -> tuple[list[str], list[list[str]]]:
    """Ratios target / baseline with ranges, and the press column."""
    columns = [f"{target} / {c.baseline}", "modeled [range]", PRESS_HEADING]
    press = c.press.get(target, {})
    rows = []
    for name, (_metric, title) in RATIOS.items():
        r = c.ratios[target][name]
        claim = press.get(name)
        rows.append([title, ranged(r, "{:.2f}"), claim["text"] if claim else ""])
    return columns, rows


def _ms(x: float) -> str:
    return f"{x:.1f}"


def explain_lines(c: Comparison) -> list[str]:
    """What drives each figure: per-op breakdown, bounds, capacity, prefill, residuals, sensitivities."""
    lines: list[str] = []
    for name, result in c.results.items():
        e = result.point.explain()
        s = e["step"]
        lines.append(f"{name} ({result.chip.display_name}), batch {s['batch']}, context {s['context']:,.0f}:")
        for op in s["ops"]:
            lines.append(f"  {op['name']:<20} {_ms(op['ms']):>7} ms  {op['bound']:<7} ({op['dtype']}, "
                         f"{op['gbytes']:.2f} GB, {op['tflop']:.2f} TFLOP)")
        lines.append(f"  compute / eta {s['eta']:.3f}  {_ms(s['compute_ms']):>7} ms")
        lines.append(f"  all-to-all          {_ms(s['a2a_ms']):>7} ms  (overlap {s['overlap']:.2f})")
        lines.append(f"  step                {_ms(s['step_ms']):>7} ms  {s['bound']}-bound")
        cap = e["capacity"]
        lines.append(f"  HBM {cap['hbm_gb']:g} GB: weights {cap['weights_gb']:.1f} GB + reserve {cap['reserve_gb']:g} GB,"
                     f" KV {cap['kv_mb_per_sequence']:.1f} MB/sequence -> at most {cap['max_batch']} sequences")
        pre = e["prefill"]
        lines.append(f"  prefill: {pre['gemm_gflop_per_token']:.1f} GFLOP GEMM ({pre['gemm_dtype']}) + "
                     f"{pre['attention_gflop_per_token']:.1f} GFLOP attention ({pre['attention_dtype']}) per token,"
                     f" MFU {e['factors']['mfu']:.3f}")
        lines.append("  declared figures:")
        for key, f in result.chip.figures.items():
            lines.append(f"    {key:<20} {f['value']:>9g} {f['unit']:<6} {f['tag']:<10} {f['source']}")
    if c.residuals:
        lines.append("calibration (measured runs vs this model):")
        for r in c.residuals:
            lines.append(f"  {r['record']:<32} {r['role']:<11} measured {r['measured']:>8,.0f}  "
                         f"modeled {r['modeled']:>8,.0f}  ({r['error']:+.1%})")
    for target, rows in c.sensitivity.items():
        lines.append(f"what drives {target} / {c.baseline} (sensitivity; * = part of the range):")
        lines.append(f"  {'scenario':<26} {'thr/chip':>8} {'TPOT':>6} {'TTFT':>6} {'$/M out':>8}")
        for row in rows:
            r = row.ratios
            cells = [f"{r[k]:.2f}" if r[k] is not None else "n/a"
                     for k in ("throughput_per_chip", "tpot", "ttft", "cost_per_m_output")]
            mark = "*" if row.in_range and row.id != "baseline" else " "
            lines.append(f" {mark}{row.id:<26} {cells[0]:>8} {cells[1]:>6} {cells[2]:>6} {cells[3]:>8}  {row.text}")
    return lines


def render_wrapped(columns: list[str], rows: list[list[str]], width: int = 120) -> str:
    """:func:`render`, split into blocks of columns (each repeating the first) so
    that no line is wider than ``width``, whatever the number of columns."""
    first = max(len(r[0]) for r in [columns, *rows])
    blocks, current, used = [], [], first
    for i in range(1, len(columns)):
        w = max(len(r[i]) for r in [columns, *rows])
        if current and used + 2 + w > width:
            blocks.append(current)
            current, used = [], first
        current.append(i)
        used += 2 + w
    blocks.append(current)
    out = [render([columns[0], *(columns[i] for i in b)], [[r[0], *(r[i] for i in b)] for r in rows])
           for b in blocks if b]
    return "\n\n".join(out)


def render(columns: list[str], rows: list[list[str]]) -> str:
    """An aligned plain-text table."""
    table = [columns, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def summary_dict(c: Comparison, explain: bool = False) -> dict[str, Any]:
    """``c.as_dict`` with the headline (JSON output)."""
    return {"headline": headline(c), **c.as_dict(explain=explain)}
