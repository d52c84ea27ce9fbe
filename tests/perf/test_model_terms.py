"""What the model grew for the runs: MTP, V4 KV formats, FP4/INT8 weights, TP, imbalance, aggregated."""

import pytest

from console.perf import Workload, default_deployment, estimate, load_profile
from console.perf.decode import decode_step, kv_bytes_per_chip_sequence, max_batch
from console.perf.dtypes import compute_dtype, nbytes


@pytest.fixture(scope="module")
def flash():
    return load_profile("deepseek-v4-flash")


def test_mtp_yields_accepted_tokens_per_step_and_costs_verification(v3, h100, dep, fit):
    plain = decode_step(v3, h100, dep, 64, 2000, fit.eta, fit.overlap)
    mtp = decode_step(v3, h100, dep.replace(mtp_depth=1, mtp_accepted=0.8), 64, 2000, fit.eta, fit.overlap)
    assert mtp.tokens_per_step == 1.8
    assert mtp.step[0] > plain.step[0]  # verifying 2 tokens and one draft pass cost time
    assert mtp.tokens_per_s[0] == pytest.approx(64 * 1.8 / mtp.step[0])
    assert mtp.tpot[0] == pytest.approx(mtp.step[0] / 1.8)
    # KV cache is read once per step, FLOPs of every op grow with the verified tokens
    assert mtp.ops[2].bytes[0] == plain.ops[2].bytes[0] and mtp.ops[2].flops[0] == pytest.approx(2 * plain.ops[2].flops[0])


def test_v4_kv_bytes_per_token_at_fp8_and_bf16(flash):
    fp8 = flash.served_as(kv_cache="fp8").attention
    bf16 = flash.served_as(kv_cache="bf16").attention
    assert (fp8.entry_bytes, bf16.entry_bytes) == (576, 1024)
    ctx = 8192
    expected = 43 * 128 * 576 + ctx * (21 * (576 + 68) / 4 + 20 * 576 / 128)  # window + CSA (+indexer) + HCA
    assert float(fp8.kv_bytes_per_sequence(ctx)) == pytest.approx(expected)
    assert float(bf16.kv_bytes_per_sequence(ctx)) > 1.7 * expected


def test_fp4_formats_and_int8_peaks():
    assert nbytes("nvfp4") == 0.5625 and nbytes("mxfp4") == nbytes("fp4") == 0.53125
    assert compute_dtype({"fp4": 9000, "fp8": 4500}, "nvfp4") == "fp4"
    assert compute_dtype({"bf16": 989, "fp8": 1979}, "mxfp4") == "fp8"  # no FP4 units: at the FP8 rate
    assert compute_dtype({"bf16": 752, "int8": 1504}, "fp8") == "int8"  # 910C runs W8A8


def test_tensor_parallel_splits_weights_replicates_latent_kv_and_adds_all_reduce(v3):
    from console.perf import reference_chip

    h200 = reference_chip("h200")
    dp = default_deployment(ep=8, redundant_experts=0)
    tp = dp.replace(tp=8, moe_parallel="tp")
    a, b = decode_step(v3, h200, dp, 4, 1500, 1, 0), decode_step(v3, h200, tp, 4, 1500, 1, 0)
    assert b.ops[0].bytes[0] == pytest.approx(a.ops[0].bytes[0] / 8)
    assert b.ops[2].bytes[0] == pytest.approx(a.ops[2].bytes[0] * 8)
    assert b.t_a2a[0] > 0 and kv_bytes_per_chip_sequence(v3, tp, 1500) == 8 * kv_bytes_per_chip_sequence(v3, dp, 1500)


def test_forced_balance_is_an_upper_bound(v3, h100, dep, fit):
    eplb = decode_step(v3, h100, dep, 128, 2000, fit.eta, fit.overlap).tokens_per_s[0]
    forced = decode_step(v3, h100, dep.replace(expert_balance="forced"), 128, 2000, fit.eta, fit.overlap).tokens_per_s[0]
    assert forced > eplb


def test_aggregated_serving_shares_chips_with_prefill(v3, h100, dep, fit):
    w = Workload(prompt_tokens=4000, output_tokens=200, context=2000, concurrency=64)
    pd = estimate(v3, h100, dep, w, fit)
    agg = estimate(v3, h100, dep.replace(pd_disaggregated=False), w, fit)
    assert agg.tokens_per_s_per_chip < pd.tokens_per_s_per_chip and agg.tpot_s > pd.tpot_s
    assert max_batch(v3, h100, dep, 2000) > 0


@pytest.mark.parametrize("changes, message", [
    ({"mtp_depth": 1, "mtp_accepted": 2}, "MTP"), ({"tp": 0}, "tensor parallelism"),
    ({"moe_parallel": "dp"}, "moe_parallel"), ({"expert_balance": "magic"}, "expert_balance"),
])
def test_bad_deployment_is_one_message(dep, changes, message):
    from console.perf import PerfDataError

    with pytest.raises(PerfDataError, match=message):
        dep.replace(**changes)
