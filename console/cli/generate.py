"""``moe-console generate PROMPT``: stream one reply from any backend.

The reply goes through the same path as a turn in the console: the plugin
host creates the backend (``--backend``, default ``local``) with its options
(the ``[backends.<name>]`` table of settings.toml, then each ``--opt
name=value``, typed and checked by the option's declaration; ``--opt help``
lists them), and streams the request through the host's guarded stream. The
sampling flags are checked by the one rule of ``console.api.Sampling``.

The reply streams to stdout as it is produced; the timing summary goes to
stderr. With ``--json`` every token is one JSON object on stdout
(``{"event": "token", "id", "text", "t"}``, ``t`` = seconds since the request
was accepted, on the backend's clock; a backend that sends text without token
ids gives ``{"event": "text", "text", "t"}``), then ``{"event": "summary",
...}`` with prompt/completion token counts, TTFT, decode tokens/s, end-to-end
seconds, the clock (measured or modeled) and the timing label.

``--model PATH`` and ``--raw`` are shorthands for the options ``model_path``
and ``raw_prompt`` of backends that declare them (``local``; ``--model`` also
the modeled backends).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, TextIO

#: Sampling flags and the Sampling field each sets.
SAMPLING_FLAGS = {"max_tokens": "--max-tokens", "temperature": "--temperature", "top_p": "--top-p",
                  "top_k": "--top-k", "min_p": "--min-p", "repetition_penalty": "--repetition-penalty",
                  "seed": "--seed", "stop": "--stop"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="stream a reply to PROMPT from a backend (default: the local engine)",
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("prompt", metavar="PROMPT", nargs="?", help="the user message (or raw text with --raw)")
    parser.add_argument("--backend", default="local", metavar="NAME",
                        help="backend to run (see `moe-console plugins --load`; default local)")
    parser.add_argument("--opt", action="append", default=[], metavar="NAME=VALUE",
                        help="a backend option (repeatable); --opt help lists the backend's options")
    parser.add_argument("--model", metavar="PATH", default=None,
                        help="a Hugging Face checkpoint folder (the model_path option; default: built-in)")
    parser.add_argument("--max-tokens", type=int, default=128, metavar="N",
                        help="most tokens to generate (default 128)")
    parser.add_argument("--temperature", type=float, default=0.8,
                        help="sampling temperature; 0 = greedy (default 0.8)")
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (default 1.0)")
    parser.add_argument("--top-k", type=int, default=40, help="sample among the k best; 0 = all (default 40)")
    parser.add_argument("--min-p", type=float, default=0.0, help="drop tokens below min_p x the best (default 0)")
    parser.add_argument("--repetition-penalty", type=float, default=1.0, metavar="R",
                        help="penalty for tokens already seen; 1 = off (default 1)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (same seed, same reply)")
    parser.add_argument("--stop", action="append", default=[], metavar="TEXT",
                        help="a string that ends the reply (repeatable; not included in it)")
    parser.add_argument("--system", default=None, metavar="TEXT", help="a system message before the prompt")
    parser.add_argument("--raw", action="store_true",
                        help="no chat template: continue PROMPT as plain text (the raw_prompt option)")
    parser.add_argument("--json", action="store_true", help="one JSON object per token, then a summary")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    from console.api import Message, OptionError, Request
    from console.api.options import parse_assignments
    from console.cli import UserError
    from console.configured import discover_configured
    from console.settings import load_settings

    out = out or sys.stdout
    err = err or sys.stderr
    settings, _ = load_settings()  # the file's other problems are the console's to show
    host = discover_configured(settings)  # [remote.NAME] endpoints are backends here too
    if "help" in args.opt:
        out.write(options_help(host, args.backend) + "\n")
        return 0
    if args.prompt is None:
        raise UserError("generate needs a PROMPT (or --opt help to list the backend's options)")
    if not args.prompt.strip():
        raise UserError("nothing to generate: the prompt is empty")
    if args.raw and args.system is not None:
        raise UserError("--system needs the chat template; it cannot be used with --raw")
    _check_text(args.prompt, "the prompt")
    sampling = sampling_from_args(args)
    entry = host.entry(args.backend)
    try:
        given = parse_assignments(args.opt)
    except OptionError as exc:
        raise UserError(str(exc)) from None
    options = backend_options(args, entry, given, err, settings)
    backend = host.create(args.backend, **options)
    messages = ([Message("system", args.system)] if args.system is not None else [])
    messages.append(Message("user", args.prompt))
    emit = _JsonEmitter(out) if args.json else _TextEmitter(out, err)
    finished = asyncio.run(_stream(host, backend, Request(tuple(messages), sampling), emit))
    emit.summary(summary(args.backend, finished))
    return 0


def _check_text(text: str, what: str) -> None:
    from console.cli import UserError

    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(f"{what} is not valid UTF-8 text") from None


def sampling_from_args(args: argparse.Namespace) -> Any:
    """The request's Sampling; a flag out of range is one line naming the flag and its rule."""
    from console.api import Sampling, SamplingError
    from console.cli import UserError

    for stop in args.stop:
        _check_text(stop, "--stop")
    try:
        return Sampling(max_tokens=args.max_tokens, temperature=args.temperature, top_p=args.top_p,
                        top_k=args.top_k, min_p=args.min_p, repetition_penalty=args.repetition_penalty,
                        seed=args.seed, stop=tuple(args.stop))
    except SamplingError as exc:
        raise UserError(f"{SAMPLING_FLAGS[exc.field]} {exc.rule}, got {exc.value!r}") from None


