"""Measured runs (``data/runs.toml``): what the model is fitted to and held against.

One :class:`Record` is one measured point, normalised to the model's terms:

* figures **per chip** (a 910C package, not a die: vLLM-Ascend's "per card" is
  halved on the way in, see each record's ``derivation``);
* **output** tokens only (InferenceX and the SGLang cookbook print total
  = input + output tokens per GPU; the record keeps the output share);
* TPOT **effective** (per output token, as vendors print it with MTP on); the
  step time is ``TPOT x (1 + accepted)``.

``metric`` says which figure was measured: ``output_tok_s_per_chip`` (decode
output throughput per decode chip, or per chip of an aggregated deployment),
``tpot_ms`` (effective time per output token of one sequence at that load) or
``prefill_tok_s_per_chip``. ``kind`` says who measured it and how:
``independent`` (third party), ``engine-team`` (the serving engine's own
maintainers), ``vendor-offline`` (the chip vendor, a fixed-batch loop without a
serving scheduler) or ``dev-pr`` (a development pull request). ``stack`` names
the serving software (``data/stacks.toml``: its per-layer latency, its
calibration, its kernels' efficiency per weight format). A run that the
model cannot be held to carries ``unmatched`` (why) instead of a setup.
A user's own runs use the same format (``moe-console validate --runs FILE``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from console.perf.datafiles import PerfDataError, data, read_toml
from console.perf.deployment import Deployment

METRICS = ("output_tok_s_per_chip", "tpot_ms", "prefill_tok_s_per_chip")
KINDS = ("independent", "engine-team", "vendor-offline", "vendor", "dev-pr", "user")

#: Record fields that override the deployment of the model (``None``: the default's).
_DEPLOYMENT_FIELDS = ("ep", "tp", "moe_parallel", "redundant_experts", "attention_dtype", "routed_weights",
                      "other_weights", "routed_compute", "kv_cache_dtype", "mtp_depth", "mtp_accepted",
                      "expert_balance", "allreduce_link", "prefill_gemm_dtype", "prefill_attention_dtype",
                      "ranks_per_chip")


@dataclass(frozen=True)
class Record:
    """One published (or user) measurement with its conditions (see the module doc)."""

    id: str
    run: str
    hardware: str
    model: str
    phase: str
    metric: str
    measured: float
    source: str
    who: str = ""
    kind: str = "independent"
    role: str = "held-out"
    chips: int = 0
    serving: str = "pd"
    batch_per_chip: float = 0.0
    context: float = 0.0
    prompt_tokens: int = 0
    output_tokens: int = 0
    two_batch_overlap: bool = True
    calibration: str | None = None
    stack: str | None = None
    derivation: str = ""
    conditions: str = ""
    assumed: tuple[str, ...] = ()
    unmatched: str = ""
    ep: int | None = None
    tp: int | None = None
    moe_parallel: str | None = None
    redundant_experts: int | None = None
    attention_dtype: str | None = None
    routed_weights: str | None = None
    other_weights: str | None = None
    routed_compute: str | None = None
    kv_cache_dtype: str | None = None
    mtp_depth: int | None = None
    mtp_accepted: float | None = None
    expert_balance: str | None = None
    allreduce_link: str | None = None
    prefill_gemm_dtype: str | None = None
    prefill_attention_dtype: str | None = None
    ranks_per_chip: int | None = None

    @property
    def matched(self) -> bool:
        return not self.unmatched

    @property
    def tokens_per_step(self) -> float:
        return 1.0 + (self.mtp_accepted or 0.0)

    @property
    def tokens_per_s_per_chip(self) -> float:
        """Measured output (or prefill) tokens per second per chip, whatever the metric."""
        if self.metric == "tpot_ms":
            return self.batch_per_chip * 1e3 / self.measured
        return self.measured

    @property
    def step_seconds(self) -> float:
        """Decode step time the measurement implies: ``B x tokens per step / tok/s``."""
        return self.batch_per_chip * self.tokens_per_step / self.tokens_per_s_per_chip

    def deployment(self, base: Deployment) -> Deployment:
        """``base`` with this run's parallelism, formats, MTP, balance and serving mode."""
        changes = {k: getattr(self, k) for k in _DEPLOYMENT_FIELDS if getattr(self, k) is not None}
        if self.phase == "prefill":
            return base.replace(**{k: v for k, v in changes.items() if k.startswith("prefill_")})
        return base.replace(pd_disaggregated=self.serving == "pd", **changes)

    def conditions_text(self) -> str:
        """Short conditions for a label: ``offline, forced balance, MTP1``."""
        parts = [self.conditions] if self.conditions else []
        if self.serving == "aggregated":
            parts.append("aggregated")
        if self.expert_balance == "forced":
            parts.append("forced balance")
        if self.mtp_depth:
            parts.append(f"MTP{self.mtp_depth}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


_FIELDS = {f.name: f for f in fields(Record)}
_REQUIRED = ("run", "hardware", "model", "phase", "metric", "measured", "source")
_SETUP = {"decode": ("batch_per_chip", "context"), "prefill": ("prompt_tokens",)}


def record_from_table(record_id: str, entry: dict[str, Any], where: str) -> Record:
    """Build and check one record from a parsed TOML table."""
    unknown = sorted(set(entry) - set(_FIELDS))
    if unknown:
        raise PerfDataError(f"{where}: unknown key(s) {', '.join(unknown)}")
    missing = [k for k in _REQUIRED if k not in entry]
    if not entry.get("unmatched"):
        missing += [k for k in _SETUP.get(entry.get("phase", ""), ()) if k not in entry]
    if missing:
        raise PerfDataError(f"{where}: missing key(s) {', '.join(missing)}")
    if entry["phase"] not in _SETUP:
        raise PerfDataError(f"{where}: phase must be decode or prefill (got {entry['phase']!r})")
    if entry["metric"] not in METRICS:
        raise PerfDataError(f"{where}: metric must be one of {', '.join(METRICS)} (got {entry['metric']!r})")
    if entry.get("kind", "independent") not in KINDS:
        raise PerfDataError(f"{where}: kind must be one of {', '.join(KINDS)}")
    if entry.get("serving", "pd") not in ("pd", "aggregated"):
        raise PerfDataError(f"{where}: serving must be pd or aggregated")
    value = entry["measured"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise PerfDataError(f"{where}: measured must be a positive number (got {value!r})")
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in entry.items()}
    return Record(id=record_id, **values)


def load_records(content: dict[str, Any], where: str) -> list[Record]:
    """Every table of a parsed runs file, in file order."""
    return [record_from_table(rid, entry, f"{where} [{rid}]")
            for rid, entry in content.items() if isinstance(entry, dict)]


def record(record_id: str) -> Record:
    """Shipped record ``record_id``; an unknown id lists the known ones."""
    content = data("runs.toml")
    if record_id not in content:
        raise PerfDataError(f"runs.toml: no run {record_id!r}; known: {', '.join(content)}")
    return record_from_table(record_id, content[record_id], f"runs.toml [{record_id}]")


def records() -> list[Record]:
    """Every shipped record, in file order."""
    return load_records(data("runs.toml"), "runs.toml")


def records_file(path: str | Path) -> list[Record]:
    """Records of a user's runs file (same format as ``data/runs.toml``)."""
    return load_records(read_toml(path), str(path))
