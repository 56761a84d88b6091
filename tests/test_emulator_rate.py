"""Rate limits (rules/rate.py): Slack's tiers per method and chat.postMessage's bucket per
channel, on an injected monotonic clock."""

from __future__ import annotations

import pytest

from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.rules.rate import RateLimits


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_slack_budgets_by_default_none_when_named_off() -> None:
    limits = RateLimits(Ticks())
    for _ in range(3):  # chat.postMessage: 1/s per channel, a burst of 3
        limits.take_channel("C1")
    with pytest.raises(SlackError):
        limits.take_channel("C1")
    kind = RateLimits(Ticks(), off=True)
    for _ in range(100):
        kind.take_channel("C1")
        kind.take_method("conversations.open")


@pytest.mark.parametrize(
    ("method", "budget"),
    [("apps.connections.open", 1), ("conversations.open", 50), ("views.publish", 100)],
)
def test_each_tier_allows_its_budget_a_minute_then_429(method: str, budget: int) -> None:
    ticks = Ticks()
    limits = RateLimits(ticks)
    for _ in range(max(budget, 3)):  # Tier 1 tolerates a burst of 3
        limits.take_method(method)
    with pytest.raises(SlackError) as e:
        limits.take_method(method)
    assert (e.value.error, e.value.status) == ("ratelimited", 429)
    retry_after = int(e.value.headers["Retry-After"])
    assert retry_after == max(1, -(-60 // budget))
    limits.take_method("users.info")  # another method has its own budget
    ticks.now += retry_after  # a client waiting out Retry-After gets its call
    limits.take_method(method)


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
