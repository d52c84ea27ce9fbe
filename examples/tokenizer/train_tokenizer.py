"""Train the built-in byte-level BPE tokenizer (vocab 8,192 with specials).

    python examples/tokenizer/train_tokenizer.py [--corpus build/corpus/train.txt]
        [--ranks console/engine/data/moe_console_8k.tiktoken]
        [--hf-out build/builtin_tokenizer]

Needs the ``tokenizers`` library (the ``reference`` extra); the console itself
never does. Steps:

1. train a Hugging Face BPE on the corpus, pre-split by the cl100k regex
   (``console.engine.hf_tokenizer.CL100K_PATTERN``) and mapped to bytes with
   ByteLevel, with 8,192 - 5 tokens; special-token text never reaches the
   trainer (the corpus is cut at every special token first);
2. convert to tiktoken ranks: the 256 single bytes are ranks 0-255 (rank =
   byte value), then every learned token in merge order;
3. write the rank file (``base64(token) rank`` lines) shipped in the package;
4. write an equivalent Hugging Face ``tokenizer.json`` whose merges are every
   split of every token into two tokens, ordered by the rank of the result,
   and ``ignore_merges`` (a piece that is a token stays whole, as in
   tiktoken), which makes merge-priority BPE (Hugging Face) and rank BPE
   (tiktoken) give the same ids, plus ``tokenizer_config.json`` (Jinja chat template, BOS/EOS)
   and ``generation_config.json`` (both stop tokens);
5. check: the ids of ``tokenizers`` on the tokenizer.json equal ours on the
   validation split, and report chars per token.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from console.engine.chat_template import (  # noqa: E402
    BUILTIN_CHAT_TEMPLATE, BUILTIN_SPECIAL_TOKENS, END_OF_TURN, ENDOFTEXT,
)
from console.engine.hf_tokenizer import CL100K_PATTERN, bytes_to_unicode  # noqa: E402

VOCAB_SIZE = 8192


def corpus_pieces(path: Path, chunk_chars: int = 1 << 16):
    """The corpus text cut at every special token, in chunks for the trainer."""
    splitter = re.compile("|".join(re.escape(t) for t in BUILTIN_SPECIAL_TOKENS))
    text = path.read_text(encoding="utf-8")
    batch: list[str] = []
    size = 0
    for piece in splitter.split(text):
        if piece:
            batch.append(piece)
            size += len(piece)
            if size >= chunk_chars:
                yield from batch
                batch, size = [], 0
    yield from batch


def train_hf(corpus: Path, n_bpe: int):
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CL100K_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    trainer = trainers.BpeTrainer(vocab_size=n_bpe, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[])
    tok.train_from_iterator(corpus_pieces(corpus), trainer=trainer)
    return tok


def to_ranks(tok) -> dict[bytes, int]:
    """256 bytes first (rank = byte value), then learned tokens in merge order."""
    return to_ranks_from_model(json.loads(tok.to_str())["model"])


def to_ranks_from_model(model: dict, skip: set[str] = frozenset()) -> dict[bytes, int]:
    """Ranks of a tokenizer.json BPE ``model`` (``skip``: special tokens in its vocab)."""
    byte_of = {ch: b for b, ch in bytes_to_unicode().items()}
    ranks = {bytes([b]): b for b in range(256)}
    for merge in model["merges"]:
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        token = bytes(byte_of[c] for c in left + right)
        if token not in ranks:
            ranks[token] = len(ranks)
    assert len(ranks) == len(model["vocab"]) - len(skip), (len(ranks), len(model["vocab"]))
    return ranks


def write_ranks(ranks: dict[bytes, int], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{base64.b64encode(t).decode()} {r}" for t, r in sorted(ranks.items(), key=lambda x: x[1])]
    path.write_text("\n".join(lines) + "\n")


def complete_merges(ranks: dict[bytes, int]) -> list[tuple[str, str]]:
    """Every split of every token into two tokens, ordered by the result's rank."""
    u = bytes_to_unicode()
    text = {t: "".join(u[b] for b in t) for t in ranks}
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda x: x[1]):
        if len(token) < 2:
            continue
        splits = [(ranks[token[:k]], ranks[token[k:]], token[:k], token[k:])
                  for k in range(1, len(token)) if token[:k] in ranks and token[k:] in ranks]
        for _, _, left, right in sorted(splits):
            merges.append((text[left], text[right]))
    return merges


def build_hf(ranks: dict[bytes, int]):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

    u = bytes_to_unicode()
    vocab = {"".join(u[b] for b in t): r for t, r in ranks.items()}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=complete_merges(ranks), fuse_unk=False,
                               byte_fallback=False, ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CL100K_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in BUILTIN_SPECIAL_TOKENS])
    for i, t in enumerate(BUILTIN_SPECIAL_TOKENS):
        assert tok.token_to_id(t) == len(ranks) + i
    return tok


def write_hf_folder(tok, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    ids = {t: tok.token_to_id(t) for t in BUILTIN_SPECIAL_TOKENS}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": ENDOFTEXT,
        "eos_token": END_OF_TURN,
        "pad_token": ENDOFTEXT,
        "unk_token": None,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 1 << 20,
        "added_tokens_decoder": {
            str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                     "single_word": False, "special": True} for t, i in ids.items()
        },
        "chat_template": BUILTIN_CHAT_TEMPLATE,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    generation = {"bos_token_id": ids[ENDOFTEXT], "eos_token_id": [ids[END_OF_TURN], ids[ENDOFTEXT]],
                  "pad_token_id": ids[ENDOFTEXT]}
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("build/corpus/train.txt"))
    ap.add_argument("--val", type=Path, default=Path("build/corpus/val.txt"))
    ap.add_argument("--ranks", type=Path, default=ROOT / "console/engine/data/moe_console_8k.tiktoken")
    ap.add_argument("--hf-out", type=Path, default=Path("build/builtin_tokenizer"))
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    hf_trained = train_hf(args.corpus, VOCAB_SIZE - len(BUILTIN_SPECIAL_TOKENS))
    print(f"trained in {time.monotonic() - t0:.1f} s")
    ranks = to_ranks(hf_trained)
    write_ranks(ranks, args.ranks)
    hf = build_hf(ranks)
    write_hf_folder(hf, args.hf_out)

    import tiktoken

    enc = tiktoken.Encoding(name="check", pat_str=CL100K_PATTERN, mergeable_ranks=ranks,
                            special_tokens={t: len(ranks) + i for i, t in enumerate(BUILTIN_SPECIAL_TOKENS)})
    val = args.val.read_text(encoding="utf-8")
    ours = enc.encode(val, allowed_special="all")
    theirs = hf.encode(val, add_special_tokens=False).ids
    print(json.dumps({
        "vocab": enc.n_vocab, "rank_file_bytes": args.ranks.stat().st_size,
        "val_chars": len(val), "val_tokens": len(ours), "val_chars_per_token": round(len(val) / len(ours), 3),
        "hf_ids_equal": ours == theirs, "round_trip": enc.decode(ours) == val,
    }, indent=2))
    return 0 if ours == theirs and enc.decode(ours) == val else 1


if __name__ == "__main__":
    sys.exit(main())
