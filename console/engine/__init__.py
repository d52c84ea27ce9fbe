"""console.engine: a compact numpy Mixture-of-Experts inference engine.

Loads Hugging Face folders of ``DeepseekV3ForCausalLM``, ``DeepseekV2ForCausalLM`` and
``MixtralForCausalLM`` (config.json + memory-mapped safetensors, float32/bfloat16/float16) and
reproduces transformers 5.x logits in float32. Prefill runs whole prompts in one pass; decode
runs one token for many sequences at once over a latent KV cache (MLA) or a K/V cache (GQA).

Public API: :func:`load_model`, :class:`Model` (``config``, ``tokenizer``, ``logits``,
``generate``, ``stream``, ``moe_layers``, ``kv_bytes_per_token``, ``decode_weight_bytes``),
:class:`SamplingParams`, :class:`Step`, :class:`GenerationLoop`, :class:`Handle`,
:class:`EngineError`, :func:`builtin_model_path`, :func:`load_builtin`.

Importing this package is cheap: it pulls in neither numpy nor any part of the engine. Each
public name is imported from its module on first use (PEP 562 ``__getattr__``), so a caller that
only needs :class:`EngineError` or :func:`builtin_model_path` (the CLI, the plugin host reading a
config) never pays for numpy.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import EngineError

if TYPE_CHECKING:  # for type checkers and readers; at run time the names load lazily
    from .config import ModelConfig
    from .generation import Step, StepStream
    from .loop import GenerationLoop, Handle
    from .model import Model
    from .sampling import SamplingParams

__all__ = [
    "EngineError", "GenerationLoop", "Handle", "Model", "ModelConfig", "SamplingParams", "Step",
    "StepStream", "builtin_model_path", "load_builtin", "load_model",
]

# public name -> the module (relative to this package) that defines it
_LAZY = {
    "Checkpoint": "checkpoint", "GenerationLoop": "loop", "Handle": "loop", "Model": "model",
    "ModelConfig": "config", "SamplingParams": "sampling", "Step": "generation",
    "StepStream": "generation", "check_checkpoint": "tensors", "load_config": "config",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def builtin_model_path() -> Path:
    """Folder of the model shipped with the package (``console/engine/builtin/``)."""
    return Path(__file__).resolve().parent / "builtin"


def load_model(path: str | Path | None = None, *, fold: str = "auto") -> "Model":
    """Open a Hugging Face checkpoint folder (``None``: the built-in model).

    Reads config.json and the safetensors headers and validates every tensor's presence, dtype
    and shape; weights stay memory-mapped and each layer is prepared on first use.
    ``fold`` ("auto" | "always" | "never") picks whether MLA decode folds W_UK into the query
    projection and W_UV into o_proj ("auto": when that reads at most ~256 KB more per layer).
    Raises EngineError (one line naming file and tensor) for anything wrong with the folder.
    """
    from .checkpoint import Checkpoint
    from .config import load_config
    from .model import Model
    from .tensors import check_checkpoint

    if fold not in ("auto", "always", "never"):
        raise EngineError(f"fold must be 'auto', 'always' or 'never', got {fold!r}")
    if path is None:
        folder = builtin_model_path()
        if not (folder / "config.json").is_file():
            raise EngineError(f"{folder}: the built-in model is not installed (no config.json)")
    else:
        folder = Path(path).expanduser()
        if not folder.exists():
            raise EngineError(f"{folder}: no such model folder")
        if not folder.is_dir():
            raise EngineError(f"{folder}: not a folder (expected a Hugging Face model folder)")
    config = load_config(folder)
    ckpt = Checkpoint(folder)
    if config.architecture == "DeepseekV4ForCausalLM":
        from .v4.model import V4Model
        return V4Model(folder, config, ckpt)
    check_checkpoint(config, ckpt)
    return Model(folder, config, ckpt, fold=fold)


def load_builtin() -> "Model":
    """Load the built-in model (``load_model(None)``)."""
    return load_model(None)
