"""Pre-tokenizer regex conversion: tiktoken's pieces equal Hugging Face's.

Expected pieces were printed by ``tokenizers``' ``pre_tokenize_str`` with
DeepSeek-V3's exact pre-tokenizer Sequence. To read tiktoken's pieces, each
expected piece is made a token of its own: a piece split exactly right comes
back as one token, a wrong split as several byte tokens.
"""

from __future__ import annotations

import json

import pytest
import tiktoken

from console.engine.errors import EngineError
from console.engine.hf_tokenizer import CL100K_PATTERN
from console.engine.pretokenize import compose, pattern_from_pre_tokenizer, run_class, temper

DEEPSEEK_V3_SPLITS = [
    r"\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
    "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
]
DEEPSEEK_CASES = {
    "foo1234567中文ABC中文": ["foo", "123", "456", "7", "中文", "ABC", "中文"],
    "a  1 x": ["a", "  ", "1", " x"],
    "x\x00\x00!y": ["x", "\x00\x00", "!y"],
    "hi  \n\n  there 東京1": ["hi", "  \n\n", " ", " there", " ", "東京", "1"],
    ".append(x) ゠・ok": [".append", "(x", ")", " ", "゠・", "ok"],
    "٣٤٥٦ ½²": ["٣٤٥", "٦", " ", "½²"],
}


def pieces_via_tiktoken(pat_str: str, text: str, expected: list[str]) -> list[str]:
    ranks = {bytes([b]): b for b in range(256)}
    for piece in expected:
        ranks.setdefault(piece.encode("utf-8"), len(ranks))
    enc = tiktoken.Encoding(name="pieces", pat_str=pat_str, mergeable_ranks=ranks, special_tokens={})
    return [enc.decode_single_token_bytes(t).decode("utf-8", "replace") for t in enc.encode_ordinary(text)]


@pytest.mark.parametrize("text", sorted(DEEPSEEK_CASES))
def test_deepseek_v3_sequence_gives_the_same_pieces(text):
    pat = compose(DEEPSEEK_V3_SPLITS)
    assert pieces_via_tiktoken(pat, text, DEEPSEEK_CASES[text]) == DEEPSEEK_CASES[text]


def test_without_tempering_the_pieces_would_differ():
    # the naive alternation lets "\s+(?!\S)" see past the digit split: the test above can fail
    naive = "|".join(DEEPSEEK_V3_SPLITS)
    assert pieces_via_tiktoken(naive, "a  1 x", ["a", "  ", "1", " x"]) != ["a", "  ", "1", " x"]


def test_gap_branch_keeps_unmatched_text():
    # HF keeps text the regex does not match as a piece; tiktoken would drop it without the gap branch
    pat = compose(["[a-z]+"])
    assert pieces_via_tiktoken(pat, "ab--cd", ["ab", "--", "cd"]) == ["ab", "--", "cd"]


def test_pattern_from_the_llama3_style_pre_tokenizer():
    pre = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": CL100K_PATTERN}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    pat, byte_level = pattern_from_pre_tokenizer(pre, "x")
    assert byte_level and pat.startswith(CL100K_PATTERN + "|")


def test_gpt2_byte_level_regex_is_used_when_use_regex_is_set():
    pat, byte_level = pattern_from_pre_tokenizer({"type": "ByteLevel", "add_prefix_space": False}, "x")
    assert byte_level
    assert pieces_via_tiktoken(pat, "Hello  world", ["Hello", " ", " world"]) == ["Hello", " ", " world"]


@pytest.mark.parametrize("pre, message", [
    ({"type": "Metaspace", "replacement": "▁"}, "Metaspace is not supported"),
    ({"type": "Split", "pattern": {"Regex": "x"}, "behavior": "Removed", "invert": False}, "behavior Removed"),
    ({"type": "ByteLevel", "add_prefix_space": True}, "add_prefix_space"),
    ({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "ab|cd"}, "behavior": "Isolated"},
        {"type": "Split", "pattern": {"Regex": "x+"}, "behavior": "Isolated"}]}, "not a run of one character class"),
])
def test_unsupported_pre_tokenizers_are_refused(pre, message):
    with pytest.raises(EngineError, match=message):
        pattern_from_pre_tokenizer(pre, "tokenizer.json")


def test_run_class_and_temper():
    assert run_class(r"\p{N}{1,3}") == r"\p{N}"
    assert run_class("[a-z]+") == "[a-z]"
    assert run_class("ab") is None
    assert temper(r"\s+(?!\S)", "X") == r"(?:(?!X)\s)+(?!(?:(?!X)\S))"
    json.dumps(compose(DEEPSEEK_V3_SPLITS))  # a plain string
