"""``moe-console bench serve`` end to end against two real ``moe-console serve`` processes.

``served`` (default flags) and ``locked`` (``--max-batch 1`` and an API key,
named by a ``[remote.locked]`` table): one run with ``--vs``, small workload.
The printed table, the JSON and the saved file (CONTRACTS.md §2) are checked
against the raw per-request records it saved; the same file is read back by
``compare --measured`` and ``compare --calibrate``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import httpx
import numpy as np
import pytest

from console.cli import main
from console.loadgen.spawn import serve
from console.loadgen.workload import LoadgenError
from served import KEY, KEY_ENV

PROMPT, OUTPUT, REQUESTS = 24, 12, 4
ARGS = ["--concurrency", "1,4", "--requests", str(REQUESTS), "--prompt-tokens", str(PROMPT),
        "--output-tokens", str(OUTPUT)]


@pytest.fixture(scope="module")
def vs_run(served, locked, tmp_path_factory):
    """One ``bench serve --url SERVED --vs locked`` run: (printed text, saved document, its path)."""
    home = tmp_path_factory.mktemp("bench-home")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MOE_CONSOLE_HOME", str(home))
        env.setenv(KEY_ENV, KEY)
        assert main(["remote", "add", "locked", locked.url, "--api-key-env", KEY_ENV]) == 0
        with contextlib.redirect_stdout(out):
            code = main(["bench", "serve", "--url", served.url, "--vs", "locked", "--hardware", "h200",
                         "--chips", "8", "--price", "3.5", *ARGS])
    assert code == 0
    (path,) = (home / "bench").glob("*.json")
    return out.getvalue(), json.loads(path.read_text()), path


def test_vs_saves_the_raw_records_and_every_figure_is_theirs(vs_run, served, locked):
    _, doc, _ = vs_run
    assert doc["schema"] == "moe-console/bench-serve/1"
    w = doc["workload"]
    assert (w["prompt_tokens"], w["output_tokens"], w["requests"], w["concurrency"], w["ignore_eos"], w["seed"]) == (
        PROMPT, OUTPUT, REQUESTS, [1, 4], True, 0)
    a, b = doc["endpoints"]
    assert (a["url"], b["url"], b["name"]) == (served.url, locked.url, "locked")
    assert a["server"]["kind"] == b["server"]["kind"] == "moe-console" and a["model"] == b["model"] == "builtin"
    assert (a["hardware"], a["chips"], a["price_usd_per_chip_hour"]) == ("h200", 8, 3.5)
    assert b["hardware"] is None and "/tokenize" in a["token_count"] and "/tokenize" in b["token_count"]
    for endpoint in (a, b):
        for level in endpoint["levels"]:
            reqs = level["requests"]
            # prompts of exactly P tokens by the server's /tokenize, and the server's usage agrees
            assert [(r["prompt_tokens"], r["output_tokens"], r["error"], r["usage_reported"]) for r in reqs] == [
                (PROMPT, OUTPUT, None, True)] * REQUESTS
            # a chunk may carry several tokens; never more gaps than tokens after the first
            assert all(0 <= len(r["itl_s"]) <= OUTPUT - 1 for r in reqs)
            ttft = [r["ttft_s"] * 1000 for r in reqs]
            tpot = [(r["e2e_s"] - r["ttft_s"]) / (OUTPUT - 1) * 1000 for r in reqs]
            itl = [g * 1000 for r in reqs for g in r["itl_s"]]
            e2e = [r["e2e_s"] * 1000 for r in reqs]
            for key, values in (("ttft_ms", ttft), ("tpot_ms", tpot), ("e2e_ms", e2e)):
                assert level[key]["mean"] == pytest.approx(np.mean(values))
                for q in (50, 99):
                    assert level[key][f"p{q}"] == pytest.approx(np.percentile(values, q))
            if itl:
                assert level["itl_ms"]["p50"] == pytest.approx(np.percentile(itl, 50))
                assert level["itl_ms"]["p99"] == pytest.approx(np.percentile(itl, 99))
            duration = level["duration_s"]
            assert duration >= max(r["sent_s"] + r["e2e_s"] for r in reqs) - 1e-6
            assert level["output_tok_s"] == pytest.approx(REQUESTS * OUTPUT / duration)
            assert level["total_tok_s"] == pytest.approx(REQUESTS * (PROMPT + OUTPUT) / duration)
            assert level["request_throughput"] == pytest.approx(REQUESTS / duration)
    for level in a["levels"]:
        assert level["output_tok_s_per_chip"] == pytest.approx(level["output_tok_s"] / 8)
        assert level["usd_per_m_output_tokens"] == pytest.approx(8 * 3.5 / (level["output_tok_s"] * 3600) * 1e6)
    # --max-batch 1 serves one request at a time, and the records show it: at concurrency 4 each
    # reply's first token arrives after the previous reply's last one
    spans = sorted((r["sent_s"] + r["ttft_s"], r["sent_s"] + r["ttft_s"] + sum(r["itl_s"]))
                   for r in b["levels"][1]["requests"])
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:])), spans


def test_vs_prints_the_side_by_side_table_with_the_ratios_of_the_saved_figures(vs_run):
    out, doc, path = vs_run
    a, b = doc["endpoints"]
    assert f"{b['name']} / {a['name']}" in out and "reported by the press, not measured" in out
    assert f"{a['name']} [measured]" in out and f"{b['name']} [measured]" in out
    for i, concurrency in enumerate((1, 4)):
        figures = out[out.index(f"concurrency {concurrency} "):]
        ratios = figures[figures.index(f"{b['name']} / {a['name']}"):]
        figures, ratios = figures[:figures.index("\n\n")], ratios[:ratios.index("\n\n")]
        rows = {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line) for line in ratios.splitlines())}
        lv_a, lv_b = a["levels"][i], b["levels"][i]
        for title, figure in (("output throughput", lambda lv: lv["output_tok_s"]),
                              ("TTFT p50", lambda lv: lv["ttft_ms"]["p50"]),
                              ("TPOT p50", lambda lv: lv["tpot_ms"]["p50"]),
                              ("ITL p99", lambda lv: lv["itl_ms"]["p99"])):
            assert rows[title][0] == f"{figure(lv_b) / figure(lv_a):.2f}", (title, ratios)
        assert f"{lv_a['output_tok_s']:,.1f} tok/s" in figures and f"{lv_b['output_tok_s']:,.1f} tok/s" in figures
        assert f"${lv_a['usd_per_m_output_tokens']:,.3f}" in figures


def test_compare_measured_reads_the_file_bench_serve_wrote(vs_run, capsys):
    _, doc, path = vs_run
    assert main(["compare", "--measured", str(path), "--backends", "h200", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)["measured"]}
    a, b = doc["endpoints"]
    for level in a["levels"]:
        c = level["concurrency"]
        throughput, tpot = rows[f"{a['name']}-c{c}-throughput"], rows[f"{a['name']}-c{c}-tpot"]
        assert throughput["measured"] == pytest.approx(level["output_tok_s_per_chip"])
        assert tpot["measured"] == pytest.approx(level["tpot_ms"]["mean"])
        for row in (throughput, tpot):
            assert row["hardware"] == "h200" and row["who"] == f"you ({a['name']}: moe-console {a['server']['version']})"
            assert row["modeled"] is not None and row["error"] == pytest.approx(row["modeled"] / row["measured"] - 1)
            assert str(path) in row["source"]
    undeclared = [r for r in rows.values() if r["id"].startswith("locked-")]
    assert undeclared and all("does not say which hardware" in r["why"] for r in undeclared)
    assert main(["compare", "--measured", str(path), "--backends", "h200"]) == 0
    assert "measured figures of your run beside the model" in capsys.readouterr().out


def test_compare_calibrate_fits_the_model_to_the_file_bench_serve_wrote(vs_run, capsys):
    _, doc, path = vs_run
    assert main(["compare", "--calibrate", str(path), "--backends", "h200", "--json"]) == 0
    fit = json.loads(capsys.readouterr().out)["calibration"]["h200"]
    assert fit["runs"] == 4  # 2 levels x (throughput, TPOT) of the endpoint that declared its hardware
    assert fit["factors"]["calibration"] == "user" and path.name in fit["factors"]["run"]
    assert set(fit["moved"]) >= {"eta", "overlap"} and fit["error_after"] <= fit["error_before"]


def test_calibrate_warns_when_a_factor_ends_on_the_edge_of_its_range(vs_run, capsys):
    """A CPU run declared as H200 cannot be fitted: the fit pins a factor to its bound, and says so."""
    _, doc, path = vs_run
    assert main(["compare", "--calibrate", str(path), "--backends", "h200", "--json"]) == 0
    moved = json.loads(capsys.readouterr().out)["calibration"]["h200"]["moved"]
    from console.perf.fitting import at_bounds

    edges = at_bounds({k: m["to"] for k, m in moved.items()}, moved)
    assert main(["compare", "--calibrate", str(path), "--backends", "h200"]) == 0
    out = capsys.readouterr().out
    assert edges and f"warning: {', '.join(edges)} ended on the edge of its range" in out


def test_json_has_the_document_and_ratios(served, capsys):
    assert main(["bench", "serve", "--url", served.url, "--vs", served.url, "--json", "--requests", "2",
                 "--concurrency", "1,2", "--prompt-tokens", "16", "--output-tokens", "4"]) == 0
    doc = json.loads(capsys.readouterr().out)
    names = [e["name"] for e in doc["endpoints"]]
    assert len(set(names)) == 2, "the same URL twice gets two distinct names"
    assert [r["concurrency"] for r in doc["ratios"]] == [1, 2]
    first = doc["ratios"][0]
    want = doc["endpoints"][1]["levels"][0]["ttft_ms"]["p50"] / doc["endpoints"][0]["levels"][0]["ttft_ms"]["p50"]
    assert first["label"] == "measured" and first["ttft"] == pytest.approx(want)
    assert json.loads(Path(doc["saved"]).read_text())["endpoints"] == doc["endpoints"]


def test_goodput_counts_requests_meeting_the_slos(served, capsys):
    assert main(["bench", "serve", "--url", served.url, "--slo-ttft-ms", "100000", "--slo-tpot-ms", "0.0001",
                 "--json", "--requests", "2", "--concurrency", "2", "--prompt-tokens", "16",
                 "--output-tokens", "4"]) == 0
    level = json.loads(capsys.readouterr().out)["endpoints"][0]["levels"][0]
    assert level["goodput_req_s"] == 0.0  # nobody makes a TPOT of 0.1 microsecond
    assert main(["bench", "serve", "--url", served.url, "--slo-ttft-ms", "100000", "--json", "--requests", "2",
                 "--concurrency", "2", "--prompt-tokens", "16", "--output-tokens", "4"]) == 0
    level = json.loads(capsys.readouterr().out)["endpoints"][0]["levels"][0]
    assert level["goodput_req_s"] == pytest.approx(level["request_throughput"])  # everyone makes 100 s


def test_unreachable_endpoint_is_one_line_error(capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["bench", "serve", "--url", f"http://127.0.0.1:{port}/v1", *ARGS]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("moe-console: error:") and "connection refused" in err


def test_bad_url_or_name_is_explained(capsys):
    assert main(["bench", "serve", "--url", "nowhere", *ARGS]) == 2
    assert "neither an endpoint URL nor a [remote.NAME]" in capsys.readouterr().err


def test_a_serve_that_cannot_start_is_one_line(tmp_path, capsys):
    missing = tmp_path / "no-model"
    with pytest.raises(LoadgenError, match="exited with status 2 before printing its URL: .*no such model folder"):
        with serve(str(missing)):
            pass
    assert main(["bench", "serve", "--serve-model", str(missing), *ARGS]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("moe-console: error: moe-console serve exited with status 2") and "no such model" in err


def test_bench_serve_without_url_starts_serve_on_the_builtin_model_and_stops_it(capsys):
    assert main(["bench", "serve", "--concurrency", "1,2", "--requests", "2", "--prompt-tokens", "16",
                 "--output-tokens", "4", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (endpoint,) = doc["endpoints"]
    assert endpoint["model"] == "builtin" and endpoint["server"]["kind"] == "moe-console"
    assert endpoint["url"].startswith("http://127.0.0.1:")
    assert all((r["output_tokens"], r["prompt_tokens"]) == (4, 16) for lv in endpoint["levels"] for r in lv["requests"])
    with pytest.raises(httpx.ConnectError):  # the server it started is gone
        httpx.get(endpoint["url"] + "/models", timeout=5)
