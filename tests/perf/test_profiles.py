"""Target-model profiles: parameter counts, KV cache and attention terms from the data files."""

import numpy as np
import pytest

from console.perf import PerfDataError, load_profile, profile_names

REPORTED = {  # name: (total, active), from the model cards
    "deepseek-v3": (671e9, 37e9),
    "deepseek-v4-flash": (284e9, 13e9),
    "deepseek-v4-pro": (1.6e12, 49e9),
}


def test_every_reported_model_is_shipped():
    assert set(REPORTED) <= set(profile_names())


@pytest.mark.parametrize("name", sorted(REPORTED))
def test_parameter_counts_within_three_percent_of_the_model_card(name):
    profile = load_profile(name)
    total, active = REPORTED[name]
    assert profile.total_params == pytest.approx(total, rel=0.03)
    assert profile.active_params == pytest.approx(active, rel=0.03)
    assert sum(profile.groups().values()) == profile.total_params


def test_v3_counts_by_hand_from_config_shapes():
    # independent arithmetic from config.json shapes (hidden 7168, 61 layers, 3 dense, 256+1 experts)
    d, h = 7168, 128
    attention = d * 1536 + 1536 + 1536 * h * 192 + d * 576 + 512 + 512 * h * 256 + h * 128 * d
    expert = 3 * d * 2048
    p = load_profile("deepseek-v3")
    assert p.groups()["attention"] == 61 * attention
    assert p.groups()["routed_experts"] == 58 * 256 * expert
    # the reference note's 16.2 GB of FP8 weights read by every chip per decode step
    assert p.replicated_bytes / 1e9 == pytest.approx(16.19, abs=0.01)


def test_v3_latent_kv_is_70_kb_per_token():
    p = load_profile("deepseek-v3")
    assert float(p.kv_bytes_per_sequence(1)) == 576 * 2 * 61  # 70.3 KB, "70 KB" in DeepSeek's paper


def test_v4_layer_kinds_come_from_compress_ratios():
    flash, pro = load_profile("deepseek-v4-flash").attention, load_profile("deepseek-v4-pro").attention
    assert (flash.window_layers, flash.csa_layers, flash.hca_layers) == (2, 21, 20)
    assert (pro.window_layers, pro.csa_layers, pro.hca_layers) == (0, 30, 31)


def test_v4_pro_at_1m_context_matches_the_model_card_ratios_to_v32():
    """Card: at 1M context V4-Pro needs 10% of V3.2's KV and 27% of its per-token FLOPs."""
    pro = load_profile("deepseek-v4-pro")
    L = 1_048_576
    v32_kv = 61 * (656 + 132) * L  # FP8 latent (656 B with scales) + FP8 indexer key, 61 layers
    kv_ratio = float(pro.kv_bytes_per_sequence(L)) / v32_kv
    v32_flops = 61 * (2 * 64 * 128 * L + 2 * 128 * (576 + 512) * 2048) + 2 * 37e9  # indexer + top-2048 MLA
    pro_flops = float(pro.attention.decode_flops_per_token(L)) + 2 * pro.active_params
    assert kv_ratio == pytest.approx(0.10, abs=0.015)
    assert pro_flops / v32_flops == pytest.approx(0.27, abs=0.03)


def test_v4_kv_grows_much_slower_than_v3():
    v3, v4 = load_profile("deepseek-v3"), load_profile("deepseek-v4-flash")
    ctx = np.array([2000.0, 64000.0])
    assert np.all(v4.kv_bytes_per_sequence(ctx) < v3.kv_bytes_per_sequence(ctx) / 5)


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(PerfDataError, match="unknown target model 'gpt-9'.*deepseek-v3"):
        load_profile("gpt-9")
