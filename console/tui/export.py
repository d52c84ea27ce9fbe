"""Export the current conversation as a Markdown or JSON file in the data directory."""

from __future__ import annotations

import json
import re
from pathlib import Path


def export_conversation(store, conversation, directory: Path | None = None, fmt: str = "md") -> Path:
    """Write the stored conversation as Markdown (``fmt="md"``) or JSON (``fmt="json"``,
    see :mod:`console.export`) to
    ``<data_dir>/exports/<id>-<title>.<fmt>`` and return the path.

    Raises ``ValueError`` when there is no conversation yet.
    """
    if conversation is None or store is None:
        raise ValueError("no conversation to export yet")
    if directory is None:
        from console.settings import data_dir

        directory = data_dir() / "exports"
    directory.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", conversation.title.lower()).strip("-")[:40] or "conversation"
    path = directory / f"{conversation.id}-{slug}.{fmt}"
    from console import export

    record = store.load(conversation.id)
    if fmt == "json":
        text = json.dumps(export.to_json(record), indent=2, ensure_ascii=False)
    else:
        text = export.to_markdown(record)
    path.write_text(text, encoding="utf-8")
    return path
