"""The side-by-side view: the last turn on the measured local engine and a
modeled H100, with labelled figures and the modeled workload table; a new
prompt streaming live on two backends, a summary with ratios, and the chat
continuing on the column picked."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from console.api import Sampling
from console.tui.screens.compare import CompareScreen
from tui_helpers import message_views, wait_for, wait_idle


async def test_compare_runs_the_last_turn_on_two_backends_side_by_side(make_app):
    app = make_app("local", backend_options={"h100": {"pace": "fast"}})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"What is an expert?", "enter")
        await wait_idle(pilot, app, timeout=60)
        stored = app.session.conversation.messages
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        picker = screen.query_one("#compare-backends")
        picker.deselect_all()
        picker.select("local")
        picker.select("h100")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: len(screen.results) == 2, timeout=60)
        await pilot.pause(0.3)
        local, h100 = screen.results["local"], screen.results["h100"]
        assert local.status == h100.status == "complete"
        assert local.timing.clock == "measured" and h100.timing.clock == "modeled"
        assert local.text == stored[-1].content  # same turn, same greedy seeded sampling
        columns = {c.border_title: c for c in screen.query(".compare-column")}
        assert set(columns) == {"local", "h100"}
        local_figs = str(columns["local"].query_one(".compare-figures").render())
        h100_figs = str(columns["h100"].query_one(".compare-figures").render())
        assert local_figs.startswith("measured") and "TTFT" in local_figs
        assert h100_figs.startswith("modeled") and "TTFT" in h100_figs
        h100_whole = str(columns["h100"].query_one(".compare-figures").tooltip)  # whole labels on hover
        assert h100_whole.startswith("modeled (calibrated") and "$/M in" in h100_whole
        table = screen.query_one("#workload-table", DataTable)
        assert [str(c.label) for c in table.columns.values()] == ["figure", "h100"]
        rows = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert rows["batch / chip"] == "128" and rows["label"] == "[1]"
        note = str(screen.query_one("#workload-note").render())
        assert "[1] modeled (calibrated to SGLang 96xH100" in note and "[2] modeled (ideal)" in note
        box = screen.query_one("#workload-concurrency")
        box.value = "32"
        box.focus()
        await pilot.press("enter")  # a chosen workload: the table is modeled again
        rows = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert rows["batch / chip"] == "32"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.chat)
        assert app.session.conversation.messages == stored  # nothing added to the conversation


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_side_by_side_streams_live_and_the_chat_continues_on_the_pick(make_app, size):
    app = make_app("scripted", backend_options={"h100": {"pace": "fast"}, "scripted": {"delay": 0.03}},
                   sampling=Sampling(max_tokens=30, temperature=0.0))
    async with app.run_test(size=size) as pilot:
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        assert screen.query_one("#compare-prompt").has_focus  # typing goes to the prompt box
        picker = screen.query_one("#compare-backends")
        picker.deselect_all()
        picker.select("scripted")
        picker.select("h100")
        await pilot.press(*"side by side?", "enter")
        await wait_for(pilot, lambda: screen.running)
        live = []

        def streaming() -> bool:
            text = str(screen.query_one("#column-0 .compare-figures").render())
            if "tok/s" in text and screen.running:
                live.append(text)
            return screen.finished.is_set()

        await wait_for(pilot, streaming)
        assert live and "TTFT" in live[-1] and "ITL" in live[-1]  # its own figures while it streamed
        columns = [c.border_title for c in screen.query(".compare-column")]
        assert columns == ["scripted", "h100"]  # the current backend first
        for column in screen.query(".compare-column"):
            assert column.region.height >= 8  # never squeezed to nothing, even at 80x24
        summary = str(screen.query_one("#compare-summary").render())
        assert "Summary" in summary and "h100" in summary and "x)" in summary  # ratios to the first
        assert not app.session.conversation  # nothing joined the conversation yet
        await pilot.press("f7")  # continue on column 2: h100
        await wait_for(pilot, lambda: app.screen is app.chat)
        conv = app.session.conversation
        assert [m.role for m in conv.messages] == ["user", "assistant"]
        assert conv.messages[0].content == "side by side?"
        assert conv.messages[1].backend == "h100" and conv.messages[1].content == screen.results["h100"].text
        assert app.session.backend_name == "h100"
        assert [v.role for v in message_views(app)] == ["user", "assistant"]
