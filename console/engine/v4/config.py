"""DeepSeek-V4 ``config.json`` in its three forms -> :class:`V4Config`.

Forms read (all three describe the same model; ``tests/fixtures/v4`` has one of each):

* transformers 5 (``save_pretrained``): ``layer_types`` (sliding_attention |
  compressed_sparse_attention | heavily_compressed_attention), ``compress_rates``, ``mlp_layer_types``
  (hash_moe | moe), nested ``rope_parameters`` {``main``, ``compress``};
* the Hub's legacy HF keys: ``compress_ratios`` (per layer 0 / 4 / 128, the list may include the MTP
  layer), ``num_hash_layers``, ``qk_rope_head_dim``, ``rope_theta`` + ``rope_scaling`` (YaRN for the
  compressed layers);
* DeepSeek's ``inference/config.json`` (``ModelArgs``): ``dim``, ``n_layers``, ``n_heads``,
  ``window_size``, ``compress_ratios``, ``n_hash_layers``, ``score_func``, ``route_scale``,
  ``original_seq_len`` / ``rope_factor`` / ``beta_*`` ...

Semantics follow transformers 5 where the forms overlap; DeepSeek's reference decides what only
its form says: with ``score_func = softmax`` its router does not renormalise the top-k weights
(transformers always does, and has no softmax scorer), and ``swiglu_limit = 0`` means no clamp.
Sliding-only layers use plain RoPE (``rope_theta``); compressed layers use ``compress_rope_theta``
with YaRN whose cos/sin are not scaled (``attention_factor`` 1, as DeepSeek's reference).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import RopeConfig, _eos
from ..errors import EngineError

V4 = "DeepseekV4ForCausalLM"
SLIDING, CSA, HCA = "sliding_attention", "compressed_sparse_attention", "heavily_compressed_attention"
SCORE_FUNCS = ("sqrtsoftplus", "sigmoid", "softmax")


@dataclass(frozen=True)
class V4Config:
    """What the V4 engine reads; names follow transformers' ``DeepseekV4Config``."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    head_dim: int
    rope_dim: int
    q_lora_rank: int
    o_groups: int
    o_lora_rank: int
    sliding_window: int
    compress_ratios: tuple[int, ...]        # per layer: 0 sliding only, 4 CSA (overlapping + indexer), else HCA
    index_n_heads: int
    index_head_dim: int
    index_topk: int
    hc_mult: int
    hc_sinkhorn_iters: int
    hc_eps: float
    rms_norm_eps: float
    n_routed_experts: int
    num_experts_per_tok: int
    moe_intermediate_size: int
    scoring_func: str
    renormalize: bool
    routed_scaling_factor: float
    swiglu_limit: float
    hash_layers: tuple[bool, ...]
    main_rope: RopeConfig
    compress_rope: RopeConfig
    max_position_embeddings: int
    tie_word_embeddings: bool = False
    n_mtp_layers: int = 0
    bos_token_id: int | None = None
    eos_token_ids: tuple[int, ...] = field(default_factory=tuple)
    architecture: str = V4
    n_shared_experts: int = 1

    @property
    def num_layers(self) -> int:
        return self.num_hidden_layers

    @property
    def moe_layers(self) -> tuple[int, ...]:
        return tuple(range(self.num_hidden_layers))

    @property
    def is_mla(self) -> bool:
        return False

    def layer_kind(self, i: int) -> str:
        m = self.compress_ratios[i]
        return SLIDING if m == 0 else CSA if m == 4 else HCA


def is_v4(raw: dict) -> bool:
    archs = raw.get("architectures")
    if isinstance(archs, list) and archs and archs[0] == V4:
        return True
    return raw.get("model_type") == "deepseek_v4" or ("dim" in raw and "compress_ratios" in raw)


