"""OpenAI response objects: ``chat.completion``, ``chat.completion.chunk``, ``text_completion``.

One :class:`ReplyShape` per request knows its id, creation time, model and kind (chat or
completion) and builds every object the request sends, so the streaming and non-streaming
paths agree field for field with OpenAI's and vLLM's replies.
"""

from __future__ import annotations

import time
import uuid


def usage(prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens}}


class ReplyShape:
    def __init__(self, model: str, chat: bool) -> None:
        self.chat, self.model = chat, model
        self.id = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex
        self.created = int(time.time())
        self.object = "chat.completion" if chat else "text_completion"

    def _envelope(self, obj: str, choices: list, usage_: dict | None, **extra) -> dict:
        out = {"id": self.id, "object": obj, "created": self.created, "model": self.model, "choices": choices}
        out.update(extra)
        out["usage"] = usage_
        return out

    def chunk(self, text: str | None, finish_reason: str | None = None, *, first: bool = False,
              usage_: dict | None = None, usage_field: bool = False) -> dict:
        """One streamed chunk (``usage_field``: the request asked for usage, so every chunk
        carries ``"usage": null`` until the last one, as OpenAI's do)."""
        if self.chat:
            delta = {"role": "assistant", "content": text or ""} if first else ({"content": text} if text else {})
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            obj = "chat.completion.chunk"
        else:
            choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish_reason}
            obj = "text_completion"
        out = self._envelope(obj, [choice], usage_)
        if not usage_field:
            out.pop("usage")
        return out

    def usage_chunk(self, usage_: dict) -> dict:
        """The last chunk of a stream with ``include_usage``: no choices, the usage."""
        return self._envelope("chat.completion.chunk" if self.chat else "text_completion", [], usage_)

    def whole(self, text: str, finish_reason: str, usage_: dict) -> dict:
        """The non-streaming reply."""
        if self.chat:
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                      "finish_reason": finish_reason}
        else:
            choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}
        return self._envelope(self.object, [choice], usage_)
