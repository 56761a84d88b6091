"""Knowing when Slack is back: one cheap probe instead of every message backing off.

After Slack answers 5xx or can't be reached, every message that tried waits out its own
exponential backoff (up to 5 minutes): after an outage the backlog landed as late as its
last backoff, long after Slack was back. Instead, the first such failure makes Slack
*suspect*: the worker stops sending and probes with ``auth.test`` (Tier 4, no side effect)
at most every :data:`PROBE_EVERY`. A failed probe confirms the outage; the first probe
that succeeds after a confirmed one releases every message parked by it at once (the
scheduler then sends them most urgent first, within the channels' pacing). A probe that
succeeds straight away means the failure was the message's own: its backoff stands.

A 429 is not an outage: its Retry-After is honoured exactly, elsewhere (bot.delivery.due).
No Slack client here: the worker hands :meth:`Recovery.probe` the call to make.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from storage.models import OutboxMessage
from storage.queries import rowcount

log = logging.getLogger(__name__)

#: Seconds between probes while Slack seems down.
PROBE_EVERY = 2.0
#: ``last_error`` prefix of a message parked by Slack being unavailable.
UNAVAILABLE = "slack_unavailable"

UP, SUSPECT, DOWN = "up", "suspect", "down"


class Recovery:
    """Whether Slack is reachable, as the outbox last saw it; thread-safe."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self.state = UP
        self._last_probe = float("-inf")
        self.down_since: float | None = None

    def unavailable(self) -> None:
        """A call just failed with 5xx or no answer: stop sending until a probe says."""
        with self._lock:
            if self.state == UP:
                self.state = SUSPECT
                self._last_probe = float("-inf")  # probe at once: it may be one message's

    @property
    def up(self) -> bool:
        return self.state == UP

    def probe(
        self,
        call: Callable[[], object],
        sessions: sessionmaker[Session],
        now: datetime,
    ) -> bool:
        """Probe with ``call`` if one is due; True once Slack answers again (the messages a
        confirmed outage parked are then due at ``now``)."""
        with self._lock:
            started = self._monotonic()
            if self.state == UP:
                return True
            if started - self._last_probe < PROBE_EVERY:
                return False
            self._last_probe = started
        try:
            call()
        except Exception as err:  # 5xx, refused, timed out: still down
            with self._lock:
                if self.state == SUSPECT:
                    log.warning(
                        "outbox: Slack is unavailable (%s); probing every %.0fs", err, PROBE_EVERY
                    )
                    self.down_since = started
                self.state = DOWN
            return False
        with self._lock:
            confirmed, self.state = self.state == DOWN, UP
            since, self.down_since = self.down_since, None
        if confirmed:
            released = release(sessions, now)
            log.warning(
                "outbox: Slack answers again after %.0fs; %d messages released",
                self._monotonic() - (since or started),
                released,
            )
        return True


def release(sessions: sessionmaker[Session], now: datetime) -> int:
    """Every pending message parked by Slack being unavailable is due ``now``."""
    with sessions() as s, s.begin():
        return rowcount(
            s,
            update(OutboxMessage)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.last_error.like(f"{UNAVAILABLE}%"),
                OutboxMessage.next_attempt_at > now,
            )
            .values(next_attempt_at=now),
        )
