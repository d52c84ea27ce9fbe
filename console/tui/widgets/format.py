"""Number formatting shared by the panels, the reply footers and the compare view.

Unknown values (``None``) are drawn as an em dash, never as zero.
"""

from __future__ import annotations

DASH = "—"


def escape(text: str) -> str:
    """Make ``text`` safe inside Textual markup."""
    return str(text).replace("[", r"\[")


def ms(seconds: float | None, unit: bool = True) -> str:
    """``0.0123`` -> ``"12.3 ms"``; 10 s and above as ``"12.3 s"``.
    ``unit=False`` gives the number of milliseconds alone (``"12.3"``)."""
    if seconds is None:
        return DASH
    if seconds >= 10 and unit:
        return f"{seconds:.1f} s"
    value = seconds * 1000
    text = f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    return f"{text} ms" if unit else text


def rate(tokens_per_s: float | None) -> str:
    if tokens_per_s is None:
        return DASH
    if tokens_per_s >= 1000:
        return f"{tokens_per_s:,.0f}"
    return f"{tokens_per_s:.1f}"


def usd(value: float | None) -> str:
    """Dollars with enough digits to see a sub-cent reply."""
    if value is None:
        return DASH
    if value == 0:
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) >= 0.01:
        return f"${value:.4f}"
    return f"${value:.2e}"


def per_m(value: float | None) -> str:
    """A price per million tokens."""
    if value is None:
        return DASH
    return f"${value:,.3f}" if value < 10 else f"${value:,.2f}"


def pct(part: float, whole: float | None) -> str:
    if not whole:
        return DASH
    return f"{100 * part / whole:.0f}%"


def bar(part: float, whole: float | None, width: int = 20) -> str:
    """A text gauge ``████░░░░`` of ``part / whole``."""
    if not whole or width <= 0:
        return "░" * max(width, 0)
    filled = min(width, round(width * part / whole))
    return "█" * filled + "░" * (width - filled)


def label_markup(label: str | None) -> str:
    """The dim provenance line under a panel title: measured or modeled (...)."""
    text = escape(label or "measured")
    tone = "$success" if text.startswith("measured") else "$warning"
    return f"[dim {tone}]{text}[/]"


def short_label(label: str | None) -> str:
    """The first word of a provenance label (``measured`` / ``modeled``)."""
    text = (label or "measured").strip()
    return text.split(" ", 1)[0].rstrip(":,;") or "measured"


def reply_footer(backend: str, tokens: int | None, timing, cost, *, status: str = "complete") -> str:
    """The dim one-line footer of a finished reply: tokens, tok/s, TTFT, cost
    and the provenance in one word (:func:`reply_details` has it all)."""
    label = (timing.label or timing.clock) if timing is not None else "measured"
    parts = [backend, short_label(label)]  # the provenance first: a narrow column cuts the end
    if tokens is not None:
        parts.append(f"{tokens} tok")
    if timing is not None:
        tps = timing.decode_tokens_per_s
        if tps:
            parts.append(f"{rate(tps)} tok/s")
        parts.append(f"TTFT {ms(timing.ttft_s)}")
    if cost is not None:
        parts.append(usd(cost.total_usd) + (" (stopped)" if status == "cancelled" else ""))
    return f"[dim]{escape(' · '.join(parts))}[/]"


def reply_details(backend: str, usage, timing, cost) -> str:
    """Every figure of a finished reply, one per line, with whole labels."""
    lines = [f"[b]{escape(backend)}[/]"]
    if usage is not None:
        lines.append(f"tokens: {usage.prompt_tokens} prompt · {usage.completion_tokens} reply")
    if timing is not None:
        lines.append(f"TTFT {ms(timing.ttft_s)} (queue {ms(timing.queue_s)} · prefill {ms(timing.prefill_s)})"
                     f" · decode {ms(timing.decode_s)} · e2e {ms(timing.e2e_s)}")
        if timing.decode_tokens_per_s:
            lines.append(f"decode {rate(timing.decode_tokens_per_s)} tok/s")
        lines.append(f"timing: {escape(timing.label or timing.clock)}")
    if cost is not None:
        lines.append(f"cost {usd(cost.total_usd)} (in {usd(cost.input_usd)} · out {usd(cost.output_usd)}) · "
                     f"per M in {per_m(cost.usd_per_m_input)} · out {per_m(cost.usd_per_m_output)}")
        if cost.label:
            lines.append(f"price: {escape(cost.label)}")
    return "\n".join(lines)
