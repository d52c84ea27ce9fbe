"""Every key binding of the console, in one table.

The app, the prompt, the sidebar, the messages and each screen take their
``BINDINGS`` from :data:`KEYS` (``bindings("picker")``), so the list of
rebindable ids (the settings' ``[keymap]`` table), the F1 help screen and the
README are made from the same rows, and none of them needs to import a
screen: start-up loads only the screens it shows.

A row is ``(key, action, footer word, help text, id, shown_in_footer)``. Keys listed in
:data:`FIXED_KEYS` are handled by widgets themselves (history walk, palette)
and cannot be rebound; the help screen lists them too.
"""

from __future__ import annotations

from textual.binding import Binding

Row = tuple[str, str, str, str, str, bool]

#: owner -> (title on the help screen, rows)
KEYS: dict[str, tuple[str, tuple[Row, ...]]] = {
    "app": ("Everywhere in the chat", (
        ("escape", "cancel_reply", "Stop", "Stop the reply (its text is kept)", "cancel", True),
        ("ctrl+n", "new_conversation", "New", "New conversation", "new_conversation", True),
        ("ctrl+b", "backends", "Backend", "Switch backend", "backends", True),
        ("ctrl+o", "sampling", "Sampling", "Sampling and system prompt", "sampling", True),
        ("ctrl+t", "compare", "Side by side", "Side by side: one prompt on 2-4 backends", "compare", True),
        ("f1", "help", "Help", "This help", "help", True),
        ("ctrl+r", "regenerate", "Regenerate", "New reply to the last turn (the old one stays an alternative)", "regenerate", False),
        ("ctrl+f", "search", "Search", "Search conversations (titles and text)", "search", False),
        ("f4", "prompt_history", "History", "Search prompt history", "prompt_history", False),
        ("f2", "toggle_sidebar", "Chats", "Show or hide the conversation list", "toggle_sidebar", False),
        ("f3", "toggle_panels", "Panels", "Show or hide the metric panels", "toggle_panels", False),
        ("f5", "plugins", "Plugins", "Plugins and their errors", "plugins", False),
        ("ctrl+q", "quit", "Quit", "Quit", "quit", False),
    )),
    "prompt": ("In the prompt box", (
        ("enter", "submit", "Send", "Send", "send", False),
        ("ctrl+j", "newline", "Newline", "New line", "newline", False),
        ("alt+up", "recall", "Last prompt", "Put the last prompt of this conversation back", "recall", False),
        ("ctrl+up", "focus_messages", "Messages", "Go to the messages (edit, copy, alternatives)", "focus_messages", False),
    )),
    "message": ("On a message (ctrl+up from the prompt, then up/down)", (
        ("e", "edit", "Edit", "Edit this turn and fork (the original branch is kept)", "message.edit", True),
        ("left", "alternative(-1)", "Prev alt", "Previous alternative of this turn", "message.previous", True),
        ("right", "alternative(1)", "Next alt", "Next alternative of this turn", "message.next", True),
        ("c", "copy", "Copy", "Copy the message", "message.copy", True),
        ("k", "copy_code", "Copy code", "Copy its code blocks", "message.copy_code", True),
        ("d", "details", "Details", "Show or hide the reply's full figures", "message.details", True),
        ("up", "move(-1)", "Up", "Previous message", "message.up", False),
        ("down", "move(1)", "Down", "Next message", "message.down", False),
        ("escape", "leave", "Prompt", "Back to the prompt", "message.leave", False),
    )),
    "chats": ("In the conversation list (F2)", (
        ("r", "rename", "Rename", "Rename", "chats.rename", True),
        ("p", "pin", "Pin", "Pin or unpin", "chats.pin", True),
        ("delete", "delete", "Delete", "Delete (asks first)", "chats.delete", True),
    )),
    "picker": ("Backend picker (ctrl+b)", (
        ("escape", "dismiss(None)", "Close", "Close", "picker.close", True),
        ("o", "options", "Options", "Options of the highlighted backend", "picker.options", True),
        ("a", "add_remote", "Add remote", "Add a remote endpoint (an OpenAI-compatible server)",
         "picker.add_remote", True),
    )),
    "options_form": ("Backend options form (o in the picker)", (
        ("escape", "close", "Close", "Close without saving", "options.close", True),
        ("ctrl+s", "save", "Save", "Save (this session; settings.toml if ticked)", "options.save", True),
    )),
    "remote_form": ("Remote endpoint form (a in the picker)", (
        ("escape", "close", "Close", "Close without saving", "remote.close", True),
        ("ctrl+g", "check", "Check", "Check the endpoint: reachability, models, server kind", "remote.check", True),
        ("ctrl+s", "save", "Save", "Save it to settings.toml; the backend is in the picker at once",
         "remote.save", True),
    )),
    "sampling": ("Sampling form", (
        ("escape", "dismiss(None)", "Close", "Close", "sampling.close", True),
        ("ctrl+s", "save", "Save", "Save", "sampling.save", True),
    )),
    "compare": ("Side by side (ctrl+t)", (
        ("escape", "back", "Back", "Back", "compare.close", True),
        ("ctrl+g", "run", "Run", "Run", "compare.run", True),
        ("f6", "continue_with(0)", "Use 1", "Continue the chat on column 1", "compare.pick1", True),
        ("f7", "continue_with(1)", "Use 2", "Continue on column 2", "compare.pick2", True),
        ("f8", "continue_with(2)", "Use 3", "Continue on column 3", "compare.pick3", False),
        ("f9", "continue_with(3)", "Use 4", "Continue on column 4", "compare.pick4", False),
    )),
    "plugins": ("Plugins screen", (
        ("escape", "app.pop_screen", "Back", "Back", "plugins.close", True),
    )),
    "dialog": ("Help, search and confirmation dialogs", (
        ("escape", "close", "Close", "Close", "dialog.close", True),
    )),
}

#: Keys that widgets handle themselves (not rebindable), for the help screen.
FIXED_KEYS: tuple[tuple[str, str], ...] = (
    ("up / down", "In the prompt: walk the prompt history like a shell (this conversation first)"),
    ("ctrl+p", "Command palette: every action, backends, conversations, themes"),
    ("tab / shift+tab", "Move between the parts of a screen"),
)


def bindings(owner: str) -> list[Binding]:
    """The ``Binding`` objects of ``owner`` (a key of :data:`KEYS`)."""
    return [Binding(key, action, word, id=binding_id, show=shown, tooltip=text, priority=(binding_id == "quit"))
            for key, action, word, text, binding_id, shown in KEYS[owner][1]]


def binding_ids() -> list[str]:
    """Every rebindable binding id, in table order."""
    return [row[4] for _title, rows in KEYS.values() for row in rows]


def default_keys() -> dict[str, str]:
    """Binding id -> default key, for the settings' ``[keymap]`` table."""
    return {row[4]: row[0] for _title, rows in KEYS.values() for row in rows}
