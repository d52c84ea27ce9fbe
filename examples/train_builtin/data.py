"""Corpus -> token ids (cached as .npy) and random training windows.

The corpus is plain UTF-8 text.  Documents are separated by the tokenizer's
document separator string when the text contains it (e.g. ``<|endoftext|>``);
each document is encoded on its own (so BPE never merges across documents) and
the separator's id is put between documents.  Without a separator the text is
split at blank lines, keeping the blank line with the preceding chunk, which
preserves the text exactly.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np

SEPARATOR_CANDIDATES = ("<|endoftext|>", "<|end_of_text|>", "</s>")


def load_tokenizer(tokenizer_dir: Path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))


def document_separator(tok, text_sample: str) -> str | None:
    """The separator string used in the corpus, if the tokenizer has it as one token."""
    for cand in SEPARATOR_CANDIDATES:
        if tok.token_to_id(cand) is not None and cand in text_sample:
            return cand
    return None


def split_documents(text: str, sep: str | None) -> list[str]:
    if sep is not None:
        return [d for d in text.split(sep)]
    parts = re.split(r"(?<=\n\n)", text)
    return [p for p in parts if p]


def encode_text(tok, text: str, sep: str | None) -> np.ndarray:
    """Token ids of the whole text, separator ids between documents."""
    docs = split_documents(text, sep)
    sep_id = tok.token_to_id(sep) if sep is not None else None
    out: list[int] = []
    batch = 4096
    for i in range(0, len(docs), batch):
        chunk = docs[i : i + batch]
        for j, enc in enumerate(tok.encode_batch(chunk, add_special_tokens=False)):
            if sep_id is not None and (i + j) > 0:
                out.append(sep_id)
            out.extend(enc.ids)
    return np.asarray(out, dtype=np.uint16)


def cached_tokens(text_path: Path, tokenizer_dir: Path, cache_dir: Path) -> tuple[np.ndarray, int, str | None]:
    """(ids, number of characters of the text, separator) for a text file, cached by content hash."""
    raw = text_path.read_bytes()
    text = raw.decode("utf-8")
    tok_bytes = (tokenizer_dir / "tokenizer.json").read_bytes()
    key = hashlib.sha256(raw + tok_bytes).hexdigest()[:16]
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{text_path.stem}-{key}.npy"
    tok = load_tokenizer(tokenizer_dir)
    sep = document_separator(tok, text[:1_000_000])
    if path.exists():
        ids = np.load(path)
    else:
        os.environ.setdefault("RAYON_NUM_THREADS", "1")
        ids = encode_text(tok, text, sep)
        np.save(path, ids)
    return ids, len(text), sep


class Batcher:
    """Random (B, T+1) windows of a token stream, reproducible from a numpy Generator state."""

    def __init__(self, ids: np.ndarray, seed: int) -> None:
        self.ids = ids
        self.rng = np.random.default_rng(seed)

    def sample(self, batch: int, seq: int) -> np.ndarray:
        starts = self.rng.integers(0, len(self.ids) - seq - 1, size=batch)
        return np.stack([self.ids[s : s + seq + 1] for s in starts]).astype(np.int64)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state
