"""Figures and rendering: labels follow the backend at once, endings are
marked, a stopped reply's cost stays in the totals, footers are one line
with details on demand, user text is verbatim, copy actions, whole
provenance labels, the routing label names the model that computed it, and
the first-run notice."""

from __future__ import annotations

import pytest

from console.api import Sampling
from console.tui.widgets.panels import MetricsPanels, MetricsStrip
from console.tui.widgets.prompt import PromptInput
from tui_helpers import message_views, wait_for, wait_idle

USER_TEXT = "What does __init__ do?\n  * not a list\nsecond line"


async def send(pilot, text: str) -> None:
    pilot.app.chat.query_one(PromptInput).load_text(text)
    await pilot.press("enter")
    await wait_idle(pilot, pilot.app)


def panel_text(app) -> str:
    if app.chat.query_one(MetricsPanels).display:
        return " ".join(str(w.render()) for w in app.chat.query("#panels Static"))
    return str(app.chat.query_one(MetricsStrip).query_one("#strip-text").render())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_replies_render_verbatim_marked_compact_and_copyable(make_app, size):
    app = make_app("scripted", sampling=Sampling(max_tokens=8, temperature=0.0))
    async with app.run_test(size=size) as pilot:
        welcome = app.chat.query_one("#welcome")
        notice = str(welcome.render())
        assert welcome.display and "4.9M-parameter" in notice and "model_path" in notice
        assert "not facts" in notice and "measured" in notice and "modeled" in notice
        await send(pilot, USER_TEXT)
        assert not welcome.display
        user, reply = message_views(app)
        assert str(user.body.render()) == USER_TEXT  # verbatim: no Markdown, line breaks kept
        stored = app.session.conversation.messages[-1]
        assert stored.finish_reason == "length"
        assert "cut at max tokens" in str(reply.query_one(".message-header").render())
        footer = reply.query_one(".message-footer")
        line = str(footer.render())
        assert "\n" not in line and "tok" in line and "TTFT" in line and line.startswith("scripted · modeled ·")
        reply.focus()
        await pilot.press("d")  # the details: every figure, whole labels
        details = str(footer.render())
        assert "modeled (scripted stand-in, fixed timings)" in details and "stand-in price (fixed)" in details
        await pilot.press("d")
        assert str(footer.render()) == line
        await pilot.press("c")
        assert app.clipboard == reply.text
        await pilot.press("escape")  # back to the prompt
        assert app.chat.query_one(PromptInput).has_focus
        app.session.sampling = Sampling(max_tokens=60, temperature=0.0)
        await send(pilot, "code please")
        code_reply = message_views(app)[-1]
        assert code_reply.ending == "stop" and "cut at" not in str(code_reply.query_one(".message-header").render())
        code_reply.focus()
        await pilot.press("k")
        assert app.clipboard == "def square(x):\n    return x * x"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_labels_follow_the_backend_and_a_stopped_reply_is_paid_for(make_app, size):
    app = make_app("local", backend_options={"h100": {"pace": "fast"}, "scripted": {"delay": 0.05}},
                   sampling=Sampling(max_tokens=12, temperature=0.0, seed=1))
    async with app.run_test(size=size) as pilot:
        await send(pilot, "hello")
        assert "measured" in panel_text(app)
        await app.switch_backend("h100")
        app.chat.refresh_panels()
        await pilot.pause()
        snap = app.metrics.snapshot("h100")
        assert snap.labels["rate"].startswith("modeled") and snap.replies == 0  # before any reply
        assert "modeled" in panel_text(app) and "measured ·" not in panel_text(app)
        await send(pilot, "and now?")
        routing = app.metrics.snapshot("h100").labels["routing"]
        assert routing == "measured on the built-in model, not the modeled target"
        if size == (120, 40):  # whole provenance labels in the panels, never cut
            label = app.metrics.snapshot("h100").labels["rate"]
            app.chat.refresh_panels()
            await pilot.pause()
            shown = str(app.chat.query_one("#panel-rate .panel-label").render())
            assert " ".join(shown.split()) == label
        # a stopped reply's cost stays in the conversation total, marked stopped
        await app.switch_backend("scripted")
        app.session.sampling = Sampling(max_tokens=12, temperature=0.0)
        await send(pilot, "priced")  # the scripted backend's price is known now
        total_before = app.metrics.conversation_cost()
        app.session.sampling = Sampling(max_tokens=400, temperature=0.0)
        app.chat.query_one(PromptInput).load_text("stop me")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(message_views(app)[-1].text) > 10)
        await pilot.press("escape")
        await wait_idle(pilot, app)
        stopped = app.session.conversation.messages[-1]
        assert stopped.status == "cancelled" and stopped.cost is not None and stopped.cost.total_usd > 0
        assert app.metrics.conversation_cost() == pytest.approx(total_before + stopped.cost.total_usd)
        assert app.session.conversation.cost_usd == pytest.approx(app.metrics.conversation_cost())
        assert "(stopped)" in str(message_views(app)[-1].query_one(".message-footer").render())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_history_dropped_to_fit_the_window_is_marked_with_a_first_time_notice(make_app, size):
    long_text = " ".join(f"word{i} alpha{i % 7} beta{i % 11}" for i in range(70))  # about 600 tokens: two do not fit
    app = make_app("local", sampling=Sampling(max_tokens=8, temperature=0.0, seed=1))
    async with app.run_test(size=size) as pilot:
        await send(pilot, long_text)
        assert not app.chat.query(".window-start")  # everything fit
        await send(pilot, "and " + long_text)
        start = app.session.window_start()
        assert start is not None and start[1] == 2  # the first turn and its reply are no longer sent
        markers = list(app.chat.query("#thread .window-start"))
        assert len(markers) == 1
        children = list(app.chat.query_one("#thread").children)
        after = children[children.index(markers[0]) + 1]
        assert after.message_id == start[0] and after.role == "user" and after.text.startswith("and ")
        notes = [n.message for n in app._notifications]
        assert sum("context window" in n for n in notes) == 1
        await send(pilot, "short")
        notes = [n.message for n in app._notifications]
        assert sum("context window" in n for n in notes) == 1  # the notice only the first time
