"""Read a Hugging Face ``tokenizer.json`` (byte-level BPE) into tiktoken terms.

:func:`read_tokenizer_json` returns a :class:`BPESpec`:

* ``ranks``: tiktoken mergeable ranks. tiktoken's rank is also the id it
  returns, and BPE merges by lowest rank, so ranks follow MERGE order: the 256
  single bytes first (rank = byte value), then each merge's result in the
  order of ``merges``. ``rank_to_id`` maps them back to the file's ids (None
  when they already agree, as for the built-in tokenizer).
* ``complete``: whether rank BPE (tiktoken) provably gives the same ids as
  merge-list BPE (Hugging Face): true when every way of cutting every token in
  two tokens is a listed merge ranked by its result. Otherwise
  ``merge_priority`` is set and the tokenizer runs the exact merge-list BPE
  (slower, cached per piece).
* ``pat_str`` from the pre-tokenizer (``pretokenize.py``), the added tokens,
  and the normalizer (NFC/NFD/NFKC/NFKD or none).

Only byte-level BPE is supported. SentencePiece-style BPE (Metaspace, byte
fallback: Mixtral, Llama 2), Unigram and WordPiece raise :class:`EngineError`
rather than produce wrong ids.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from .errors import EngineError
from .pretokenize import pattern_from_pre_tokenizer

#: The cl100k pre-tokenizer regex, in the form Llama 3's tokenizer.json uses
#: (no possessive quantifiers, so Oniguruma, fancy-regex and ``regex`` agree).
CL100K_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table used by ByteLevel."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


@lru_cache(maxsize=1)
def unicode_to_bytes() -> dict[str, int]:
    return {c: b for b, c in bytes_to_unicode().items()}


@dataclass
class BPESpec:
    """Everything needed to run a byte-level BPE tokenizer with tiktoken."""

    pat_str: str
    ranks: dict[bytes, int]
    rank_to_id: list[int] | None
    id_to_bytes: dict[int, bytes]
    added_tokens: dict[str, int]
    complete: bool
    merge_priority: dict[tuple[bytes, bytes], int] | None = None
    ignore_merges: bool = False
    normalize: Callable[[str], str] | None = None
    special: set[str] = field(default_factory=set)
    #: merge-list BPE results per piece (the exact path only)
    piece_cache: dict[bytes, list[int]] = field(default_factory=dict, repr=False)


def read_tokenizer_json(path: Path, data: dict[str, Any]) -> BPESpec:
    """Convert a parsed ``tokenizer.json`` (found at ``path``) into a :class:`BPESpec`."""
    model = data.get("model") or {}
    kind = model.get("type") or "unknown"
    source = str(path)
    if kind != "BPE":
        raise EngineError(f"tokenizer.json in {path.parent} uses {kind}, which is not supported "
                          "(only byte-level BPE tokenizers are)")
    if model.get("byte_fallback") or _uses(data.get("pre_tokenizer"), "Metaspace") \
            or _uses(data.get("decoder"), "Metaspace") or _uses(data.get("decoder"), "ByteFallback"):
        raise EngineError(f"tokenizer.json in {path.parent} uses SentencePiece-style BPE (Metaspace/byte "
                          "fallback), which is not supported (only byte-level BPE tokenizers are)")
    for key in ("dropout", "continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(key):
            raise EngineError(f"{source}: BPE option {key}={model[key]!r} is not supported")
    pat_str, byte_level = pattern_from_pre_tokenizer(data.get("pre_tokenizer"), source)
    if not (byte_level or _uses(data.get("decoder"), "ByteLevel")):
        raise EngineError(f"tokenizer.json in {path.parent} is a BPE without ByteLevel, which is not supported")

    added = {t["content"]: int(t["id"]) for t in data.get("added_tokens") or []}
    special = {t["content"] for t in data.get("added_tokens") or [] if t.get("special")}
    vocab: dict[str, int] = model.get("vocab") or {}
    u2b = unicode_to_bytes()
    id_to_bytes: dict[int, bytes] = {}
    token_of: dict[str, bytes] = {}
    for text, idx in vocab.items():
        try:
            token = bytes(u2b[c] for c in text)
        except KeyError:
            if text in added:
                continue  # an added token that also sits in the model vocab
            raise EngineError(f"{source}: vocab entry {text!r} is not byte-level") from None
        token_of[text] = token
        id_to_bytes[int(idx)] = token
    for text, idx in added.items():
        id_to_bytes[idx] = text.encode("utf-8")

    bytes_id = {token: idx for text, token in token_of.items() for idx in (vocab[text],)}
    missing = [b for b in range(256) if bytes([b]) not in bytes_id]
    if missing:
        raise EngineError(f"{source}: the vocab lacks {len(missing)} of the 256 single-byte tokens")
    ranks = {bytes([b]): b for b in range(256)}
    merge_priority: dict[tuple[bytes, bytes], int] = {}
    for i, merge in enumerate(model.get("merges") or []):
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        try:
            pair = (token_of[left], token_of[right])
        except KeyError:
            raise EngineError(f"{source}: merge {left!r} {right!r} uses a token not in the vocab") from None
        merged = pair[0] + pair[1]
        if merged not in bytes_id:
            raise EngineError(f"{source}: merge {left!r} {right!r} makes a token not in the vocab")
        merge_priority.setdefault(pair, i)
        ranks.setdefault(merged, len(ranks))
    rank_to_id = [0] * len(ranks)
    for token, rank in ranks.items():
        rank_to_id[rank] = bytes_id[token]
    identity = all(i == r for r, i in enumerate(rank_to_id))
    ignore_merges = bool(model.get("ignore_merges"))
    # tiktoken returns a piece that is itself a token as that token; merge-list
    # BPE does so only with ignore_merges, otherwise every token must be
    # reachable by its own merges.
    complete = _is_complete(ranks, merge_priority) and (ignore_merges or _self_reaching(ranks))
    return BPESpec(
        pat_str=pat_str,
        ranks=ranks,
        rank_to_id=None if identity else rank_to_id,
        id_to_bytes=id_to_bytes,
        added_tokens=added,
        complete=complete,
        merge_priority=None if complete else merge_priority,
        ignore_merges=ignore_merges,
        normalize=_normalizer(data.get("normalizer"), source),
        special=special,
    )


def _is_complete(ranks: dict[bytes, int], priority: dict[tuple[bytes, bytes], int]) -> bool:
    """True when rank BPE and merge-list BPE are the same algorithm for these tables.

    Merge-list BPE merges the adjacent pair with the lowest merge index; rank
    BPE merges the adjacent pair whose concatenation has the lowest rank. They
    agree when every pair of tokens that concatenates to a token is a merge and
    merges are ordered by their result's rank.
    """
    last = -1
    for pair, index in sorted(priority.items(), key=lambda kv: kv[1]):
        rank = ranks[pair[0] + pair[1]]
        if rank < last:
            return False
        last = rank
    for token in ranks:
        for k in range(1, len(token)):
            if token[:k] in ranks and token[k:] in ranks and (token[:k], token[k:]) not in priority:
                return False
    return True


def _self_reaching(ranks: dict[bytes, int]) -> bool:
    """True when rank BPE of every token's bytes ends in that one token."""
    for token in ranks:
        if len(token) > 2 and rank_bpe(token, ranks) != [ranks[token]]:
            return False
    return True


