"""A plugin that blocks its event loop cannot freeze the console, and is named once (issue 13)."""

from __future__ import annotations

import asyncio

from tui_helpers import wait_for


def stall_notices(app) -> list[str]:
    return [n.message for n in app._notifications if n.title == "A plugin blocks its event loop"]


async def test_a_blocking_plugin_leaves_the_screen_responsive_and_esc_working(make_app, make_host):
    import tui_blocking  # on sys.path once the conftest's fixtures ran

    tui_blocking.RELEASE.clear()
    tui_blocking.BLOCKING.clear()
    host = make_host("blocking")
    app = make_app("blocking", host=host)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            box = app.chat.query_one("#prompt")
            box.focus()
            await pilot.press(*"hello")
            await pilot.press("enter")
            assert await asyncio.to_thread(tui_blocking.BLOCKING.wait, 10)
            # the plugin is stuck in time.sleep: keys still reach the prompt box
            await asyncio.wait_for(pilot.press(*"typed while blocked"), 10)
            await wait_for(pilot, lambda: "typed while blocked" in box.text, timeout=10)
            await asyncio.wait_for(pilot.press("escape"), 10)
            await wait_for(pilot, lambda: not app.session.busy, timeout=10)
            assert not tui_blocking.RELEASE.is_set()  # stopped while the plugin still blocks
            assert app.session.conversation.messages[-1].status == "cancelled"
            await wait_for(pilot, lambda: host.plugin("blocking").warnings, timeout=10)
            assert "backend 'blocking' blocked its event loop" in host.plugin("blocking").warnings[0]
            # the user is told which plugin it was, once: a second blocking reply adds no second notice
            await wait_for(pilot, lambda: stall_notices(app), timeout=10)
            await pilot.press(*"again", "enter")
            await wait_for(pilot, lambda: app.session.last_reply.warning, timeout=10)
            await asyncio.wait_for(pilot.press("escape"), 10)
            await wait_for(pilot, lambda: not app.session.busy, timeout=10)
            await pilot.pause(0.3)  # one more turn of the 4 Hz check
            assert len(stall_notices(app)) == 1
            assert "Plugin 'blocking'" in stall_notices(app)[0] and "blocked its event loop" in stall_notices(app)[0]
    finally:
        tui_blocking.RELEASE.set()
