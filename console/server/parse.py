"""Request bodies of ``/v1/chat/completions`` and ``/v1/completions`` into validated requests.

Accepted fields are OpenAI's (``model``, ``messages`` | ``prompt``, ``max_tokens`` /
``max_completion_tokens``, ``temperature``, ``top_p``, ``seed``, ``stop``, ``n`` = 1,
``stream``, ``stream_options.include_usage``) and vLLM's extras that the engine has
(``top_k``, ``min_p``, ``repetition_penalty``, ``ignore_eos``, ``min_tokens``,
``stop_token_ids``). Fields the engine cannot honour (``logprobs``, ``n`` > 1, ``echo``,
penalties, tools...) are refused with a 400 naming them; unknown fields are ignored, as vLLM
does. Types are checked here; value ranges are the one rule of ``console.api.Sampling`` (the
settings, the sampling form and ``generate`` use it too), whose error becomes a 400 naming the
field, and the conversion to the engine's ``SamplingParams`` is the engine's one conversion.

Chat messages go through the checkpoint's own chat template (``Tokenizer.apply_chat_template``,
the API the ``local`` backend uses); a text prompt is encoded as ordinary text after the BOS
token, so no user text becomes a control token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from console.api import Sampling, SamplingError
from console.engine import EngineError, SamplingParams
from console.engine.chat_reply import sampling_params as engine_sampling_params

from .errors import APIError, bad_request

#: Fields refused unless left at their "off" value, with the reason given to the client.
UNSUPPORTED = {
    "logprobs": (None, False, 0), "top_logprobs": (None, 0), "echo": (None, False),
    "best_of": (None, 1), "suffix": (None, ""), "logit_bias": (None, {}),
    "presence_penalty": (None, 0, 0.0), "frequency_penalty": (None, 0, 0.0),
    "tools": (None, []), "functions": (None, []), "prompt_logprobs": (None, 0),
}


@dataclass(frozen=True)
class GenerationRequest:
    """One validated generation request, ready for the engine."""

    chat: bool
    prompt_ids: list[int]
    max_tokens: int
    min_tokens: int
    sampling: SamplingParams
    stream: bool
    include_usage: bool


@dataclass(frozen=True)
class ModelFacts:
    """What parsing needs to know of the served model."""

    name: str
    context_window: int
    tokenizer: Any
    check_tokens: Any
    defaults: dict          # sampling defaults from generation_config.json (vLLM does the same)


def json_object(raw: bytes) -> dict:
    """The body as a JSON object, or a 400 saying what is wrong with it."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise bad_request(f"the request body is not valid JSON: {str(exc).splitlines()[0][:200]}") from None
    if not isinstance(body, dict):
        raise bad_request(f"the request body must be a JSON object, got {_kind(body)}")
    return body


def parse_generation(body: dict, facts: ModelFacts, *, chat: bool) -> GenerationRequest:
    check_model(body, facts)
    for field, off in UNSUPPORTED.items():
        if field in body and not _is_off(body[field], off):
            raise bad_request(f"'{field}' is not supported by this server", field)
    n = _int(body, "n", 1)
    if n != 1:
        raise bad_request(f"only n = 1 is supported, got {n}", "n")
    if chat:
        prompt_ids = chat_prompt(body, facts)
        if body.get("response_format") not in (None, {"type": "text"}):
            raise bad_request("'response_format' other than text is not supported", "response_format")
    else:
        prompt_ids = completion_prompt(body, facts)
    stream = _bool(body, "stream", False)
    options = body.get("stream_options")
    if options is not None and not stream:
        raise bad_request("'stream_options' can only be given when 'stream' is true", "stream_options")
    if options is not None and not isinstance(options, dict):
        raise bad_request(f"'stream_options' must be an object, got {_kind(options)}", "stream_options")
    include_usage = _bool(options or {}, "include_usage", False, name="stream_options.include_usage")
    max_tokens = _max_tokens(body, len(prompt_ids), facts)
    return GenerationRequest(chat, prompt_ids, max_tokens, _int(body, "min_tokens", 0, low=0),
                             sampling_params(body, facts), stream, include_usage)


def check_model(body: dict, facts: ModelFacts) -> None:
    model = body.get("model")
    if model is None:
        return
    if not isinstance(model, str):
        raise bad_request(f"'model' must be a string, got {_kind(model)}", "model")
    if model != facts.name:
        raise APIError(404, f"The model `{model[:200]}` does not exist (this server serves `{facts.name}`).", "model")


def chat_prompt(body: dict, facts: ModelFacts) -> list[int]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty list of messages", "messages")
    plain = [_message(m, i) for i, m in enumerate(messages)]
    if facts.tokenizer is None:
        raise bad_request(f"model {facts.name} has no tokenizer, so chat messages cannot be encoded", "messages")
    try:
        return list(facts.tokenizer.apply_chat_template(plain, add_generation_prompt=True))
    except EngineError as exc:
        raise bad_request(f"the chat template refused the messages: {exc}", "messages") from None


