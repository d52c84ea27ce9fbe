"""The records the conversation store hands out, and how they map to SQLite rows.

:class:`MessageRecord` and :class:`ConversationRecord` are frozen dataclasses; the usage,
timing, cost and sampling columns hold the API dataclasses as JSON (:func:`_dump` /
:func:`_load`; a value that can no longer be rebuilt loads as ``None``).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal

from console.api import Cost, Sampling, Timing, Usage

Status = Literal["complete", "cancelled", "failed", "streaming"]
STATUSES: tuple[str, ...] = ("complete", "cancelled", "failed", "streaming")
Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")


@dataclass(frozen=True)
class MessageRecord:
    """One stored turn. ``created_at``/``updated_at`` are Unix seconds."""

    id: int
    conversation_id: int
    role: Role
    content: str
    status: Status = "complete"
    backend: str | None = None
    model: str | None = None
    usage: Usage | None = None
    timing: Timing | None = None
    cost: Cost | None = None
    error: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    parent_id: int | None = None
    finish_reason: str | None = None  # the backend's reason: stop | length | cancelled...


@dataclass(frozen=True)
class ConversationRecord:
    """One conversation. ``messages`` is filled by :meth:`Store.load` (in order)
    and empty in :meth:`Store.list_conversations` (``message_count`` is set in
    both). ``sampling`` is ``None`` when the conversation uses the settings'
    defaults; ``backend`` is the backend it last used.

    ``messages`` is the branch on screen (first turn to ``head_id``);
    ``alternatives`` maps a message id on it to ``(position, count)`` when the
    turn has siblings (an edited turn, a regenerated reply); ``spent_usd`` is
    what every stored reply of every branch cost, stopped ones included."""

    id: int
    title: str
    system_prompt: str = ""
    sampling: Sampling | None = None
    backend: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    messages: tuple[MessageRecord, ...] = ()
    message_count: int = 0
    pinned: bool = False
    head_id: int | None = None
    alternatives: dict[int, tuple[int, int]] = dataclasses.field(default_factory=dict)
    spent_usd: float | None = None

    @property
    def cost_usd(self) -> float:
        """What the stored replies cost in total, every branch (messages must be loaded)."""
        if self.spent_usd is not None:
            return self.spent_usd
        return sum(m.cost.total_usd for m in self.messages if m.cost is not None)


# ------------------------------------------------------------ JSON columns


def _dump(obj: Any) -> str | None:
    if obj is None:
        return None
    return json.dumps(dataclasses.asdict(obj))


def _load(kind: type, text: str | None) -> Any:
    """The dataclass stored as JSON in ``text``; ``None`` when empty or when it can no longer
    be rebuilt (damaged, or refused by today's rules, e.g. a sampling value now out of range)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        names = {f.name for f in dataclasses.fields(kind)}
        data = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in names}
        return kind(**data)
    except (ValueError, TypeError, AttributeError):  # SamplingError is a ValueError
        return None


_MESSAGE_COLUMNS = ("id, conversation_id, role, content, status, backend, model, usage, timing, "
                    "cost, error, created_at, updated_at, parent_id, finish_reason")
_CONVERSATION_COLUMNS = "id, title, system_prompt, sampling, backend, created_at, updated_at, pinned, head_id"
#: ``add_message(parent_id=HEAD)``: append to the branch on screen.
HEAD = object()


def _message(row: sqlite3.Row) -> MessageRecord:
    return MessageRecord(
        id=row["id"], conversation_id=row["conversation_id"], role=row["role"],
        content=row["content"], status=row["status"], backend=row["backend"], model=row["model"],
        usage=_load(Usage, row["usage"]), timing=_load(Timing, row["timing"]),
        cost=_load(Cost, row["cost"]), error=row["error"], created_at=row["created_at"],
        updated_at=row["updated_at"] if row["updated_at"] is not None else row["created_at"],
        parent_id=row["parent_id"], finish_reason=row["finish_reason"],
    )
