"""DeepSeek-V4 tensor names in the three layouts found on disk, from one logical (native) name.

The engine asks for DeepSeek's own names (``layers.3.attn.wq_a.weight``, ``embed.weight``,
``hc_head_fn`` ...); :class:`Names` turns them into the checkpoint's:

* ``native`` -- DeepSeek's release: the names as asked (``mtp.*`` tensors are present and ignored:
  the MTP block is only used for speculative decoding, which this engine does not do);
* ``saved`` -- what transformers' ``save_pretrained`` writes: ``model.`` + the native name, except
  ``model.embed_tokens.weight``, ``model.norm.weight``, ``model.hc_head.hc_{fn,base,scale}`` and
  ``head.weight``;
* ``modules`` -- transformers' in-memory module names (``model.layers.3.self_attn.q_a_proj.weight``,
  ``mlp.gate.e_score_correction_bias``, fused ``mlp.experts.gate_up_proj`` / ``down_proj``).

Routed experts are per expert in the first two layouts and fused (E, 2I, H) / (E, H, I) in the
third; :meth:`Names.experts_fused` says which.
"""

from __future__ import annotations

import re

from ..checkpoint import Checkpoint
from ..errors import EngineError

_TOP_SAVED = {"embed.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight",
              "head.weight": "head.weight", "hc_head_fn": "model.hc_head.hc_fn",
              "hc_head_base": "model.hc_head.hc_base", "hc_head_scale": "model.hc_head.hc_scale"}
_TOP_MODULES = dict(_TOP_SAVED, **{"head.weight": "lm_head.weight"})

# (native pattern, module replacement), applied in order to the part after "layers.N."
_MODULE_RULES = [
    (r"^attn_norm\.", "input_layernorm."), (r"^ffn_norm\.", "post_attention_layernorm."),
    (r"^hc_attn_(fn|base|scale)$", r"attn_hc.\1"), (r"^hc_ffn_(fn|base|scale)$", r"ffn_hc.\1"),
    (r"^attn\.attn_sink$", "self_attn.sinks"),
    (r"^attn\.indexer\.compressor\.", "self_attn.compressor.indexer."),
    (r"^attn\.indexer\.weights_proj\.", "self_attn.compressor.indexer.scorer.weights_proj."),
    (r"^attn\.indexer\.wq_b\.", "self_attn.compressor.indexer.q_b_proj."),
    (r"^attn\.", "self_attn."), (r"^ffn\.", "mlp."),
    (r"\.wq_a\.", ".q_a_proj."), (r"\.q_norm\.", ".q_a_norm."), (r"\.wq_b\.", ".q_b_proj."),
    (r"\.wkv\.", ".kv_proj."), (r"\.wgate\.", ".gate_proj."), (r"\.norm\.", ".kv_norm."),
    (r"\.ape$", ".position_bias"), (r"\.wo_a\.", ".o_a_proj."), (r"\.wo_b\.", ".o_b_proj."),
    (r"\.gate\.bias$", ".gate.e_score_correction_bias"),
    (r"\.shared_experts\.w1\.", ".shared_experts.gate_proj."),
    (r"\.shared_experts\.w2\.", ".shared_experts.down_proj."),
    (r"\.shared_experts\.w3\.", ".shared_experts.up_proj."),
]
_LAYER = re.compile(r"^layers\.(\d+)\.(.*)$")


def _to_modules(name: str) -> str:
    if name in _TOP_MODULES:
        return _TOP_MODULES[name]
    m = _LAYER.match(name)
    if m is None:
        return "model." + name
    rest = m.group(2)
    for pattern, repl in _MODULE_RULES:
        rest = re.sub(pattern, repl, rest)
    return f"model.layers.{m.group(1)}.{rest}"


class Names:
    """Maps native V4 names to the checkpoint's layout (detected from the embedding's name)."""

    def __init__(self, ckpt: Checkpoint) -> None:
        self.ckpt = ckpt
        if "embed.weight" in ckpt:
            self.layout = "native"
        elif "model.layers.0.attn_norm.weight" in ckpt:
            self.layout = "saved"
        elif "model.layers.0.input_layernorm.weight" in ckpt:
            self.layout = "modules"
        else:
            raise EngineError(f"{ckpt.folder}: no DeepSeek-V4 tensors found (looked for 'embed.weight', "
                              "'model.layers.0.attn_norm.weight', 'model.layers.0.input_layernorm.weight')")

    def __call__(self, native: str) -> str:
        if self.layout == "native":
            return native
        if self.layout == "saved":
            return _TOP_SAVED.get(native, "model." + native)
        return _to_modules(native)

    def has(self, native: str) -> bool:
        return self(native) in self.ckpt

    def experts_fused(self, layer: int) -> bool:
        return self.layout == "modules"

    def fused_experts(self, layer: int) -> tuple[str, str]:
        p = f"model.layers.{layer}.mlp.experts."
        return p + "gate_up_proj", p + "down_proj"
