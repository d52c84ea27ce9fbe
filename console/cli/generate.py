"""``moe-console generate PROMPT``: stream a reply from a model, with measured timings.

The prompt goes through the model's chat template (``--system`` adds a system
turn; ``--raw`` skips the template and continues the text after the BOS token).
The reply streams to stdout as it is produced; the timing summary goes to
stderr. With ``--json`` every token is one JSON object on stdout
(``{"event": "token", "id", "text", "t"}``, ``t`` = seconds since the request
started, from ``time.monotonic()`` read as the engine hands the token over),
then ``{"event": "summary", ...}`` with prompt/completion token counts, TTFT,
decode tokens/s (tokens after the first over the time after the first) and
end-to-end seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="stream a reply to PROMPT from the built-in model (or --model PATH)",
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("prompt", metavar="PROMPT", help="the user message (or raw text with --raw)")
    parser.add_argument("--model", metavar="PATH", default=None,
                        help="a Hugging Face checkpoint folder (default: the built-in model)")
    parser.add_argument("--max-tokens", type=int, default=128, metavar="N",
                        help="most tokens to generate (default 128)")
    parser.add_argument("--temperature", type=float, default=0.8,
                        help="sampling temperature; 0 = greedy (default 0.8)")
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (default 1.0)")
    parser.add_argument("--top-k", type=int, default=40, help="sample among the k best; 0 = all (default 40)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (same seed, same reply)")
    parser.add_argument("--system", default=None, metavar="TEXT", help="a system message before the prompt")
    parser.add_argument("--raw", action="store_true", help="no chat template: continue PROMPT as plain text")
    parser.add_argument("--json", action="store_true", help="one JSON object per token, then a summary")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    from console.cli import UserError
    from console.engine import SamplingParams, load_model

    out = out or sys.stdout
    err = err or sys.stderr
    if args.max_tokens < 1:
        raise UserError(f"--max-tokens must be at least 1, got {args.max_tokens}")
    if args.raw and args.system is not None:
        raise UserError("--system needs the chat template; it cannot be used with --raw")

    model = load_model(args.model)
    tokenizer = model.tokenizer
    if tokenizer is None:
        raise UserError(f"{model.path}: the model folder has no tokenizer (tokenizer.json), "
                        "so a text prompt cannot be encoded")
    prompt_ids = prompt_token_ids(tokenizer, args.prompt, system=args.system, raw=args.raw)
    context = int(model.config.max_position_embeddings)
    if len(prompt_ids) >= context:
        raise UserError(f"the prompt is {len(prompt_ids)} tokens; the model's context is {context} tokens")
    max_new = min(args.max_tokens, context - len(prompt_ids))
    sampling = SamplingParams(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                              seed=args.seed, stop_token_ids=tokenizer.stop_token_ids)

    emit = _JsonEmitter(out) if args.json else _TextEmitter(out, err)
    summary = stream_reply(model, prompt_ids, max_new, sampling, emit)
    emit.summary(summary)
    return 0


def prompt_token_ids(tokenizer, prompt: str, *, system: str | None, raw: bool) -> list[int]:
    """Token ids of the request: BOS + raw text, or the chat-templated messages."""
    if raw:
        bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
        return bos + tokenizer.encode(prompt)
    messages = ([{"role": "system", "content": system}] if system is not None else [])
    messages.append({"role": "user", "content": prompt})
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True)


def stream_reply(model, prompt_ids: list[int], max_new: int, sampling, emit) -> dict[str, Any]:
    """Run ``Model.stream``, hand each token to ``emit``; return the timing summary."""
    decoder = model.tokenizer.stream_decoder()
    times: list[float] = []
    t0 = time.monotonic()
    stream = model.stream(prompt_ids, max_new, sampling)
    try:
        for step in stream:
            now = time.monotonic() - t0
            times.append(now)
            emit.token(step.token_id, decoder.push(step.token_id), now)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    tail = decoder.flush()
    if tail:
        emit.text(tail)
    e2e = time.monotonic() - t0
    n = len(times)
    decode_s = times[-1] - times[0] if n > 1 else 0.0
    return {
        "event": "summary",
        "model": str(model.path),
        "prompt_tokens": len(prompt_ids),
        "completion_tokens": n,
        "finish_reason": getattr(stream, "finish_reason", None),
        "ttft_s": round(times[0], 6) if times else None,
        "decode_tokens_per_s": round((n - 1) / decode_s, 3) if decode_s > 0 else None,
        "e2e_s": round(e2e, 6),
        "timing_source": "measured",
    }


class _TextEmitter:
    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out, self.err = out, err

    def token(self, token_id: int, text: str, t: float) -> None:
        if text:
            self.out.write(text)
            self.out.flush()

    def text(self, text: str) -> None:
        self.out.write(text)

    def summary(self, s: dict[str, Any]) -> None:
        self.out.write("\n")
        self.out.flush()
        ttft = f"{s['ttft_s'] * 1000:.0f} ms" if s["ttft_s"] is not None else "-"
        rate = f"{s['decode_tokens_per_s']:.1f} tok/s" if s["decode_tokens_per_s"] else "-"
        self.err.write(f"[{s['prompt_tokens']} prompt + {s['completion_tokens']} completion tokens, "
                       f"TTFT {ttft}, decode {rate}, e2e {s['e2e_s']:.2f} s, "
                       f"finish: {s['finish_reason']}; measured]\n")


class _JsonEmitter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def _write(self, obj: dict[str, Any]) -> None:
        self.out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.out.flush()

    def token(self, token_id: int, text: str, t: float) -> None:
        self._write({"event": "token", "id": int(token_id), "text": text, "t": round(t, 6)})

    def text(self, text: str) -> None:
        self._write({"event": "text", "text": text})

    def summary(self, s: dict[str, Any]) -> None:
        self._write(s)
