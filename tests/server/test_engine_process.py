"""The engine loop in a process of its own: same tokens as in-process, cancel, close, failures,
step-time metrics, and ``bench serve``'s engine baseline and target lines."""

from __future__ import annotations

import json

import httpx
import pytest

from console.cli import main
from console.engine import EngineError, GenerationLoop, load_model
from console.server import EngineBridge


@pytest.fixture(scope="module")
def bridge():
    bridge = EngineBridge(None)
    bridge.load()
    yield bridge
    bridge.close()


def test_the_loop_runs_in_a_child_process_and_gives_the_in_process_tokens(bridge):
    from console.server.engine_process import EngineProcess

    loop = bridge.loop
    assert isinstance(loop, EngineProcess) and loop._process.is_alive()
    prompt = bridge.facts.tokenizer.encode("The router sends each token")
    handles = [loop.submit(prompt, 12), loop.submit(prompt[:5], 9)]
    remote = [[s.token_id for s in h] for h in handles]
    assert [h.finish_reason for h in handles] == ["length", "length"]
    assert all(h.first_token_at <= h.finished_at and h.completion_tokens == len(t) for h, t in zip(handles, remote))
    model = load_model(None)
    with GenerationLoop(model) as here:
        local = [[s.token_id for s in here.submit(prompt, 12)], [s.token_id for s in here.submit(prompt[:5], 9)]]
    assert remote == local


def test_bad_requests_fail_in_the_callers_thread_and_cancel_ends_a_request(bridge):
    with pytest.raises(EngineError):
        bridge.loop.submit([10 ** 9], 4)
    handle = bridge.loop.submit([5, 6, 7], 100_000)
    first = next(iter(handle))
    handle.cancel()
    assert handle.wait(10) and handle.finish_reason == "cancelled" and first.token_id >= 0
    summary = bridge.loop.step_summary()
    assert summary[1][0] >= 1 and summary[1][2] > 0          # batch-1 steps: count, median


def test_a_model_the_engine_process_cannot_load_is_one_line(tmp_path):
    import shutil

    from console.engine import builtin_model_path

    folder = tmp_path / "broken"
    shutil.copytree(builtin_model_path(), folder)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])   # truncated weights
    broken = EngineBridge(str(folder))
    with pytest.raises(EngineError):
        broken.load()
    assert broken.load_error and "\n" not in broken.load_error


def test_metrics_publish_the_decode_step_time_by_batch_size(server):
    for _ in range(2):
        r = httpx.post(server.url + "/completions", json={"prompt": "Hi", "max_tokens": 6, "ignore_eos": True},
                       timeout=30)
        assert r.status_code == 200
    text = httpx.get(server.base + "/metrics").text
    count = [line for line in text.splitlines() if line.startswith("moe_console:decode_step_seconds_count{")
             and 'batch="1"' in line]
    median = [line for line in text.splitlines() if line.startswith("moe_console:decode_step_median_seconds{")
              and 'batch="1"' in line]
    assert count and float(count[0].split()[-1]) >= 10
    assert median and 0 < float(median[0].split()[-1]) < 1


def test_bench_serve_prints_the_engine_baseline_step_times_and_targets(capsys):
    assert main(["bench", "serve", "--concurrency", "1,16", "--requests", "16", "--prompt-tokens", "16",
                 "--output-tokens", "48", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (endpoint,) = doc["endpoints"]
    baseline = endpoint["engine_baseline"]
    assert baseline["tok_s"] > 0 and len(baseline["runs_tok_s"]) == 6 and baseline["label"] == "measured"
    one, sixteen = endpoint["levels"]
    assert one["engine_step"]["batch"] == 1 and one["engine_step"]["steps"] >= 16 * 6
    assert sixteen["engine_step"]["batch"] == 16 and sixteen["engine_step"]["median_ms"] > 0
    assert set(doc["targets"]) == {"serve_vs_engine", "batching", "step_16_vs_1", "ttft_p99_16_vs_unloaded"}
    serve_vs = doc["targets"]["serve_vs_engine"]
    assert serve_vs["value"] == pytest.approx(one["output_tok_s"] / baseline["tok_s"])
    from console.loadgen.engine_figures import target_lines

    lines = target_lines(doc)
    assert lines[0].startswith("engine baseline [measured]") and sum("target " in line for line in lines) == 4
