"""Branches of a conversation: pure functions over its stored messages.

Every message has a ``parent_id`` (``None`` for the first turn); the
conversation's ``head_id`` is the leaf of the branch on screen. Editing a turn
or asking for a new reply adds a *sibling* (same parent), so the original
branch is kept and the user can move between a turn's alternatives.
"""

from __future__ import annotations

from typing import Iterable, Protocol


class Node(Protocol):
    id: int
    parent_id: int | None


def active_path(messages: Iterable[Node], head_id: int | None) -> list:
    """The messages from the first turn to ``head_id``, in order. Without a
    head (or an unknown one) the branch of the newest message is used."""
    by_id = {m.id: m for m in messages}
    if not by_id:
        return []
    if head_id not in by_id:
        head_id = max(by_id)
    path = []
    node = by_id.get(head_id)
    seen: set[int] = set()
    while node is not None and node.id not in seen:  # a loop in damaged data ends the walk
        seen.add(node.id)
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
    path.reverse()
    return path


def siblings(messages: Iterable[Node], message_id: int) -> list[int]:
    """Ids of the messages sharing ``message_id``'s parent (itself included), oldest first."""
    items = list(messages)
    parent = next((m.parent_id for m in items if m.id == message_id), None)
    return sorted(m.id for m in items if m.parent_id == parent)


def alternatives(messages: Iterable[Node], path: Iterable[Node]) -> dict[int, tuple[int, int]]:
    """``message id -> (position, count)`` (1-based) for each message on
    ``path`` that has alternatives (count > 1)."""
    children: dict[int | None, list[int]] = {}
    for m in messages:
        children.setdefault(m.parent_id, []).append(m.id)
    out = {}
    for m in path:
        ids = sorted(children.get(m.parent_id, ()))
        if len(ids) > 1:
            out[m.id] = (ids.index(m.id) + 1, len(ids))
    return out


def newest_leaf(messages: Iterable[Node], message_id: int) -> int:
    """Follow the newest child from ``message_id`` down to a leaf."""
    children: dict[int | None, list[int]] = {}
    for m in messages:
        children.setdefault(m.parent_id, []).append(m.id)
    node, seen = message_id, set()
    while children.get(node) and node not in seen:
        seen.add(node)
        node = max(children[node])
    return node
