"""Input never drops a keystroke: text and Enter in one burst through the
real terminal input path (Textual's Linux driver input thread and parser),
at start-up (typed ahead, even in the tty's cooked mode) and later;
bracketed paste stays text; a non-UTF-8 byte is shown, not fatal; the prompt
history walks like a shell and is searchable; a prompt restored after Esc
is marked and selected."""

from __future__ import annotations

import pytest

from console.api import Sampling
from console.tui import tolerate_bad_input_bytes
from console.tui.widgets.prompt import RESTORED_TITLE, PromptInput
from tui_helpers import Terminal, message_views, wait_for, wait_idle


def user_turns(app) -> list[str]:
    conv = app.session.conversation
    return [m.content for m in conv.messages if m.role == "user"] if conv else []


@pytest.mark.parametrize(("size", "enter"), [((80, 24), b"\n"), ((120, 40), b"\r")])
async def test_a_burst_of_text_and_enter_is_sent_whole_and_once(make_app, size, enter):
    """``\\n``: Enter typed ahead while the terminal was still in cooked mode
    (ICRNL turns it into a line feed); ``\\r``: Enter in raw mode."""
    tolerate_bad_input_bytes()
    app = make_app("scripted")
    held = []
    real_ready = app.input_ready

    async def ready():
        held.append(len(app._held_input or ()))
        await real_ready()

    app.input_ready = ready
    terminal = Terminal(app).start()
    terminal.type(b"What is Python?" + enter)  # before the app is up: type-ahead
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: user_turns(app))
        await wait_idle(pilot, app)
        assert held and held[0] > 0, "the burst was not typed ahead of the prompt"
        assert user_turns(app) == ["What is Python?"]
        prompt = app.chat.query_one(PromptInput)
        assert prompt.text == ""
        terminal.type(b"and the second one, typed fast\r")  # later, while idle
        await wait_for(pilot, lambda: len(user_turns(app)) == 2)
        await wait_idle(pilot, app)
        assert user_turns(app) == ["What is Python?", "and the second one, typed fast"]
        # bracketed paste: its line breaks stay in the box, nothing is sent
        terminal.type(b"\x1b[200~first line\r\nsecond line\x1b[201~")
        await wait_for(pilot, lambda: "second line" in prompt.text)
        assert prompt.text == "first line\nsecond line" and len(user_turns(app)) == 2
        terminal.type(b" \xff!")  # a byte that is not UTF-8: shown as U+FFFD, the app lives on
        await wait_for(pilot, lambda: prompt.text.endswith("!"))
        assert prompt.text == "first line\nsecond line \ufffd!"
        terminal.type(b"\r")
        await wait_for(pilot, lambda: len(user_turns(app)) == 3)
        await wait_idle(pilot, app)
        assert user_turns(app)[-1] == "first line\nsecond line \ufffd!"
        assert app.return_code is None  # still running, no error
        await terminal.close()
        views = [v for v in message_views(app) if v.role == "user"]
        assert str(views[-1].body.render()) == "first line\nsecond line \ufffd!"  # verbatim


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_prompt_history_walks_like_a_shell_and_is_searchable(make_app, size):
    app = make_app("scripted", sampling=Sampling(max_tokens=40, temperature=0.0))
    async with app.run_test(size=size) as pilot:
        for text in ("alpha one", "beta two"):
            await pilot.press(*text, "enter")
            await wait_idle(pilot, app)
        await pilot.press("ctrl+n")
        await pilot.press(*"gamma three", "enter")
        await wait_idle(pilot, app)
        prompt = app.chat.query_one(PromptInput)
        await pilot.press(*"draft")
        walked = []
        for _ in range(4):
            await pilot.press("up")
            walked.append(prompt.text)
        assert walked == ["gamma three", "beta two", "alpha one", "alpha one"]  # this chat first, then others
        await pilot.press("down", "down", "down")
        assert prompt.text == "draft"  # walked back to the draft, kept
        await pilot.press("f4")
        await pilot.press(*"bet")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.chat)
        assert prompt.text == "beta two"
        # Esc while streaming: the prompt comes back marked and selected
        prompt.clear()
        app.session.backend.settings["delay"] = 0.05  # a reply slow enough to stop
        await pilot.press(*"delta four", "enter")
        await wait_for(pilot, lambda: app.session.busy)
        await pilot.press("escape")
        await wait_idle(pilot, app)
        assert prompt.text == "delta four" and prompt.border_title == RESTORED_TITLE
        assert prompt.selected_text == "delta four"
        await pilot.press(*"epsilon")  # typing replaces the restored prompt
        assert prompt.text == "epsilon" and not prompt.border_title
