"""``watch``: recorded /metrics of vLLM, SGLang and llama-server, and our own serve live.

The fixtures (fixtures/metrics-*.txt, written by fixtures/make_metrics.py from
the names, label sets and buckets in serving-remote-v4.md) are two scrapes
10 s apart with known traffic between them, so every figure below is worked
out by hand from the bucket bounds (Prometheus' histogram_quantile rule).
The live tests scrape a real ``moe-console serve`` (served.py) around traffic
they send themselves.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
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


PROMPT = "The experts of the router"


def _complete(server, n: int, tokens: int) -> None:
    """``n`` streamed completions of exactly ``tokens`` tokens, one after another."""
    for _ in range(n):
        with httpx.stream("POST", server.url + "/completions", headers=server.headers, timeout=60,
                          json={"model": "builtin", "prompt": PROMPT, "max_tokens": tokens, "stream": True,
                                "ignore_eos": True, "temperature": 0.0}) as r:
            assert r.status_code == 200
            r.read()


def _families(text: str) -> dict:
    """Independent reading of the same text: cumulative bucket counts by bound, summed over labels."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                hist = out.setdefault(sample.name.removesuffix("_bucket"), {})
                hist[bound] = hist.get(bound, 0.0) + sample.value
    return out


def _reference_ms(q: float, new: dict, old: dict) -> float:
    """Prometheus' histogram_quantile over bucket deltas, with numpy: the first bucket whose
    cumulative count reaches q x total, linear inside it (from the bound below)."""
    bounds = np.array(sorted(new))
    cum = np.array([new[b] - old.get(b, 0.0) for b in bounds])
    rank = q * cum[-1]
    i = int(np.searchsorted(cum, rank, side="left"))
    lower, below = (bounds[i - 1], cum[i - 1]) if i else (0.0, 0.0)
    return float(lower + (bounds[i] - lower) * (rank - below) / (cum[i] - below)) * 1000


def test_live_window_over_our_serve(served):
    """Three scrapes of the real server 10 s apart (in scrape time) around 3, then 2,
    requests of 8 tokens: rates, counts and percentiles of each window."""
    texts = []
    for n in (3, 2, 0):
        texts.append(httpx.get(served.root + "/metrics", timeout=10).text)
        _complete(served, n, 8)
    prompt = served.post("/tokenize", {"prompt": PROMPT})["count"]
    snaps = [parse(text, at) for text, at in zip(texts, (0.0, 10.0, 20.0))]
    hists = [_families(text) for text in texts]

    wide = Watcher(window_s=60)
    for snap in snaps:
        wide.add(snap)
    v = wide.view()
    assert v.kind == "moe-console" and (v.running, v.waiting) == (0, 0) and v.window_s == 20.0
    assert v.generation_tok_s == pytest.approx(2 * 8 / 10) and v.prompt_tok_s == pytest.approx(2 * prompt / 10)
    before = watched_finished(snaps[0])
    assert v.finished["length"] == before + 5
    itl, ttft = "vllm:inter_token_latency_seconds", "vllm:time_to_first_token_seconds"
    inf = float("inf")
    assert hists[2][itl][inf] - hists[0].get(itl, {}).get(inf, 0) == 5 * 7  # every gap observed
    assert hists[2][ttft][inf] - hists[0].get(ttft, {}).get(inf, 0) == 5
    for q in (50, 90, 99):
        assert v.itl_ms[f"p{q}"] == pytest.approx(_reference_ms(q / 100, hists[2][itl], hists[0].get(itl, {})))
        assert v.ttft_ms[f"p{q}"] == pytest.approx(_reference_ms(q / 100, hists[2][ttft], hists[0].get(ttft, {})))

    narrow = Watcher(window_s=5)  # only the last two scrapes: the 2 requests between them
    for snap in snaps:
        narrow.add(snap)
    n = narrow.view()
    assert n.window_s == 10.0
    assert n.itl_ms["p50"] == pytest.approx(_reference_ms(0.5, hists[2][itl], hists[1][itl]))
    assert n.ttft_ms["p99"] == pytest.approx(_reference_ms(0.99, hists[2][ttft], hists[1][ttft]))


def watched_finished(snap) -> float:
    w = Watcher()
    w.add(snap)
    return w.view().finished.get("length", 0.0)


async def test_live_running_and_waiting_on_a_one_sequence_server(locked):
    """``--max-batch 1``: of two long streams one runs and one waits; both hang up: back to 0, two aborts."""
    import asyncio

    from console.watch import fetch, metrics_url

    url = metrics_url(locked.url)

    async def hold(client):
        async with client.stream("POST", locked.url + "/completions", headers=locked.headers, json={
                "model": "builtin", "prompt": PROMPT, "max_tokens": 900, "stream": True, "ignore_eos": True}) as r:
            async for _ in r.aiter_lines():
                pass

    async def until(client, condition, what):
        for _ in range(3000):
            w = Watcher()
            w.add(await fetch(client, url, 0.0))
            view = w.view()
            if condition(view):
                return view
            await asyncio.sleep(0.01)
        raise AssertionError(what)

    async with httpx.AsyncClient(timeout=60) as client:
        start = await until(client, lambda v: (v.running, v.waiting) == (0, 0), "the server is idle")
        streams = [asyncio.create_task(hold(client)) for _ in range(2)]
        busy = await until(client, lambda v: (v.running, v.waiting) == (1, 1), "one runs, one waits")
        assert busy.kind == "moe-console" and busy.kv_usage > 0 and busy.batch == 1
        for task in streams:
            task.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        idle = await until(client, lambda v: (v.running, v.waiting) == (0, 0), "both hang-ups free the server")
        await until(client, lambda v: (v.aborted or 0) == (start.aborted or 0) + 2, "two aborts counted")
        assert idle.kv_usage == 0


def test_watch_command_runs_live_against_our_serve(served, capsys):
    _complete(served, 3, 4)
    assert main(["watch", served.url, "--count", "2", "--interval", "0.05", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 and lines[-1]["error"] is None
    first, last = lines
    assert last["kind"] == "moe-console" and last["running"] == 0 and last["finished"]["length"] >= 3
    assert first["ttft_ms"]["p50"] is not None, "one scrape: percentiles since the server started"
    assert last["ttft_ms"]["p50"] is None, "no request in the window between the two scrapes"
    assert "reported by the server" in last["label"]


def test_watch_text_and_unreachable(served, capsys):
    assert main(["watch", served.root + "/metrics", "--count", "1"]) == 0
    out = capsys.readouterr().out
    assert "moe-console" in out and "running / waiting" in out and "ITL p50/p90/p99" in out
    assert main(["watch", "http://127.0.0.1:9/v1", "--count", "1", "--json"]) == 1
    assert "127.0.0.1:9/metrics" in json.loads(capsys.readouterr().out)["error"]
