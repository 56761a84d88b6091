"""The per-channel posting bucket (rules/rate.py), on an injected monotonic clock."""

from __future__ import annotations

import pytest

from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.rules.rate import RateLimits


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_off_until_switched_on() -> None:
    limits = RateLimits(Ticks())
    for _ in range(100):
        limits.take_channel("C1")


def test_burst_then_429_with_retry_after_then_refill() -> None:
    ticks = Ticks()
    limits = RateLimits(ticks)
    limits.limit_channels(per_second=0.5, burst=2)
    limits.take_channel("C1")
    limits.take_channel("C1")
    with pytest.raises(SlackError) as e:
        limits.take_channel("C1")
    assert (e.value.error, e.value.status) == ("ratelimited", 429)
    assert e.value.headers == {"Retry-After": "2"}  # one post per 2 s at 0.5/s
    limits.take_channel("C2")  # another channel has its own bucket
    ticks.now += 2.0
    limits.take_channel("C1")
    with pytest.raises(SlackError):
        limits.take_channel("C1")


def test_turning_off_or_clearing_forgets_buckets() -> None:
    limits = RateLimits(Ticks())
    limits.limit_channels(per_second=1.0, burst=1)
    limits.take_channel("C1")
    limits.limit_channels(per_second=1.0, burst=1)  # switched on again: full buckets
    limits.take_channel("C1")
    limits.limit_channels(per_second=None, burst=1)
    limits.take_channel("C1")
    limits.limit_channels(per_second=1.0, burst=1)
    limits.take_channel("C1")
    limits.clear()
    limits.take_channel("C1")
    limits.take_channel("C1")
