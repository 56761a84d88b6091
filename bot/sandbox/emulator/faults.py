"""Fault injection: the failures a test switches on to see the app cope with a bad Slack.

Why apart from the rules: faults are not Slack's behaviour but the network's and the
platform's bad days (rate limits, 5xx, outages, answers lost after the work was done,
slowness), switched on and off at runtime; the dispatcher asks here before every call.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.emulator.errors import SlackError


@dataclass
class Fault:
    """The next ``remaining`` calls of ``method`` ("*": any) fail so (None: until cleared)."""

    method: str
    error: str
    status: int
    retry_after: int | None
    remaining: int | None
    extra: dict[str, Any] = field(default_factory=dict)


class Faults:
    """The faults switched on; thread-safe on its own lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Seconds added to every request (wall time), to make slowness visible.
        self.latency: float = 0.0
        self._lost: dict[str, int] = {}
        self.reset()

    def reset(self) -> None:
        """No faults, no outage, no random failures (a fresh unseeded generator)."""
        with self._lock:
            self._faults: list[Fault] = []
            self._outage = False
            self._ratio = 0.0
            self._rng = random.Random()

    def clear(self) -> None:
        """Remove injected faults, the outage, the random failure ratio and lost answers."""
        with self._lock:
            self._faults.clear()
            self._outage = False
            self._ratio = 0.0
            self._lost.clear()

    def fail(
        self,
        method: str,
        error: str | None = None,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
        **extra: Any,
    ) -> None:
        """Fail the next ``times`` calls of ``method`` ("*": any); ``times=None``: until cleared.

        No error and no status → 429 ratelimited (Retry-After 1); a status alone → that HTTP
        error; an error alone → HTTP 200 with ``ok: false``. ``extra`` goes into the answer
        (e.g. ``needed="im:history"`` with ``missing_scope``).
        """
        if status is None:
            status = 200 if error else 429
        if error is None:
            error = {429: "ratelimited", 503: "service_unavailable"}.get(status, "internal_error")
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._faults.append(Fault(method, error, status, retry_after, times, extra))

    def lose_answers(self, method: str, times: int = 1) -> None:
        """Process the next ``times`` calls of ``method`` but drop the connection instead of
        answering: the client can't know the call took effect (a crash or network cut)."""
        with self._lock:
            self._lost[method] = self._lost.get(method, 0) + times

    def outage(self, on: bool = True) -> None:
        """While on, every request answers HTTP 503."""
        with self._lock:
            self._outage = on

    def fail_ratio(self, ratio: float, seed: int | None = None) -> None:
        """Fail this fraction of requests at random, half 429 (Retry-After 1), half 500."""
        with self._lock:
            self._ratio = ratio
            self._rng = random.Random(seed)

    def check(self, method: str) -> None:
        """Raise the fault due for this call of ``method``, if any (and count it down)."""
        with self._lock:
            if self._outage:
                raise SlackError("service_unavailable", status=503)
            fault = next((f for f in self._faults if f.method in (method, "*")), None)
            if fault is not None:
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                retry = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
                raise SlackError(fault.error, status=fault.status, headers=retry, **fault.extra)
            if self._ratio and self._rng.random() < self._ratio:
                if self._rng.random() < 0.5:
                    raise SlackError("ratelimited", status=429, headers={"Retry-After": "1"})
                raise SlackError("internal_error", status=500)

    def take_lost(self, method: str) -> bool:
        """Whether this answer of ``method`` is to be lost (counting it down)."""
        with self._lock:
            if self._lost.get(method, 0) > 0:
                self._lost[method] -= 1
                return True
            return False
