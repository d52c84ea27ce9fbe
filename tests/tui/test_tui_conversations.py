"""Conversations you can manage: rename, pin, delete (asked first), search
titles and text, titles from the whole first turn; edit a past turn (a fork
that keeps the original branch) and walk a turn's alternatives; a reopened
conversation comes back on its own backend and sampling; the theme is
remembered across a restart."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Input

from console.api import Sampling
from console.tui.screens.dialogs import ConfirmDialog, PickDialog, TextDialog
from console.tui.widgets.conversations import ConversationList
from console.tui.widgets.prompt import PromptInput
from tui_helpers import message_views, wait_for, wait_idle

LONG_FIRST_TURN = "How do the routed experts of a mixture-of-experts layer share the work between them?"


async def send(pilot, text: str) -> None:
    pilot.app.chat.query_one(PromptInput).load_text(text)  # typing is tested elsewhere; keep this fast
    await pilot.press("enter")
    await wait_idle(pilot, pilot.app)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_rename_pin_search_and_delete_conversations(make_app, size):
    app = make_app("scripted")
    async with app.run_test(size=size) as pilot:
        await send(pilot, LONG_FIRST_TURN)
        first = app.session.conversation
        assert first.title.startswith("How do the routed experts") and first.title.endswith("…")
        assert len(first.title) <= 60 and first.title[:-1] in LONG_FIRST_TURN  # cut at a word, not mid-word
        await pilot.press("ctrl+n")
        await send(pilot, "second chat about bananas")
        sidebar = app.chat.query_one(ConversationList)
        if not sidebar.display:
            await pilot.press("f2")  # the list, also at 80x24
        await wait_for(pilot, lambda: sidebar.display)
        sidebar.focus()
        sidebar.highlighted = sidebar.get_option_index(f"conv-{first.id}")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, TextDialog))
        app.screen.query_one(Input).value = "Expert routing"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.chat)
        await pilot.press("p")  # pin it: listed first although older
        await pilot.pause()
        listed = app.session.conversations()
        assert [c.title for c in listed][0] == "Expert routing" and listed[0].pinned
        assert str(sidebar.get_option_at_index(0).prompt).startswith("★ Expert routing")
        # search finds message text, not only titles
        await pilot.press("ctrl+f")
        await wait_for(pilot, lambda: isinstance(app.screen, PickDialog))
        await pilot.press(*"share the work")
        await pilot.pause()
        options = app.screen.query_one("#pick-list")
        assert options.option_count == 1
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.chat and app.session.conversation.id == first.id)
        # delete asks first; "Cancel" keeps it, "Delete" removes it
        sidebar.focus()
        sidebar.highlighted = sidebar.get_option_index(f"conv-{first.id}")
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.chat)
        assert len(app.session.conversations()) == 2
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        app.screen.query_one("#yes", Button).press()
        await wait_for(pilot, lambda: len(app.session.conversations()) == 1)
        await pilot.pause()
        assert app.session.conversation.title == "second chat about bananas"
        assert [v.text for v in message_views(app) if v.role == "user"] == ["second chat about bananas"]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_edit_a_past_turn_forks_and_alternatives_can_be_walked(make_app, size):
    app = make_app("scripted")
    async with app.run_test(size=size) as pilot:
        await send(pilot, "first question")
        await send(pilot, "second question")
        await pilot.press("ctrl+up")  # to the messages
        views = message_views(app)
        await wait_for(pilot, lambda: views[-1].has_focus)
        await pilot.press("up", "up", "up")  # the first user turn
        assert views[0].has_focus and views[0].role == "user"
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, TextDialog))
        app.screen.query_one("#dialog-text").load_text("first question, edited")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.chat)
        await wait_idle(pilot, app)
        conv = app.session.conversation
        assert [m.content for m in conv.messages if m.role == "user"] == ["first question, edited"]
        assert "first question, edited" in conv.messages[-1].content  # the reply answers the edit
        views = message_views(app)
        assert views[0].alternative == (2, 2)
        assert "2/2" in str(views[0].query_one(".message-header").render())
        views[0].focus()
        await pilot.press("left")  # back to the original branch, kept whole
        await wait_for(pilot, lambda: [v.text for v in message_views(app) if v.role == "user"]
                       == ["first question", "second question"])
        assert message_views(app)[0].alternative == (1, 2)
        # regenerate keeps the previous reply as an alternative
        old_reply = app.session.conversation.messages[-1]
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.session.conversation.messages[-1].id != old_reply.id)
        await wait_idle(pilot, app)
        last = message_views(app)[-1]
        assert last.alternative == (2, 2)
        last.focus()
        await pilot.press("left")
        await wait_for(pilot, lambda: app.session.conversation.messages[-1].id == old_reply.id)


async def test_a_reopened_conversation_comes_back_on_its_backend_sampling_and_the_theme(make_app, make_host):
    app = make_app("scripted", backend_options={"h100": {"pace": "fast"}})
    async with app.run_test(size=(120, 40)) as pilot:
        await app.switch_backend("h100")
        app.session.sampling = Sampling(max_tokens=6, temperature=0.0, seed=3)
        await send(pilot, "on the modeled H100")
        app.theme = "nord"
        await pilot.pause()
    again = make_app("scripted", backend_options={"h100": {"pace": "fast"}})
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert again.session.backend_name == "h100"
        assert again.session.sampling.max_tokens == 6 and again.session.sampling.seed == 3
        assert again.theme == "nord"
        assert "h100" in str(again.chat.query_one("#statusbar").render())
    # a backend that is gone: the conversation opens on the default one and says why
    gone = make_app("scripted", host=make_host("scripted", builtin=False))
    async with gone.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert gone.session.backend_name == "scripted"
        notes = [n.message for n in gone._notifications]
        assert any("ran on h100, which is not available" in n for n in notes), notes