def rank_bpe(piece: bytes, ranks: dict[bytes, int]) -> list[int]:
    """tiktoken's byte-pair merge without the whole-piece shortcut (pure Python)."""
    parts = [piece[i : i + 1] for i in range(len(piece))]
    while len(parts) > 1:
        best, at = None, -1
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and (best is None or r < best):
                best, at = r, i
        if best is None:
            break
        parts[at : at + 2] = [parts[at] + parts[at + 1]]
    return [ranks[p] for p in parts]


def _uses(node: dict[str, Any] | None, kind: str) -> bool:
    if not node:
        return False
    if node.get("type") == kind:
        return True
    children = node.get("pretokenizers") or node.get("decoders") or node.get("normalizers") or []
    return any(_uses(child, kind) for child in children)


_UNICODE_FORMS = {"NFC", "NFD", "NFKC", "NFKD"}


def _normalizer(node: dict[str, Any] | None, source: str) -> Callable[[str], str] | None:
    if not node:
        return None
    steps = node.get("normalizers") if node.get("type") == "Sequence" else [node]
    forms = []
    for step in steps or []:
        kind = step.get("type")
        if kind not in _UNICODE_FORMS:
            raise EngineError(f"{source}: normalizer {kind} is not supported")
        forms.append(kind)
    if not forms:
        return None

    def normalize(text: str) -> str:
        for form in forms:
            text = unicodedata.normalize(form, text)
        return text

    return normalize
