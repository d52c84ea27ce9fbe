"""`moe-console generate` through the real entry point (a subprocess): any backend, typed
--opt flags, settings options, and one clear line for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tiny_model import write_tiny_model


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return str(write_tiny_model(tmp_path_factory.mktemp("gen-any") / "tiny-v3"))


def cli(*args: str, home, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "MOE_CONSOLE_HOME": str(home), "MOE_CONSOLE_DISABLE_PLUGINS": ""}
    env.pop("MOE_CONSOLE_PLUGINS", None)
    return subprocess.run([sys.executable, "-c", "from console.cli import main; raise SystemExit(main())",
                           *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.mark.parametrize("argv, message", [
    (["generate", ""], "nothing to generate: the prompt is empty"),
    (["generate", "hi", "--seed", "-1"], "--seed must be an integer >= 0 (none: a random seed), got -1"),
    (["generate", "hi", "--temperature", "inf"], "--temperature must be a finite number >= 0 (0 = greedy), got inf"),
    (["generate", "hi", "--temperature", "nan"], "--temperature must be a finite number >= 0 (0 = greedy), got nan"),
    (["generate", "hi", "--backend", "h100", "--opt", "concurrency=lots"],
     "option 'concurrency' = 'lots': must be an integer from 1 to 4096"),
    (["generate", "hi", "--opt", "model_path"], "--opt 'model_path': write name=value (or --opt help to list the options)"),
    (["generate", "hi", "--backend", "h100", "--raw"], "--raw: backend 'h100' has no raw_prompt option"),
])
def test_bad_input_is_one_clear_line(tmp_path, argv, message):
    out = cli(*argv, home=tmp_path)
    assert out.returncode == 2, out.stderr
    assert out.stderr == f"moe-console: error: {message}\n"
    assert "Traceback" not in out.stderr


def test_a_modeled_backend_with_typed_options_streams_modeled_figures(tmp_path, tiny_path):
    out = cli("generate", "Hello", "--backend", "h100", "--model", tiny_path, "--opt", "pace=fast",
              "--opt", "concurrency=64", "--max-tokens", "6", "--temperature", "0", "--json", home=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    summary = lines[-1]
    assert summary["backend"] == "h100" and summary["timing_source"] == "modeled"
    assert "64 seq/chip" in summary["timing_label"] and summary["completion_tokens"] == 6
    assert [e["t"] for e in lines[:-1]] == sorted(e["t"] for e in lines[:-1])


def test_opt_help_lists_flags_and_settings_keys_from_the_declarations(tmp_path):
    out = cli("generate", "--backend", "h100", "--opt", "help", home=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "--opt concurrency=INT  sequences decoding together" in out.stdout
    assert "must be an integer from 1 to 4096; default 128" in out.stdout
    assert "--opt pace=modeled|fast" in out.stdout
    assert "[backends.h100]" in out.stdout and "  concurrency = 128  # " in out.stdout


def test_settings_options_apply_and_bad_ones_are_warned_with_their_place(tmp_path, tiny_path):
    (tmp_path / "settings.toml").write_text(
        f'[backends.local]\nmodel_path = "{tiny_path}"\nprice_usd_per_hour = -1\n')
    out = cli("generate", "Hello", "--max-tokens", "3", "--temperature", "0", home=tmp_path)
    assert out.returncode == 0, out.stderr
    warning, stats = out.stderr.splitlines()
    assert warning == (f"moe-console: warning: {tmp_path / 'settings.toml'}:3:1: [backends.local] "
                       "price_usd_per_hour = -1: must be a number >= 0; using the default 0.1")
    assert stats.startswith("[local: ") and "3 completion tokens" in stats  # the tiny model from settings
