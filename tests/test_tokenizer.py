"""The built-in tokenizer and the Hugging Face tokenizer.json reader, against recorded ids.

The expected ids were produced by the ``tokenizers`` / ``transformers``
libraries (``tests/fixtures/tokenizer/make_fixtures.py``); these tests need
neither library.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import tiktoken

from console.engine.chat_template import BUILTIN_CHAT_TEMPLATE, format_builtin_chat, render_jinja_template
from console.engine.errors import EngineError
from console.engine.tokenizer import Tokenizer, builtin_tokenizer, load_tokenizer

FIXTURES = Path(__file__).parent / "fixtures" / "tokenizer"
TEXTS: dict[str, str] = json.loads((FIXTURES / "texts.json").read_text(encoding="utf-8"))
CHAT = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is a fox? 🦊"},
    {"role": "assistant", "content": "A small wild canine."},
    {"role": "user", "content": "东京は?"},
]
HF_FOLDERS = ("tiny_cl100k", "tiny_deepseek", "tiny_deepseek_complete")


def expected(name: str) -> dict:
    path = FIXTURES / "builtin_expected.json" if name == "builtin" else FIXTURES / name / "expected.json"
    return json.loads(path.read_text(encoding="utf-8"))


def tokenizer_for(name: str) -> Tokenizer:
    return builtin_tokenizer() if name == "builtin" else load_tokenizer(FIXTURES / name)


ALL = ("builtin", *HF_FOLDERS)


def test_fixture_texts_cover_the_hard_cases():
    text = TEXTS["all"]
    assert "\r\n" in text and "  " in text and "\t" in text
    assert any(0x4E00 <= ord(c) <= 0x9FFF for c in text)  # CJK
    assert any(ord(c) >= 0x1F300 for c in text)  # emoji
    assert len(text.encode("utf-8")) > 2000


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("text_name", sorted(TEXTS))
def test_ids_equal_the_tokenizers_library(name, text_name):
    tok = tokenizer_for(name)
    assert tok.encode(TEXTS[text_name]) == expected(name)["ids"][text_name]


@pytest.mark.parametrize("name", ALL)
def test_round_trip(name):
    tok = tokenizer_for(name)
    for text in TEXTS.values():
        assert tok.decode(tok.encode(text)) == text


@pytest.mark.parametrize("name", ALL)
def test_chat_template_matches_transformers(name):
    tok = tokenizer_for(name)
    exp = expected(name)
    assert tok.render_chat(CHAT) == exp["chat_text"]
    assert tok.apply_chat_template(CHAT) == exp["chat_ids"]


def test_the_three_conversion_paths_are_exercised():
    plain, raw_ds, complete_ds = (load_tokenizer(FIXTURES / n) for n in HF_FOLDERS)
    assert plain._spec.complete and plain._spec.rank_to_id is None            # tiktoken, ids as ranks
    assert not raw_ds._spec.complete                                          # exact merge-list BPE
    assert complete_ds._spec.complete and complete_ds._spec.rank_to_id        # tiktoken + id remap
    assert "(?!" in complete_ds.encoding._pat_str                             # composed Sequence regex


def test_builtin_encoding_is_registered_with_tiktoken():
    enc = tiktoken.get_encoding("moe_console_8k")
    assert enc.n_vocab == 8192
    assert enc.encode("<|end|>", allowed_special="all") == [8191]
    tok = builtin_tokenizer()
    assert tok.vocab_size == 8192
    assert tok.eos_token_id == 8191 and tok.bos_token_id == 8187
    assert tok.stop_token_ids == (8191, 8187)


def test_builtin_chat_format():
    tok = builtin_tokenizer()
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert tok.render_chat(messages) == "<|endoftext|><|system|>Be brief.<|end|><|user|>Hi<|end|><|assistant|>"
    ids = tok.apply_chat_template(messages)
    assert ids[0] == 8187 and ids[1] == 8188 and ids[-1] == 8190
    assert tok.render_chat(messages, add_generation_prompt=False).endswith("Hi<|end|>")


def test_builtin_jinja_template_renders_like_the_python_formatter():
    messages = [{"role": "user", "content": "a {{ b }} <c>"}, {"role": "assistant", "content": "d"}]
    for gen in (True, False):
        jinja = render_jinja_template(BUILTIN_CHAT_TEMPLATE, messages, add_generation_prompt=gen,
                                      special_tokens={"bos_token": "<|endoftext|>"})
        assert jinja == format_builtin_chat(messages, gen)


def test_unknown_role_is_a_one_line_error():
    with pytest.raises(EngineError, match="unknown chat role"):
        builtin_tokenizer().apply_chat_template([{"role": "tool", "content": "x"}])
    with pytest.raises(EngineError, match="unknown chat role"):
        load_tokenizer(FIXTURES / "tiny_cl100k").apply_chat_template([{"role": "tool", "content": "x"}])


def test_special_token_text_is_plain_text_unless_allowed():
    tok = builtin_tokenizer()
    assert 8191 not in tok.encode("say <|end|> now")
    assert tok.encode("say <|end|> now", allow_special=True).count(8191) == 1
    assert tok.decode(tok.encode("say <|end|> now")) == "say <|end|> now"


@pytest.mark.parametrize("name", ALL)
def test_stream_decoder_emits_only_whole_characters(name):
    tok = tokenizer_for(name)
    text = "🙂👍🏽 東京 é\u0301 ½" + TEXTS["cjk"]
    ids = tok.encode(text)
    assert len(ids) > len(text) // 2  # characters really are split over several byte tokens
    decoder = tok.stream_decoder()
    pieces = [decoder.push(i) for i in ids]
    pieces.append(decoder.flush())
    assert "".join(pieces) == text
    assert all("\ufffd" not in p for p in pieces)
    assert "" in pieces  # some tokens ended mid-character and emitted nothing yet


def test_stream_decoder_flush_replaces_an_incomplete_tail():
    tok = builtin_tokenizer()
    decoder = tok.stream_decoder()
    first_byte_of_emoji = "🙂".encode("utf-8")[0]
    assert decoder.push(first_byte_of_emoji) == ""  # byte tokens have id = byte value
    assert decoder.flush() == "\ufffd"


def test_decode_of_an_unknown_id_is_a_replacement_character():
    assert builtin_tokenizer().decode([7386, 99999]) == "hello\ufffd"


def test_folder_without_tokenizer_files_gives_none(tmp_path):
    assert load_tokenizer(tmp_path) is None


def test_sentencepiece_tokenizer_json_is_refused(tmp_path):
    # the shape of Mixtral's / Llama 2's tokenizer.json: BPE with byte fallback and Metaspace
    data = {
        "added_tokens": [{"id": 0, "content": "<unk>", "special": True}],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
        "pre_tokenizer": None,
        "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]},
        "model": {"type": "BPE", "byte_fallback": True, "vocab": {"<unk>": 0, "▁": 1, "a": 2}, "merges": []},
    }
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(EngineError, match=r"uses SentencePiece-style BPE .* not supported") as info:
        load_tokenizer(tmp_path)
    assert "\n" not in str(info.value) and str(tmp_path) in str(info.value)


def test_unigram_tokenizer_json_is_refused(tmp_path):
    (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"type": "Unigram", "vocab": []}}))
    with pytest.raises(EngineError, match="uses Unigram, which is not supported"):
        load_tokenizer(tmp_path)


def test_only_a_sentencepiece_model_file_is_refused(tmp_path):
    (tmp_path / "tokenizer.model").write_bytes(b"\x00")
    with pytest.raises(EngineError, match="no tokenizer.json"):
        load_tokenizer(tmp_path)


def test_malformed_tokenizer_json_is_a_one_line_error(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(EngineError, match="invalid JSON at line 1"):
        load_tokenizer(tmp_path)


def test_generation_config_adds_stop_ids_and_template_file_wins(tmp_path):
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(FIXTURES / "tiny_deepseek" / name, tmp_path / name)
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [1, 3]}))
    (tmp_path / "chat_template.jinja").write_text("{{ bos_token }}{% for m in messages %}[{{ m['content'] }}]{% endfor %}")
    tok = load_tokenizer(tmp_path)
    assert tok.stop_token_ids == (1, 3)
    assert tok.render_chat([{"role": "user", "content": "x"}]) == "<｜begin▁of▁sentence｜>[x]"
