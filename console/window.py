"""Where the model's context window starts in a conversation.

Engine-backed backends (``local`` and the modeled ones) drop the oldest
turns that do not fit their window (``console.engine.chat_template.
fit_chat_prompt``) without saying so in their events. :func:`dropped_turns`
runs the same fit on the same tokenizer, so the chat can show where the
window starts. Cheap first: when the text is shorter, in characters, than
the prompt budget in tokens, nothing can be dropped (a token is at least one
character for these tokenizers) and the tokenizer is not touched.
"""

from __future__ import annotations

from typing import Any, Sequence

#: The template's own markers per message, in tokens, when estimating.
PER_MESSAGE_OVERHEAD = 4


def dropped_turns(backend: Any, messages: Sequence[Any], max_tokens: int, window: int | None) -> int | None:
    """How many of ``messages`` (``console.api.Message``) ``backend`` will
    leave out to fit ``window`` tokens with room for ``max_tokens``; 0 when
    all fit, ``None`` when it cannot be known (a remote backend, no window)."""
    info = getattr(backend, "info", None)
    settings = getattr(backend, "settings", None) or {}
    if window is None or getattr(info, "kind", "") not in ("local", "modeled") or "model_path" not in settings:
        return None
    from console.engine.chat_template import prompt_budget

    budget = prompt_budget(window, max_tokens)
    if sum(len(m.content) + PER_MESSAGE_OVERHEAD for m in messages) <= budget:
        return 0
    from console.engine.aio import shared_engine
    from console.engine.chat_template import fit_chat_prompt

    try:
        tokenizer = shared_engine(settings["model_path"] or None).model.tokenizer
    except Exception:  # noqa: BLE001 - the backend reports a bad checkpoint itself
        return None
    if tokenizer is None:
        return None
    return fit_chat_prompt(tokenizer, [{"role": m.role, "content": m.content} for m in messages], budget)[1]
