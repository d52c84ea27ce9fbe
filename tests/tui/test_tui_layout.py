"""Every size and every key sequence: narrow terminals at start and on
resize, a screen asked for twice through two keys, the F1 help screen, and
a property test of random keys and sizes with the draft kept."""

from __future__ import annotations

import random
import time

import pytest
from textual.widgets import Footer

from console.tui import keys
from console.tui.screens.help import HelpScreen
from console.tui.screens.sampling import SamplingForm
from console.tui.widgets.prompt import PromptInput
from tui_helpers import wait_for, wait_idle


@pytest.mark.parametrize("width", [66, 40, 12])
async def test_a_narrow_terminal_at_start_and_on_resize_keeps_running_and_the_draft(make_app, width):
    app = make_app("scripted")
    async with app.run_test(size=(width, 24)) as pilot:
        await pilot.pause()
        prompt = app.chat.query_one(PromptInput)
        await pilot.press(*"draft kept")
        for size in ((9, 10), (5, 5), (120, 40), (67, 24), (3, 3), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
        assert app.return_code is None and app.screen is app.chat
        assert prompt.text == "draft kept"
        await pilot.press("enter")
        await wait_idle(pilot, app)
        assert app.session.conversation.messages[0].content == "draft kept"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_a_screen_asked_for_twice_is_shown_once_and_f1_lists_every_key(make_app, size):
    app = make_app("scripted")
    async with app.run_test(size=size) as pilot:
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, SamplingForm))
        await pilot.press("ctrl+b", "ctrl+o")  # the form again, through another screen
        await pilot.pause()
        assert [type(s).__name__ for s in app.screen_stack].count("SamplingForm") == 1
        assert isinstance(app.screen, SamplingForm) and app.return_code is None
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.chat)
        await pilot.press("ctrl+t", "f5", "ctrl+t")  # side by side, plugins over it, side by side again
        await pilot.pause()
        stack = [type(s).__name__ for s in app.screen_stack]
        assert stack.count("CompareScreen") == 1 and stack[-1] == "CompareScreen" and "PluginsScreen" not in stack
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.chat)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = str(app.screen.query_one("#help-text").render())
        for binding_id in keys.binding_ids():
            assert binding_id in text, binding_id
        for hidden in ("f2", "f3", "ctrl+q", "alt+up", "up / down"):
            assert hidden in text, hidden
        assert "measured" in text and "modeled" in text  # what the panels mean
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.chat)
        # the palette's "Keys" panel is this help screen, not a panel squeezing the chat
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Keys" not in titles and "Help: every key" in titles
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("f1")
        await wait_for(pilot, lambda: app.screen is app.chat)
        # the hint bar fits: every key shown in it is whole
        footer = app.chat.query_one(Footer)
        shown = " ".join(str(k.render()) for k in footer.query("FooterKey") if k.region.width)
        assert "Help" in shown and "Backend" in shown


#: Keys of the property test: characters, editing, every binding, screens.
KEYS = [*"ab c", "enter", "escape", "backspace", "up", "down", "left", "right", "tab", "shift+tab",
        "ctrl+n", "ctrl+b", "ctrl+o", "ctrl+t", "ctrl+r", "ctrl+f", "ctrl+up", "ctrl+j", "f1", "f2", "f3",
        "f4", "f5", "ctrl+p", "delete", "e", "k", "d", "r", "p"]
SIZES = [(80, 24), (120, 40), (40, 12), (66, 20), (200, 60)]


async def test_random_keys_and_sizes_never_end_the_app_and_keep_the_draft(make_app):
    """Property: a few hundred random steps (seeded, so a failure replays),
    bounded in time. After the walk, Esc back to the chat: the draft typed
    last is still in the prompt (or was sent: then it is stored)."""
    rng = random.Random(20261201)
    app = make_app("scripted")
    async with app.run_test(size=(80, 24)) as pilot:
        started = time.monotonic()
        steps = 0
        while steps < 200 and time.monotonic() - started < 40:
            if rng.random() < 0.05:
                await pilot.resize_terminal(*rng.choice(SIZES))
            else:
                await pilot.press(rng.choice(KEYS))
            steps += 1
            assert app.return_code is None, f"the app ended at step {steps}"
        assert steps >= 100
        for _ in range(8):  # back to the chat
            if app.screen is app.chat:
                break
            await pilot.press("escape")
            await pilot.pause()
        while app.screen is not app.chat:
            app.pop_screen()
            await pilot.pause()
        await wait_idle(pilot, app)
        prompt = app.chat.query_one(PromptInput)
        prompt.focus()
        prompt.clear()
        await pilot.press(*"the draft")
        await pilot.resize_terminal(30, 10)
        await pilot.press("f1", "escape", "ctrl+o", "escape")
        await wait_for(pilot, lambda: app.screen is app.chat)
        assert prompt.text == "the draft" and app.return_code is None


def test_moe_console_exits_non_zero_when_the_app_ends_on_an_error(make_host, tmp_path, monkeypatch):
    """``run_app`` (what ``moe-console`` runs) returns the app's error status.
    The app runs headless here (there is no terminal); it fails in start-up."""
    import console.tui.app as app_module
    from console.tui import run_app

    host = make_host("scripted")

    class FailingApp(app_module.ConsoleApp):
        def __init__(self):
            super().__init__(host=host, store_path=tmp_path / "c.db")

        def on_mount(self) -> None:
            raise RuntimeError("broken on purpose")

        def run(self, **kwargs):
            return super().run(headless=True, size=(80, 24))

    monkeypatch.setattr(app_module, "ConsoleApp", FailingApp)
    assert run_app() == 1
