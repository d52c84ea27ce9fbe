"""Switching backends live: the picker, the command palette, mid-reply."""

from __future__ import annotations

from textual.widgets import DataTable

from console.tui.screens.backends import BackendPicker
from tui_helpers import message_views, wait_for, wait_idle

SLOW = {"scripted": {"delay": 0.2}}  # 18 words: ~3.6 s to act mid-reply


async def send(pilot, text: str) -> None:
    await pilot.press(*text, "enter")


async def test_picker_lists_every_backend_with_kind_and_switches_keeping_the_chat(make_app):
    app = make_app("scripted")
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "first turn")
        await wait_idle(pilot, app)
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: isinstance(app.screen, BackendPicker))
        table = app.screen.query_one(DataTable)
        rows = {table.get_row_at(i)[0]: table.get_row_at(i) for i in range(table.row_count)}
        expected = {e.name: e.info.kind for e in app.host.backends()}
        assert set(rows) == set(expected) and {"local", "scripted"} <= set(rows)
        assert {name: str(row[1]) for name, row in rows.items()} == expected
        assert str(rows["scripted"][3]) == "current"
        names = list(rows)
        table.move_cursor(row=names.index("local"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session.backend_name == "local")
        assert app.screen is app.chat
        assert "local" in str(app.chat.query_one("#statusbar").render())
        await send(pilot, "second turn")
        await wait_for(pilot, lambda: len(message_views(app)) == 4)
        await wait_idle(pilot, app, timeout=60)
        conv = app.session.conversation
        assert [m.content for m in conv.messages if m.role == "user"] == ["first turn", "second turn"]
        assert [m.backend for m in conv.messages if m.role == "assistant"] == ["scripted", "local"]
        assert conv.messages[-1].status == "complete"


async def test_switching_mid_reply_cancels_it_and_the_next_turn_uses_the_new_backend(make_app):
    app = make_app("scripted", backend_options=SLOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "slow one")
        await wait_for(pilot, lambda: len(message_views(app)) == 2 and message_views(app)[1].text)
        assert app.session.busy
        await app.switch_backend("local")
        await wait_idle(pilot, app)
        first_reply = app.session.conversation.messages[1]
        assert first_reply.status == "cancelled" and first_reply.backend == "scripted"
        assert first_reply.content and message_views(app)[1].status == "cancelled"
        assert app.session.backend_name == "local"
        await send(pilot, "next")
        await wait_for(pilot, lambda: len(message_views(app)) == 4)
        await wait_idle(pilot, app, timeout=60)
        last = app.session.conversation.messages[-1]
        assert last.backend == "local" and last.status == "complete"


async def test_command_palette_offers_every_backend_and_switches(make_app):
    app = make_app("local")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"switch backend: scripted")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session.backend_name == "scripted")
        assert app.screen is app.chat


async def test_unknown_backend_is_a_notification_not_a_crash(make_app):
    app = make_app("scripted")
    async with app.run_test(size=(120, 40)) as pilot:
        await app.switch_backend("nope")
        await pilot.pause()
        assert app.session.backend_name == "scripted"
        assert any("unknown backend 'nope'" in n.message for n in app._notifications)
