"""The compare view: the last turn (or a prompt typed here) on two or more
backends side by side, each column with its reply and the same figures as
``moe-console compare`` (TTFT, decode tok/s, inter-token p50/p95, end-to-end,
tokens, price per M input/output, this reply's cost), each labelled measured
or modeled. Under the columns, the modeled workload table of
``console.perf.compare`` for the chosen backends' hardware.

Nothing run here is added to the conversation (``ChatSession.compare``).
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, SelectionList, Static

from console.api import TextDelta
from console.tui.compare_figures import figure_rows, workload_table
from console.tui.widgets import format as fmt
from console.tui.widgets.message import MessageView


#: (key, label, default) of the modeled workload inputs (``moe-console compare`` defaults).
WORKLOAD_FIELDS = (("prompt_tokens", "prompt", 2000), ("output_tokens", "output", 500),
                   ("concurrency", "seq/chip", 128))

#: Backends offered first when the compare view opens (after the current one).
PREFERRED = ("local", "h100", "ascend950")


def default_selection(backends: list, current: str, limit: int = 3) -> list[str]:
    """The current backend, then ``local``, ``h100``, ``ascend950``, then the rest."""
    names = [e.info.name for e in backends]
    rank = {n: i for i, n in enumerate(PREFERRED)}
    ordered = sorted(names, key=lambda n: (n != current, rank.get(n, len(rank)), n))
    return ordered[:limit]


class CompareScreen(Screen):
    """Esc goes back to the chat (a comparison still running is cancelled)."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="compare.close"),
        Binding("ctrl+g", "run", "Run", id="compare.run"),
    ]

    def __init__(self, session, host, *, selected: list[str] | None = None, run_now: bool = False) -> None:
        super().__init__(id="compare-screen")
        self.session = session
        self.host = host
        self._selected = selected
        self._run_now = run_now
        self.results: dict = {}

    def compose(self) -> ComposeResult:
        yield Static("[b]Compare backends[/]  [dim]same turn, same sampling · nothing is added to the "
                     "conversation · Ctrl+G runs · Esc returns[/]", classes="dialog-title")
        with Horizontal(id="compare-controls"):
            yield SelectionList[str](id="compare-backends")
            with Vertical(id="compare-prompt-box"):
                with Horizontal(id="compare-prompt-row"):
                    yield Input(placeholder="prompt (empty: the last turn of the conversation)",
                                id="compare-prompt")
                    yield Button("Run", id="compare-run", variant="primary")
                with Horizontal(id="compare-workload-row"):
                    yield Static("[b]modeled workload[/]", classes="workload-title")
                    for key, label, value in WORKLOAD_FIELDS:
                        yield Static(label, classes="workload-label")
                        yield Input(str(value), id=f"workload-{key}", type="integer", compact=True,
                                    classes="workload-input")
                yield Static("[dim]Each backend answers the same messages with the conversation's "
                             "sampling; figures are labelled measured or modeled.[/]", id="compare-help")
        yield Horizontal(id="compare-columns")
        with VerticalScroll(id="compare-workload"):
            yield DataTable(id="workload-table", show_cursor=False, zebra_stripes=True)
            yield Static("", id="workload-note")
        yield Footer()

    def on_mount(self) -> None:
        entries = self.host.backends()
        chosen = self._selected or default_selection(entries, self.session.backend_name)
        picker = self.query_one(SelectionList)
        picker.border_title = "Backends"
        for entry in entries:
            picker.add_option((f"{entry.info.name} [dim]{entry.info.kind}[/]", entry.info.name,
                               entry.info.name in chosen))
        self.query_one("#compare-workload").border_title = "Modeled workload (console.perf)"
        self._show_workload(chosen)
        if self._run_now:
            self.action_run()

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

    @on(Button.Pressed, "#compare-run")
    @on(Input.Submitted, "#compare-prompt")
    def _run_pressed(self) -> None:
        self.action_run()

    def action_run(self) -> None:
        names = list(self.query_one(SelectionList).selected)
        if len(names) < 2:
            self.app.notify("Pick at least two backends to compare.", severity="warning", timeout=4)
            return
        text = self.query_one("#compare-prompt", Input).value.strip() or None
        conv = self.session.conversation
        if text is None and (conv is None or not any(m.role == "user" for m in conv.messages)):
            self.app.notify("No turn to compare yet: type a prompt above.", severity="warning", timeout=4)
            return
        self._run(text, names)

    @work(exclusive=True, group="compare", exit_on_error=False, description="compare backends")
    async def _run(self, text: str | None, names: list[str]) -> None:
        columns = self.query_one("#compare-columns", Horizontal)
        await columns.remove_children()
        views: dict[str, MessageView] = {}
        figures: dict[str, Static] = {}
        for name in names:
            col = Vertical(classes="compare-column")
            col.border_title = name
            await columns.mount(col)
            figures[name] = Static("[dim]running…[/]", classes="compare-figures")
            views[name] = MessageView("assistant", source=name, status="streaming")
            await col.mount_all([figures[name], VerticalScroll(views[name], classes="compare-reply")])
            views[name].start_stream()

        def on_event(name: str, event) -> None:
            if isinstance(event, TextDelta) and name in views:
                views[name].push(event.text)

        try:
            self.results = await self.session.compare(text, names, on_event=on_event)
        except Exception as exc:  # noqa: BLE001 - shown, the console keeps running
            self.app.notify(" ".join(str(exc).split()) or type(exc).__name__, title="Compare failed",
                            severity="error")
            self.results = {}
        finally:
            for name, view in views.items():
                result = self.results.get(name)
                await view.finish_stream(result.status if result else "cancelled",
                                         text=result.text if result else None)
        for name, result in self.results.items():
            if name in figures:
                figures[name].update(render_figures(result))

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
