"""Start ``moe-console serve`` for a benchmark run, and stop it afterwards.

CONTRACTS.md §3: ``serve --port 0`` prints ``serving <model> on
http://HOST:PORT/v1`` once it accepts connections; ``GET /health`` answers 200
when ready. The child's output keeps being read in a thread (a full pipe would
stall it) and its last lines are quoted if it fails to start. Stopping sends
SIGINT (a graceful shutdown), then kills it if it has not exited in time.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Iterator

import httpx

from console.loadgen.workload import LoadgenError

READY = re.compile(r"serving (?P<model>\S+) on (?P<url>https?://\S+/v1)")
_LAUNCH = "import sys; from console.cli import main; sys.exit(main(sys.argv[1:]))"


@contextlib.contextmanager
def serve(model: str | None = None, *, start_timeout_s: float = 120.0, extra: tuple[str, ...] = (),
          command: list[str] | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``moe-console serve`` on a free loopback port; yields its ``.../v1`` URL.
    ``extra``: more ``serve`` flags (``--max-batch 1``...); ``env``: variables added
    to this process's environment for the child (``--api-key-env``'s key);
    ``command`` replaces the whole command line (another server with the same contract)."""
    if command is None:
        command = [sys.executable, "-c", _LAUNCH, "serve", "--host", "127.0.0.1", "--port", "0", *extra]
        if model:
            command += ["--model", model]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                             env={**os.environ, **env} if env else None)
    tail: collections.deque[str] = collections.deque(maxlen=8)
    found = threading.Event()
    url: list[str] = []

    def drain() -> None:
        for line in child.stdout:
            tail.append(line.rstrip())
            match = READY.search(line)
            if match and not url:
                url.append(match.group("url"))
                found.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        deadline = time.monotonic() + start_timeout_s
        while not found.wait(0.05):
            if child.poll() is not None or time.monotonic() > deadline:
                why = f"exited with status {child.returncode}" if child.returncode is not None else "timed out"
                raise LoadgenError(f"moe-console serve {why} before printing its URL: "
                                   + (" | ".join(tail) or "no output"))
        _wait_healthy(url[0], deadline)
        yield url[0]
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _wait_healthy(url: str, deadline: float) -> None:
    health = url.rstrip("/").removesuffix("/v1") + "/health"
    while True:
        try:
            if httpx.get(health, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise LoadgenError(f"{health} did not answer 200 in time")
        time.sleep(0.05)
