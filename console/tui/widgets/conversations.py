"""The sidebar listing conversations (pinned first, then most recent);
selecting one opens it; ``r`` renames, ``p`` pins, Delete deletes (the chat
screen asks first)."""

from __future__ import annotations

from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from console.tui import keys

PIN = "★ "


class ConversationList(OptionList):
    """Options are conversations; the option id is ``"conv-<id>"``."""

    BINDINGS = keys.bindings("chats")

    class Chosen(Message):
        def __init__(self, conversation_id: int) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    class Manage(Message):
        """``action`` (rename | pin | delete) on conversation ``conversation_id``."""

        def __init__(self, conversation_id: int, action: str) -> None:
            super().__init__()
            self.conversation_id, self.action = conversation_id, action

    def show(self, conversations, current_id: int | None) -> None:
        """Replace the list with ``conversations`` (``ConversationRecord``s).
        The highlight marks ``current_id``, or, while the user works in the
        list, stays on the conversation it was on."""
        if self.has_focus and self._highlighted_id() is not None:
            current_id = self._highlighted_id()
        self._pinned = {c.id: c.pinned for c in conversations}
        self.clear_options()
        for conv in conversations:
            title = conv.title if len(conv.title) <= 40 else conv.title[:39] + "…"
            self.add_option(Option((PIN if conv.pinned else "") + title, id=f"conv-{conv.id}"))
        if current_id is not None:
            try:
                self.highlighted = self.get_option_index(f"conv-{current_id}")
            except Exception:  # noqa: BLE001 - the current one may not be listed yet
                pass

    def is_pinned(self, conversation_id: int) -> bool:
        return getattr(self, "_pinned", {}).get(conversation_id, False)

    def _highlighted_id(self) -> int | None:
        if self.highlighted is None:
            return None
        option_id = self.get_option_at_index(self.highlighted).id or ""
        return int(option_id.removeprefix("conv-")) if option_id.startswith("conv-") else None

    def _manage(self, action: str) -> None:
        conversation_id = self._highlighted_id()
        if conversation_id is not None:
            self.post_message(self.Manage(conversation_id, action))

    def action_rename(self) -> None:
        self._manage("rename")

    def action_pin(self) -> None:
        self._manage("pin")

    def action_delete(self) -> None:
        self._manage("delete")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and event.option.id.startswith("conv-"):
            self.post_message(self.Chosen(int(event.option.id.removeprefix("conv-"))))
