"""How fast the app may call: Slack's per-channel posting limit, as a token bucket.

Why on its own: rate limits are state (buckets refill with wall time, since clients really
sleep on Retry-After) and a rule the dispatcher or a method consults; per-method tiers
belong here next to the channel bucket.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from bot.sandbox.emulator.errors import SlackError


class RateLimits:
    """The limits switched on, and their buckets; off until ``limit_channels``.

    ``monotonic`` is the wall clock buckets refill by (injected by tests).
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._channel_rate: tuple[float, float] | None = None
        self._buckets: dict[str, tuple[float, float]] = {}

    def limit_channels(self, per_second: float | None, burst: int) -> None:
        """Token-bucket posting per channel; ``per_second=None`` turns it off."""
        self._channel_rate = None if per_second is None else (per_second, float(burst))
        self._buckets.clear()

    def clear(self) -> None:
        """No limits, empty buckets."""
        self._channel_rate = None
        self._buckets.clear()

    def take_channel(self, channel: str) -> None:
        """Spend one post in ``channel``, or answer 429 ``ratelimited`` with Retry-After."""
        if self._channel_rate is None:
            return
        rate, burst = self._channel_rate
        now = self._monotonic()
        tokens, last = self._buckets.get(channel, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens < 1:
            self._buckets[channel] = (tokens, now)
            wait = max(1, math.ceil((1 - tokens) / rate))
            raise SlackError("ratelimited", status=429, headers={"Retry-After": str(wait)})
        self._buckets[channel] = (tokens - 1, now)