def _message(message: Any, i: int) -> dict:
    where = f"messages[{i}]"
    if not isinstance(message, dict):
        raise bad_request(f"{where} must be an object, got {_kind(message)}", "messages")
    role = message.get("role")
    if not isinstance(role, str):
        raise bad_request(f"{where}.role must be a string", "messages")
    content = message.get("content")
    if content is None:
        content = ""
    elif isinstance(content, list):                 # OpenAI content parts: text only
        texts = []
        for part in content:
            if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                raise bad_request(f"{where}.content: only text parts ({{'type': 'text', 'text': ...}}) "
                                  "are supported", "messages")
            texts.append(part["text"])
        content = "".join(texts)
    elif not isinstance(content, str):
        raise bad_request(f"{where}.content must be a string or a list of text parts", "messages")
    return {"role": role, "content": content}


def completion_prompt(body: dict, facts: ModelFacts) -> list[int]:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
        prompt = prompt[0]                          # a batch of one prompt
    if isinstance(prompt, str):
        if facts.tokenizer is None:
            raise bad_request(f"model {facts.name} has no tokenizer; send token ids as the prompt", "prompt")
        bos = facts.tokenizer.bos_token_id
        ids = ([bos] if bos is not None else []) + facts.tokenizer.encode(prompt)
        if not ids:
            raise bad_request("'prompt' is empty", "prompt")
        return ids
    if isinstance(prompt, list) and prompt and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
        try:
            return [int(t) for t in facts.check_tokens(prompt)]
        except EngineError as exc:
            raise bad_request(f"'prompt': {exc}", "prompt") from None
    if isinstance(prompt, list) and len(prompt) > 1:
        raise bad_request("only one prompt per request is supported", "prompt")
    raise bad_request("'prompt' must be a non-empty string or a non-empty list of token ids", "prompt")


def _max_tokens(body: dict, prompt_len: int, facts: ModelFacts) -> int:
    name = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    asked = _int(body, name, None, low=1)
    window = facts.context_window
    if prompt_len >= window:
        raise bad_request(f"This model's maximum context length is {window} tokens. However, your prompt "
                          f"has {prompt_len} tokens. Please shorten the prompt.", "messages" if "messages" in body else "prompt")
    if asked is None:
        return window - prompt_len
    if prompt_len + asked > window:
        raise bad_request(f"This model's maximum context length is {window} tokens. However, you requested "
                          f"{prompt_len + asked} tokens ({prompt_len} in the prompt, {asked} in the completion). "
                          "Please reduce the length of the prompt or completion.", name)
    return asked


def sampling_params(body: dict, facts: ModelFacts) -> SamplingParams:
    d = facts.defaults
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        raise bad_request("'stop' must be a string or a list of strings", "stop")
    stop_ids = body.get("stop_token_ids")
    if stop_ids is not None and not (isinstance(stop_ids, list)
                                     and all(isinstance(t, int) and not isinstance(t, bool) for t in stop_ids)):
        raise bad_request("'stop_token_ids' must be a list of integers", "stop_token_ids")
    eos = () if _bool(body, "ignore_eos", False) or facts.tokenizer is None else tuple(facts.tokenizer.stop_token_ids)
    top_k = _int(body, "top_k", d.get("top_k", 0))
    try:  # the one sampling rule (console.api.Sampling), then the one conversion (the engine's)
        sampling = Sampling(
            temperature=_number(body, "temperature", d.get("temperature", 1.0)),
            top_p=_number(body, "top_p", d.get("top_p", 1.0)),
            top_k=0 if top_k == -1 else top_k,          # vLLM: -1 means every token
            min_p=_number(body, "min_p", 0.0),
            repetition_penalty=_number(body, "repetition_penalty", d.get("repetition_penalty", 1.0)),
            seed=_int(body, "seed", None),
            stop=tuple(stop or ()),
        )
    except SamplingError as exc:
        raise bad_request(str(exc), exc.field) from None
    return engine_sampling_params(sampling, tuple(dict.fromkeys([*eos, *(stop_ids or [])])))


# ----- typed field readers (types only; ranges are the engine's) ------------------------------
def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _is_off(value: Any, off: tuple) -> bool:
    return value is None or any(type(value) is type(o) and value == o for o in off if o is not None)


def _number(body: dict, name: str, default: float) -> float:
    value = body.get(name)
    if value is None:
        return float(default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_request(f"'{name}' must be a number, got {_kind(value)}", name)
    if value != value or value in (float("inf"), float("-inf")):
        raise bad_request(f"'{name}' must be a finite number", name)
    return float(value)


def _int(body: dict, name: str, default: int | None, low: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"'{name}' must be an integer, got {_kind(value)}", name)
    if low is not None and value < low:
        raise bad_request(f"'{name}' must be at least {low}, got {value}", name)
    return value


def _bool(body: dict, field: str, default: bool, *, name: str | None = None) -> bool:
    shown = name or field
    value = body.get(field)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"'{shown}' must be true or false, got {_kind(value)}", shown)
    return value
