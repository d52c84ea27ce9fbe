"""console.api.TokenTimer: the one accumulator of token times into a Timing."""

from __future__ import annotations

import pytest

from console.api import TokenTimer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_measured_tokens_give_ttft_gaps_decode_and_e2e():
    clock = Clock()
    timer = TokenTimer(label="measured (test)", monotonic=clock)
    for t in (0.25, 0.30, 0.40, 0.45):  # tokens produced at these seconds after the start
        clock.now = 100.0 + t
        assert timer.token() == pytest.approx(t)
    clock.now = 100.5
    t = timer.timing()
    assert (t.ttft_s, t.e2e_s, t.clock, t.label) == (pytest.approx(0.25), pytest.approx(0.5), "measured",
                                                     "measured (test)")
    assert t.inter_token_s == pytest.approx((0.05, 0.10, 0.05))
    assert t.decode_s == pytest.approx(0.20) and t.prefill_s == pytest.approx(0.25)
    assert t.decode_tokens_per_s == pytest.approx(3 / 0.20)


def test_tokens_that_arrive_together_share_the_gap():
    timer = TokenTimer(start=0.0, monotonic=lambda: 0.0)
    timer.tokens(2, at=0.1)   # the first chunk: the second token came with the first
    timer.tokens(3, at=0.4)   # 0.3 s for three tokens
    t = timer.timing(end=0.5, queue_s=0.04)
    assert t.inter_token_s == pytest.approx((0.0, 0.1, 0.1, 0.1)) and timer.count == 5
    assert (t.queue_s, t.prefill_s) == (pytest.approx(0.04), pytest.approx(0.06))


def test_a_reply_without_tokens_and_times_that_go_backwards():
    timer = TokenTimer(start=0.0, monotonic=lambda: 0.0)
    t = timer.timing(end=0.3)
    assert (t.ttft_s, t.e2e_s, t.inter_token_s, t.decode_s) == (0.3, 0.3, (), 0.0)
    timer.token(0.2)
    assert timer.token(0.1) == 0.2  # never backwards
    assert timer.gaps == (0.0,)


def test_a_modeled_timer_ends_at_its_last_token():
    timer = TokenTimer(clock="modeled", label="modeled (test)", start=0.0)
    for i in range(4):
        timer.token(0.5 + 0.02 * i)
    t = timer.timing()
    assert (t.clock, t.ttft_s, t.e2e_s) == ("modeled", 0.5, pytest.approx(0.56))
    assert t.inter_token_s == pytest.approx((0.02,) * 3)
