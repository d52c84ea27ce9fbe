"""Side by side, live (ctrl+t): one prompt streams on two to four backends at
once, in columns, each with its own live tok/s, TTFT, inter-token latency
and cost as it streams (read from each backend's metrics series at
:data:`REFRESH_HZ`), each labelled measured or modeled. When all have
finished, a summary row gives each one's figures as ratios to the first
column. Then the user picks the one the conversation continues with
(F6-F9 or the column's button): its reply is added to the conversation (a
new turn, or a new alternative of the last reply when the prompt was left
empty) and the chat goes on on that backend. Nothing is added otherwise.

Under the columns, the modeled workload table of ``console.perf.compare`` for
the chosen backends' hardware. Focus opens in the prompt box; at 80x24 the
body scrolls and every column keeps its height.

Measured backends running together share this machine's CPU, which the
summary says.
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, SelectionList, Static

from console.api import TextDelta
from console.tui import keys
from console.tui.compare_figures import figure_rows, workload_table
from console.tui.widgets import format as fmt
from console.tui.widgets.message import MessageView
from console.tui.widgets.panels import REFRESH_HZ

#: (key, label, default) of the modeled workload inputs (``moe-console compare`` defaults).
WORKLOAD_FIELDS = (("prompt_tokens", "prompt", 2000), ("output_tokens", "output", 500),
                   ("concurrency", "seq/chip", 128))

#: Backends offered first when the view opens (after the current one).
PREFERRED = ("local", "h100", "ascend950")
MAX_COLUMNS = 4


def default_selection(backends: list, current: str, limit: int = 3) -> list[str]:
    """The current backend, then ``local``, ``h100``, ``ascend950``, then the rest."""
    names = [e.info.name for e in backends]
    rank = {n: i for i, n in enumerate(PREFERRED)}
    ordered = sorted(names, key=lambda n: (n != current, rank.get(n, len(rank)), n))
    return ordered[:limit]


def live_figures(snap) -> str:
    """Markup of one streaming column (four short lines): tok/s now, TTFT,
    ITL p50/p95, tokens and cost so far."""
    label = fmt.label_markup(fmt.short_label(snap.labels.get("rate") or snap.clock))
    estimate = "~" if snap.spend.reply_estimated else ""
    return (f"{label} [b]{fmt.rate(snap.rate.current)}[/] tok/s\n"
            f"TTFT {fmt.ms(snap.ttft_s)}\n"
            f"ITL {fmt.ms(snap.itl.p50, False)}/{fmt.ms(snap.itl.p95, False)} ms p50/95\n"
            f"{snap.reply_tokens} tok · {estimate}{fmt.usd(snap.spend.reply_usd)}")


def final_figures(result) -> str:
    """Markup of one finished column, the same four lines as :func:`live_figures`
    (the whole figures and labels are its tooltip, see :func:`render_figures`)."""
    if result.timing is None:
        head = "[dim]no timing[/]"
    else:
        head = fmt.label_markup(fmt.short_label(result.timing.label or result.timing.clock))
    rows = dict(figure_rows(result))
    tokens = result.usage.completion_tokens if result.usage is not None else 0
    text = (f"{head} [b]{fmt.escape(rows.get('decode tok/s', fmt.DASH))}[/] tok/s\n"
            f"TTFT {fmt.escape(rows.get('TTFT', fmt.DASH))}\n"
            f"ITL {fmt.escape(rows.get('ITL p50', fmt.DASH).removesuffix(' ms'))}/"
            f"{fmt.escape(rows.get('ITL p95', fmt.DASH))} p50/95\n"
            f"{tokens} tok · {fmt.escape(rows.get('this reply', fmt.DASH))}")
    if result.error:
        text += f"\n[$error]{fmt.escape(result.error)}[/]"
    return text


def summary_rows(results: list) -> list[tuple[str, str, str, str]]:
    """``(backend, decode tok/s, TTFT, cost)`` per finished result, each after
    the first with its ratio to the first (``x`` times its value)."""
    def ratio(value, base):
        return f" ({value / base:.2g}x)" if value and base else ""

    done = [r for r in results if r.timing is not None]
    if not done:
        return []
    base = done[0]
    b_tps = base.timing.decode_tokens_per_s or None
    b_ttft = base.timing.ttft_s or None
    b_cost = base.cost.total_usd if base.cost is not None else None
    rows = []
    for r in done:
        tps, ttft = r.timing.decode_tokens_per_s or None, r.timing.ttft_s
        cost = r.cost.total_usd if r.cost is not None else None
        first = r is base
        rows.append((r.backend,
                     fmt.rate(tps) + ("" if first else ratio(tps, b_tps)),
                     fmt.ms(ttft) + ("" if first else ratio(ttft, b_ttft)),
                     fmt.usd(cost) + ("" if first else ratio(cost, b_cost))))
    return rows


class CompareScreen(Screen):
    """Esc goes back to the chat (a run still streaming is cancelled)."""

    BINDINGS = keys.bindings("compare")
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    AUTO_FOCUS = "#compare-prompt"

    def __init__(self, session, host, *, selected: list[str] | None = None, run_now: bool = False) -> None:
        super().__init__(id="compare-screen")
        self.session = session
        self.host = host
        self._selected = selected
        self._run_now = run_now
        self.results: dict = {}
        self.running: list[str] = []
        self._text: str | None = None
        self._figures: dict[str, Static] = {}
        self.finished = asyncio.Event()  # set when a run has drawn its last figures and summary

    def compose(self) -> ComposeResult:
        yield Static("[b]Side by side[/]  [dim]one prompt on 2-4 backends at once · Enter runs · "
                     "F6-F9 continue the chat on a column · Esc returns[/]", classes="dialog-title")
        with Horizontal(id="compare-controls"):
            yield SelectionList[str](id="compare-backends")
            with Vertical(id="compare-prompt-box"):
                with Horizontal(id="compare-prompt-row"):
                    yield Input(placeholder="prompt (empty: the last turn again)", id="compare-prompt")
                    yield Button("Run", id="compare-run", variant="primary")
                with Horizontal(id="compare-workload-row"):
                    yield Static("[b]modeled[/]", classes="workload-title")
                    for key, label, value in WORKLOAD_FIELDS:
                        yield Static(label, classes="workload-label")
                        yield Input(str(value), id=f"workload-{key}", type="integer", compact=True,
                                    classes="workload-input")
                yield Static("[dim]Same messages and sampling on each backend; figures are labelled measured "
                             "or modeled. Nothing joins the conversation unless you pick a column.[/]",
                             id="compare-help")
        with VerticalScroll(id="compare-body"):
            yield Horizontal(id="compare-columns")
            yield Static("", id="compare-summary")
            with Vertical(id="compare-workload"):
                yield DataTable(id="workload-table", show_cursor=False, zebra_stripes=True)
                yield Static("", id="workload-note")
        yield Footer()

    def on_mount(self) -> None:
        entries = self.host.backends()
        chosen = self._selected or default_selection(entries, self.session.backend_name)
        picker = self.query_one(SelectionList)
        picker.border_title = "Backends (2-4)"
        for entry in entries:
            picker.add_option((f"{entry.info.name} [dim]{entry.info.kind}[/]", entry.info.name,
                               entry.info.name in chosen))
        self.query_one("#compare-workload").border_title = "Modeled workload (console.perf)"
        self._show_workload(chosen)
        self.set_interval(1 / REFRESH_HZ, self._refresh_live, name="compare-live")
        self.query_one("#compare-prompt", Input).focus()
        if self._run_now:
            self.action_run()

    # ------------------------------------------------------------ workload table

    def _show_workload(self, names: list[str]) -> None:
        table = self.query_one("#workload-table", DataTable)
        table.clear(columns=True)
        columns, rows, note = workload_table(self.host, names, self.workload())
        if columns:
            table.add_columns(*columns)
            for row in rows:
                table.add_row(*(Text(cell) for cell in row))
        table.display = bool(columns)
        self.query_one("#workload-note", Static).update(note)

    def workload(self) -> dict[str, int]:
        """The modeled workload typed in the inputs (invalid or empty -> the default)."""
        out = {}
        for key, _label, default in WORKLOAD_FIELDS:
            try:
                value = int(self.query_one(f"#workload-{key}", Input).value)
            except ValueError:
                value = default
            out[key] = value if value > 0 else default
        return out

    @on(Input.Submitted, ".workload-input")
    def _workload_changed(self, event: Input.Submitted) -> None:
        event.stop()
        self._selection_changed()

    @on(SelectionList.SelectedChanged)
    def _selection_changed(self) -> None:
        self._show_workload(list(self.query_one(SelectionList).selected))

    # ------------------------------------------------------------ running

    @on(Button.Pressed, "#compare-run")
    @on(Input.Submitted, "#compare-prompt")
    def _run_pressed(self) -> None:
        self.action_run()

    def action_run(self) -> None:
        picked = list(self.query_one(SelectionList).selected)
        order = default_selection(self.host.backends(), self.session.backend_name, limit=len(self.host.backends()))
        names = sorted(picked, key=lambda n: order.index(n) if n in order else len(order))  # current first
        if not 2 <= len(names) <= MAX_COLUMNS:
            self.app.notify(f"Pick two to {MAX_COLUMNS} backends.", severity="warning", timeout=4)
            return
        if self.running:
            self.app.notify("Still running: Esc stops it.", severity="warning", timeout=3)
            return
        text = self.query_one("#compare-prompt", Input).value.strip() or None
        conv = self.session.conversation
        if text is None and (conv is None or not any(m.role == "user" for m in conv.messages)):
            self.app.notify("No turn to compare yet: type a prompt above.", severity="warning", timeout=4)
            return
        self._run(text, names)

    @work(exclusive=True, group="compare", exit_on_error=False, description="side by side")
    async def _run(self, text: str | None, names: list[str]) -> None:
        columns = self.query_one("#compare-columns", Horizontal)
        await columns.remove_children()
        self.query_one("#compare-summary", Static).update("")
        self.results, self._text, self.running = {}, text, list(names)
        self.finished.clear()
        views: dict[str, MessageView] = {}
        self._figures = {}
        for i, name in enumerate(names):
            col = Vertical(classes="compare-column", id=f"column-{i}")
            col.border_title = name
            await columns.mount(col)
            self._figures[name] = Static("[dim]starting…[/]", classes="compare-figures")
            views[name] = MessageView("assistant", source=name, status="streaming")
            button = Button(f"F{6 + i} continue here", id=f"pick-{i}", classes="compare-pick", disabled=True)
            await col.mount_all([self._figures[name], VerticalScroll(views[name], classes="compare-reply"), button])
            views[name].start_stream()

        def on_event(name: str, event) -> None:
            if isinstance(event, TextDelta) and name in views:
                views[name].push(event.text)

        try:
            self.results = await self.session.compare(text, names, concurrent=True, on_event=on_event)
        except Exception as exc:  # noqa: BLE001 - shown, the console keeps running
            self.app.notify(" ".join(str(exc).split()) or type(exc).__name__, title="Side by side failed",
                            severity="error")
            self.results = {}
        finally:
            self.running = []
            for name, view in views.items():
                result = self.results.get(name)
                await view.finish_stream(result.status if result else "cancelled",
                                         text=result.text if result else None)
        for i, name in enumerate(names):
            result = self.results.get(name)
            if result is not None:
                self._figures[name].update(final_figures(result))
                self._figures[name].tooltip = Text.from_markup(render_figures(result))  # whole labels on hover
                self.query_one(f"#pick-{i}", Button).disabled = result.status == "failed"
        self._show_summary([self.results[n] for n in names if n in self.results])
        self.finished.set()

    def _refresh_live(self) -> None:
        for name in self.running:
            figures = self._figures.get(name)
            if figures is not None:
                figures.update(live_figures(self.app.metrics.snapshot(name)))

    def _show_summary(self, results: list) -> None:
        rows = summary_rows(results)
        if not rows:
            return
        kinds = [r.timing.clock for r in results if r.timing is not None]
        lines = [f"[b]Summary[/] [dim](ratios to {fmt.escape(rows[0][0])})[/]"]
        lines += [f"[b]{fmt.escape(b):<12}[/] {fmt.escape(tps)} tok/s · TTFT {fmt.escape(ttft)} · "
                  f"{fmt.escape(cost)}" for b, tps, ttft, cost in rows]
        if kinds.count("measured") > 1:
            lines.append("[dim]the measured backends ran at the same time and shared this machine's CPU[/]")
        self.query_one("#compare-summary", Static).update("\n".join(lines))

    # ------------------------------------------------------------ continuing

    @on(Button.Pressed, ".compare-pick")
    async def _pick_pressed(self, event: Button.Pressed) -> None:
        await self.action_continue_with(int(event.button.id.removeprefix("pick-")))

    async def action_continue_with(self, index: int) -> None:
        """Add column ``index``'s reply to the conversation and continue there."""
        names = [c.border_title for c in self.query(".compare-column")]
        if self.running or index >= len(names) or names[index] not in self.results:
            self.app.notify("Nothing to continue with yet.", timeout=3)
            return
        result = self.results[names[index]]
        try:
            self.session.adopt(result, self._text)
        except Exception as exc:  # noqa: BLE001 - SessionBusy / ValueError: one line
            self.app.notify(" ".join(str(exc).split()), severity="warning", timeout=4)
            return
        self.app.pop_screen()
        await self.app.chat.render_conversation()
        self.app.chat.refresh_panels()
        self.app.notify(f"The conversation continues on {result.backend}.", title="Backend", timeout=4)

    def action_back(self) -> None:
        self.workers.cancel_group(self, "compare")
        self.app.pop_screen()


def render_figures(result) -> str:
    """Markup: a label line, then ``name  value`` lines (see ``figure_rows``)."""
    if result.timing is not None:
        lines = [fmt.label_markup(result.timing.label or result.timing.clock)]
    else:
        lines = ["[dim]no timing (the run did not finish)[/]"]
    for name, value in figure_rows(result):
        lines.append(f"{name:<14}[b]{fmt.escape(value)}[/]")
    if result.error:
        lines.append(f"[$error]{fmt.escape(result.error)}[/]")
    return "\n".join(lines)
