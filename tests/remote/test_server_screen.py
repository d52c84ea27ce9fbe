"""The TUI's server screen polls a live server's /metrics (our own serve) and shows the figures."""

from __future__ import annotations

import asyncio
import io

import httpx
from textual.app import App

from console.tui.screens.server import ServerScreen


class Host(App):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def on_mount(self) -> None:
        self.push_screen(ServerScreen(self.url, interval_s=0.1))


def _text(table) -> str:
    from rich.console import Console

    console = Console(width=120, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text()


async def test_server_screen_shows_live_metrics(served):
    before = served.metric("vllm:request_success_total", finished_reason="length")
    with httpx.stream("POST", served.url + "/completions",
                      json={"model": "builtin", "prompt": "a b", "max_tokens": 3, "ignore_eos": True,
                            "stream": True}) as r:
        r.read()
    app = Host(served.url)
    async with app.run_test() as pilot:
        screen = app.screen
        assert isinstance(screen, ServerScreen)
        for _ in range(100):
            await pilot.pause(0.05)
            if screen._watcher is not None and len(screen._watcher.scrapes) >= 2:
                break
        view = screen._watcher.view()
        assert view.kind == "moe-console" and view.finished.get("length") == before + 1
        text = _text(screen.table)
        assert "running / waiting" in text and "reported by the server" in text
        await pilot.press("escape")
        await asyncio.sleep(0)
        assert not isinstance(app.screen, ServerScreen)


async def test_server_screen_says_when_the_server_is_down():
    app = Host("http://127.0.0.1:9/v1")
    async with app.run_test() as pilot:
        screen = app.screen
        for _ in range(100):
            await pilot.pause(0.05)
            if screen.error:
                break
        assert "127.0.0.1:9/metrics" in screen.error
