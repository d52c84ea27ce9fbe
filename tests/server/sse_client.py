"""A small SSE reader over httpx for tests that need chunk timestamps or an early hang-up."""

from __future__ import annotations

import json
import time

import httpx


def events(response: httpx.Response):
    """Yield ``(time.monotonic(), payload)`` per ``data:`` event; payload is a dict or "[DONE]"."""
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line[len("data: "):]
            yield time.monotonic(), (data if data == "[DONE]" else json.loads(data))


def content(payload) -> str:
    if not isinstance(payload, dict) or not payload.get("choices"):
        return ""
    choice = payload["choices"][0]
    return choice.get("text") or (choice.get("delta") or {}).get("content") or ""
