"""Prefill / TTFT for a 2k prompt (note §7): H100 calibrated, 950 at FP8 / MXFP4 / 910C-level MFU."""

import pytest

from console.perf import calibration
from console.perf.prefill import prefill_tokens_per_s, ttft_seconds


def test_h100_prefill_is_the_fitted_sglang_rate(v3, dep, fit, h100):
    assert prefill_tokens_per_s(v3, h100, dep, 2000, fit.mfu) == pytest.approx(6818, rel=1e-3)
    assert ttft_seconds(v3, h100, dep, 2000, fit.mfu) * 1e3 == pytest.approx(293, abs=0.5)


@pytest.mark.parametrize("gemm, mfu_from, ttft_ms", [
    ("fp8", "sglang-96xh100", 671),
    ("fp4", "sglang-96xh100", 376),
    ("fp8", "cloudmatrix384-910c", 464),
    ("fp4", "cloudmatrix384-910c", 260),
])
def test_950_ttft_cases_of_the_note(v3, dep, a950, gemm, mfu_from, ttft_ms):
    mfu = calibration(mfu_from).mfu
    got = ttft_seconds(v3, a950, dep.replace(prefill_gemm_dtype=gemm), 2000, mfu) * 1e3
    assert got == pytest.approx(ttft_ms, abs=1.5)


def test_fp4_gemms_fall_back_to_fp8_on_a_chip_without_fp4(v3, dep, fit, h100):
    fp8 = prefill_tokens_per_s(v3, h100, dep, 2000, fit.mfu)
    assert prefill_tokens_per_s(v3, h100, dep.replace(prefill_gemm_dtype="fp4"), 2000, fit.mfu) == fp8


def test_longer_prompts_prefill_slower_per_token(v3, dep, fit, h100):
    assert prefill_tokens_per_s(v3, h100, dep, 8000, fit.mfu) < prefill_tokens_per_s(v3, h100, dep, 1000, fit.mfu)
