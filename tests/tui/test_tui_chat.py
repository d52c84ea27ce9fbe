"""The chat driven through the real app with the real ``local`` backend (the
built-in model): send and stream, cancel with Esc, resend, regenerate,
recall, keymap, settings problems, persistence across a restart."""

from __future__ import annotations

import asyncio
import dataclasses

from textual.widgets import Markdown

from console.api import Sampling
from console.tui.widgets.message import MessageView
from console.tui.widgets.prompt import PromptInput
from tui_helpers import LONG_PROMPT, LONG_SAMPLING, message_views, wait_for, wait_idle


async def send(pilot, text: str) -> None:
    await pilot.press(*text)
    await pilot.press("enter")


async def test_send_streams_the_reply_through_markdown_stream(make_app, monkeypatch, long_options):
    calls = {"append": 0, "update": 0}
    real_append, real_update = Markdown.append, Markdown.update

    def counting_append(self, markdown):
        calls["append"] += 1
        return real_append(self, markdown)

    def counting_update(self, markdown):
        calls["update"] += 1
        return real_update(self, markdown)

    monkeypatch.setattr(Markdown, "append", counting_append)
    monkeypatch.setattr(Markdown, "update", counting_update)
    app = make_app("local", sampling=dataclasses.replace(LONG_SAMPLING, max_tokens=200),
                   backend_options=long_options)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, LONG_PROMPT)
        seen_partial = []
        await wait_for(pilot, lambda: len(message_views(app)) == 2)
        reply = message_views(app)[1]
        stream = app.session._reply
        while not stream.done.is_set():  # ends on the reply's own event, however slow the machine
            if reply.status == "streaming" and reply.body.source:
                seen_partial.append(len(reply.body.source))
            await asyncio.wait([asyncio.ensure_future(stream.done.wait())], timeout=0.05)
        await wait_idle(pilot, app)
        conv = app.session.conversation
        stored = conv.messages[-1]
        assert [m.role for m in conv.messages] == ["user", "assistant"]
        assert stored.status == "complete" and stored.backend == "local"
        assert stored.content and reply.text == stored.content
        assert reply.body.source == stored.content  # drawn once more in full at the end
        assert seen_partial, "the reply was never seen partially drawn while streaming"
        tokens = stored.usage.completion_tokens
        assert tokens == 200
        assert calls["append"] < tokens  # deltas are batched, never one append per token
        assert "tok/s" in str(reply.query_one(".message-footer").render())
        assert app.chat.query_one(PromptInput).has_focus


async def test_escape_cancels_keeps_the_partial_reply_and_offers_the_prompt_again(make_app, long_options):
    app = make_app("local", sampling=LONG_SAMPLING, backend_options=long_options)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, LONG_PROMPT)
        await wait_for(pilot, lambda: len(message_views(app)) == 2 and message_views(app)[1].text)
        assert app.session.busy
        await pilot.press("escape")
        await wait_idle(pilot, app)
        reply = message_views(app)[1]
        stored = app.session.conversation.messages[-1]
        assert stored.status == "cancelled" and reply.status == "cancelled"
        assert stored.content and stored.content == reply.text
        assert stored.usage.completion_tokens < LONG_SAMPLING.max_tokens
        assert "cancelled" in str(reply.query_one(".message-header").render())
        assert app.screen is app.chat  # still in the chat
        prompt = app.chat.query_one(PromptInput)
        assert prompt.text == LONG_PROMPT  # recalled for editing or resending
        app.session.sampling = Sampling(max_tokens=16, temperature=0.0)
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(message_views(app)) == 4)
        await wait_idle(pilot, app)
        conv = app.session.conversation
        assert [m.role for m in conv.messages] == ["user", "assistant", "user", "assistant"]
        assert conv.messages[1].status == "cancelled"


async def test_regenerate_replaces_the_last_reply(make_app):
    app = make_app("local", sampling=Sampling(max_tokens=24, temperature=0.9, seed=None))
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "hello")
        await wait_for(pilot, lambda: len(message_views(app)) == 2)
        await wait_idle(pilot, app)
        first_id = app.session.conversation.messages[-1].id
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.session.conversation.messages[-1].id != first_id)
        await wait_idle(pilot, app)
        conv = app.session.conversation
        assert [m.role for m in conv.messages] == ["user", "assistant"]
        assert conv.messages[-1].status == "complete"
        views = message_views(app)
        assert [v.role for v in views] == ["user", "assistant"]
        assert views[-1].text == conv.messages[-1].content


async def test_up_arrow_recalls_the_last_prompt_and_newline_key_inserts_a_line(make_app):
    app = make_app("scripted")
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "first")
        await wait_idle(pilot, app)
        prompt = app.chat.query_one(PromptInput)
        assert prompt.text == ""
        await pilot.press("up")
        assert prompt.text == "first"
        await pilot.press("ctrl+j", "x")
        assert prompt.text == "first\nx"


async def test_keymap_from_settings_rebinds_send_and_newline(make_app):
    app = make_app("scripted", keymap={"send": "ctrl+s", "newline": "enter"})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a", "enter", "b")
        prompt = app.chat.query_one(PromptInput)
        assert prompt.text == "a\nb" and not message_views(app)
        await pilot.press("ctrl+s")
        await wait_idle(pilot, app)
        assert app.session.conversation.messages[0].content == "a\nb"


async def test_malformed_settings_file_is_reported_and_defaults_are_used(isolated_home, make_host, tmp_path):
    from console.tui.app import ConsoleApp

    (isolated_home / "settings.toml").write_text('default_backend = "scripted"\ntheme = \n[keymap]\nnope = "x"\n')
    app = ConsoleApp(host=make_host("scripted"), store_path=tmp_path / "c.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("settings.toml:2" in m for m in messages), messages
        assert app.session.backend_name == "local"  # the file was unusable: defaults


async def test_conversations_persist_across_a_restart(make_app):
    app = make_app("scripted")
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "remember me")
        await wait_idle(pilot, app)
        await pilot.press("ctrl+n")
        await send(pilot, "second chat")
        await wait_idle(pilot, app)
    again = make_app("scripted")
    async with again.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        titles = [c.title for c in again.session.conversations()]
        assert sorted(titles) == ["remember me", "second chat"]
        views = message_views(again)
        assert [v.role for v in views] == ["user", "assistant"]  # the most recent one is open
        sidebar = again.chat.query_one("#sidebar")
        assert sidebar.option_count == 2
        first = next(c for c in again.session.conversations() if c.title == "remember me")
        sidebar.focus()
        sidebar.highlighted = sidebar.get_option_index(f"conv-{first.id}")
        await pilot.press("enter")
        await wait_for(pilot, lambda: message_views(again) and message_views(again)[0].text == "remember me")
        assert isinstance(message_views(again)[1], MessageView)
        assert message_views(again)[1].status == "complete"


async def test_local_backend_options_come_from_settings_toml(isolated_home, make_host, tmp_path):
    from console.tui.app import ConsoleApp

    (isolated_home / "settings.toml").write_text("[backends.local]\nignore_eos = true\n")
    app = ConsoleApp(host=make_host("scripted"), store_path=tmp_path / "c.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.session.backend_name == "local" and not app.session.problems
        assert app.session.backend.settings["ignore_eos"] is True
