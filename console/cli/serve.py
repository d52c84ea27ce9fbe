"""``moe-console serve``: an OpenAI-compatible HTTP server (vLLM's dialect) over the engine.

Binds to 127.0.0.1 unless ``--host`` says otherwise (a non-loopback host without an API key
prints a warning). The API key is read from the environment variable named by
``--api-key-env``; it is never printed or stored. Prints ``serving MODEL on URL`` once it
accepts connections; Ctrl-C or SIGTERM stops it gracefully (exit 0). See README "Serving".
"""

from __future__ import annotations

import argparse
import os
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve a model over an OpenAI-compatible HTTP API (vLLM's dialect)",
        description=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--model", metavar="PATH", default=None,
                        help="a Hugging Face checkpoint folder (default: the built-in model)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = a free one)")
    parser.add_argument("--api-key-env", metavar="NAME", default=None,
                        help="require 'Authorization: Bearer KEY', KEY read from environment variable NAME")
    parser.add_argument("--max-concurrency", type=int, default=64, metavar="N",
                        help="requests that may wait for a batch slot; more get 429 (default 64)")
    parser.add_argument("--max-batch", type=int, default=32, metavar="N",
                        help="sequences decoded together in one step (default 32)")
    parser.add_argument("--max-num-batched-tokens", type=int, default=256, metavar="N",
                        help="token budget of one engine step; longer prompts are prefilled in chunks "
                             "(default 256)")
    parser.add_argument("--no-prefix-cache", action="store_true",
                        help="do not reuse the cached keys of earlier prompts with the same prefix")
    parser.add_argument("--blas-threads", type=int, default=1, metavar="N",
                        help="OpenBLAS threads of the engine (default 1: the HTTP event loop needs a core)")
    parser.add_argument("--max-body-bytes", type=int, default=4 * 2**20, metavar="N",
                        help="largest request body accepted; larger get 413 (default 4 MiB)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from console.cli import UserError

    for flag, value, low in (("--port", args.port, 0), ("--max-concurrency", args.max_concurrency, 0),
                             ("--max-batch", args.max_batch, 1), ("--max-num-batched-tokens",
                             args.max_num_batched_tokens, 1), ("--max-body-bytes", args.max_body_bytes, 1),
                             ("--blas-threads", args.blas_threads, 1)):
        if value < low:
            raise UserError(f"{flag} must be at least {low}, got {value}")
    if args.port > 65535:
        raise UserError(f"--port must be at most 65535, got {args.port}")
    api_key = None
    if args.api_key_env is not None:
        api_key = os.environ.get(args.api_key_env, "")
        if not api_key.strip():
            raise UserError(f"--api-key-env {args.api_key_env}: that environment variable is not set or empty")
    from console.server.runner import bind, is_loopback, serve
    from console.server.bridge import EngineBridge

    if not is_loopback(args.host) and api_key is None:
        print(f"moe-console: warning: serving on {args.host} without an API key: anyone who can reach "
              "this address can use the model (set --api-key-env NAME)", file=sys.stderr)
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    bridge = EngineBridge(args.model, max_batch=args.max_batch, max_waiting=args.max_concurrency,
                          max_num_batched_tokens=args.max_num_batched_tokens,
                          prefix_cache=not args.no_prefix_cache, blas_threads=args.blas_threads)
    return serve(bridge, sock, api_key=api_key, max_body_bytes=args.max_body_bytes)
