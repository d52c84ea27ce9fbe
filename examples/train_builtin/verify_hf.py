"""Check an exported built-in model folder against transformers and record the test fixture.

    .venv-ref/bin/python examples/train_builtin/verify_hf.py console/engine/builtin \
        [--fixture tests/fixtures/builtin/expected_logits.npz]

1. Loads the folder with ``transformers.DeepseekV3ForCausalLM.from_pretrained`` (float32) and
   with our torch module; reports the max |logit difference| on a chat prompt and on random ids.
2. Optionally (``--engine``) loads it with ``console.engine.load_model`` and reports the same.
3. With ``--fixture``, stores transformers' logits for the chat prompt at a few positions
   (float32) plus the token ids and the sha256 of model.safetensors they belong to, for
   ``tests/test_builtin_model.py``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hf_format import load_folder_model  # noqa: E402

PROMPT = [{"role": "user", "content": "What is a dog?"}]


def chat_ids(folder: Path) -> list[int]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    ids = tok.apply_chat_template(PROMPT, add_generation_prompt=True, tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return [int(i) for i in ids]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--fixture", type=Path, default=None)
    p.add_argument("--engine", action="store_true", help="also compare console.engine.load_model")
    args = p.parse_args(argv)
    from transformers import DeepseekV3ForCausalLM

    hf = DeepseekV3ForCausalLM.from_pretrained(str(args.folder), dtype=torch.float32).eval()
    ours = load_folder_model(args.folder)
    ids = chat_ids(args.folder)
    vocab = hf.config.vocab_size
    rand = torch.randint(0, vocab, (1, 200), generator=torch.Generator().manual_seed(0))
    report = {"prompt_ids": ids}
    with torch.no_grad():
        for name, x in (("chat", torch.tensor([ids])), ("random200", rand)):
            a = hf(x).logits[0]
            b = ours(x)[0]
            report[f"hf_vs_torch_{name}"] = float((a - b).abs().max())
            report[f"max_abs_logit_{name}"] = float(a.abs().max())
        ref = hf(torch.tensor([ids])).logits[0].float().numpy()
    if args.engine:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from console.engine import load_model

        eng = load_model(args.folder)
        for name, x in (("chat", ids), ("random200", rand[0].tolist())):
            with torch.no_grad():
                a = hf(torch.tensor([x])).logits[0].numpy()
            report[f"hf_vs_engine_{name}"] = float(np.abs(eng.logits(x) - a).max())
    if args.fixture:
        positions = sorted({0, len(ids) // 2, len(ids) - 2, len(ids) - 1})
        args.fixture.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256((args.folder / "model.safetensors").read_bytes()).hexdigest()
        np.savez_compressed(args.fixture, token_ids=np.asarray(ids, dtype=np.int64), model_sha256=np.asarray(digest),
                            positions=np.asarray(positions, dtype=np.int64),
                            logits=ref[positions].astype(np.float32))
        report["fixture"] = str(args.fixture)
        report["fixture_bytes"] = args.fixture.stat().st_size
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
