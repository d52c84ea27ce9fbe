"""Measured cost of one reply, from its measured timing.

Times are ``time.monotonic()`` values read where the engine produced each
token, accumulated by ``console.api.TokenTimer`` (the engine does not report
when it began this sequence's prefill, so the whole time to first token is
counted as prefill). Cost charges this machine's price per hour
for the measured time: prefill time to the prompt tokens, decode time to the
generated tokens, expressed as USD per million tokens at the measured rates.

The engine reuses the cache of a prompt's known prefix (earlier turns of the
conversation), so a later turn prefills only its new tokens: its input rate,
spread over every prompt token, is lower than a first turn's, as a server
with prefix caching bills cached input tokens lower (the label says so). The
first turn's prefill holds no one-time work: the engine prepares the model's
weights before the reply's clock starts (``console.engine.aio.shared_engine``).
"""

from __future__ import annotations

from console.api import Cost, Timing, Usage

TIMING_LABEL = "measured (numpy engine on this machine)"
#: Default price of this machine, USD per hour, and where it comes from.
DEFAULT_PRICE_USD_PER_HOUR = 0.10
PRICE_DATE = "2026-11-28"
PRICE_NOTE = (
    "assumption: on-demand price of a small 2-vCPU cloud VM, about 0.10 USD/h "
    f"({PRICE_DATE}); set the price_usd_per_hour option to your own"
)


def measured_cost(timing: Timing, usage: Usage, price_usd_per_hour: float) -> Cost:
    """Cost of the reply at the measured prefill and decode rates.

    USD per million input tokens = price per second x prefill seconds per prompt
    token x 10^6; output likewise from the mean inter-token gap. A reply of one
    token has no decode rate: its output rate is reported as 0 and the label
    says so."""
    per_s = price_usd_per_hour / 3600.0
    per_m_in = per_s * timing.prefill_s / usage.prompt_tokens * 1e6 if usage.prompt_tokens else 0.0
    gaps = timing.inter_token_s
    per_m_out = per_s * (sum(gaps) / len(gaps)) * 1e6 if gaps else 0.0
    if price_usd_per_hour == DEFAULT_PRICE_USD_PER_HOUR:
        note, date = PRICE_NOTE, PRICE_DATE
    else:
        note, date = "price_usd_per_hour option (set by the user)", ""
    note += "; input rate over every prompt token, prefix-cache hits included"
    if usage.completion_tokens and not gaps:
        note += "; output rate not measured (one token)"
    return Cost(
        input_usd=usage.prompt_tokens * per_m_in / 1e6,
        output_usd=usage.completion_tokens * per_m_out / 1e6,
        usd_per_m_input=per_m_in,
        usd_per_m_output=per_m_out,
        price_usd_per_chip_hour=price_usd_per_hour,
        price_date=date,
        label=note,
    )
