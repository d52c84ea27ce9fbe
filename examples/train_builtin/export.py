"""Export a training-state checkpoint (``state.pt``) as the Hugging Face folder of the built-in model.

    .venv-ref/bin/python examples/train_builtin/export.py \
        --state build/train_state/state.pt --tokenizer build/builtin_tokenizer \
        --out console/engine/builtin
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hf_format import save_folder  # noqa: E402
from model import DeepseekV3LM, ModelShape  # noqa: E402


def load_state_model(state_path: Path) -> tuple[DeepseekV3LM, dict]:
    st = torch.load(state_path, weights_only=False, map_location="cpu")
    model = DeepseekV3LM(ModelShape(**st["shape"]))
    model.load_state_dict(st["model"])
    return model.eval(), st


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--state", type=Path, required=True)
    p.add_argument("--tokenizer", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    args = p.parse_args(argv)
    model, st = load_state_model(args.state)
    save_folder(model, args.out, args.tokenizer, dtype=args.dtype,
                metadata={"step": st["step"], "tokens": st["tokens"]})
    size = sum(f.stat().st_size for f in args.out.iterdir() if f.is_file())
    print(f"exported step {st['step']} ({st['tokens']} tokens) to {args.out} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
