"""The server screen: a live view of an endpoint's Prometheus /metrics (like ``moe-console watch``).

It polls ``/metrics`` every second in an async worker (the UI never waits on
the network; a hung server only delays the next refresh) and shows what
:mod:`console.watch` computes: running/waiting, batch, KV-cache use,
throughput, TTFT/ITL percentiles over the last minute, finished and aborted
counts, and sparklines. Every figure is the server's own. Enter in the URL
box watches another server; Esc returns to the chat.
"""

from __future__ import annotations

import time

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

LABEL = "reported by the server (its /metrics), not measured here"


class ServerScreen(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="server.close")]

    def __init__(self, url: str = "", *, interval_s: float = 1.0, window_s: float = 60.0) -> None:
        super().__init__(id="server-screen")
        self.url, self.interval_s, self.window_s = url, interval_s, window_s
        self.error: str | None = None
        self._watcher = None
        self._client = None
        self.table: Table | None = None  # what is on screen now

    def compose(self) -> ComposeResult:
        with Vertical(id="server-box"):
            yield Static("[b]Server[/]  [dim]Prometheus /metrics of an endpoint · Esc returns to the chat[/]",
                         classes="dialog-title")
            yield Input(self.url, placeholder="http://host:8000/v1", id="server-url")
            yield Static("", id="server-view")
        yield Footer()

    def on_mount(self) -> None:
        from console.watch import Watcher

        self._watcher = Watcher(window_s=self.window_s)
        self.set_interval(self.interval_s, self.poll)
        if self.url:
            self.poll()
        else:
            self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from console.watch import Watcher

        self.url = event.value.strip()
        self._watcher = Watcher(window_s=self.window_s)
        self.poll()

    def poll(self) -> None:
        if self.url:
            self.run_worker(self._scrape(), group="scrape", exclusive=True, exit_on_error=False)

    async def _scrape(self) -> None:
        import httpx

        from console.watch import fetch, metrics_url

        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(2.0))
        try:
            self._watcher.add(await fetch(self._client, metrics_url(self.url), time.monotonic()))
            self.error = None
        except ValueError as exc:
            self.error = str(exc)
        self.render_view()

    def render_view(self) -> None:
        from console.watch.rows import view_rows

        grid = Table(show_header=False, caption=LABEL, expand=False)
        grid.add_column("figure", style="bold")
        grid.add_column("value")
        for name, value in view_rows(self._watcher.view()):
            grid.add_row(name, value)
        if self.error:
            grid.add_row("[red]last scrape[/]", f"[red]{self.error}[/]")
        self.table = grid
        self.query_one("#server-view", Static).update(grid)

    async def on_unmount(self) -> None:
        if self._client is not None:
            await self._client.aclose()
