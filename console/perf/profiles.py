"""Target-model profiles: shapes read from ``data/models/<name>.toml``.

A profile counts parameters by tensor group and gives the per-token bytes and
FLOPs the decode and prefill models need. Conventions:

* *total* parameters exclude the MTP module (as DeepSeek's "671B" does);
* *active* parameters per token exclude the embedding table (a gather, not a
  matmul) but include the output head, so ``2 * active`` is the GEMM FLOPs of
  one token;
* *replicated* weights are everything except the routed experts: every chip of
  an expert-parallel decode instance holds them and reads them (minus the
  embedding table) once per decode step.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, Union

from console.perf.attention import CompressedAttention, MLAttention, attention_from_table
from console.perf.datafiles import DATA_DIR, PerfDataError, read_toml, require
from console.perf.dtypes import nbytes

Attention = Union[MLAttention, CompressedAttention]
MODELS_DIR = DATA_DIR / "models"


@dataclass(frozen=True)
class ModelProfile:
    """One target model (shapes, weight formats, attention kind)."""

    name: str
    display_name: str
    source: str
    reported_total_params: float
    reported_active_params: float
    vocab_size: int
    hidden_size: int
    num_layers: int
    dense_layers: int
    dense_intermediate_size: int
    n_routed_experts: int
    n_shared_experts: int
    experts_per_token: int
    expert_intermediate_size: int
    tie_embeddings: bool
    hc_mult: int
    routed_dtype: str
    other_dtype: str
    attention: Attention

    # ------------------------------------------------------------ parameters
    @property
    def moe_layers(self) -> int:
        return self.num_layers - self.dense_layers

    @property
    def expert_params(self) -> int:
        """One expert's gate, up and down projections."""
        return 3 * self.hidden_size * self.expert_intermediate_size

    @property
    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    @property
    def routed_params(self) -> int:
        return self.moe_layers * self.n_routed_experts * self.expert_params

    def groups(self) -> dict[str, int]:
        """Parameter count of each tensor group (their sum is :attr:`total_params`)."""
        d, hc = self.hidden_size, self.hc_mult
        hyper = 0
        if hc:
            hyper = self.num_layers * 2 * (hc * d) * ((2 + hc) * hc) + hc * d * hc
        return {
            "embedding": self.embedding_params,
            "head": 0 if self.tie_embeddings else self.embedding_params,
            "attention": self.attention.params(),
            "dense_ffn": self.dense_layers * 3 * d * self.dense_intermediate_size,
            "shared_experts": self.moe_layers * self.n_shared_experts * self.expert_params,
            "routers": self.moe_layers * self.n_routed_experts * d,
            "routed_experts": self.routed_params,
            "norms": self.num_layers * 2 * d + d,
            "hyper_connections": hyper,
        }

    @property
    def total_params(self) -> int:
        return sum(self.groups().values())

    @property
    def replicated_params(self) -> int:
        """Weights read once per decode step by every chip (no routed experts, no embedding)."""
        return self.total_params - self.routed_params - self.embedding_params

    @property
    def active_params(self) -> int:
        """Weights one token multiplies through (embedding table excluded)."""
        return self.replicated_params + self.moe_layers * self.experts_per_token * self.expert_params

    # ------------------------------------------------------------ bytes
    @property
    def replicated_bytes(self) -> float:
        return self.replicated_params * nbytes(self.other_dtype)

    @property
    def resident_replicated_bytes(self) -> float:
        """Replicated weights held in HBM (the embedding table included)."""
        return (self.replicated_params + self.embedding_params) * nbytes(self.other_dtype)

    @property
    def expert_bytes(self) -> float:
        return self.expert_params * nbytes(self.routed_dtype)

    def kv_bytes_per_sequence(self, context: Any) -> Any:
        return self.attention.kv_bytes_per_sequence(context)

    # ------------------------------------------------------------ prefill
    def prefill_gemm_flops_per_token(self) -> float:
        return 2.0 * self.active_params

    def prefill_attention_flops_per_token(self, prompt: Any) -> Any:
        return self.attention.prefill_flops_per_token(prompt)

    def served_as(self, routed: str | None = None, other: str | None = None,
                  kv_cache: str | None = None) -> ModelProfile:
        """This profile with the weights or the KV cache stored in other formats
        (``None`` keeps the checkpoint's): e.g. NVFP4 experts on Blackwell, INT8
        weights on 910C (W8A8), an FP8 latent cache (FlashMLA-FP8)."""
        if routed is None and other is None and kv_cache is None:
            return self
        attention = self.attention
        if kv_cache is not None:
            attention = dataclasses.replace(attention, kv_cache_dtype=kv_cache)
        return dataclasses.replace(self, routed_dtype=routed or self.routed_dtype,
                                   other_dtype=other or self.other_dtype, attention=attention)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description: counts against the reported figures."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "total_params": self.total_params,
            "active_params": self.active_params,
            "reported_total_params": self.reported_total_params,
            "reported_active_params": self.reported_active_params,
            "attention": self.attention.describe(),
            "weights": {"routed_experts": self.routed_dtype, "other": self.other_dtype},
            "source": self.source,
        }


def profile_names() -> list[str]:
    """Names of the shipped target-model profiles."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.toml"))


@functools.lru_cache(maxsize=None)
def load_profile(name: str) -> ModelProfile:
    """The profile ``data/models/<name>.toml``; an unknown name lists the known ones."""
    path = MODELS_DIR / f"{name}.toml"
    if not path.is_file():
        raise PerfDataError(f"unknown target model {name!r}; known: {', '.join(profile_names())}")
    return profile_from_table(read_toml(path), str(path))


def profile_from_table(entry: dict[str, Any], where: str) -> ModelProfile:
    """Build a profile from a parsed TOML table (used for user-supplied profiles too)."""
    get = lambda key: require(entry, key, where)  # noqa: E731
    weights = get("weights")
    layers, hidden = int(get("num_layers")), int(get("hidden_size"))
    dense = int(entry.get("dense_layers", 0))
    if not 0 <= dense <= layers:
        raise PerfDataError(f"{where}: dense_layers must be between 0 and num_layers")
    for dtype in (weights.get("routed_experts"), weights.get("other")):
        nbytes(dtype)  # validates
    return ModelProfile(
        name=get("name"),
        display_name=entry.get("display_name", get("name")),
        source=entry.get("source", ""),
        reported_total_params=float(entry.get("reported_total_params", 0)),
        reported_active_params=float(entry.get("reported_active_params", 0)),
        vocab_size=int(get("vocab_size")),
        hidden_size=hidden,
        num_layers=layers,
        dense_layers=dense,
        dense_intermediate_size=int(entry.get("dense_intermediate_size", 0)),
        n_routed_experts=int(get("n_routed_experts")),
        n_shared_experts=int(entry.get("n_shared_experts", 0)),
        experts_per_token=int(get("experts_per_token")),
        expert_intermediate_size=int(get("expert_intermediate_size")),
        tie_embeddings=bool(entry.get("tie_embeddings", False)),
        hc_mult=int(entry.get("hc_mult", 0)),
        routed_dtype=weights["routed_experts"],
        other_dtype=weights["other"],
        attention=attention_from_table(get("attention"), layers, hidden, f"{where} [attention]"),
    )
