"""What the chat screen does with conversations and turns besides streaming:
rename, pin, delete (asked first), search (titles and text), prompt history,
editing a past turn (a fork), moving between a turn's alternatives and
between messages. A mixin of :class:`console.tui.screens.chat.ChatScreen`,
kept apart so that each module has one job. The dialogs are imported when
first opened (start-up loads only what it shows)."""

from __future__ import annotations

from console.reply import one_line
from console.tui.widgets.conversations import ConversationList
from console.tui.widgets.message import MessageView
from console.tui.widgets.prompt import PromptInput


class ManageConversations:
    """Needs ``self.session``, ``self.app``, ``render_conversation``,
    ``open_conversation``, ``_start_reply`` and ``_thread_views`` of the screen."""

    # ------------------------------------------------------------ conversations

    # handlers by name (``on_<widget>_<message>``): decorators need a MessagePump class
    async def on_conversation_list_manage(self, event: ConversationList.Manage) -> None:
        await self.manage(event.conversation_id, event.action)

    async def manage_current(self, action: str) -> None:
        conv = self.session.conversation
        if conv is None:
            self.app.notify("No conversation yet.", timeout=3)
            return
        await self.manage(conv.id, action)

    async def manage(self, conversation_id: int, action: str) -> None:
        """``rename`` | ``pin`` | ``delete`` the stored conversation."""
        listed = {c.id: c for c in self.session.conversations()}
        conv = listed.get(conversation_id)
        if conv is None:
            return
        from console.tui.screens.dialogs import ConfirmDialog, TextDialog

        if action == "pin":
            self.session.set_pinned(conv.id, not conv.pinned)
            self.app.notify(f"{'Unpinned' if conv.pinned else 'Pinned'} {conv.title!r}", timeout=2)
            self.refresh_header()
        elif action == "rename":
            def renamed(title: str | None) -> None:
                if title:
                    try:
                        self.session.rename(conv.id, title)
                    except Exception as exc:  # noqa: BLE001 - StoreError: one line
                        self.app.notify(one_line(exc), severity="warning")
                    self.refresh_header()
            self.app.push_screen(TextDialog("Rename conversation", conv.title, note="Enter saves · Esc cancels"),
                                 renamed)
        elif action == "delete":
            async def confirmed(yes: bool | None) -> None:
                if not yes:
                    return
                current = self.session.conversation
                if current is not None and current.id == conv.id:
                    await self._wind_down()
                self.session.delete(conv.id)
                if self.session.conversation is None:
                    rest = self.session.conversations()
                    if rest:
                        self.session.select(rest[0].id)
                await self.render_conversation()
                self.app.notify(f"Deleted {conv.title!r}", timeout=3)
            self.app.push_screen(ConfirmDialog(f"Delete {conv.title!r} and its {conv.message_count} messages? "
                                               "This cannot be undone."), confirmed)

    def search_conversations(self) -> None:
        from console.tui.screens.dialogs import PickDialog

        def find(query: str) -> list[tuple[str, str]]:
            return [(f"conv-{c.id}", f"{'★ ' if c.pinned else ''}{c.title}  ·  {snippet}" if snippet and
                     snippet != c.title else f"{'★ ' if c.pinned else ''}{c.title}")
                    for c, snippet in self.session.search(query)]

        async def chosen(key: str | None) -> None:
            if key:
                await self.open_conversation(int(key.removeprefix("conv-")))

        self.app.push_screen(PickDialog("Search conversations", find, placeholder="words in a title or a message"),
                             chosen)

    def search_prompt_history(self) -> None:
        from console.tui.screens.dialogs import PickDialog

        found: list[str] = []

        def find(query: str) -> list[tuple[str, str]]:
            found[:] = list(reversed(self.session.prompt_history(contains=query)))[:200]
            return [(str(i), " ".join(text.split())[:200]) for i, text in enumerate(found)]

        def chosen(key: str | None) -> None:
            if key is not None:
                prompt = self.query_one(PromptInput)
                prompt.load_text(found[int(key)])
                prompt.move_cursor(prompt.document.end)
                prompt.focus()

        self.app.push_screen(PickDialog("Prompt history", find, placeholder="words of a prompt you sent"), chosen)

    # ------------------------------------------------------------ turns

    def on_prompt_input_focus_messages(self, event: PromptInput.FocusMessages) -> None:
        views = self._thread_views()
        if views:
            views[-1].focus()

    async def on_message_view_action(self, event: MessageView.Action) -> None:
        view, views = event.view, self._thread_views()
        if event.action == "move":
            at = views.index(view) if view in views else len(views)
            target = at + event.step
            if 0 <= target < len(views):
                views[target].focus()
            elif target >= len(views):
                self.query_one(PromptInput).focus()
        elif event.action == "leave":
            self.query_one(PromptInput).focus()
        elif event.action == "alternative":
            await self.show_alternative(view, event.step)
        elif event.action == "edit":
            self.edit_turn(view)

    async def show_alternative(self, view: MessageView, step: int) -> None:
        position = self._thread_views().index(view)
        try:
            self.session.alternative(view.message_id, step)
        except Exception as exc:  # noqa: BLE001 - SessionBusy / StoreError: one line
            self.app.notify(one_line(exc), severity="warning", timeout=3)
            return
        await self.render_conversation()
        views = self._thread_views()
        if views:
            views[min(position, len(views) - 1)].focus()

    def edit_turn(self, view: MessageView) -> None:
        from console.tui.screens.dialogs import TextDialog

        if self.session.busy:
            self.app.notify("A reply is streaming: Esc stops it first.", severity="warning", timeout=3)
            return

        async def edited(text: str | None) -> None:
            if not text or text.strip() == view.text.strip():
                return
            try:
                reply = self.session.edit(view.message_id, text.strip())
            except Exception as exc:  # noqa: BLE001 - one line
                self.app.notify(one_line(exc), severity="warning", timeout=4)
                return
            await self.render_conversation(skip_id=reply.message_id)
            await self._start_reply(reply)
            self.app.notify("Forked: the original turn stays as the other alternative (◀ ▶ on it).", timeout=4)

        self.app.push_screen(TextDialog("Edit this turn (a fork: the original is kept)", view.text, multiline=True,
                                        note="ctrl+s sends · Esc cancels"), edited)
