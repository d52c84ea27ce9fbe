"""vLLM's ``POST /tokenize`` and ``POST /detokenize``: the model's own tokenizer over HTTP.

``/tokenize`` takes ``messages`` (through the chat template, as a chat request would be) or a
text ``prompt`` (BOS first unless ``add_special_tokens`` is false, the text always ordinary);
it answers ``{"count", "max_model_len", "tokens"}``. ``/detokenize`` takes ``tokens`` and
answers ``{"prompt"}``. Errors are 400s in vLLM's shape naming the field.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from console.engine import EngineError

from .bridge import EngineBridge
from .errors import bad_request
from .guard import read_body
from .parse import chat_prompt, check_model, json_object


class Tokens:
    """The two routes over one bridge."""

    def __init__(self, bridge: EngineBridge, max_body_bytes: int) -> None:
        self.bridge, self.max_body_bytes = bridge, max_body_bytes

    async def _body(self, request: Request):
        facts = self.bridge.check_ready()
        body = json_object(await read_body(request, self.max_body_bytes))
        check_model(body, facts)
        if facts.tokenizer is None:
            raise bad_request(f"model {facts.name} has no tokenizer")
        return facts, body

    async def tokenize(self, request: Request) -> JSONResponse:
        facts, body = await self._body(request)
        if "messages" in body:
            tokens = chat_prompt(body, facts)
        else:
            prompt = body.get("prompt")
            if not isinstance(prompt, str):
                raise bad_request("'prompt' must be a string (or send 'messages')", "prompt")
            special = body.get("add_special_tokens", True)
            if not isinstance(special, bool):
                raise bad_request("'add_special_tokens' must be true or false", "add_special_tokens")
            bos = facts.tokenizer.bos_token_id
            tokens = ([bos] if special and bos is not None else []) + facts.tokenizer.encode(prompt)
        return JSONResponse({"count": len(tokens), "max_model_len": facts.context_window, "tokens": tokens})

    async def detokenize(self, request: Request) -> JSONResponse:
        facts, body = await self._body(request)
        tokens = body.get("tokens")
        if not (isinstance(tokens, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in tokens)):
            raise bad_request("'tokens' must be a list of integers", "tokens")
        if tokens:
            try:
                facts.check_tokens(tokens)
            except EngineError as exc:
                raise bad_request(f"'tokens': {exc}", "tokens") from None
        return JSONResponse({"prompt": facts.tokenizer.decode(tokens)})
