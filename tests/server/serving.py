"""Start the real ``moe-console serve`` in a subprocess on a free loopback port, for tests."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0


@dataclass
class Served:
    """A running server: ``url`` ends in ``/v1``; ``base`` is the root."""

    process: subprocess.Popen
    url: str
    lines: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.url[: -len("/v1")]

    def metric(self, name: str) -> float:
        """The value of an unlabelled-but-model_name sample of ``/metrics``."""
        text = httpx.get(self.base + "/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        raise KeyError(name)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def start_server(*args: str, env: dict | None = None) -> Served:
    """Run ``moe-console serve --port 0 ARGS`` and wait for its ``serving ... on URL`` line."""
    command = [sys.executable, "-c", "import sys; from console.cli import main; sys.exit(main())",
               "serve", "--port", "0", *args]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, **(env or {})})
    lines: queue.Queue = queue.Queue()
    seen: list[str] = []

    def pump() -> None:
        for line in process.stdout:
            seen.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            process.kill()
            raise RuntimeError(f"the server did not start: {''.join(seen)}") from None
        if line is None:
            raise RuntimeError(f"the server exited ({process.wait()}): {''.join(seen)}")
        if line.startswith("serving "):
            return Served(process, line.rsplit(" ", 1)[1].strip(), seen)
