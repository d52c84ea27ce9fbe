"""Side by side: one turn on several backends, and continuing the
conversation with one of the answers. A mixin of
:class:`console.conversation.ChatSession` (it uses the session's store,
metrics, backends and busy state), kept apart so that each module has one job.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable, Iterable

from console.api import Cost, Event, Message, OptionError, PluginError, Request, Timing, Usage
from console.reply import ReplyStream, one_line
from console.store import DEFAULT_TITLE, ConversationRecord
from console.turns import SessionBusy, _title, history


@dataclass(frozen=True)
class CompareResult:
    """One backend's answer to a compared turn."""

    backend: str
    text: str
    status: str  # complete | cancelled | failed
    model: str = ""
    usage: Usage | None = None
    timing: Timing | None = None
    cost: Cost | None = None
    error: str | None = None



class SideBySide:
    """Needs the session's ``store``, ``metrics``, ``settings``, ``host``,
    ``conversation``, ``busy``, ``sampling``, ``_create``, ``_compares``,
    ``_clock``, ``_persist``, ``_backend_name``, ``new_conversation``."""

    # ------------------------------------------------------------ compare

    async def compare(
        self, text: str | None, backends: Iterable[str], *, concurrent: bool = False,
        on_event: Callable[[str, Event], None] | None = None,
    ) -> dict[str, CompareResult]:
        """Run one turn on several backends and return each one's answer.

        ``text`` None re-asks the current conversation's last user turn (with
        the history before it); otherwise ``text`` follows the conversation's
        history. Nothing is stored in the conversation; each run feeds its
        backend's metrics series. Sequential by default, so that measured
        backends do not share the CPU; ``concurrent=True`` runs them together.
        ``on_event(backend, event)`` sees every event as it arrives.
        """
        if self.busy:
            raise SessionBusy("a reply is streaming; cancel it first")
        conv = self.conversation
        if text is None:
            if conv is None or not any(m.role == "user" for m in conv.messages):
                raise ValueError("nothing to compare: no user turn yet")
            last_user = max(i for i, m in enumerate(conv.messages) if m.role == "user")
            messages = history(conv, upto=last_user) + [Message("user", conv.messages[last_user].content)]
        else:
            if not text.strip():
                raise ValueError("nothing to compare: the message is empty")
            base = history(conv) if conv is not None else (
                [Message("system", self.settings.system_prompt)] if self.settings.system_prompt.strip() else [])
            messages = base + [Message("user", text)]
        names = list(dict.fromkeys(backends))
        if not names:
            raise ValueError("compare needs at least one backend")

        async def run(name: str) -> CompareResult:
            try:
                backend = self._create(name)
            except (PluginError, OptionError) as exc:
                return CompareResult(name, "", "failed", error=one_line(exc))
            request = Request(messages=tuple(messages), sampling=self.sampling,
                              want_routing=backend.capabilities.routing_stats)
            stream = ReplyStream(
                host=self.host, backend=backend, backend_name=name, request=request, metrics=self.metrics,
                store=None, conversation_id=None, message_id=None, clock=self._clock,
                persist_interval_s=self._persist[0], persist_every_tokens=self._persist[1],
            )
            self._compares.add(stream)
            try:
                async for event in stream:
                    if on_event is not None:
                        on_event(name, event)
            finally:
                self._compares.discard(stream)
                await stream.aclose()
            return CompareResult(name, stream.text, stream.status, stream.model, stream.usage,
                                 stream.timing, stream.cost, stream.error)

        if concurrent:
            results = await asyncio.gather(*(run(n) for n in names))
        else:
            results = [await run(n) for n in names]
        return {r.backend: r for r in results}

    def adopt(self, result: CompareResult, text: str | None) -> ConversationRecord:
        """Continue the conversation with a side-by-side answer: ``text`` (the
        prompt typed there) becomes a user turn and ``result`` its reply; with
        ``text`` None the result becomes a new alternative reply to the last
        user turn. The session then runs on ``result.backend``."""
        if self.busy:
            raise SessionBusy("a reply is streaming; cancel it first")
        if result.status == "failed" or not result.text.strip():
            raise ValueError(f"{result.backend} gave no reply to continue with")
        self._create(result.backend)
        conv = self.conversation
        if text is None:
            users = [m for m in (conv.messages if conv else ()) if m.role == "user"]
            if not users:
                raise ValueError("nothing to continue: no user turn yet")
            parent = users[-1].id
        else:
            conv = conv or self.new_conversation()
            if conv.title == DEFAULT_TITLE and not any(m.role == "user" for m in conv.messages):
                self.store.rename(conv.id, _title(text))
            self.store.add_prompt(conv.id, text)
            parent = self.store.add_message(conv.id, "user", text).id
        self.store.add_message(conv.id, "assistant", result.text, backend=result.backend, model=result.model or None,
                               usage=result.usage, timing=result.timing, cost=result.cost,
                               status="cancelled" if result.status == "cancelled" else "complete", parent_id=parent)
        self._backend_name = result.backend
        self.store.set_backend(conv.id, result.backend)
        conv = self.conversation
        self.metrics.set_conversation(conv.id, prior_cost_usd=conv.cost_usd)
        return conv
