"""``moe-console remote add|list|check|remove`` with a real settings.toml and real servers.

``remote check`` and kind detection run against our own serve (served.py); the
stand-in plays the servers we cannot run here (vLLM, SGLang, llama.cpp), by
their ``owned_by`` and metric names.
"""

from __future__ import annotations

import json
from pathlib import Path

from console.cli import main
from console.settings import load_settings

USER_FILE = '''# my console settings
default_backend = "local"   # keep this comment

[sampling]
max_tokens = 64  # short replies

[backends.h100]
concurrency = 64
'''


def settings_file() -> Path:
    import os

    return Path(os.environ["MOE_CONSOLE_HOME"]) / "settings.toml"


def test_add_keeps_the_users_file_and_list_shows_it(capsys):
    path = settings_file()
    path.parent.mkdir(parents=True)
    path.write_text(USER_FILE)
    assert main(["remote", "add", "h100-vllm", "http://10.0.0.5:8000/v1", "--model", "deepseek-ai/DeepSeek-V4-Flash",
                 "--api-key-env", "H100_KEY", "--hardware", "h100", "--chips", "8", "--price", "2.35"]) == 0
    assert main(["remote", "add", "npu", "http://10.0.0.6:8000/v1", "--hardware", "ascend950"]) == 0
    text = path.read_text()
    assert text.startswith(USER_FILE), "everything the user wrote is kept, comments included"
    assert "H100_KEY" in text and "Bearer" not in text
    settings, problems = load_settings(path)
    assert problems == [] and settings.sampling.max_tokens == 64
    assert settings.plugin_tables["remote"]["h100-vllm"] == {
        "url": "http://10.0.0.5:8000/v1", "model": "deepseek-ai/DeepSeek-V4-Flash", "api_key_env": "H100_KEY",
        "hardware": "h100", "chips": 8, "price_usd_per_chip_hour": 2.35}
    # replacing one endpoint leaves the other alone
    assert main(["remote", "add", "npu", "http://10.0.0.7:8000/v1"]) == 0
    capsys.readouterr()
    assert main(["remote", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(e["name"], e["url"]) for e in listed["endpoints"]] == [
        ("h100-vllm", "http://10.0.0.5:8000/v1"), ("npu", "http://10.0.0.7:8000/v1")]
    assert main(["remote", "remove", "npu"]) == 0
    assert "npu" not in load_settings(path)[0].plugin_tables["remote"]
    assert path.read_text().startswith(USER_FILE)


def test_add_refuses_bad_input_with_one_line(capsys):
    assert main(["remote", "add", "x", "ftp://nope"]) == 2
    assert "url must be an http(s) URL" in capsys.readouterr().err
    assert main(["remote", "add", "local", "http://127.0.0.1:1/v1"]) == 2
    assert "already the name of a backend of plugin 'local'" in capsys.readouterr().err
    path = settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("this is = = not toml\n")
    assert main(["remote", "add", "y", "http://127.0.0.1:1/v1"]) == 2
    assert "nothing was written" in capsys.readouterr().err
    assert path.read_text() == "this is = = not toml\n"


def test_check_reports_kind_version_and_models(standin, capsys):
    """A vLLM server (the stand-in answers as one) on declared Ascend hardware is vllm-ascend."""
    assert main(["remote", "add", "box", standin.base_url, "--hardware", "ascend950"]) == 0
    capsys.readouterr()
    assert main(["remote", "check", "box", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["reachable"] and info["error"] is None
    assert info["kind"] == "vllm-ascend", "a vLLM server on declared Ascend hardware"
    assert info["version"] == "0.0-standin" and info["metrics"] is True
    assert info["models"] == [{"id": "standin", "owned_by": "vllm", "max_model_len": 4096}]
    assert any("declared hardware" in line for line in info["evidence"])
    assert main(["remote", "check", "box"]) == 0
    out = capsys.readouterr().out
    assert "is reachable" in out and "server: vllm-ascend 0.0-standin" in out


def test_check_unreachable_and_unknown(capsys):
    assert main(["remote", "add", "gone", "http://127.0.0.1:9/v1"]) == 0
    capsys.readouterr()
    assert main(["remote", "check", "gone"]) == 1
    assert "connection refused" in capsys.readouterr().out
    assert main(["remote", "check", "nope"]) == 2
    assert "no endpoint 'nope' (known: gone)" in capsys.readouterr().err


def test_check_our_serve_names_it_with_its_evidence(served, locked, capsys, monkeypatch):
    from console import __version__
    from served import KEY, KEY_ENV

    assert main(["remote", "add", "mine", served.url, "--hardware", "ascend950"]) == 0
    capsys.readouterr()
    assert main(["remote", "check", "mine", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["reachable"] and info["error"] is None and info["metrics"] is True
    assert info["kind"] == "moe-console", "declared Ascend hardware does not make our serve vllm-ascend"
    assert info["version"] == __version__
    assert info["models"] == [{"id": "builtin", "owned_by": "moe-console", "max_model_len": 1024}]
    for line in ("/v1/models owned_by 'moe-console'", "/metrics prints moe_console: names",
                 "/version names the server 'moe-console'"):
        assert line in info["evidence"]
    # a server with a key: without it, check says so in one line; with it, all is read
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert main(["remote", "add", "keyed", locked.url, "--api-key-env", KEY_ENV]) == 0
    capsys.readouterr()
    assert main(["remote", "check", "keyed", "--json"]) == 1
    refused = json.loads(capsys.readouterr().out)
    assert "HTTP 401" in refused["error"] and "\n" not in refused["error"]
    monkeypatch.setenv(KEY_ENV, KEY)
    assert main(["remote", "check", "keyed"]) == 0
    out = capsys.readouterr().out
    assert "is reachable" in out and f"server: moe-console {__version__}" in out and "model: builtin" in out


async def test_servers_are_told_apart_by_their_answers(served):
    import httpx

    from moe_console_remote.detect import probe
    from standin import StandIn

    async with httpx.AsyncClient() as client:
        ours = await probe(client, served.url)
    assert ours.kind == "moe-console" and len(ours.evidence) >= 3, ours.evidence
    for owned_by, kind in (("sglang", "sglang"), ("llamacpp", "llama-server"), ("someone", "vllm")):
        # the last one: only its vllm: metric names give it away
        with StandIn(owned_by=owned_by) as server:
            async with httpx.AsyncClient() as client:
                info = await probe(client, server.base_url)
        assert info.kind == kind, (owned_by, info.evidence)


def test_plugins_command_lists_the_configured_endpoints(capsys):
    """`moe-console plugins --load` discovers plugins with the settings' tables (as the TUI does)."""
    assert main(["remote", "add", "mine", "http://127.0.0.1:9/v1", "--hardware", "h100"]) == 0
    with settings_file().open("a") as f:
        f.write('\n[remote.broken]\nurl = "ftp://x"\n')
    capsys.readouterr()
    assert main(["plugins", "--load", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    remote = [(b["name"], b["kind"]) for b in listed["backends"] if b["plugin"] == "remote"]
    assert remote == [("mine", "remote")]
    (record,) = [p for p in listed["plugins"] if p["name"] == "remote"]
    assert any("[remote.broken]" in w for w in record["warnings"])
    assert main(["plugins", "--load"]) == 0
    assert "backends: mine" in capsys.readouterr().out


def test_generate_streams_from_a_configured_endpoint(served, capsys):
    """`moe-console generate --backend NAME` reaches a `[remote.NAME]` endpoint (a real serve)."""
    assert main(["remote", "add", "mine", served.url]) == 0
    capsys.readouterr()
    assert main(["generate", "--backend", "mine", "--temperature", "0", "--max-tokens", "6", "--json",
                 "What is a dog?"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    text = "".join(e.get("text", "") for e in events if e["event"] != "summary")
    summary = events[-1]
    assert summary["event"] == "summary" and summary["backend"] == "mine" and text
    assert "remote: mine" in summary["timing_label"] and summary["timing_source"] == "measured"
