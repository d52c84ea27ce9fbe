"""Each server's metric names for the figures ``watch`` shows (serving-remote-v4.md §1, §3, §7).

A :class:`Profile` lists candidate names per figure, newest first (vLLM renamed
some: ``gpu_cache_usage_perc`` -> ``kv_cache_usage_perc``,
``time_per_output_token_seconds`` -> ``inter_token_latency_seconds``).
``moe-console serve`` prints vLLM's names (plus ``moe_console:`` extras), and
vllm-ascend is vLLM. llama-server has no latency histograms at all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    kind: str
    running: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()
    kv_usage: tuple[str, ...] = ()
    prompt_tokens: tuple[str, ...] = ()
    generation_tokens: tuple[str, ...] = ()
    ttft: tuple[str, ...] = ()  # histograms (base names)
    itl: tuple[str, ...] = ()
    e2e: tuple[str, ...] = ()
    step_tokens: tuple[str, ...] = ()  # histogram of tokens per engine step
    batch: tuple[str, ...] = ()  # a gauge of sequences per step, where there is one
    finished: str = ""  # counter of finished requests
    finished_label: str = ""  # its label that names the reason ("" when it has none)
    aborted: str = ""  # a separate abort counter, where there is one
    failed: str = ""


VLLM = Profile(
    kind="vllm",
    running=("vllm:num_requests_running",), waiting=("vllm:num_requests_waiting",),
    kv_usage=("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
    prompt_tokens=("vllm:prompt_tokens_total",), generation_tokens=("vllm:generation_tokens_total",),
    ttft=("vllm:time_to_first_token_seconds",),
    itl=("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
    e2e=("vllm:e2e_request_latency_seconds",), step_tokens=("vllm:iteration_tokens_total",),
    finished="vllm:request_success_total", finished_label="finished_reason",
)
SGLANG = Profile(
    kind="sglang",
    running=("sglang:num_running_reqs",), waiting=("sglang:num_queue_reqs",), kv_usage=("sglang:token_usage",),
    prompt_tokens=("sglang:prompt_tokens_total",), generation_tokens=("sglang:generation_tokens_total",),
    ttft=("sglang:time_to_first_token_seconds",), itl=("sglang:inter_token_latency_seconds",),
    e2e=("sglang:e2e_request_latency_seconds",),
    finished="sglang:num_requests_total", aborted="sglang:num_aborted_requests_total",
)
LLAMA = Profile(
    kind="llama-server",
    running=("llamacpp:requests_processing",), waiting=("llamacpp:requests_deferred",),
    kv_usage=("llamacpp:kv_cache_usage_ratio",),
    prompt_tokens=("llamacpp:prompt_tokens_total",), generation_tokens=("llamacpp:tokens_predicted_total",),
    batch=("llamacpp:n_busy_slots_per_decode",),
)
MINDIE = Profile(
    kind="mindie",
    running=("num_requests_running",), waiting=("num_requests_waiting",),
    prompt_tokens=("prompt_tokens_total",), generation_tokens=("generation_tokens_total",),
    ttft=("time_to_first_token_seconds",), itl=("time_per_output_token_seconds",),
    e2e=("e2e_request_latency_seconds",),
    finished="request_success_total", failed="request_failed_total",
)
MOE_CONSOLE = Profile(**{**VLLM.__dict__, "kind": "moe-console"})

PROFILES = (MOE_CONSOLE, VLLM, SGLANG, LLAMA, MINDIE)


def profile_for(names: set[str]) -> Profile | None:
    """The profile whose names a scrape uses (None when none is recognised)."""
    if any(n.startswith("moe_console:") for n in names):
        return MOE_CONSOLE
    for profile in (VLLM, SGLANG, LLAMA, MINDIE):
        if any(n in names for n in profile.running + profile.generation_tokens):
            return profile
    return None
