"""Conversation export: Markdown for people, JSON for programs.

JSON shape (``format: "moe-console.conversation"``, ``version: 1``)::

    {"format": ..., "version": 1, "id", "title", "system_prompt", "sampling",
     "backend", "created_at", "updated_at",   # ISO 8601 UTC
     "messages": [{"id", "role", "content", "status", "backend", "model",
                   "usage", "timing", "cost", "error", "created_at", "updated_at"}]}

``usage``/``timing``/``cost`` are the field dicts of the API dataclasses (or
null); ``timing.label``/``cost.label`` say measured or modeled.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.store import ConversationRecord, MessageRecord

FORMAT = "moe-console.conversation"
VERSION = 1


def iso(timestamp: float) -> str:
    """Unix seconds -> ISO 8601 UTC (seconds precision)."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")


def _fields(obj: Any) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(obj).items()}


def to_json(conv: ConversationRecord) -> dict[str, Any]:
    """The conversation (with messages) as a JSON-ready dict."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "id": conv.id,
        "title": conv.title,
        "system_prompt": conv.system_prompt,
        "sampling": _fields(conv.sampling),
        "backend": conv.backend,
        "created_at": iso(conv.created_at),
        "updated_at": iso(conv.updated_at),
        "messages": [
            {
                "id": m.id,
                "role": m.role,
                "content": m.content,
                "status": m.status,
                "backend": m.backend,
                "model": m.model,
                "usage": _fields(m.usage),
                "timing": _fields(m.timing),
                "cost": _fields(m.cost),
                "error": m.error,
                "created_at": iso(m.created_at),
                "updated_at": iso(m.updated_at),
            }
            for m in conv.messages
        ],
    }


def _footer(m: MessageRecord) -> str:
    """One italic line under an assistant reply: who answered and how fast."""
    parts: list[str] = []
    who = " · ".join(p for p in (m.backend, m.model) if p)
    if who:
        parts.append(who)
    if m.status != "complete":
        parts.append(m.status + (f": {m.error}" if m.error else ""))
    if m.usage is not None:
        parts.append(f"{m.usage.prompt_tokens} in / {m.usage.completion_tokens} out tokens")
    if m.timing is not None:
        t = m.timing
        bit = f"TTFT {t.ttft_s * 1000:.0f} ms"
        if t.decode_tokens_per_s:
            bit += f", {t.decode_tokens_per_s:.1f} tok/s"
        parts.append(f"{bit} ({t.label})")
    if m.cost is not None:
        c = m.cost
        price = f"${c.total_usd:.6f}"
        detail = ", ".join(x for x in (c.label, f"price of {c.price_date}" if c.price_date else "") if x)
        parts.append(price + (f" ({detail})" if detail else ""))
    return "*" + " — ".join(parts) + "*" if parts else ""


def to_markdown(conv: ConversationRecord) -> str:
    """The conversation as Markdown: a title, metadata, then one section per turn."""
    lines = [f"# {conv.title}", "", f"*Created {iso(conv.created_at)} · updated {iso(conv.updated_at)}*", ""]
    if conv.system_prompt:
        lines += ["## System", "", conv.system_prompt, ""]
    for m in conv.messages:
        heading = {"user": "User", "assistant": "Assistant", "system": "System"}[m.role]
        lines += [f"## {heading}", "", m.content if m.content else "*(empty)*", ""]
        if m.role == "assistant":
            footer = _footer(m)
            if footer:
                lines += [footer, ""]
    return "\n".join(lines).rstrip() + "\n"
