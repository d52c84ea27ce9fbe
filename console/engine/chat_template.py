"""Chat templates: the built-in format, and Hugging Face Jinja templates.

The built-in model's chat format (the corpus in ``examples/corpus`` is written
in exactly this format, so the model learns the turns)::

    <|endoftext|><|system|>You are terse.<|end|><|user|>Hi<|end|><|assistant|>Hello.<|end|>

- ``<|endoftext|>`` separates documents; it is the BOS of every prompt;
- each turn is ``<|ROLE|>`` + content + ``<|end|>``, for the roles
  ``system``, ``user`` and ``assistant``, with no added whitespace;
- the generation prompt is ``<|assistant|>``; a reply ends with ``<|end|>``.

:data:`BUILTIN_CHAT_TEMPLATE` is the same format as a Jinja template (what the
built-in ``tokenizer_config.json`` carries, so ``transformers`` renders the
same string); :func:`format_builtin_chat` is the pure-Python equivalent, kept
identical by a test. :func:`render_jinja_template` renders any Hugging Face
``chat_template`` with ``jinja2`` (imported only when a foreign template is
used).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

ENDOFTEXT = "<|endoftext|>"
SYSTEM = "<|system|>"
USER = "<|user|>"
ASSISTANT = "<|assistant|>"
END_OF_TURN = "<|end|>"

#: Special tokens of the built-in tokenizer, in id order after the BPE ranks.
BUILTIN_SPECIAL_TOKENS = (ENDOFTEXT, SYSTEM, USER, ASSISTANT, END_OF_TURN)
ROLES = ("system", "user", "assistant")

BUILTIN_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('unknown chat role: ' + message['role']) }}"
    "{% endif %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


def format_builtin_chat(
    messages: Iterable[Mapping[str, str]], add_generation_prompt: bool = True, *, bos: bool = True
) -> str:
    """Render ``messages`` in the built-in chat format (see the module doc).

    Raises :class:`EngineError` for a role outside ``system/user/assistant``.
    ``bos=False`` leaves out the leading ``<|endoftext|>`` (the corpus builder
    writes documents already separated by it).
    """
    parts = [ENDOFTEXT] if bos else []
    for message in messages:
        role = message.get("role")
        if role not in ROLES:
            from .errors import EngineError

            raise EngineError(f"unknown chat role: {role!r} (expected one of {', '.join(ROLES)})")
        parts.append(f"<|{role}|>{message.get('content', '')}{END_OF_TURN}")
    if add_generation_prompt:
        parts.append(ASSISTANT)
    return "".join(parts)


def render_jinja_template(
    template: str,
    messages: list[Mapping[str, Any]],
    *,
    add_generation_prompt: bool,
    special_tokens: Mapping[str, str | None],
    source: str = "chat_template",
) -> str:
    """Render a Hugging Face chat template the way ``transformers`` does.

    Same environment as ``transformers``: a sandboxed Jinja environment with
    ``trim_blocks``/``lstrip_blocks``, the ``raise_exception`` helper and the
    ``tojson`` filter; ``special_tokens`` (``bos_token``, ``eos_token``, ...)
    are passed as variables. A template error becomes one-line
    :class:`EngineError` naming ``source``.
    """
    from .errors import EngineError

    try:
        import jinja2
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError as exc:  # pragma: no cover - jinja2 is a dependency
        raise EngineError(f"{source}: rendering a chat template needs jinja2 ({exc})") from None

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.globals["raise_exception"] = raise_exception
    try:
        compiled = env.from_string(template)
        return compiled.render(
            messages=[dict(m) for m in messages],
            add_generation_prompt=add_generation_prompt,
            **{k: v for k, v in special_tokens.items()},
        )
    except jinja2.exceptions.TemplateError as exc:
        raise EngineError(f"{source}: {exc}") from None


def fit_chat_prompt(tokenizer: Any, messages: list[Mapping[str, str]], max_tokens: int) -> tuple[list[int], int]:
    """Token ids of ``messages`` through ``tokenizer``'s chat template (with the
    generation prompt), dropping the oldest turns until they fit in ``max_tokens``.

    System messages and the last message are never dropped, and a conversation
    never starts with an assistant turn after trimming. Returns the ids and the
    number of messages dropped; the ids can still exceed ``max_tokens`` when
    the kept messages alone do (the caller reports that).
    """
    kept = list(messages)
    dropped = 0
    while True:
        ids = list(tokenizer.apply_chat_template(kept, add_generation_prompt=True))
        if len(ids) <= max_tokens:
            return ids, dropped
        first = _first_turn(kept)
        if first is None:
            return ids, dropped
        del kept[first]
        dropped += 1
        while (first := _first_turn(kept)) is not None and kept[first]["role"] == "assistant":
            del kept[first]
            dropped += 1


def _first_turn(messages: list[Mapping[str, str]]) -> int | None:
    """Index of the first non-system message other than the last one."""
    return next((i for i, m in enumerate(messages[:-1]) if m["role"] != "system"), None)


def prompt_budget(context_window: int, max_new_tokens: int) -> int:
    """Prompt tokens that leave room for the reply: the window less
    ``max_new_tokens``, but never less than half the window."""
    return context_window - min(max_new_tokens, context_window // 2)
