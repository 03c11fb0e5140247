"""The per-person token bucket (bot/ratelimit.py), on a clock the test moves."""

from __future__ import annotations

import pytest

from bot.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_steady_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(burst=3, per_minute=6, clock=clock)  # one message every 10 s after the burst
    assert [limiter.try_acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.try_acquire("a") == pytest.approx(10.0)
    assert limiter.try_acquire("b") == 0.0  # per person
    clock.now += 4
    assert limiter.try_acquire("a") == pytest.approx(6.0)  # refused requests take nothing
    clock.now += 6
    assert limiter.try_acquire("a") == 0.0
    clock.now += 1000
    assert [limiter.try_acquire("a") for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # never more than the burst


def test_reserve_gives_each_message_a_later_turn() -> None:
    clock = Clock()
    limiter = RateLimiter(burst=2, per_minute=60, clock=clock)
    waits = [limiter.reserve("a") for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 1.0, 2.0, 3.0])  # nothing dropped, each in order


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(burst=0, per_minute=10)
    with pytest.raises(ValueError):
        RateLimiter(burst=1, per_minute=0)
