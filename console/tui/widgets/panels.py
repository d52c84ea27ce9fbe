"""Live metric panels: throughput, latency, cost, MoE routing, context.

The panels never read events: the chat screen's timer hands them a
``console.metrics.MetricsSnapshot`` at 2-4 Hz (:data:`REFRESH_HZ`) and they
repaint only when it changed. Each panel has a title and, under it, a dim
line saying where its figures come from (``measured`` or ``modeled (...)``).

:class:`MetricsPanels` is the full column (wide layout); :class:`MetricsStrip`
the two-line summary shown instead in a narrow terminal.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Sparkline, Static

from console.tui.widgets import format as fmt
from console.tui.widgets.heatmap import render_heatmap

#: How often the screen's timer reads ``Metrics.snapshot()``.
REFRESH_HZ = 4


def repaint(widget: Static, content, *, layout: bool = False) -> None:
    """Update ``widget`` only when ``content`` changed. Bodies have fixed
    heights (``app.tcss``), so a change is a repaint, not a layout of the
    whole screen; ``layout=True`` where the height may change."""
    if getattr(widget, "_shown", None) == content:
        return
    widget._shown = content
    widget.update(content, layout=layout)


class Panel(Vertical):
    """A titled box with a provenance line. Subclasses fill :meth:`show`."""

    TITLE = ""
    LABEL_KEY = "rate"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="panel")
        self.border_title = self.TITLE

    def compose(self) -> ComposeResult:
        yield Static(fmt.label_markup(None), classes="panel-label")
        yield from self.compose_body()

    def compose_body(self) -> ComposeResult:
        yield Static("", classes="panel-body")

    def label_for(self, snap) -> str:
        return snap.labels.get(self.LABEL_KEY) or snap.clock

    def show(self, snap) -> None:
        label = self.label_for(snap)
        line = self.query_one(".panel-label", Static)
        if getattr(line, "_label", None) != label:  # rare: may wrap differently, lay out again
            line._label = label
            line.tooltip = label
            line.update(fmt.label_markup(label), layout=True)
        repaint(self.query_one(".panel-body", Static), self.body(snap))

    def body(self, snap) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


class RatePanel(Panel):
    TITLE = "Throughput"
    LABEL_KEY = "rate"

    def compose_body(self) -> ComposeResult:
        yield Static("", classes="panel-body")
        yield Sparkline([], id="rate-sparkline")

    def body(self, snap) -> str:
        r = snap.rate
        return (
            f"now [b]{fmt.rate(r.current)}[/] avg {fmt.rate(r.average)} "
            f"peak {fmt.rate(r.peak)} tok/s\n"
            f"decode {fmt.rate(snap.decode_tokens_per_s)} · "
            f"prefill {fmt.rate(snap.prefill_tokens_per_s)} tok/s"
        )

    def show(self, snap) -> None:
        super().show(snap)
        self.query_one(Sparkline).data = list(snap.rate_history)


class LatencyPanel(Panel):
    TITLE = "Latency"
    LABEL_KEY = "ttft"

    def body(self, snap) -> str:
        itl, split = snap.itl, snap.split
        return (
            f"TTFT [b]{fmt.ms(snap.ttft_s)}[/]\n"
            f"  queue {fmt.ms(split.queue_s)} · prefill {fmt.ms(split.prefill_s)}\n"
            f"ITL p50/95/99 {fmt.ms(itl.p50, False)}/{fmt.ms(itl.p95, False)}/"
            f"{fmt.ms(itl.p99, False)} ms\n"
            f"decode {fmt.ms(split.decode_s)} · e2e {fmt.ms(split.e2e_s)}"
        )


class CostPanel(Panel):
    TITLE = "Cost"
    LABEL_KEY = "cost"

    def label_for(self, snap) -> str:
        if snap.labels.get("cost"):
            return snap.labels["cost"]
        return "no price known yet" if snap.spend.usd_per_m_input is None else snap.clock

    def body(self, snap) -> str:
        s = snap.spend
        estimate = "~" if s.reply_estimated else ""
        price = fmt.DASH if s.price_usd_per_chip_hour is None else f"${s.price_usd_per_chip_hour:.2f}/chip-h"
        date = f" ({s.price_date})" if s.price_date else ""
        return (
            f"per M: in {fmt.per_m(s.usd_per_m_input)} · out {fmt.per_m(s.usd_per_m_output)}\n"
            f"reply [b]{estimate}{fmt.usd(s.reply_usd)}[/] · conv {fmt.usd(s.conversation_usd)}\n"
            f"price {price}{date}"
        )


class RoutingPanel(Panel):
    TITLE = "MoE routing"
    LABEL_KEY = "routing"

    def compose_body(self) -> ComposeResult:
        yield Static("", classes="panel-body")
        yield Static("", id="heatmap")

    def body(self, snap) -> str:
        r = snap.routing
        worst = fmt.DASH if r.max_imbalance is None else f"{r.max_imbalance:.2f}"
        return f"{r.n_experts} experts · last {r.tokens} tokens\nimbalance (max/mean) {worst}"

    def show(self, snap) -> None:
        super().show(snap)
        heat = self.query_one("#heatmap", Static)
        width = max(heat.size.width, 24)
        text = render_heatmap(snap.routing.counts, snap.routing.layers, width=width,
                              hash_layers=snap.routing.hash_layers)
        rows = len(text.plain.splitlines())
        relayout = rows != getattr(heat, "_rows", None)
        heat._rows = rows
        heat.update(text, layout=relayout)


class ContextPanel(Panel):
    TITLE = "Context"
    LABEL_KEY = "context"

    def label_for(self, snap) -> str:
        return snap.labels.get(self.LABEL_KEY) or "measured (token count)"

    def body(self, snap) -> str:
        used, window = snap.context_tokens, snap.context_window
        total = "?" if window is None else f"{window:,}"
        return f"{fmt.bar(used, window, 22)} {fmt.pct(used, window)}\n{used:,} / {total} tokens"


PANEL_TYPES = (RatePanel, LatencyPanel, CostPanel, RoutingPanel, ContextPanel)


class MetricsPanels(VerticalScroll, can_focus=False):
    """The full column of panels."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._last = None

    def compose(self) -> ComposeResult:
        for panel in PANEL_TYPES:
            yield panel(id=f"panel-{panel.LABEL_KEY}")

    def show(self, snap) -> bool:
        """Repaint from ``snap``; returns False when nothing changed."""
        if snap == self._last:
            return False
        self._last = snap
        for panel in self.query(Panel):
            panel.show(snap)
        return True


