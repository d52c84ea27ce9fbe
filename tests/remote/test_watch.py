"""``watch``: recorded /metrics of vLLM, SGLang and llama-server, and a live server.

The fixtures (fixtures/metrics-*.txt, written by fixtures/make_metrics.py from
the names, label sets and buckets in serving-remote-v4.md) are two scrapes
10 s apart with known traffic between them, so every figure below is worked
out by hand from the bucket bounds (Prometheus' histogram_quantile rule).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from console.cli import main
from console.watch import Watcher, parse
from console.watch.window import histogram_quantile

FIXTURES = Path(__file__).parent / "fixtures"


def watched(server: str) -> Watcher:
    w = Watcher(window_s=60)
    for i, at in ((0, 100.0), (1, 110.0)):
        w.add(parse((FIXTURES / f"metrics-{server}-{i}.txt").read_text(), at))
    return w


def test_vllm_format():
    v = watched("vllm").view()
    assert v.kind == "vllm"
    assert (v.running, v.waiting, v.batch) == (13, 2, 13)
    assert v.kv_usage == pytest.approx(0.52)
    assert v.generation_tok_s == pytest.approx(500.0) and v.prompt_tok_s == pytest.approx(2000.0)
    # 100 TTFTs in the window: 50 in (40, 60] ms, 49 in (60, 80], 1 in (500, 750]
    assert v.ttft_ms["p50"] == pytest.approx(60.0)
    assert v.ttft_ms["p90"] == pytest.approx(60 + 20 * 40 / 49)
    assert v.ttft_ms["p99"] == pytest.approx(80.0)
    # 1000 gaps: 500 in (25, 50], 490 in (50, 75], 10 in (300, 400]
    assert v.itl_ms["p50"] == pytest.approx(50.0) and v.itl_ms["p99"] == pytest.approx(75.0)
    assert v.finished == {"stop": 390, "length": 28, "abort": 7} and v.aborted == 7
    assert v.tokens_per_step == pytest.approx(24.0)
    assert v.window_s == 10.0


def test_sglang_format():
    v = watched("sglang").view()
    assert v.kind == "sglang"
    assert (v.running, v.waiting) == (31, 7) and v.kv_usage == pytest.approx(0.61)
    assert v.generation_tok_s == pytest.approx(500.0)
    # SGLang's TTFT buckets start at 100 ms: 99 of 100 fall in (0, 100]
    assert v.ttft_ms["p50"] == pytest.approx(100 * 50 / 99)
    # its ITL buckets resolve milliseconds: (25, 30], (40, 60], (200, 400]
    assert v.itl_ms["p50"] == pytest.approx(30.0) and v.itl_ms["p99"] == pytest.approx(60.0)
    assert v.finished == {"all": 900} and v.aborted == 5


def test_llama_server_format():
    v = watched("llama-server").view()
    assert v.kind == "llama-server"
    assert (v.running, v.waiting, v.batch) == (3, 2, pytest.approx(3.9))
    assert v.generation_tok_s == pytest.approx(500.0) and v.prompt_tok_s == pytest.approx(2000.0)
    assert v.ttft_ms == {} and v.itl_ms == {}
    assert any("no latency histograms" in note for note in v.notes)


def test_quantile_edge_cases_and_counter_reset():
    assert histogram_quantile(0.5, {}) is None
    assert histogram_quantile(0.99, {0.1: 0, 1.0: 0, float("inf"): 5}) == 1.0  # in +Inf: highest finite bound
    w = Watcher()
    w.add(parse((FIXTURES / "metrics-vllm-1.txt").read_text(), 0.0))
    w.add(parse((FIXTURES / "metrics-vllm-0.txt").read_text(), 1.0))  # counters went down: a restart
    assert w.view().generation_tok_s == pytest.approx(40000.0)  # counted from 0 after the reset


def test_window_keeps_only_recent_scrapes():
    w = Watcher(window_s=5)
    text = (FIXTURES / "metrics-vllm-0.txt").read_text()
    for t in range(20):
        w.add(parse(text, float(t)))
    assert w.scrapes[-1].at - w.scrapes[0].at <= 6 and len(w.scrapes) <= 7
    assert len(w.view().generation_history) == 20


def _traffic(standin, n: int, tokens: int = 5) -> None:
    for _ in range(n):
        with httpx.stream("POST", standin.base_url + "/completions",
                          json={"model": "standin", "prompt": "a b c", "max_tokens": tokens, "stream": True,
                                "ignore_eos": True}) as r:
            r.read()


async def test_live_scrapes_see_the_traffic_between_them(standin):
    """A real server serving real requests between two scrapes (the stand-in prints vLLM's names)."""
    import asyncio

    from console.watch import fetch, metrics_url

    w = Watcher()
    async with httpx.AsyncClient() as client:
        w.add(await fetch(client, metrics_url(standin.base_url), 0.0))
        await asyncio.to_thread(_traffic, standin, 4, 6)
        w.add(await fetch(client, metrics_url(standin.base_url), 2.0))
    v = w.view()
    assert v.generation_tok_s == pytest.approx(24 / 2.0)  # 4 x 6 tokens in 2 s of scrape time
    assert v.prompt_tok_s == pytest.approx(12 / 2.0)
    assert v.finished["length"] == 4 and v.running == 0
    assert v.itl_ms["p50"] >= standin.token_delay_s * 1000 * 0.5  # 20 gaps, each paced by the stand-in


def test_watch_command_runs_live_against_a_server(standin, capsys):
    _traffic(standin, 3)
    assert main(["watch", standin.base_url, "--count", "2", "--interval", "0.05", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 and lines[-1]["error"] is None
    first, last = lines
    assert last["kind"] == "vllm" and last["running"] == 0 and last["finished"]["length"] == 3
    assert first["ttft_ms"]["p50"] is not None, "one scrape: percentiles since the server started"
    assert last["ttft_ms"]["p50"] is None, "no request in the window between the two scrapes"
    assert "reported by the server" in last["label"]


def test_watch_text_and_unreachable(standin, capsys):
    assert main(["watch", standin.root + "/metrics", "--count", "1"]) == 0
    out = capsys.readouterr().out
    assert "running / waiting" in out and "ITL p50/p90/p99" in out
    assert main(["watch", "http://127.0.0.1:9/v1", "--count", "1", "--json"]) == 1
    assert "127.0.0.1:9/metrics" in json.loads(capsys.readouterr().out)["error"]
