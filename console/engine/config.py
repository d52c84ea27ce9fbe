"""``config.json`` -> :class:`ModelConfig`, following transformers 5.x semantics exactly.

Traps handled here (see shared/reference/engine-spec.md): ``q_lora_rank`` absent means 1536 for
DeepSeek (only an explicit ``null`` means "no q-LoRA"); ``head_dim`` in a DeepSeek config is the
rope head size, not the attention head size; HF's DeepSeek-V3 ignores ``scoring_func`` and
``topk_method`` (always sigmoid + bias, group-limited); DeepSeek-V2 uses softmax routers (greedy or
group_limited_greedy) and never renormalises; both ``rope_theta`` + ``rope_scaling`` (Hub form) and
``rope_parameters`` (transformers 5 form) are read.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .errors import EngineError

V3 = "DeepseekV3ForCausalLM"
V2 = "DeepseekV2ForCausalLM"
MIXTRAL = "MixtralForCausalLM"
SUPPORTED = (V3, V2, MIXTRAL)
_BY_MODEL_TYPE = {"deepseek_v3": V3, "deepseek_v2": V2, "mixtral": MIXTRAL}

# transformers 5.x config-class defaults, per architecture (only what the engine reads).
_DEFAULTS: dict[str, dict[str, object]] = {
    V3: dict(vocab_size=129280, hidden_size=7168, intermediate_size=18432, moe_intermediate_size=2048,
             num_hidden_layers=61, num_attention_heads=128, n_shared_experts=1, n_routed_experts=256,
             routed_scaling_factor=2.5, kv_lora_rank=512, q_lora_rank=1536, qk_rope_head_dim=64,
             v_head_dim=128, qk_nope_head_dim=128, n_group=8, topk_group=4, num_experts_per_tok=8,
             first_k_dense_replace=3, norm_topk_prob=True, max_position_embeddings=4096,
             rms_norm_eps=1e-6, tie_word_embeddings=False, rope_interleave=True, rope_theta=10000.0,
             bos_token_id=0, eos_token_id=1),
    V2: dict(vocab_size=102400, hidden_size=4096, intermediate_size=11008, moe_intermediate_size=1407,
             num_hidden_layers=32, num_attention_heads=32, n_shared_experts=2, n_routed_experts=64,
             routed_scaling_factor=1.0, kv_lora_rank=512, q_lora_rank=1536, qk_rope_head_dim=64,
             v_head_dim=128, qk_nope_head_dim=128, n_group=None, topk_group=None,
             num_experts_per_tok=None, topk_method="greedy", first_k_dense_replace=0,
             norm_topk_prob=False, max_position_embeddings=2048, rms_norm_eps=1e-6,
             tie_word_embeddings=False, rope_theta=10000.0, bos_token_id=1, eos_token_id=2),
    MIXTRAL: dict(vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                  num_attention_heads=32, num_key_value_heads=8, head_dim=None, num_experts_per_tok=2,
                  num_local_experts=8, max_position_embeddings=4096 * 32, rms_norm_eps=1e-5,
                  tie_word_embeddings=False, sliding_window=None, rope_theta=1e6,
                  bos_token_id=1, eos_token_id=2),
}


@dataclass(frozen=True)
class RopeConfig:
    """Rotary embedding parameters, normalised from either config form."""

    theta: float
    rope_type: str = "default"          # default | linear | yarn
    factor: float = 1.0
    original_max_position_embeddings: int | None = None
    beta_fast: float = 32.0
    beta_slow: float = 1.0
    mscale: float | None = None
    mscale_all_dim: float | None = None
    attention_factor: float | None = None
    truncate: bool = True


@dataclass(frozen=True)
class ModelConfig:
    """What the engine needs from ``config.json``; field names follow the HF keys."""

    architecture: str
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    max_position_embeddings: int
    rms_norm_eps: float
    tie_word_embeddings: bool
    rope: RopeConfig
    # feed-forward / MoE
    intermediate_size: int
    moe_intermediate_size: int
    n_routed_experts: int
    num_experts_per_tok: int
    n_shared_experts: int
    moe_layers: tuple[int, ...]
    router: str                      # "v3" (sigmoid+bias) | "v2" (softmax, no renorm) | "mixtral"
    topk_method: str = "greedy"      # V2: greedy | group_limited_greedy
    n_group: int = 1
    topk_group: int = 1
    norm_topk_prob: bool = True
    routed_scaling_factor: float = 1.0
    # MLA (DeepSeek)
    q_lora_rank: int | None = None
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    rope_interleave: bool = True
    # GQA (Mixtral)
    num_key_value_heads: int = 0
    head_dim: int = 0
    sliding_window: int | None = None
    bos_token_id: int | None = None
    eos_token_ids: tuple[int, ...] = field(default_factory=tuple)

    @property
    def is_mla(self) -> bool:
        return self.architecture in (V3, V2)

    @property
    def num_layers(self) -> int:
        return self.num_hidden_layers

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim

    @property
    def rope_dim(self) -> int:
        return self.qk_rope_head_dim if self.is_mla else self.head_dim

    @property
    def attention_scale(self) -> float:
        """Softmax scale sigma, with HF's YaRN mscale^2 for DeepSeek (``yarn_apply_mscale``)."""
        if not self.is_mla:
            return self.head_dim ** -0.5
        scale = self.qk_head_dim ** -0.5
        r = self.rope
        if r.rope_type != "default" and r.mscale_all_dim:
            m = 1.0 if r.factor <= 1 else 0.1 * r.mscale_all_dim * math.log(r.factor) + 1.0
            scale *= m * m
        return scale


