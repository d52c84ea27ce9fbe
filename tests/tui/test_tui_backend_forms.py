"""The backend forms at 80x24: a remote endpoint added from the TUI (checked and
used against a real ``moe-console serve``, and against endpoints that refuse or
hang), a backend's options form made from its declared options, and bad option
values named when switching."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from textual.widgets import Checkbox, DataTable, Input

from console.tui.screens.backend_options import BackendOptionsForm
from console.tui.screens.backends import BackendPicker
from console.tui.screens.remote_form import RemoteEndpointForm
from tui_helpers import message_views, wait_for, wait_idle

sys.path.insert(0, str(Path(__file__).parents[1] / "remote"))
from served import shared  # noqa: E402  (tests/remote/served.py: real serve processes)


@pytest.fixture(scope="module")
def served():
    """``moe-console serve`` on the built-in model (shared with tests/remote)."""
    with shared("plain") as server:
        yield server


def status_of(app) -> str:
    return str(app.screen.query_one("#form-status").render())


async def fill(pilot, app, typed: bool = True, **values: str) -> None:
    """Type each value into its field of the remote form, as a user would (or,
    ``typed=False``, set it: typing costs ~60 ms a key under the Pilot)."""
    await pilot.pause()  # the form is composed
    for key, text in values.items():
        field = app.screen.query_one(f"#remote-{key}", Input)
        field.focus()
        field.clear()
        if typed:
            await pilot.press(*text)
        else:
            field.value = text


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_a_remote_endpoint_added_in_the_form_is_checked_saved_and_used_at_once(make_app, served, isolated_home):
    settings_file = isolated_home / "settings.toml"
    settings_file.write_text('# my own notes\ntheme = "textual-dark"  # kept\n', encoding="utf-8")
    app = make_app("scripted")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"before", "enter")
        await wait_idle(pilot, app)
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: isinstance(app.screen, BackendPicker))
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, RemoteEndpointForm))
        await fill(pilot, app, name="served", url=served.url, api_key_env="SERVED_KEY", hardware="h100",
                   chips="1", price_usd_per_chip_hour="2.5")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "reachable · moe-console" in status_of(app))
        assert "models: " in status_of(app)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, BackendPicker))
        table = app.screen.query_one(DataTable)
        names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert "served" in names and names[table.cursor_row] == "served"  # listed and highlighted
        text = settings_file.read_text(encoding="utf-8")
        assert text.startswith("# my own notes\ntheme = \"textual-dark\"  # kept\n")
        assert "[remote.served]" in text and f'url = "{served.url}"' in text and 'api_key_env = "SERVED_KEY"' in text
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session.backend_name == "served")
        await pilot.press(*"after", "enter")
        await wait_for(pilot, lambda: len(message_views(app)) == 4)
        await wait_idle(pilot, app)
        conv = app.session.conversation
        assert [m.content for m in conv.messages if m.role == "user"] == ["before", "after"]
        assert [m.backend for m in conv.messages if m.role == "assistant"] == ["scripted", "served"]
        assert conv.messages[-1].status == "complete" and conv.messages[-1].content


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_the_remote_form_says_what_is_wrong_in_one_line_and_never_freezes(make_app, isolated_home):
    app = make_app("scripted")
    hanging = socket.socket()  # accepts connections (the kernel's backlog) and never answers
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(8)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("ctrl+p", *"add a remote")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, RemoteEndpointForm))
            for values, expected in (
                ({"name": "x", "url": "ftp://nowhere"}, "url must be an http(s) URL"),
                ({"name": "x", "url": "http://127.0.0.1:1/v1", "chips": "many"}, "Chips must be a whole number"),
                ({"name": "local", "chips": ""}, "already the name of a backend of plugin 'local'"),
            ):
                await fill(pilot, app, typed=False, **values)
                await pilot.press("ctrl+s")
                await wait_for(pilot, lambda: expected in status_of(app))
                assert isinstance(app.screen, RemoteEndpointForm) and "\n" not in status_of(app).strip()
            await fill(pilot, app, typed=False, name="gone", url=f"http://127.0.0.1:{free_port()}/v1")
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: status_of(app).startswith("unreachable"))
            await fill(pilot, app, typed=False, url=f"http://127.0.0.1:{hanging.getsockname()[1]}/v1")
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: "checking" in status_of(app))
            await fill(pilot, app, model="typed")  # keys still reach the form
            assert app.screen.query_one("#remote-model", Input).value == "typed"
            assert "checking" in status_of(app)
            form = app.screen
            await pilot.press("escape")  # closes at once: the check still waiting is cancelled
            await wait_for(pilot, lambda: app.screen is app.chat)
            await wait_for(pilot, lambda: not [w for w in app.workers if w.node is form and not w.is_finished])
            assert not (isolated_home / "settings.toml").exists()  # nothing was saved
    finally:
        hanging.close()
async def test_the_options_form_is_the_declared_options_checked_by_their_own_rule(make_app, isolated_home,
                                                                                  monkeypatch):
    monkeypatch.setenv("SCRIPTED_KEY", "s3cret-value")
    app = make_app("scripted", backend_options={"scripted": {"api_key_env": "SCRIPTED_KEY"}})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: isinstance(app.screen, BackendPicker))
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, BackendOptionsForm))
        form = app.screen
        shown = " ".join(str(w.render()) for w in form.query(".option-note, Label"))
        assert "delay" in shown and "must be a number >= 0" in shown
        assert "$SCRIPTED_KEY (set)" in shown and "s3cret-value" not in shown
        assert form.query_one("#option-api_key_env", Input).value == "SCRIPTED_KEY"
        delay = form.query_one("#option-delay", Input)
        delay.focus()
        delay.clear()
        await pilot.press(*"-1", "ctrl+s")
        await wait_for(pilot, lambda: "must be a number >= 0" in str(form.query_one("#form-status").render()))
        assert app.screen is form
        delay.clear()
        await pilot.press(*"0.01")
        form.query_one("#options-to-file", Checkbox).value = True
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, BackendPicker))
        assert app.session.backend.settings["delay"] == 0.01
        text = (isolated_home / "settings.toml").read_text(encoding="utf-8")
        assert "[backends.scripted]" in text and "delay = 0.01" in text and 's3cret' not in text


async def test_bad_option_values_are_named_at_start_up_and_on_switching(make_app):
    app = make_app("local", backend_options={"scripted": {"delay": -1}})
    rule = "[backends.scripted] delay = -1: must be a number >= 0; using the default 0.0"
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: any(rule in n for n in notes(app)))
        await app.switch_backend("scripted")
        await wait_for(pilot, lambda: sum(rule in n for n in notes(app)) == 2)
        assert app.session.backend.settings["delay"] == 0.0
