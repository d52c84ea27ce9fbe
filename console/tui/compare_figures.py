"""Figures of the compare view, as plain rows (testable without an app).

:func:`figure_rows` turns one ``CompareResult`` into ``(name, value)`` rows;
:func:`workload_table` builds the modeled workload table of the chosen
backends' hardware with ``console.perf.selection.build_comparison`` (the code of
``moe-console compare``, without its argument parsing).
"""

from __future__ import annotations

from console.metrics_series import percentile
from console.tui.widgets import format as fmt


def figure_rows(result) -> list[tuple[str, str]]:
    """TTFT, decode rate, ITL p50/p95, e2e, tokens and cost of one result."""
    t, u, c = result.timing, result.usage, result.cost
    rows = [("status", result.status)]
    if t is not None:
        rows += [
            ("TTFT", fmt.ms(t.ttft_s)),
            ("decode tok/s", fmt.rate(t.decode_tokens_per_s or None)),
            ("ITL p50", fmt.ms(percentile(sorted(t.inter_token_s), 50))),
            ("ITL p95", fmt.ms(percentile(sorted(t.inter_token_s), 95))),
            ("end-to-end", fmt.ms(t.e2e_s)),
        ]
    if u is not None:
        rows.append(("tokens in/out", f"{u.prompt_tokens} / {u.completion_tokens}"))
    if c is not None:
        rows += [
            ("$/M in · out", f"{fmt.per_m(c.usd_per_m_input)} · {fmt.per_m(c.usd_per_m_output)}"),
            ("this reply", fmt.usd(c.total_usd)),
            ("price", f"${c.price_usd_per_chip_hour:.2f}/chip-h" + (f" ({c.price_date})" if c.price_date else "")),
        ]
    return rows


#: The modeled workload of the compare view unless the user types another
#: (the defaults of ``moe-console compare``).
WORKLOAD_DEFAULTS = {"prompt_tokens": 2000, "output_tokens": 500, "concurrency": 128, "context": 2000}


def workload_table(host, names: list[str], workload: dict[str, int] | None = None,
                   ) -> tuple[list[str], list[list[str]], str]:
    """``(columns, rows, note)``: the modeled workload table of ``moe-console
    compare`` (the same ``build_comparison`` and ``figure_table``; ``workload``
    overrides keys of :data:`WORKLOAD_DEFAULTS`) for the modeled hardware among
    ``names``, followed by the ratios to the baseline. ``note`` (markup) is the
    workload headline and the table's footnotes (the labels of its figures), or
    one line saying why there is no table."""
    from console.perf.selection import build_comparison, modeled_hardware

    try:
        chosen = [n for n in names if n in modeled_hardware(host)]
        if not chosen:
            return [], [], "[dim]no modeled hardware among the chosen backends: no workload table[/]"
        from console import perf
        from console.perf.report import figure_table, headline, ratio_table

        values = {**WORKLOAD_DEFAULTS, **(workload or {})}
        comparison = build_comparison(host, chosen, perf.Workload(**{k: int(v) for k, v in values.items()}))
        columns, rows, notes = figure_table(comparison)
        for target in comparison.ratios:
            ratio_cols, ratio_rows = ratio_table(comparison, target)
            rows.append([f"[{ratio_cols[0]}]", *[""] * (len(columns) - 1)])
            for title, value, _press in ratio_rows:  # press claims are not figures: left out
                rows.append([f"  {title}", *[value if n == target else "" for n in columns[1:]]])
        lines = [fmt.escape(headline(comparison)), *(f"[dim]{fmt.escape(note)}[/]" for note in notes)]
        return columns, rows, "\n".join(lines)
    except Exception as exc:  # noqa: BLE001 - shown as one line, never a crash
        return [], [], f"[$error]modeled workload table unavailable: {fmt.escape(' '.join(str(exc).split()))}[/]"
