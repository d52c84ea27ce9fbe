"""The terms the validation runs asked for, each against an independent figure.

Per-layer latency of a serving stack (a published Llama-3.1-8B eager/graph pair),
NCCL's all-reduce latency (its published latency table, by hand), per-die
replicated weights on a 910C, the 950's block-FP8 kernel share (fitted to one
run, another held out), the vLLM-ROCm eager stack, and decode batches by
Little's law from each run's published TTFT and TPOT.
"""

import pytest

from console import perf
from console.perf.collectives import allreduce_latency_us
from console.perf.decode import decode_step, weights_per_chip_bytes
from console.perf.records import record, records
from console.perf.stacks import stack
from console.perf.validate import summary, validate


@pytest.fixture(scope="module")
def rows():
    return {r.record.id: r for r in validate(records())}


def test_layer_latency_figures_follow_from_the_published_llama_pair():
    # cloudai.pt: Llama-3.1-8B decode on H100 SXM, 8.4 ms eager, 5.1 ms in a CUDA graph; 32 layers,
    # 8.03e9 BF16 parameters (16.06 GB) read once per step at 3.35 TB/s
    floor_ms = 8.03e9 * 2 / 3.35e12 * 1e3
    graph_us = (5.1 - floor_ms) / 32 * 1e3
    eager_us = (8.4 - 5.1) / 32 * 1e3
    assert stack("sglang").layer_latency_us == pytest.approx(graph_us, abs=0.5)
    assert stack("vllm-rocm-eager").layer_latency_us == pytest.approx(graph_us + eager_us, abs=0.5)


def test_layer_latency_adds_to_every_step_unamortised(v3, h100, note_dep, fit):
    with_latency = note_dep.replace(layer_latency_us=10.0, mtp_depth=1, mtp_accepted=0.8)
    without = with_latency.replace(layer_latency_us=0.0)
    for batch in (1, 64, 256):
        a = decode_step(v3, h100, with_latency, batch, 2000, fit.eta, fit.overlap).step[0]
        b = decode_step(v3, h100, without, batch, 2000, fit.eta, fit.overlap).step[0]
        assert a - b == pytest.approx(10e-6 * (61 + 2 * 1), rel=1e-9)  # 61 layers + one 2-layer draft pass


def test_nccl_latency_by_hand():
    # tuning.cc (LL protocol): ring base 3.6 us, NVLink hop 0.47; tree base 4.4, NVLink hop 0.52
    # (x1.8 across nodes), network hop 5.0
    assert allreduce_latency_us(8, 1) == pytest.approx(3.6 + 2 * 7 * 0.47)  # 10.18 us, ring
    assert allreduce_latency_us(16, 2) == pytest.approx(4.4 + 2 * (7 * 0.52 * 1.8 + 1 * 5.0))  # 27.5 us, tree
    assert allreduce_latency_us(1, 1) == 0.0


def test_tensor_parallel_step_uses_nccl_latency_per_all_reduce(v3, h100):
    rec = record("tenstorrent-h100-tp16-c1")
    dep = rec.deployment(perf.default_deployment())
    assert dep.allreduce_us == pytest.approx(allreduce_latency_us(16, 2))
    one_us = dep.replace(allreduce_latency_us=1.0)
    a = decode_step(v3, h100, dep, rec.batch_per_chip, rec.context, 1, 0).t_a2a[0]
    b = decode_step(v3, h100, one_us, rec.batch_per_chip, rec.context, 1, 0).t_a2a[0]
    assert a - b == pytest.approx(61 * 2 * (allreduce_latency_us(16, 2) - 1.0) * 1e-6)  # two per layer


def test_each_die_of_a_910c_reads_and_holds_its_own_replicated_weights(v3):
    chip = perf.reference_chip("ascend910c")
    one = perf.default_deployment(ep=288)
    two = one.replace(ranks_per_chip=2)
    a = decode_step(v3, chip, one, 96, 4096, 1, 0).ops[0]
    b = decode_step(v3, chip, two, 96, 4096, 1, 0).ops[0]
    assert b.bytes[0] == 2 * a.bytes[0] and b.flops[0] == a.flops[0]
    assert b.bytes[0] / 3.2e12 == pytest.approx(2 * 16.190954496e9 / 3.2e12)  # 16.2 GB per die
    extra = weights_per_chip_bytes(v3, two) - weights_per_chip_bytes(v3, one)
    assert extra == pytest.approx(v3.resident_replicated_bytes)


