"""Plugins screen with a broken plugin, the sampling form, the narrow layout,
panel refresh from the timer."""

from __future__ import annotations

import json

from textual.widgets import DataTable, Input

from console.tui.screens.plugins import PluginsScreen
from console.tui.screens.sampling import SamplingForm
from console.tui.widgets.panels import MetricsPanels, MetricsStrip
from tui_helpers import message_views, wait_for, wait_idle


async def test_plugins_screen_shows_the_broken_plugin_and_its_error(make_app, make_host):
    app = make_app("scripted", host=make_host("scripted", "broken"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, PluginsScreen))
        table = app.screen.query_one(DataTable)
        rows = {table.get_row_at(i)[0]: [str(c) for c in table.get_row_at(i)] for i in range(table.row_count)}
        assert rows["broken"][3] == "failed"
        assert rows["scripted"][3] == "loaded" and rows["local"][3] == "loaded"
        errors = str(app.screen.query_one("#plugin-errors-text").render())
        assert "broken (failed)" in errors and "vendor SDK is not installed" in errors
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.chat)
        # the console still works with the broken plugin around
        await pilot.press(*"hi", "enter")
        await wait_idle(pilot, app)
        assert app.session.conversation.messages[-1].status == "complete"


async def test_sampling_form_validates_and_applies_to_the_conversation(make_app):
    app = make_app("scripted")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, SamplingForm))
        form = app.screen
        form.query_one("#field-top_p", Input).value = "2"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SamplingForm)
        assert "Top-p: must be in" in str(form.query_one("#sampling-error").render())
        form.query_one("#field-top_p", Input).value = "0.9"
        form.query_one("#field-temperature", Input).value = "0.3"
        form.query_one("#field-seed", Input).value = "11"
        form.query_one("#field-system").load_text("Answer briefly.")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.chat)
        s = app.session.sampling
        assert (s.temperature, s.top_p, s.seed) == (0.3, 0.9, 11)
        await pilot.press(*"hello", "enter")
        await wait_idle(pilot, app)
        conv = app.session.conversation
        assert conv.system_prompt == "Answer briefly."
        assert [v.role for v in message_views(app)] == ["system", "user", "assistant"]
        await app.chat.render_conversation()  # as when the conversation is opened again
        assert [v.role for v in message_views(app)] == ["system", "user", "assistant"]
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, SamplingForm))
        app.screen.query_one("#field-system").load_text("")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.chat)
        await pilot.pause()
        assert [v.role for v in message_views(app)] == ["user", "assistant"]
        assert app.session.conversation.system_prompt == ""
        assert "T 0.3" in str(app.chat.query_one("#statusbar").render())


async def test_sampling_form_takes_typing_at_once_and_enter_saves(make_app):
    """Opened, the form's first field has focus: what a person types goes into it."""
    app = make_app("scripted")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, SamplingForm))
        await pilot.press("end", *["backspace"] * 5, *"0.25", "enter")
        await wait_for(pilot, lambda: app.screen is app.chat)
        assert app.session.sampling.temperature == 0.25


async def test_narrow_terminal_collapses_panels_into_a_strip_and_stays_usable(make_app):
    app = make_app("scripted")
    async with app.run_test(size=(80, 24)) as pilot:
        chat = app.chat
        assert chat.has_class("-narrow")
        assert not chat.query_one("#sidebar").display and not chat.query_one(MetricsPanels).display
        assert chat.query_one(MetricsStrip).display
        await pilot.press(*"small screen", "enter")
        await wait_idle(pilot, app)
        await pilot.pause(0.4)
        assert [v.role for v in message_views(app)] == ["user", "assistant"]
        strip = str(chat.query_one("#strip-text").render())
        assert "tok/s" in strip and "modeled (scripted stand-in" in strip
        prompt = chat.query_one("#prompt")
        assert prompt.region.bottom <= 24 and prompt.region.height >= 3 and prompt.has_focus
        await pilot.press("f3")
        await pilot.pause()
        assert chat.query_one(MetricsPanels).display and not chat.query_one(MetricsStrip).display
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert chat.has_class("-wide") and chat.query_one("#sidebar").display


async def test_panels_repaint_from_the_timer_not_per_token(make_app, monkeypatch):
    shows = []
    real_show = MetricsPanels.show

    def counting(self, snap):
        shows.append(snap)
        return real_show(self, snap)

    monkeypatch.setattr(MetricsPanels, "show", counting)
    app = make_app("scripted", backend_options={"scripted": {"delay": 0.02}})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"count", "enter")
        await wait_for(pilot, lambda: len(message_views(app)) == 2)
        await wait_idle(pilot, app)
        await pilot.pause(0.6)
        tokens = app.session.conversation.messages[-1].usage.completion_tokens
        streamed_for = 0.02 * tokens
        assert len(shows) <= 4 * (streamed_for + 2.5)  # 4 Hz timer (plus slack), not one per token
        last = shows[-1]
        assert last.reply_tokens == tokens and last.labels["rate"].startswith("modeled")
        panel = app.chat.query_one("#panel-rate")
        assert "modeled (scripted stand-in" in str(panel.query_one(".panel-label").render())


async def test_with_no_arguments_the_console_opens_on_the_local_backend(isolated_home):
    from console.tui.app import ConsoleApp

    app = ConsoleApp()  # what `moe-console` runs: real settings, plugins and store paths
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.session.backend_name == "local"
        assert "local" in str(app.chat.query_one("#statusbar").render())
        assert not [n for n in app._notifications if n.severity == "error"]
    assert (isolated_home / "conversations.db").exists()


async def test_export_writes_the_conversation_as_markdown(make_app, isolated_home):
    app = make_app("scripted")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"export me", "enter")
        await wait_idle(pilot, app)
        app.action_export_markdown()
        files = list((isolated_home / "exports").glob("*.md"))
        assert len(files) == 1
        text = files[0].read_text()
        assert "export me" in text and "def square" in text
        app.action_export_json()
        (json_file,) = (isolated_home / "exports").glob("*.json")
        exported = json.loads(json_file.read_text())
        assert "export me" in json.dumps(exported)
        assert "scripted" in json.dumps(exported)  # each message records its backend
