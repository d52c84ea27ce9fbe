"""Modeled backends end to end: real engine text, modeled clock, labels and cost (tiny checkpoint)."""

import importlib.util
import time
from pathlib import Path

import pytest

from console import perf
from console.api import Failed, Finished, Message, OptionError, Request, Sampling, Started, TextDelta
from console.modeled import backend_class_for
from console.testing import BackendConformance, check_events, collect
from moe_console_ascend950 import ASCEND_950DT
from moe_console_h100 import H100

H100Backend, A950Backend = backend_class_for(H100), backend_class_for(ASCEND_950DT)


def _tiny_writer():
    """``write_tiny_model`` of tests/plugins (a tiny random DeepSeek-V3 with the built-in tokenizer)."""
    path = Path(__file__).resolve().parents[1] / "plugins" / "tiny_model.py"
    spec = importlib.util.spec_from_file_location("perf_tiny_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_tiny_model


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return str(_tiny_writer()(tmp_path_factory.mktemp("tiny") / "tiny-v3"))


@pytest.fixture(autouse=True)
def _no_user_files(tmp_path, monkeypatch):
    monkeypatch.setenv("MOE_CONSOLE_HOME", str(tmp_path))
    monkeypatch.delenv("MOE_CONSOLE_PRICES", raising=False)


def _request(max_tokens=8, temperature=0.0, seed=None, **kw):
    return Request(messages=(Message("user", "Tell me about experts"),),
                   sampling=Sampling(max_tokens=max_tokens, temperature=temperature, seed=seed), **kw)


class TestModeledConformance(BackendConformance):
    backend_class = H100Backend

    @pytest.fixture(autouse=True)
    def _model(self, tiny_path):
        self.options = {"model_path": tiny_path, "pace": "fast"}


async def test_same_tokens_as_local_for_the_same_seed(tiny_path):
    from moe_console_local.backend import LocalBackend

    request = _request(max_tokens=12, temperature=0.9, seed=7)
    local = await collect(LocalBackend(model_path=tiny_path).stream(request))
    modeled = await collect(H100Backend(model_path=tiny_path, pace="fast").stream(request))
    ids = lambda events: [t for e in events if isinstance(e, TextDelta) for t in e.token_ids]  # noqa: E731
    assert ids(modeled) == ids(local) and len(ids(local)) > 0
    assert "".join(e.text for e in modeled if isinstance(e, TextDelta)) == \
        "".join(e.text for e in local if isinstance(e, TextDelta))


async def test_times_are_the_models_and_labelled(tiny_path):
    backend = H100Backend(model_path=tiny_path, pace="fast", concurrency=64, context=3000)
    request = _request(max_tokens=10)
    events = await collect(backend.stream(request))
    check_events(events, backend=backend, request=request)
    assert {e.clock for e in events} == {"modeled"}
    started, finished = events[0], events[-1]
    assert isinstance(started, Started) and started.model == "deepseek-v3"
    v3, dep = perf.load_profile("deepseek-v3"), perf.default_deployment()
    point = perf.estimate(v3, perf.reference_chip("h100"), dep,
                          perf.Workload(prompt_tokens=started.prompt_tokens, output_tokens=10, context=3000,
                                        concurrency=64), perf.calibration("sglang-96xh100"))
    t = finished.timing
    assert t.ttft_s == pytest.approx(point.ttft_s, rel=1e-3)
    assert t.inter_token_s and all(g == pytest.approx(point.tpot_s, rel=1e-3) for g in t.inter_token_s)
    n = finished.usage.completion_tokens
    assert t.e2e_s == pytest.approx(point.ttft_s + (n - 1) * point.tpot_s, rel=1e-3)
    allowed = [t.ttft_s + i * t.inter_token_s[0] for i in range(n)]
    assert all(min(abs(d.at - a) for a in allowed) < 1e-9 for d in events if isinstance(d, TextDelta))
    assert t.label.startswith("modeled (calibrated to SGLang 96xH100, eta=0.37, overlap=0.41): DeepSeek-V3")
    c = finished.cost
    assert c.price_usd_per_chip_hour == 2.35 and c.usd_per_m_output == pytest.approx(
        2.35 / (point.tokens_per_s_per_chip * 3600) * 1e6, rel=1e-3)


async def test_950_labels_carry_the_range(tiny_path):
    events = await collect(A950Backend(model_path=tiny_path, pace="fast").stream(_request(max_tokens=3)))
    finished = events[-1]
    assert "by analogy" in finished.timing.label and "range TPOT" in finished.timing.label
    assert "assumption" in finished.cost.label and "range $" in finished.cost.label


async def test_modeled_pace_releases_tokens_at_the_modeled_times(tiny_path):
    backend = H100Backend(model_path=tiny_path, target_model="deepseek-v4-flash", concurrency=1)
    start = time.monotonic()
    events = await collect(backend.stream(_request(max_tokens=4)))
    elapsed = time.monotonic() - start
    assert isinstance(events[-1], Finished)
    assert elapsed >= events[-1].timing.e2e_s - 0.005


async def test_price_option_and_user_price_file(tiny_path, tmp_path, monkeypatch):
    ev = await collect(H100Backend(model_path=tiny_path, pace="fast", price_usd_per_hour=4.7).stream(_request(2)))
    assert ev[-1].cost.price_usd_per_chip_hour == 4.7
    (tmp_path / "prices.toml").write_text('[h100]\nusd_per_hour = 1.5\ndate = "2026-06-01"\n')
    ev = await collect(H100Backend(model_path=tiny_path, pace="fast").stream(_request(2)))
    assert ev[-1].cost.price_usd_per_chip_hour == 1.5 and ev[-1].cost.price_date == "2026-06-01"


async def test_bad_setups_fail_clearly(tiny_path, tmp_path):
    with pytest.raises(OptionError, match="target_model"):
        H100Backend(target_model="gpt-9")
    events = await collect(H100Backend(model_path=str(tmp_path / "missing")).stream(_request()))
    assert isinstance(events[0], Failed) and "cannot load" in events[0].error
    (tmp_path / "prices.toml").write_text("[h100\n")
    events = await collect(H100Backend(model_path=tiny_path).stream(_request()))
    assert isinstance(events[-1], Failed) and "prices.toml" in events[-1].error
