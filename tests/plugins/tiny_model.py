"""A tiny random DeepSeek-V3 checkpoint folder with the built-in tokenizer, for `local` tests.

Weights come from the engine tests' checkpoint writer (``tests/engine/checkpoints.py``)
with the vocabulary widened to the tokenizer's 8192 tokens; the LM head rows of
the special tokens are zeroed so a greedy reply does not end at its first token.
The tokenizer files are the built-in model's (a genuine tokenizer.json).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "generation_config.json")
VOCAB = 8192
FIRST_SPECIAL = 8187  # <|endoftext|>; then <|system|>, <|user|>, <|assistant|>, <|end|>


def _checkpoints():
    """tests/engine/checkpoints.py, loaded by path (tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location("engine_test_checkpoints", ROOT / "tests/engine/checkpoints.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tokenizer_source() -> Path:
    """The built-in model folder, whose tokenizer files every tiny model copies."""
    from console.engine import builtin_model_path

    return builtin_model_path()


def write_tiny_model(folder: Path, *, max_position_embeddings: int = 256, seed: int = 0, **config) -> Path:
    """Write the model into ``folder``; ``config`` overrides config.json keys (sizes)."""
    ckpt = _checkpoints()
    cfg = ckpt.make_config("v3", vocab_size=VOCAB, max_position_embeddings=max_position_embeddings,
                           bos_token_id=FIRST_SPECIAL, eos_token_id=VOCAB - 1, **config)
    tensors = ckpt.random_tensors(cfg, seed)
    tensors["lm_head.weight"][FIRST_SPECIAL:] = 0.0
    ckpt.write_folder(folder, cfg, tensors)
    source = tokenizer_source()
    for name in TOKENIZER_FILES:
        shutil.copy(source / name, folder / name)
    return folder
