"""Reading a trace: the output of ``moe-console generate --json``.

Each line is a JSON object: ``{"event": "token", "id", "text", "t"}`` per
token (``t``: seconds since the request was accepted; ids whose text completes
later have ``text == ""``), optionally ``{"event": "text", "text", "t"}`` for
text without ids, and a last ``{"event": "summary", ...}`` with
``prompt_tokens``, ``backend``, ``finish_reason`` and ``timing_label``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from console.api import BackendError


@dataclass(frozen=True)
class Piece:
    """Text to show at ``t`` seconds and the token ids it comes from."""

    text: str
    token_ids: tuple[int, ...]
    t: float


@dataclass(frozen=True)
class Trace:
    name: str
    pieces: tuple[Piece, ...]
    prompt_tokens: int
    recorded_by: str
    finish_reason: str


def load_trace(path: Path) -> Trace:
    """Parse the trace at ``path``; :class:`BackendError` with one line (file and line) when it is bad."""
    pieces: list[Piece] = []
    ids: list[int] = []
    summary: dict = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BackendError(f"trace {path}: cannot read it ({exc})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            kind = event["event"]
            if kind == "token":
                ids.append(int(event["id"]))
                if event["text"]:
                    pieces.append(Piece(str(event["text"]), tuple(ids), float(event["t"])))
                    ids = []
            elif kind == "text":
                pieces.append(Piece(str(event["text"]), tuple(ids), float(event["t"])))
                ids = []
            elif kind == "summary":
                summary = event
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendError(f"trace {path}:{number}: not a `moe-console generate --json` line ({exc})") from None
    if ids:
        pieces.append(Piece("", tuple(ids), pieces[-1].t if pieces else 0.0))
    if not pieces:
        raise BackendError(f"trace {path}: no tokens in it")
    return Trace(name=path.name, pieces=tuple(pieces), prompt_tokens=int(summary.get("prompt_tokens", 0)),
                 recorded_by=str(summary.get("backend", "?")),
                 finish_reason="length" if summary.get("finish_reason") == "length" else "stop")
