"""How fast the app may call: Slack's rate tiers per method, and chat.postMessage per channel.

Slack limits each Web API method "per API method per workspace per app" by tier, and
chat.postMessage (a Special tier) to about one message a second per channel with short
bursts (https://docs.slack.dev/apis/web-api/rate-limits). Past a budget Slack answers
HTTP 429 ``ratelimited`` with ``Retry-After`` in seconds, and so does the fake.

Each budget is a token bucket: a tier's per-minute budget is its burst and refills evenly
over the minute ("a small amount of burst behavior is tolerated" for Tier 1, "generous"
for Tier 4). Buckets refill with wall time, since clients really sleep on Retry-After.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from bot.sandbox.emulator.errors import SlackError

#: Requests per minute of each tier (Slack documents them as "1+", "20+", "50+", "100+").
TIER_BUDGETS = {1: 1, 2: 20, 3: 50, 4: 100}
#: Tier 1 "tolerates a small amount of burst behavior": calls at once before the minute's
#: pace applies (the other tiers' bursts are their budgets).
TIER1_BURST = 3

#: Each method's tier, as its page at https://docs.slack.dev/reference/methods/<name> says.
#: chat.postMessage is Special (per channel, below); auth.test, api.test and
#: chat.getPermalink are Special too, with limits Slack does not publish: Tier 4 here.
METHOD_TIERS = {
    "api.test": 4,
    "apps.connections.open": 1,
    "auth.test": 4,
    "chat.delete": 3,
    "chat.getPermalink": 4,
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "conversations.history": 3,
    "conversations.info": 3,
    "conversations.join": 3,
    "conversations.open": 3,
    "conversations.replies": 3,
    "files.completeUploadExternal": 4,
    "files.getUploadURLExternal": 4,
    "reactions.add": 3,
    "team.info": 3,
    "users.info": 4,
    "views.open": 4,
    "views.publish": 4,
    "views.push": 4,
    "views.update": 4,
}

#: chat.postMessage: "1 per second per channel, short bursts >1 allowed".
CHANNEL_RATE, CHANNEL_BURST = 1.0, 3


class RateLimits:
    """The budgets in force and their buckets; Slack's unless ``off``.

    ``monotonic`` is the wall clock buckets refill by (injected by tests).
    """

    def __init__(
        self, monotonic: Callable[[], float] = time.monotonic, *, off: bool = False
    ) -> None:
        self._monotonic = monotonic
        self._off = off
        self._channel_rate: tuple[float, float] | None = None
        self._buckets: dict[str, tuple[float, float]] = {}
        self.clear()

    def limit_channels(self, per_second: float | None, burst: int) -> None:
        """chat.postMessage's bucket per channel; ``per_second=None`` turns it off."""
        self._channel_rate = None if per_second is None else (per_second, float(burst))
        self._buckets = {k: v for k, v in self._buckets.items() if not k.startswith("#")}

    def clear(self) -> None:
        """Slack's budgets again (none with ``off``), all buckets full."""
        self._channel_rate = None if self._off else (CHANNEL_RATE, float(CHANNEL_BURST))
        self._buckets.clear()

    def take_method(self, method: str) -> None:
        """Spend one call of ``method`` from its tier's budget, or answer 429."""
        tier = METHOD_TIERS.get(method)
        if tier is None or self._off:
            return
        budget = TIER_BUDGETS[tier]
        self._take(method, budget / 60, TIER1_BURST if tier == 1 else budget)

    def take_channel(self, channel: str) -> None:
        """Spend one post in ``channel``, or answer 429 ``ratelimited`` with Retry-After."""
        if self._channel_rate is None:
            return
        rate, burst = self._channel_rate
        self._take(f"#{channel}", rate, burst)

    def _take(self, key: str, rate: float, burst: float) -> None:
        now = self._monotonic()
        tokens, last = self._buckets.get(key, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            wait = max(1, math.ceil((1 - tokens) / rate))
            raise SlackError("ratelimited", status=429, headers={"Retry-After": str(wait)})
        self._buckets[key] = (tokens - 1, now)
