"""``moe-console generate`` on a tiny random DeepSeek-V3 checkpoint with a real tokenizer.

The checkpoint is random (``tests/engine/checkpoints.py``), so the text is
nonsense; what is checked is the plumbing: the chat template reaches the
model, tokens stream and decode to the reply, the stop token ends the reply,
timings are measured and consistent, and user mistakes are one-line errors.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from console.cli import main
from console.engine import SamplingParams, load_model
# tests/engine is imported as the package "engine" (pytest puts tests/ on sys.path)
from engine.checkpoints import make_config, random_tensors, write_checkpoint, write_folder

TOKENIZER = Path(__file__).parent / "fixtures" / "tokenizer" / "tiny_cl100k"
VOCAB = 705  # tiny_cl100k: 700 BPE ids + the 5 built-in special tokens
CONTEXT = 64


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    """No user settings.toml reaches these runs."""
    monkeypatch.setenv("MOE_CONSOLE_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = write_checkpoint(tmp_path_factory.mktemp("gen") / "tiny", "v3", vocab_size=VOCAB,
                              max_position_embeddings=CONTEXT, seed=3)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(TOKENIZER / name, folder / name)
    return folder


def run_json(capsys, *argv: str) -> tuple[list[dict], dict]:
    assert main(["generate", *argv, "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return lines[:-1], lines[-1]


def test_json_events_match_the_engine_and_the_chat_template(model_dir, capsys):
    events, summary = run_json(capsys, "What is a fox?", "--model", str(model_dir), "--max-tokens", "12",
                               "--temperature", "0")
    tokens = [e for e in events if e["event"] == "token"]
    model = load_model(model_dir)
    tok = model.tokenizer
    prompt = tok.apply_chat_template([{"role": "user", "content": "What is a fox?"}])
    expected = list(model.generate(prompt, 12, SamplingParams(stop_token_ids=tok.stop_token_ids)))
    assert [e["id"] for e in tokens] == expected
    assert "".join(e["text"] for e in events) == tok.decode(expected)
    assert summary["prompt_tokens"] == len(prompt)
    assert prompt[:2] == [tok.bos_token_id, tok.special_tokens["<|user|>"]]
    assert prompt[-2:] == [tok.eos_token_id, tok.special_tokens["<|assistant|>"]]
    assert summary["completion_tokens"] == len(expected)
    times = [e["t"] for e in tokens]
    assert times == sorted(times) and summary["ttft_s"] == times[0]
    assert summary["e2e_s"] >= times[-1]
    if len(times) > 1:
        assert summary["decode_tokens_per_s"] == pytest.approx((len(times) - 1) / (times[-1] - times[0]), rel=1e-3)
    assert summary["timing_source"] == "measured"


def test_system_and_raw_change_the_prompt(model_dir, capsys):
    _, plain = run_json(capsys, "Hi", "--model", str(model_dir), "--max-tokens", "1")
    _, system = run_json(capsys, "Hi", "--model", str(model_dir), "--max-tokens", "1", "--system", "Be brief.")
    _, raw = run_json(capsys, "Hi", "--model", str(model_dir), "--max-tokens", "1", "--raw")
    tok = load_model(model_dir).tokenizer
    assert plain["prompt_tokens"] == len(tok.apply_chat_template([{"role": "user", "content": "Hi"}]))
    assert system["prompt_tokens"] == plain["prompt_tokens"] + len(tok.encode("Be brief.")) + 2
    assert raw["prompt_tokens"] == 1 + len(tok.encode("Hi"))  # BOS + text


def test_same_seed_same_reply(model_dir, capsys):
    args = ("Tell me", "--model", str(model_dir), "--max-tokens", "8", "--temperature", "1.0",
            "--top-k", "50", "--top-p", "0.9")
    a, _ = run_json(capsys, *args, "--seed", "7")
    b, _ = run_json(capsys, *args, "--seed", "7")
    assert [e.get("id") for e in a] == [e.get("id") for e in b]


def test_stop_token_ends_the_reply(model_dir, tmp_path, capsys):
    # Make <|end|> win where the random model's third token would: its lm_head row becomes
    # three times that token's row, so greedy decoding must stop by the third token.
    model = load_model(model_dir)
    tok = model.tokenizer
    prompt = tok.apply_chat_template([{"role": "user", "content": "Hello"}])
    third = list(model.generate(prompt, 3))[2]
    cfg = make_config("v3", vocab_size=VOCAB, max_position_embeddings=CONTEXT)
    tensors = random_tensors(cfg, seed=3)
    tensors["lm_head.weight"][tok.eos_token_id] = 3 * tensors["lm_head.weight"][third]
    folder = write_folder(tmp_path / "stops", cfg, tensors)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(TOKENIZER / name, folder / name)
    raw = list(load_model(folder).generate(prompt, 20))
    assert tok.eos_token_id in raw[:3]
    events, summary = run_json(capsys, "Hello", "--model", str(folder), "--max-tokens", "20", "--temperature", "0")
    assert [e["id"] for e in events if e["event"] == "token"] == raw[: raw.index(tok.eos_token_id)]
    assert summary["finish_reason"] == "stop"


def test_text_mode_streams_reply_and_prints_measured_stats(model_dir, capsys):
    assert main(["generate", "Hello", "--model", str(model_dir), "--max-tokens", "5", "--temperature", "0"]) == 0
    captured = capsys.readouterr()
    tok = load_model(model_dir).tokenizer
    ids = tok.apply_chat_template([{"role": "user", "content": "Hello"}])
    expected = list(load_model(model_dir).generate(ids, 5, SamplingParams(stop_token_ids=tok.stop_token_ids)))
    assert captured.out == tok.decode(expected) + "\n"
    assert "TTFT" in captured.err and "tok/s" in captured.err and "measured" in captured.err


def test_prompt_longer_than_context_is_a_one_line_error(model_dir, capsys):
    assert main(["generate", "word " * 100, "--model", str(model_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"has a context window of {CONTEXT} tokens" in err


def test_max_tokens_is_capped_by_the_context(model_dir, capsys):
    events, summary = run_json(capsys, "word " * 20, "--model", str(model_dir), "--max-tokens", "500",
                               "--temperature", "1", "--seed", "1")
    assert summary["prompt_tokens"] + summary["completion_tokens"] <= CONTEXT


@pytest.mark.parametrize("argv, message", [
    (["--max-tokens", "0"], "--max-tokens must be at least 1"),
    (["--raw", "--system", "x"], "cannot be used with --raw"),
    (["--top-p", "0"], "--top-p must be in (0, 1], got 0.0"),
    (["--temperature", "-1"], "--temperature must be a finite number >= 0"),
    (["--temperature", "inf"], "--temperature must be a finite number >= 0 (0 = greedy), got inf"),
    (["--seed", "-1"], "--seed must be an integer >= 0 (none: a random seed), got -1"),
    (["--backend", "nope"], "unknown backend 'nope'"),
    (["--opt", "price_usd_per_hour=-2"], "option 'price_usd_per_hour' = -2.0: must be a number >= 0"),
    (["--opt", "no_such=1"], "unknown option(s) no_such"),
])
def test_bad_options_are_one_line_errors(model_dir, capsys, argv, message):
    assert main(["generate", "x", "--model", str(model_dir), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_model_without_tokenizer_is_a_one_line_error(tmp_path, capsys):
    folder = write_checkpoint(tmp_path / "bare", "v3")
    assert main(["generate", "x", "--model", str(folder)]) == 2
    assert "has no tokenizer" in capsys.readouterr().err


def test_missing_model_folder_is_a_one_line_error(tmp_path, capsys):
    assert main(["generate", "x", "--model", str(tmp_path / "nope")]) == 2
    assert "no such model folder" in capsys.readouterr().err
