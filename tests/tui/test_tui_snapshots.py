"""SVG snapshots of the main screen (wide and narrow), the backend picker,
the side-by-side view (after a run, wide and at 80x24), the sampling form at
80x24, the help screen and the plugins screen.

Deterministic by construction: a fixed conversation ("hello") answered by
the scripted stand-in backend (fixed text, fixed modeled timings, cost and
routing), an injected clock that never moves, greedy seeded sampling, no
cursor blink. The compare view also shows the modeled H100 workload table,
so a change of the perf data (prices, calibration) changes it too.
Regenerate with ``pytest tests/tui --snapshot-update`` after a deliberate
change of the screens or data, and look at the SVGs before committing.
"""

from __future__ import annotations

from console.tui.widgets.prompt import PromptInput
from tui_helpers import FakeClock, wait_for, wait_idle


async def converse(pilot) -> None:
    app = pilot.app
    app.chat.query_one(PromptInput).cursor_blink = False
    await pilot.press(*"hello", "enter")
    await wait_idle(pilot, app)
    await pilot.pause(0.6)  # two panel timer ticks


def test_main_screen_wide(snap_compare, make_app):
    app = make_app("scripted", clock=FakeClock())
    assert snap_compare(app, terminal_size=(120, 40), run_before=converse)


def test_main_screen_narrow(snap_compare, make_app):
    app = make_app("scripted", clock=FakeClock())
    assert snap_compare(app, terminal_size=(80, 24), run_before=converse)


def test_backend_picker(snap_compare, make_app, make_host):
    app = make_app("scripted", clock=FakeClock(), host=make_host("scripted", "broken"))

    async def open_picker(pilot):
        await converse(pilot)
        await pilot.press("ctrl+b")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(120, 40), run_before=open_picker)


def test_plugins_screen(snap_compare, make_app, make_host):
    app = make_app("scripted", clock=FakeClock(), host=make_host("scripted", "broken"))

    async def open_plugins(pilot):
        pilot.app.chat.query_one(PromptInput).cursor_blink = False
        await pilot.press("f5")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(120, 40), run_before=open_plugins)


async def run_compare(pilot):
    await converse(pilot)
    from console.tui.screens.compare import CompareScreen

    screen = CompareScreen(pilot.app.session, pilot.app.host, selected=["scripted", "h100"], run_now=True)
    pilot.app.push_screen(screen)
    await wait_for(pilot, lambda: screen.is_mounted and screen.finished.is_set())
    screen.query_one("#compare-prompt").cursor_blink = False
    await pilot.pause(0.5)


def test_compare_view(snap_compare, make_app):
    app = make_app("scripted", clock=FakeClock(), backend_options={"h100": {"pace": "fast"}})
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_compare)


def test_compare_view_at_80x24(snap_compare, make_app):
    app = make_app("scripted", clock=FakeClock(), backend_options={"h100": {"pace": "fast"}})
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_compare)


def test_sampling_form_at_80x24(snap_compare, make_app):
    app = make_app("scripted", clock=FakeClock())

    async def open_form(pilot):
        pilot.app.chat.query_one(PromptInput).cursor_blink = False
        await pilot.press("ctrl+o")
        await pilot.pause(0.3)
        for field in pilot.app.screen.query("Input"):
            field.cursor_blink = False

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_form)


def test_help_screen(snap_compare, make_app):
    app = make_app("scripted", clock=FakeClock())

    async def open_help(pilot):
        pilot.app.chat.query_one(PromptInput).cursor_blink = False
        await pilot.press("f1")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(120, 40), run_before=open_help)