class _Reader:
    """Typed access to the raw config dict with HF defaults and one-line errors."""

    def __init__(self, raw: dict, defaults: dict, path: Path) -> None:
        self.raw, self.defaults, self.path = raw, defaults, path

    def get(self, key: str, default: object = None) -> object:
        if key in self.raw:
            return self.raw[key]
        return self.defaults.get(key, default)

    def int(self, key: str, *, minimum: int = 1, allow_none: bool = False, default: object = None) -> int | None:
        value = self.get(key, default)
        if value is None and allow_none:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise EngineError(f"{self.path}: '{key}' must be an integer, got {value!r}")
        if value < minimum:
            raise EngineError(f"{self.path}: '{key}' must be >= {minimum}, got {value}")
        return value

    def float(self, key: str, default: object = None) -> float:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise EngineError(f"{self.path}: '{key}' must be a number, got {value!r}")
        return float(value)

    def bool(self, key: str, default: object = None) -> bool:
        value = self.get(key, default)
        if value is None:
            return bool(default)
        if not isinstance(value, bool):
            raise EngineError(f"{self.path}: '{key}' must be true or false, got {value!r}")
        return value


def load_config(folder: str | Path) -> ModelConfig:
    """Read and validate ``<folder>/config.json``."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise EngineError(f"{path}: file not found (not a Hugging Face model folder?)")
    from .checkpoint import read_json  # imported here: context_window() must not pull numpy

    raw = read_json(path)
    if not isinstance(raw, dict):
        raise EngineError(f"{path}: expected a JSON object at the top level")
    return parse_config(raw, path)


def context_window(folder: str | Path | None = None) -> int | None:
    """``max_position_embeddings`` of the checkpoint in ``folder`` (``None``: the
    built-in model), from its config.json and, when the key is absent, the
    architecture's transformers default; ``None`` when the folder, the file or the
    architecture is unusable. Light: reads one JSON file, imports no numpy."""
    base = Path(__file__).resolve().parent / "builtin" if folder is None else Path(folder).expanduser()
    path = base / "config.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        value = raw.get("max_position_embeddings", _DEFAULTS[_architecture(raw, path)]["max_position_embeddings"])
    except (OSError, ValueError, AttributeError, EngineError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _architecture(raw: dict, path: Path) -> str:
    from .v4.config import V4, is_v4
    if is_v4(raw):
        return V4
    archs = raw.get("architectures")
    if isinstance(archs, list) and archs:
        arch = str(archs[0])
    elif raw.get("model_type") in _BY_MODEL_TYPE:
        arch = _BY_MODEL_TYPE[raw["model_type"]]
    else:
        arch = str(raw.get("model_type") or "<none>")
    if arch not in SUPPORTED:
        raise EngineError(f"{path}: unsupported architecture '{arch}' "
                          f"(supported: {', '.join(SUPPORTED)}, DeepseekV4ForCausalLM)")
    return arch


def _rope(r: _Reader, path: Path, max_pos: int) -> RopeConfig:
    params = r.raw.get("rope_parameters") or r.raw.get("rope_scaling") or {}
    if not isinstance(params, dict):
        raise EngineError(f"{path}: 'rope_parameters'/'rope_scaling' must be an object")
    theta = params.get("rope_theta", r.get("rope_theta"))
    if isinstance(theta, bool) or not isinstance(theta, (int, float)) or theta <= 0:
        raise EngineError(f"{path}: 'rope_theta' must be a positive number, got {theta!r}")
    rope_type = str(params.get("rope_type", params.get("type", "default")))
    if rope_type not in ("default", "linear", "yarn"):
        raise EngineError(f"{path}: unsupported rope type '{rope_type}' (supported: default, linear, yarn)")
    if rope_type == "default":
        return RopeConfig(theta=float(theta))
    orig = params.get("original_max_position_embeddings") or r.raw.get("original_max_position_embeddings") or max_pos
    factor = params.get("factor")
    if factor is None:
        if rope_type == "linear":
            raise EngineError(f"{path}: linear rope scaling needs a 'factor'")
        factor = max_pos / orig
    opt = lambda k: None if params.get(k) is None else float(params[k])  # noqa: E731
    return RopeConfig(
        theta=float(theta), rope_type=rope_type, factor=float(factor),
        original_max_position_embeddings=int(orig),
        beta_fast=float(params.get("beta_fast") or 32), beta_slow=float(params.get("beta_slow") or 1),
        mscale=opt("mscale"), mscale_all_dim=opt("mscale_all_dim"),
        attention_factor=opt("attention_factor"), truncate=bool(params.get("truncate", True)))


def _eos(value: object) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, list):
        return tuple(int(v) for v in value if isinstance(v, int))
    return ()


def parse_config(raw: dict, path: Path) -> ModelConfig:
    """Build a :class:`ModelConfig` (a ``V4Config`` for DeepSeek-V4) from a parsed config dict
    (``path`` is for messages)."""
    arch = _architecture(raw, path)
    if arch not in _DEFAULTS:
        from .v4.config import parse_v4_config
        return parse_v4_config(raw, path)
    r = _Reader(raw, _DEFAULTS[arch], path)
    hidden, layers, heads = r.int("hidden_size"), r.int("num_hidden_layers"), r.int("num_attention_heads")
    max_pos = r.int("max_position_embeddings")
    common = dict(
        architecture=arch, vocab_size=r.int("vocab_size"), hidden_size=hidden, num_hidden_layers=layers,
        num_attention_heads=heads, max_position_embeddings=max_pos, rms_norm_eps=r.float("rms_norm_eps"),
        tie_word_embeddings=r.bool("tie_word_embeddings", False), rope=_rope(r, path, max_pos),
        bos_token_id=r.get("bos_token_id") if isinstance(r.get("bos_token_id"), int) else None,
        eos_token_ids=_eos(r.get("eos_token_id")))
    if arch == MIXTRAL:
        head_dim = r.int("head_dim", allow_none=True) or hidden // heads
        kv_heads = r.int("num_key_value_heads")
        if heads % kv_heads:
            raise EngineError(f"{path}: num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}")
        inter = r.int("intermediate_size")
        return ModelConfig(
            **common, intermediate_size=inter, moe_intermediate_size=inter,
            n_routed_experts=r.int("num_local_experts"), num_experts_per_tok=r.int("num_experts_per_tok"),
            n_shared_experts=0, moe_layers=tuple(range(layers)), router="mixtral",
            num_key_value_heads=kv_heads, head_dim=head_dim,
            sliding_window=r.int("sliding_window", allow_none=True))
    n_routed = r.int("n_routed_experts")
    k = r.int("num_experts_per_tok", allow_none=True)
    if k is None:
        raise EngineError(f"{path}: 'num_experts_per_tok' is required")
    first_dense = r.int("first_k_dense_replace", minimum=0)
    n_group = r.int("n_group", allow_none=True) or 1
    topk_group = r.int("topk_group", allow_none=True) or 1
    if arch == V3:
        router, method = "v3", "noaux_tc"   # HF V3 ignores scoring_func / topk_method
    else:
        router, method = "v2", str(r.get("topk_method") or "greedy")
        if method not in ("greedy", "group_limited_greedy"):
            raise EngineError(f"{path}: unsupported topk_method '{method}' (supported: greedy, group_limited_greedy)")
    grouped = (arch == V3) or method == "group_limited_greedy"
    if grouped and n_routed % n_group:
        raise EngineError(f"{path}: n_routed_experts {n_routed} is not a multiple of n_group {n_group}")
    if arch == V3 and n_group > 1 and n_routed // n_group < 2:
        raise EngineError(f"{path}: each expert group needs at least 2 experts (n_group {n_group})")
    if k > n_routed or (grouped and topk_group > n_group):
        raise EngineError(f"{path}: num_experts_per_tok/topk_group exceed the experts/groups available")
    return ModelConfig(
        **common, intermediate_size=r.int("intermediate_size"),
        moe_intermediate_size=r.int("moe_intermediate_size"), n_routed_experts=n_routed,
        num_experts_per_tok=k, n_shared_experts=r.int("n_shared_experts", minimum=0, allow_none=True) or 0,
        moe_layers=tuple(range(min(first_dense, layers), layers)), router=router, topk_method=method,
        n_group=n_group if grouped else 1, topk_group=topk_group if grouped else 1,
        norm_topk_prob=r.bool("norm_topk_prob", arch == V3),
        routed_scaling_factor=r.float("routed_scaling_factor"),
        q_lora_rank=r.int("q_lora_rank", allow_none=True), kv_lora_rank=r.int("kv_lora_rank"),
        qk_nope_head_dim=r.int("qk_nope_head_dim", minimum=0), qk_rope_head_dim=r.int("qk_rope_head_dim"),
        v_head_dim=r.int("v_head_dim"),
        rope_interleave=True if arch == V2 else r.bool("rope_interleave", True),
        num_key_value_heads=heads, head_dim=r.int("qk_rope_head_dim"))