def test_block_fp8_share_is_fitted_to_one_run_and_held_against_the_other(rows):
    share = stack("cann-recipes").efficiency("fp8")
    assert share == pytest.approx(0.467, abs=0.002)  # block-FP8 linears at ~47% of the MXFP8 kernels' speed
    fitted, held = rows["cann-950dt-v4flash-native-b96"], rows["cann-950dt-v4flash-native-b16"]
    assert fitted.status == "fitted" and abs(fitted.error) < 1e-6
    assert held.status == "held-out" and abs(held.error) < 0.05
    # the MXFP8 runs of the same stack are untouched by the share
    assert rows["cann-950dt-v4flash-b96"].error == pytest.approx(0, abs=1e-6)


def test_format_share_divides_the_op_time(v3, h100, note_dep):
    slow = note_dep.replace(format_efficiency=(("fp8", 0.5),))
    a = decode_step(v3, h100, note_dep, 64, 2000, 1, 0).ops
    b = decode_step(v3, h100, slow, 64, 2000, 1, 0).ops
    assert b[0].seconds[0] == pytest.approx(2 * a[0].seconds[0])  # replicated weights are FP8
    assert b[2].seconds[0] == pytest.approx(a[2].seconds[0])  # the BF16 attention core is not


def test_vllm_rocm_eager_is_fitted_to_one_moreh_run(rows):
    eager = perf.calibration("moreh-mi300x-vllm-eager")
    assert eager.eta < 0.6 * perf.calibration("sglang-96xh100").eta  # far below the H100 stack it used to borrow
    assert rows["moreh-mi300x-1000"].status == "fitted"
    for rid in ("moreh-mi300x-512", "moreh-mi300x-2000"):
        assert rows[rid].status == "held-out" and abs(rows[rid].error) < 0.1, rid


# (run, concurrency, chips, output tokens, TPOT ms, TTFT ms) as published
LITTLE = [
    ("inferencex-h200-c8", 8, 8, 1024, 12.8, 330.6),
    ("inferencex-h200-c64", 64, 8, 1024, 34.6, 423.1),
    ("sglang-cookbook-h100-v4flash-c256", 256, 8, 1024, 47.1, 36270),
    ("lambda-b200-v4pro-c32", 32, 8, 2048, 36, 3656),
]


@pytest.mark.parametrize("rid, conc, chips, osl, tpot, ttft", LITTLE)
def test_decode_batch_of_aggregated_runs_is_littles_law(rid, conc, chips, osl, tpot, ttft):
    decode = (osl - 1) * tpot
    assert record(rid).batch_per_chip == pytest.approx(conc / chips * decode / (decode + ttft), abs=1e-4)


def test_every_new_fit_run_is_counted_as_fitted_not_held_out(rows):
    held = [r for r in rows.values() if r.status == "held-out"]
    assert not {"moreh-mi300x-1000", "cann-950dt-v4flash-native-b96"} & {r.record.id for r in held}
    assert summary(list(rows.values()))["held_out"]["runs"] == len(held) == 29


def test_compare_models_a_910c_with_its_two_ranks_as_its_calibration_was_fitted(v3):
    from console.perf.ranges import evaluate

    chip = perf.reference_chip("ascend910c")
    rec = record("cloudmatrix384-910c-decode")
    dep = perf.default_deployment(ep=rec.ep, redundant_experts=rec.redundant_experts)
    result = evaluate(v3, chip, dep, perf.Workload(context=int(rec.context), concurrency=int(rec.batch_per_chip)))
    assert result.point.deployment.ranks_per_chip == 2
    assert result.point.tokens_per_s_per_chip == pytest.approx(rec.measured, rel=1e-6)  # the fit point again
