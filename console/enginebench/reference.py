"""transformers' own greedy ``generate`` on a checkpoint folder, the reference the engine's
speed is measured against.

It runs in a child interpreter (one with torch and transformers, e.g. a ``.venv-ref``) so
that torch is never imported by the console and its threads never compete with the engine's;
``python -m console.enginebench.reference --reference-worker PATH TOKENS THREADS PROMPT`` is
that child's entry point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .measure import ReferenceUnavailable, decode_rate


class ReferenceWorker:
    """transformers' greedy ``generate`` on the same folder, run by a child
    interpreter (one with torch + transformers) so that its threads never
    compete with the engine's; one ``run()`` = one timed generation, so the
    caller can alternate engine and reference runs under the same load."""

    def __init__(self, python: str, path: str, prompt: list[int], tokens: int, threads: int) -> None:
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        cmd = [python, "-m", "console.enginebench.reference", "--reference-worker", path, str(tokens), str(threads),
               ",".join(map(str, prompt))]
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True, env=env)
        except OSError as exc:
            raise ReferenceUnavailable(f"cannot run {python}: {exc.strerror}") from None
        self.info = self._reply()

    def _reply(self) -> dict:
        line = self._proc.stdout.readline()
        if not line:
            self._proc.wait()
            last = (self._proc.stderr.read().strip().splitlines() or ["no output"])[-1]
            raise ReferenceUnavailable(last)
        return json.loads(line)

    def run(self) -> float:
        self._proc.stdin.write("run\n")
        self._proc.stdin.flush()
        return float(self._reply()["tok_s"])

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._proc.stdin.close()
                self._proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()


def start_reference(mode: str, python: str | None, path: str, prompt, tokens, threads):
    """A ``ReferenceWorker`` per ``mode`` (auto | on | off), or ``(None, reason)``.
    The worker runs in ``python``, else in this interpreter when it has torch
    and transformers. In mode ``on`` an unavailable reference raises."""
    if mode == "off":
        return None, "disabled (--reference off)"
    if not python:
        from importlib.util import find_spec

        missing = [name for name in ("torch", "transformers") if find_spec(name) is None]
        if missing:
            reason = (f"{' and '.join(missing)} not importable here; pass --reference-python "
                      "or set MOE_CONSOLE_REFERENCE_PYTHON")
            if mode == "on":
                raise ReferenceUnavailable(reason)
            return None, reason
        python = sys.executable
    try:
        return ReferenceWorker(python, path, prompt, tokens, threads), None
    except ReferenceUnavailable as exc:
        if mode == "on":
            raise
        return None, str(exc)


def serve_reference(path: str, tokens: int, threads: int, prompt: list[int], warmup: int = 4) -> int:
    """The child side of ``ReferenceWorker``: load, warm up, print one JSON
    line; then one timed ``generate`` per ``run`` line read from stdin."""
    import torch
    import transformers
    from transformers.generation.streamers import BaseStreamer

    class StampStreamer(BaseStreamer):
        def __init__(self):
            self.stamps: list[float] = []
            self.calls = 0

        def put(self, value):
            self.calls += 1
            if self.calls > 1:  # the first call carries the prompt
                self.stamps.append(time.perf_counter())

        def end(self):
            pass

    torch.set_num_threads(threads)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        path, dtype=torch.float32, attn_implementation="eager").eval()
    ids = torch.tensor([prompt])
    experts = getattr(model.config, "_experts_implementation", None) or "default"
    with torch.inference_mode():
        model.generate(ids, do_sample=False, max_new_tokens=warmup, min_new_tokens=warmup)
        print(json.dumps({"threads": torch.get_num_threads(), "tokens": tokens,
                          "implementation": f"transformers {transformers.__version__} / torch "
                                            f"{torch.__version__}, eager attention, experts {experts}"}),
              flush=True)
        for line in sys.stdin:
            if line.strip() != "run":
                break
            streamer = StampStreamer()
            model.generate(ids, do_sample=False, max_new_tokens=tokens, min_new_tokens=tokens,
                           streamer=streamer)
            print(json.dumps({"tok_s": decode_rate(streamer.stamps)}), flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--reference-worker":
        _path, _tokens, _threads, _prompt = sys.argv[2:]
        sys.exit(serve_reference(_path, int(_tokens), int(_threads), [int(t) for t in _prompt.split(",")]))
    print("usage: moe-console bench --engine PATH", file=sys.stderr)
    sys.exit(2)
