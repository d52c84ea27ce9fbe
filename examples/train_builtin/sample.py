"""Print the built-in model's replies to a few chat prompts, through the numpy engine.

    python examples/train_builtin/sample.py [FOLDER] [--temperature 0.7] [--seed 0] [--max-new 60]

Temperature 0 is greedy. Uses the public engine API only (no torch).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from console.engine import SamplingParams, load_model  # noqa: E402

PROMPTS = ("What is a dog?", "Hello, how are you?", "What is a list in Python?", "Define the verb run.")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder", nargs="?", default=None, help="model folder (default: the built-in model)")
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--top-p", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-new", type=int, default=60)
    p.add_argument("--prompt", action="append", default=None, help="a user message (repeatable)")
    args = p.parse_args(argv)
    model = load_model(args.folder)
    tok = model.tokenizer
    for i, prompt in enumerate(args.prompt or PROMPTS):
        ids = tok.apply_chat_template([{"role": "user", "content": prompt}])
        params = SamplingParams(temperature=args.temperature, top_p=args.top_p, seed=args.seed + i,
                                stop_token_ids=tok.stop_token_ids)
        out = [t for t in model.generate(ids, args.max_new, params) if t not in tok.stop_token_ids]
        print(f"User: {prompt}\nAssistant: {tok.decode(out)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