class _Keys:
    """Typed reads from the raw dict, trying each alias in order."""

    def __init__(self, raw: dict, path: Path) -> None:
        self.raw, self.path = raw, path

    def get(self, *keys: str, default: object = None) -> object:
        for key in keys:
            if key in self.raw and self.raw[key] is not None:
                return self.raw[key]
        return default

    def int(self, *keys: str, default: object = None, minimum: int = 1) -> int:
        value = self.get(*keys, default=default)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise EngineError(f"{self.path}: '{keys[0]}' must be an integer, got {value!r}")
        if value < minimum:
            raise EngineError(f"{self.path}: '{keys[0]}' must be >= {minimum}, got {value}")
        return value

    def float(self, *keys: str, default: object = None) -> float:
        value = self.get(*keys, default=default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise EngineError(f"{self.path}: '{keys[0]}' must be a number, got {value!r}")
        return float(value)


def _yarn(params: dict, theta: float, max_pos: int, path: Path) -> RopeConfig:
    rope_type = str(params.get("rope_type", params.get("type", "default")))
    if rope_type == "default":
        return RopeConfig(theta=theta)
    if rope_type != "yarn":
        raise EngineError(f"{path}: unsupported rope type '{rope_type}' for DeepSeek-V4 (supported: default, yarn)")
    orig = int(params.get("original_max_position_embeddings") or max_pos)
    factor = params.get("factor")
    factor = float(factor) if factor is not None else max_pos / orig
    attention = params.get("attention_factor")
    return RopeConfig(theta=theta, rope_type="yarn", factor=factor, original_max_position_embeddings=orig,
                      beta_fast=float(params.get("beta_fast") or 32), beta_slow=float(params.get("beta_slow") or 1),
                      attention_factor=1.0 if attention is None else float(attention),
                      truncate=bool(params.get("truncate", True)))


def _ropes(k: _Keys, native: bool, max_pos: int, path: Path) -> tuple[RopeConfig, RopeConfig]:
    main_theta = k.float("rope_theta", default=10000.0)
    compress_theta = k.float("compress_rope_theta", default=40000.0 if native else 160000.0)
    if native:
        orig = k.int("original_seq_len", default=0, minimum=0)
        if orig == 0:
            return RopeConfig(theta=main_theta), RopeConfig(theta=compress_theta)
        return RopeConfig(theta=main_theta), RopeConfig(
            theta=compress_theta, rope_type="yarn", factor=k.float("rope_factor", default=40.0),
            original_max_position_embeddings=orig, beta_fast=k.float("beta_fast", default=32.0),
            beta_slow=k.float("beta_slow", default=1.0), attention_factor=1.0)
    params = k.get("rope_parameters", "rope_scaling", default={})
    if not isinstance(params, dict):
        raise EngineError(f"{path}: 'rope_parameters'/'rope_scaling' must be an object")
    if isinstance(params.get("main"), dict) and isinstance(params.get("compress"), dict):
        main, comp = params["main"], params["compress"]
        return (_yarn(main, float(main.get("rope_theta", main_theta)), max_pos, path),
                _yarn(comp, float(comp.get("rope_theta", compress_theta)), max_pos, path))
    return RopeConfig(theta=main_theta), _yarn(params, compress_theta, max_pos, path)


def _ratios(k: _Keys, layers: int, path: Path) -> tuple[int, ...]:
    ratios = k.get("compress_ratios")
    if ratios is None:
        types = k.get("layer_types")
        rates = dict(k.get("compress_rates", default={}) or {})
        rates.setdefault(CSA, k.get("compress_rate_csa", default=4))
        rates.setdefault(HCA, k.get("compress_rate_hca", default=128))
        if types is None:   # transformers' default schedule: 2 HCA, then CSA / HCA alternating
            types = [HCA] * min(layers, 2) + [CSA if i % 2 else HCA for i in range(max(layers - 2, 0))]
        if not isinstance(types, list) or any(t not in (SLIDING, CSA, HCA) for t in types):
            raise EngineError(f"{path}: 'layer_types' must list {SLIDING}, {CSA} or {HCA} per layer")
        ratios = [0 if t == SLIDING else int(rates[t]) for t in types]
    if not isinstance(ratios, list) or len(ratios) < layers or any(
            isinstance(r, bool) or not isinstance(r, int) or r < 0 for r in ratios):
        raise EngineError(f"{path}: 'compress_ratios'/'layer_types' must give a ratio >= 0 for each of {layers} layers")
    return tuple(ratios[:layers])


def _hash_layers(k: _Keys, layers: int, native: bool, path: Path) -> tuple[bool, ...]:
    types = k.get("mlp_layer_types")
    if types is not None:
        if not isinstance(types, list) or len(types) < layers or any(t not in ("hash_moe", "moe") for t in types):
            raise EngineError(f"{path}: 'mlp_layer_types' must list hash_moe or moe for each of {layers} layers")
        return tuple(t == "hash_moe" for t in types[:layers])
    n = k.int("n_hash_layers", "num_hash_layers", default=0 if native else 3, minimum=0)
    return tuple(i < n for i in range(layers))


def parse_v4_config(raw: dict, path: Path) -> V4Config:
    """Build a :class:`V4Config` from any of the three config forms (``path`` is for messages)."""
    native = "dim" in raw or "n_layers" in raw
    k = _Keys(raw, path)
    hidden = k.int("dim", "hidden_size", default=4096)
    layers = k.int("n_layers", "num_hidden_layers", default=43)
    heads = k.int("n_heads", "num_attention_heads", default=64)
    head_dim = k.int("head_dim", default=512)
    rope_dim = k.get("rope_head_dim", "qk_rope_head_dim")
    if rope_dim is None:
        rope_dim = int(head_dim * float(k.get("partial_rotary_factor", default=64 / 512)))
    max_pos = k.int("max_seq_len", "max_position_embeddings", default=1048576)
    groups, o_rank = k.int("o_groups", default=8), k.int("o_lora_rank", default=1024)
    E = k.int("n_routed_experts", default=256)
    top_k = k.int("n_activated_experts", "num_experts_per_tok", default=6)
    score = str(k.get("score_func", "scoring_func", default="sqrtsoftplus"))
    if score not in SCORE_FUNCS:
        raise EngineError(f"{path}: unsupported scoring function '{score}' (supported: {', '.join(SCORE_FUNCS)})")
    if heads % groups or rope_dim % 2 or rope_dim > head_dim or top_k > E:
        raise EngineError(f"{path}: inconsistent DeepSeek-V4 sizes (heads {heads} vs o_groups {groups}, "
                          f"rope dim {rope_dim} vs head dim {head_dim}, top-k {top_k} of {E} experts)")
    main_rope, compress_rope = _ropes(k, native, max_pos, path)
    ratios = _ratios(k, layers, path)
    hc = k.int("hc_mult", default=4)
    return V4Config(
        vocab_size=k.int("vocab_size", default=129280), hidden_size=hidden, num_hidden_layers=layers,
        num_attention_heads=heads, head_dim=head_dim, rope_dim=int(rope_dim),
        q_lora_rank=k.int("q_lora_rank", default=1024), o_groups=groups, o_lora_rank=o_rank,
        sliding_window=k.int("window_size", "sliding_window", default=128), compress_ratios=ratios,
        index_n_heads=k.int("index_n_heads", default=64), index_head_dim=k.int("index_head_dim", default=128),
        index_topk=k.int("index_topk", default=512), hc_mult=hc,
        hc_sinkhorn_iters=k.int("hc_sinkhorn_iters", default=20), hc_eps=k.float("hc_eps", default=1e-6),
        rms_norm_eps=k.float("norm_eps", "rms_norm_eps", default=1e-6), n_routed_experts=E,
        num_experts_per_tok=top_k, moe_intermediate_size=k.int("moe_inter_dim", "moe_intermediate_size", default=2048),
        scoring_func=score, renormalize=(score != "softmax") if native else True,
        routed_scaling_factor=k.float("route_scale", "routed_scaling_factor", default=1.0 if native else 1.5),
        swiglu_limit=k.float("swiglu_limit", default=0.0 if native else 10.0),
        hash_layers=_hash_layers(k, layers, native, path), main_rope=main_rope, compress_rope=compress_rope,
        max_position_embeddings=max_pos, tie_word_embeddings=bool(k.get("tie_word_embeddings", default=False)),
        n_mtp_layers=k.int("n_mtp_layers", "num_nextn_predict_layers", default=0, minimum=0),
        bos_token_id=raw.get("bos_token_id") if isinstance(raw.get("bos_token_id"), int) else None,
        eos_token_ids=_eos(raw.get("eos_token_id")),
        n_shared_experts=k.int("n_shared_experts", default=1, minimum=0))
