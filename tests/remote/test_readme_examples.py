"""The README's "On one machine" commands, run verbatim in bash against two real servers.

As the README says: ``serve`` on port 8000 (here ``served``) and ``serve --port
8001 --max-batch 1 --api-key-env ONE_SEQ_KEY`` (here ``locked``); only the
ports are replaced by the free ones the servers got. ``moe-console`` is this
checkout run by this interpreter, in a fresh MOE_CONSOLE_HOME.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from served import KEY, KEY_ENV

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block() -> str:
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- remote-loopback-examples -->", 1)[1].split("<!-- /remote-loopback-examples -->", 1)[0]
    return re.search(r"```sh\n(.*?)```", block, re.S).group(1)


def test_readme_remote_watch_bench_examples_run_verbatim(served, locked, tmp_path):
    script = readme_block()
    assert f"export {KEY_ENV}={KEY}" in script, "the README's key is the one the test server was started with"
    shim = tmp_path / "bin" / "moe-console"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m console.cli "$@"\n')
    shim.chmod(0o755)
    script = script.replace("127.0.0.1:8000", served.url.split("//")[1].removesuffix("/v1"))
    script = script.replace("127.0.0.1:8001", locked.url.split("//")[1].removesuffix("/v1"))
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV}
    env.update(MOE_CONSOLE_HOME=str(home), PATH=f"{shim.parent}:{env.get('PATH', '')}",
               PYTHONPATH=str(README.parent))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "mine" in out and "one-seq" in out and "h200 (declared) x8" in out        # remote list
    assert "is reachable" in out and "server: moe-console" in out                   # remote check
    assert out.count("reported by the server (its /metrics)") >= 2                  # watch, two scrapes
    assert "one-seq / mine" in out and "reported by the press, not measured" in out  # bench --vs
    assert "measured figures of your run beside the model" in out                   # compare --measured
    assert json.loads(out[out.rindex('{"object"'):])["data"][0]["id"] == "builtin"  # curl with the key
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["schema"] == "moe-console/bench-serve/1" and Path(run["saved"]).parent == home / "bench"
    assert len(list((home / "bench").glob("*.json"))) == 2  # both bench runs were saved
