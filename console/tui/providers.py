"""Command-palette providers (Ctrl+P).

* :class:`BackendProvider`: "Switch backend: <name>" for every backend the
  plugins provide, with its kind and hardware; choosing one switches live
  (a reply in flight is stopped and kept).
* :class:`ConversationProvider`: "Open conversation: <title>".

A provider that raises is logged by Textual, never fatal; still, both read
only what the host and the session already hold.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class BackendProvider(Provider):
    """Switch the chat's backend from the command palette."""

    def _commands(self) -> list[tuple[str, str, str]]:
        app = self.app
        current = app.session.backend_name
        out = []
        for entry in app.host.backends():
            info = entry.info
            where = " / ".join(x for x in (info.hardware, info.model) if x)
            mark = " (current)" if info.name == current else ""
            out.append((f"Switch backend: {info.name}{mark}",
                        f"{info.kind} · {info.display_name}" + (f" · {where}" if where else ""),
                        info.name))
        return out

    async def discover(self) -> Hits:
        for text, help_text, name in self._commands():
            yield DiscoveryHit(text, partial(self.app.switch_backend, name), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, name in self._commands():
            score = max(matcher.match(text), matcher.match(help_text) * 0.8)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self.app.switch_backend, name),
                          text=text, help=help_text)


class ConversationProvider(Provider):
    """Open a stored conversation from the command palette."""

    def _commands(self) -> list[tuple[str, int]]:
        return [(f"Open conversation: {c.title}", c.id) for c in self.app.session.conversations()]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, conversation_id in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text),
                          partial(self.app.action_open_conversation, conversation_id), text=text)
