"""What a conversation sends: the request history of a stored branch, the
title made from a first turn, and the error of a busy session. Shared by
:mod:`console.conversation` and :mod:`console.conversation_compare`."""

from __future__ import annotations

from console.api import Message
from console.store import ConversationRecord

#: Length of a title made from the first user turn.
TITLE_CHARS = 60


class SessionBusy(RuntimeError):
    """A reply is streaming; cancel it (or wait) before starting another."""


def history(conv: ConversationRecord, upto: int | None = None) -> list[Message]:
    """The request messages of ``conv`` (see the module doc), considering only
    messages before index ``upto``."""
    return [message for _id, message in _history(conv, upto)]


def _history(conv: ConversationRecord, upto: int | None = None) -> list[tuple[int | None, Message]]:
    """:func:`history` with the stored id of each message (None: the system prompt)."""
    msgs = list(conv.messages[:upto] if upto is not None else conv.messages)
    out: list[tuple[int | None, Message]] = (
        [(None, Message("system", conv.system_prompt))] if conv.system_prompt.strip() else [])
    for i, m in enumerate(msgs):
        if m.role == "user":
            nxt = msgs[i + 1] if i + 1 < len(msgs) else None
            if nxt is not None and nxt.role == "assistant" and nxt.status == "failed":
                continue
            out.append((m.id, Message("user", m.content)))
        elif m.role == "assistant" and m.status in ("complete", "cancelled") and m.content.strip():
            out.append((m.id, Message("assistant", m.content)))
        elif m.role == "system" and m.content.strip():
            out.append((m.id, Message("system", m.content)))
    return out


def _title(text: str) -> str:
    """A title from the whole first turn: its words, cut at a word boundary."""
    line = " ".join(text.split())
    if len(line) <= TITLE_CHARS:
        return line
    cut = line[: TITLE_CHARS - 1]
    if " " in cut[TITLE_CHARS // 2:]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:") + "…"
