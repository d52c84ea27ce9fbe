"""Figures of the compare view, as plain rows (testable without an app).

:func:`figure_rows` turns one ``CompareResult`` into ``(name, value)`` rows;
:func:`workload_table` asks ``console.perf.compare`` for the modeled
workload table of the chosen backends' hardware.
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


#: Workload fields of the compare view -> ``moe-console compare`` flag.
WORKLOAD_FLAGS = {"prompt_tokens": "--prompt-tokens", "output_tokens": "--output-tokens",
                  "concurrency": "--concurrency", "context": "--context"}


def workload_table(host, names: list[str], workload: dict[str, int] | None = None,
                   ) -> tuple[list[str], list[list[str]], str]:
    """``(columns, rows, note)``: the modeled workload table of ``moe-console
    compare`` (the same code and figures; ``workload`` overrides its defaults,
    keys of :data:`WORKLOAD_FLAGS`) for the modeled hardware among ``names``,
    followed by the ratios to the baseline. ``note`` is the workload headline,
    or one line saying why there is no table."""
    modeled = {e.name for e in host.backends() if hasattr(e.cls, "perf_chip")}
    chosen = [n for n in names if n in modeled]
    if not chosen:
        return [], [], "[dim]no modeled hardware among the chosen backends: no workload table[/]"
    try:
        import argparse

        from console.cli import compare as cli_compare
        from console.perf.report import figure_table, headline, ratio_table

        parser = argparse.ArgumentParser(add_help=False)
        cli_compare.add_parser(parser.add_subparsers())
        argv = ["compare", "--backends", ",".join(chosen)]
        for key, value in (workload or {}).items():
            argv += [WORKLOAD_FLAGS[key], str(int(value))]
        args = parser.parse_args(argv)
        comparison = cli_compare.build(args)
        columns, rows = figure_table(comparison)
        for target in comparison.ratios:
            ratio_cols, ratio_rows = ratio_table(comparison, target)
            rows.append([f"[{ratio_cols[0]}]", *[""] * (len(columns) - 1)])
            for title, value, _press in ratio_rows:  # press claims are not figures: left out
                rows.append([f"  {title}", *[value if n == target else "" for n in columns[1:]]])
        return columns, rows, fmt.escape(headline(comparison))
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - shown as one line, never a crash
        return [], [], f"[$error]modeled workload table unavailable: {fmt.escape(' '.join(str(exc).split()))}[/]"
