"""The README's curl examples, run exactly as written against a real server."""

from __future__ import annotations

import json
import re
import subprocess

from .serving import ROOT

BASE = "http://127.0.0.1:8000"


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- serve-curl-examples -->", 1)[1].split("<!-- /serve-curl-examples -->", 1)[0]
    body = re.search(r"```sh\n(.*?)```", block, re.S).group(1)
    return [c.strip() for c in body.replace("\\\n", " ").splitlines() if c.strip()]


def test_readme_curl_examples_work(server):
    commands = readme_commands()
    assert len(commands) == 5 and all(c.startswith("curl ") and BASE in c for c in commands)
    outputs = []
    for command in commands:
        done = subprocess.run(["bash", "-c", command.replace(BASE, server.base)], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, (command, done.stderr)
        outputs.append(done.stdout)
    chat, stream, models, tokens, metrics = outputs
    assert json.loads(chat)["choices"][0]["message"]["content"]
    events = [line[6:] for line in stream.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and json.loads(events[-2])["usage"]["completion_tokens"] == 8
    assert json.loads(models)["data"][0]["id"] == "builtin"
    assert 8191 not in json.loads(tokens)["tokens"]          # "<|end|>" in user text is not a control token
    assert "vllm:num_requests_running" in metrics and "moe_console:prefix_cache_hits_total" in metrics
