"""Bits per character of a model folder on held-out text (tokenizer-independent quality).

    python examples/train_builtin/eval_bpc.py console/engine/builtin build/corpus/val.txt
    .venv-ref/bin/python examples/train_builtin/eval_bpc.py ... --backend torch

bpc = (total nats over every token of the text) / ln 2 / (number of characters).
The token stream is ``<|endoftext|>`` + the encoded text (special-token strings in the
text become their ids), so every token of the text is scored, the first one after the BOS.
Windows of ``--window`` tokens move by ``--stride``; each token is scored once, with at
least ``window - stride`` tokens of context (except near the start).

Two character counts are reported: ``bpc`` divides by len(text) (every character of the
file, markup like ``<|user|>`` included, the definition of the brief), ``bpc_markup_as_1``
counts each special-token string as one character (stricter: markup is cheap to predict).

Backends: ``engine`` (default; numpy, ``console.engine.load_model``, no torch) or ``torch``
(our training module with the folder's weights; needs the reference venv).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

SPECIALS = ("<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>")


def log_softmax_nats(logits: np.ndarray, targets: np.ndarray) -> float:
    """Sum over rows of -log softmax(logits)[target], computed in float64 per row."""
    x = logits.astype(np.float64)
    m = x.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(x - m).sum(axis=1))
    return float((lse - x[np.arange(len(targets)), targets]).sum())


def scored_windows(n: int, window: int, stride: int):
    """Yield (start, end, first_scored): score positions first_scored..end-1 predicted from start..."""
    start, scored_to = 0, 1  # position 0 is the BOS, never a target
    while scored_to < n:
        end = min(start + window, n)
        yield start, end, scored_to
        scored_to = end
        start = max(0, end - (window - stride))
        if end == n:
            break


def make_backend(name: str, folder: Path):
    """(encode(text) -> ids, logits(ids) -> (T, V) float32 numpy)."""
    if name == "engine":
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from console.engine import load_model

        model = load_model(folder)
        return (lambda t: model.tokenizer.encode(t, allow_special=True)), model.logits
    import torch
    from tokenizers import Tokenizer

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from hf_format import load_folder_model

    torch.set_num_threads(1)  # 2 OpenMP threads on a shared 2-core machine are much slower
    model = load_folder_model(folder)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))

    def logits(ids):
        with torch.no_grad():
            return model(torch.tensor([list(ids)]))[0].numpy()

    return (lambda t: tok.encode(t, add_special_tokens=False).ids), logits


def evaluate(folder: Path, text: str, backend: str, window: int, stride: int, limit_chars: int | None) -> dict:
    if limit_chars:
        text = text[:limit_chars]
    encode, logits_fn = make_backend(backend, folder)
    bos = encode("<|endoftext|>")
    ids = np.asarray(bos + encode(text), dtype=np.int64)
    t0 = time.perf_counter()
    nats = 0.0
    for start, end, first in scored_windows(len(ids), window, stride):
        lg = logits_fn(ids[start:end].tolist())
        rows = np.arange(first - 1, end - 1) - start
        nats += log_softmax_nats(lg[rows], ids[first:end])
    dt = time.perf_counter() - t0
    n_chars = len(text)
    markup = sum(text.count(s) * (len(s) - 1) for s in SPECIALS)
    bits = nats / math.log(2)
    return {"folder": str(folder), "backend": backend, "chars": n_chars, "tokens_scored": int(len(ids) - 1),
            "nats_per_token": nats / (len(ids) - 1), "bpc": bits / n_chars,
            "bpc_markup_as_1": bits / (n_chars - markup), "window": window, "stride": stride,
            "seconds": round(dt, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("text", type=Path)
    p.add_argument("--backend", choices=["engine", "torch"], default="engine")
    p.add_argument("--window", type=int, default=512)
    p.add_argument("--stride", type=int, default=256)
    p.add_argument("--limit-chars", type=int, default=None, help="score only the first N characters")
    args = p.parse_args(argv)
    if not (args.folder / "config.json").is_file():
        print(f"error: {args.folder}: not a model folder (no config.json)", file=sys.stderr)
        return 2
    if not args.text.is_file():
        print(f"error: {args.text}: no such text file", file=sys.stderr)
        return 2
    text = args.text.read_text(encoding="utf-8")
    print(json.dumps(evaluate(args.folder, text, args.backend, args.window, args.stride, args.limit_chars), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
