"""A :class:`ServerView` as (figure, value) text rows, for any renderer (rich, Textual)."""

from __future__ import annotations

from console.watch.window import ServerView, sparkline


def _n(value: float | None, fmt: str = "{:,.0f}", unit: str = "") -> str:
    return "-" if value is None else fmt.format(value) + unit


def _pcts(stats: dict[str, float | None]) -> str:
    if not stats or all(v is None for v in stats.values()):
        return "-"
    return " / ".join(_n(stats.get(k), "{:,.1f}") for k in ("p50", "p90", "p99")) + " ms"


def view_rows(view: ServerView, width: int = 40) -> list[tuple[str, str]]:
    """Every figure of ``view``; the latency rows name their window."""
    window = f"last {view.window_s:.0f} s" if view.window_s > 0 else "since start"
    finished = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(view.finished.items())) or "-"
    return [
        ("server", view.kind),
        ("running / waiting", f"{_n(view.running)} / {_n(view.waiting)}"),
        ("batch (sequences per step)", _n(view.batch, "{:,.1f}")),
        ("tokens per step (mean)", _n(view.tokens_per_step, "{:,.1f}")),
        ("KV-cache use", _n(None if view.kv_usage is None else view.kv_usage * 100, "{:.1f}", " %")),
        ("prompt throughput", _n(view.prompt_tok_s, "{:,.1f}", " tok/s")),
        ("generation throughput", _n(view.generation_tok_s, "{:,.1f}", " tok/s")),
        (f"TTFT p50/p90/p99 ({window})", _pcts(view.ttft_ms)),
        (f"ITL p50/p90/p99 ({window})", _pcts(view.itl_ms)),
        (f"e2e p50/p90/p99 ({window})", _pcts(view.e2e_ms)),
        ("finished (since start)", finished),
        ("aborted (since start)", _n(view.aborted)),
        ("generation tok/s", sparkline(view.generation_history, width) or "-"),
        ("queue (waiting)", sparkline(view.queue_history, width) or "-"),
    ]
