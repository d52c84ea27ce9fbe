"""The sidebar listing conversations (most recent first); selecting one opens it."""

from __future__ import annotations

from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option


class ConversationList(OptionList):
    """Options are conversations; the option id is ``"conv-<id>"``."""

    class Chosen(Message):
        def __init__(self, conversation_id: int) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    def show(self, conversations, current_id: int | None) -> None:
        """Replace the list with ``conversations`` (``ConversationRecord``s)."""
        self.clear_options()
        for conv in conversations:
            title = conv.title if len(conv.title) <= 40 else conv.title[:39] + "…"
            self.add_option(Option(title, id=f"conv-{conv.id}"))
        if current_id is not None:
            try:
                self.highlighted = self.get_option_index(f"conv-{current_id}")
            except Exception:  # noqa: BLE001 - the current one may not be listed yet
                pass

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and event.option.id.startswith("conv-"):
            self.post_message(self.Chosen(int(event.option.id.removeprefix("conv-"))))
