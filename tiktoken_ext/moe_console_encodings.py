"""tiktoken plugin: registers the built-in encoding ``moe_console_8k``.

tiktoken imports every module of the ``tiktoken_ext`` namespace package when
it first looks an encoding up, so this module imports nothing of ``console``
and does no work until the constructor runs. The rank file ships inside the
package (``console/engine/data/moe_console_8k.tiktoken``); nothing is ever
downloaded.

    >>> import tiktoken
    >>> tiktoken.get_encoding("moe_console_8k").n_vocab
    8192
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
from pathlib import Path

ENCODING_NAME = "moe_console_8k"
RANK_FILE = "moe_console_8k.tiktoken"
#: sha256 of the rank file; a mismatch means a corrupt or stale install.
RANK_FILE_SHA256 = "14406902594ac4491f86016927308f602b90be00d085ec32734230b767484439"
#: Same regex as the Split pre-tokenizer of the built-in tokenizer.json.
PAT_STR = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
#: Special tokens follow the 8,187 BPE ranks (see console/engine/chat_template.py).
SPECIAL_TOKENS = ("<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>")


def rank_file_path() -> Path:
    """Where the rank file is, found without importing the ``console`` package."""
    spec = importlib.util.find_spec("console")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the console package (moe-console) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "engine" / "data" / RANK_FILE


def load_ranks(path: Path, expected_sha256: str | None = RANK_FILE_SHA256) -> dict[bytes, int]:
    """Parse a ``base64(token) rank`` file, checking its sha256."""
    data = path.read_bytes()
    if expected_sha256 and hashlib.sha256(data).hexdigest() != expected_sha256:
        raise ValueError(f"{path}: sha256 mismatch (corrupt or stale rank file)")
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def moe_console_8k() -> dict:
    ranks = load_ranks(rank_file_path())
    return {
        "name": ENCODING_NAME,
        "explicit_n_vocab": len(ranks) + len(SPECIAL_TOKENS),
        "pat_str": PAT_STR,
        "mergeable_ranks": ranks,
        "special_tokens": {t: len(ranks) + i for i, t in enumerate(SPECIAL_TOKENS)},
    }


ENCODING_CONSTRUCTORS = {ENCODING_NAME: moe_console_8k}