class MetricsStrip(Horizontal):
    """The narrow-terminal summary: the same figures and labels in three
    lines, with a small throughput sparkline."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._last = None

    def compose(self) -> ComposeResult:
        yield Static("", id="strip-text", markup=True)
        yield Sparkline([], id="strip-sparkline")

    def show(self, snap) -> bool:
        if snap == self._last:
            return False
        self._last = snap
        r, s, itl = snap.rate, snap.spend, snap.itl
        line1 = (f"[b]{fmt.rate(r.current)}[/] tok/s · avg {fmt.rate(r.average)} · peak {fmt.rate(r.peak)}"
                 f" · prefill {fmt.rate(snap.prefill_tokens_per_s)}")
        line2 = (f"TTFT {fmt.ms(snap.ttft_s)} · ITL p95 {fmt.ms(itl.p95)} · reply {fmt.usd(s.reply_usd)}"
                 f" · ctx {fmt.pct(snap.context_tokens, snap.context_window)}")
        line3 = fmt.label_markup(snap.labels.get("rate") or snap.clock) + " [dim]· F3 panels · F2 chats[/]"
        repaint(self.query_one("#strip-text", Static), f"{line1}\n{line2}\n{line3}")
        self.query_one("#strip-sparkline", Sparkline).data = list(snap.rate_history)
        return True