def backend_options(args: argparse.Namespace, entry: Any, given: dict[str, str], err: TextIO,
                    settings: Any) -> dict[str, Any]:
    """Options for the backend: settings.toml's table (problems as warnings), then
    ``--model``/``--raw``, then ``--opt`` (whose errors are fatal: the user typed them)."""
    from console.cli import UserError

    valid, problems = settings.checked_options(entry.name, entry.options)
    for problem in problems:
        err.write(f"moe-console: warning: {problem}\n")
    declared = {o.name for o in entry.options}
    for flag, option, value in (("--model", "model_path", args.model), ("--raw", "raw_prompt", args.raw or None)):
        if value is None:
            continue
        if option not in declared:
            raise UserError(f"{flag}: backend {entry.name!r} has no {option} option")
        valid[option] = value
    return {**valid, **given}


async def _stream(host: Any, backend: Any, request: Any, emit: Any) -> Any:
    """Emit each TextDelta; return the Finished event (a Failed one raises UserError)."""
    from console.api import Failed, Finished, TextDelta
    from console.cli import UserError

    async for event in host.stream(backend, request):
        if isinstance(event, TextDelta):
            emit.delta(event)
        elif isinstance(event, Finished):
            return event
        elif isinstance(event, Failed):
            emit.abort()
            raise UserError(event.error)
    raise UserError("the backend ended without a reply")  # pragma: no cover - the host adds a Failed


def summary(backend: str, finished: Any) -> dict[str, Any]:
    """The summary of a finished reply (what ``--json`` prints last)."""
    t, u = finished.timing, finished.usage
    rate = t.decode_tokens_per_s
    payload = {
        "event": "summary",
        "backend": backend,
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "finish_reason": finished.reason,
        "ttft_s": round(t.ttft_s, 6) if u.completion_tokens else None,
        "decode_tokens_per_s": round(rate, 3) if rate else None,
        "e2e_s": round(t.e2e_s, 6),
        "timing_source": t.clock,
        "timing_label": t.label,
    }
    if finished.cost is not None:
        payload["cost_usd"] = finished.cost.total_usd
        payload["cost_label"] = finished.cost.label
    return payload


def options_help(host: Any, backend: str) -> str:
    """The options of ``backend``, as flags and as settings.toml keys, from their declarations."""
    entry = host.entry(backend)
    lines = [f"options of backend {entry.name!r} ({entry.info.display_name}):"]
    if not entry.options:
        return lines[0] + " none"
    lines += [f"  {o.cli_usage()}" for o in entry.options]
    lines += ["", f"in settings.toml ([backends.{entry.name}]):", f"  [backends.{entry.name}]"]
    lines += [f"  {o.toml_line()}" for o in entry.options]
    return "\n".join(lines)


class _TextEmitter:
    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out, self.err = out, err
        self.wrote = False

    def delta(self, event: Any) -> None:
        if event.text:
            self.out.write(event.text)
            self.out.flush()
            self.wrote = True

    def abort(self) -> None:
        """End the partial reply's line (if any) before the error is printed."""
        if self.wrote:
            self.out.write("\n")
            self.out.flush()

    def summary(self, s: dict[str, Any]) -> None:
        self.out.write("\n")
        self.out.flush()
        ttft = f"{s['ttft_s'] * 1000:.0f} ms" if s["ttft_s"] is not None else "-"
        rate = f"{s['decode_tokens_per_s']:.1f} tok/s" if s["decode_tokens_per_s"] else "-"
        cost = f", ${s['cost_usd']:.6f}" if "cost_usd" in s else ""
        self.err.write(f"[{s['backend']}: {s['prompt_tokens']} prompt + {s['completion_tokens']} completion "
                       f"tokens, TTFT {ttft}, decode {rate}, e2e {s['e2e_s']:.2f} s{cost}, "
                       f"finish: {s['finish_reason']}; {s['timing_label']}]\n")


class _JsonEmitter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def _write(self, obj: dict[str, Any]) -> None:
        self.out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.out.flush()

    def delta(self, event: Any) -> None:
        t = round(event.at, 6)
        if not event.token_ids:
            self._write({"event": "text", "text": event.text, "t": t})
            return
        *held, last = event.token_ids  # ids whose text completes with the last one
        for token_id in held:
            self._write({"event": "token", "id": int(token_id), "text": "", "t": t})
        self._write({"event": "token", "id": int(last), "text": event.text, "t": t})

    def abort(self) -> None:
        pass

    def summary(self, s: dict[str, Any]) -> None:
        self._write(s)
