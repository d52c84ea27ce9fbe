"""Export the current conversation as a Markdown file in the data directory."""

from __future__ import annotations

import re
from pathlib import Path


def export_conversation(store, conversation, directory: Path | None = None) -> Path:
    """Write ``store.export_markdown(conversation.id)`` to
    ``<data_dir>/exports/<id>-<title>.md`` and return the path.

    Raises ``ValueError`` when there is no conversation yet.
    """
    if conversation is None or store is None:
        raise ValueError("no conversation to export yet")
    if directory is None:
        from console.settings import data_dir

        directory = data_dir() / "exports"
    directory.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", conversation.title.lower()).strip("-")[:40] or "conversation"
    path = directory / f"{conversation.id}-{slug}.md"
    path.write_text(store.export_markdown(conversation.id), encoding="utf-8")
    return path
