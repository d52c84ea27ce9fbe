"""Server-sent events as OpenAI streams them: ``data: <json>`` lines, ``data: [DONE]`` last."""

from __future__ import annotations

import json

DONE = b"data: [DONE]\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
MEDIA_TYPE = "text/event-stream"


def event(obj: dict) -> bytes:
    """One event carrying ``obj`` as compact JSON (non-ASCII kept as is, UTF-8)."""
    return b"data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"
