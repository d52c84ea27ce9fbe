"""ReplyText: whole characters, stop strings cut across tokens, every token id accounted for."""

from __future__ import annotations

from console.engine.tokenizer import builtin_tokenizer
from moe_console_local.text import ReplyText


def _run(text, stops=()):
    tokenizer = builtin_tokenizer()
    ids = tokenizer.encode(text)
    reply = ReplyText(tokenizer.stream_decoder(), stops)
    chunks = []
    for token in ids:
        chunks.append(reply.push(token))
        if reply.stopped:
            break
    chunks.append(reply.flush())
    return ids, [c for c in chunks if c.token_ids], reply


def test_split_characters_wait_for_their_last_byte():
    ids, chunks, _ = _run("café 🙂 ok")
    assert "".join(c.text for c in chunks) == "café 🙂 ok"
    assert [t for c in chunks for t in c.token_ids] == ids
    assert all("\ufffd" not in c.text for c in chunks)
    emoji = next(c for c in chunks if "🙂" in c.text)
    assert len(emoji.token_ids) == 4  # four byte tokens, released together


def test_stop_string_across_tokens_is_cut_and_its_tokens_counted():
    ids, chunks, reply = _run("Hello world, stop here. Then more", stops=("p her",))
    assert "".join(c.text for c in chunks) == "Hello world, sto"
    assert reply.stopped and chunks[-1].stopped
    assert [t for c in chunks for t in c.token_ids] == ids[:5]  # up to " here", which completed the stop


def test_a_partial_stop_match_is_released_when_it_goes_nowhere():
    ids, chunks, reply = _run("Hello world, stop here. Then more", stops=("stop now",))
    assert "".join(c.text for c in chunks) == "Hello world, stop here. Then more"
    assert not reply.stopped
    texts = [c.text for c in chunks]
    assert texts[texts.index(",") + 1 : texts.index(",") + 3] == [" ", "stop here"]  # "stop" waited for " here"
