"""The outbox's scheduler: which rows go next, and whose they are meanwhile.

- one message per channel and round (Slack paces channels), paced per channel at
  about one message a second (:class:`Pacer`); a 429 holds the whole channel for
  ``Retry-After``;
- in order within a lane (a ticket's card, then its thread lines; a digest, then its
  chart), the most urgent lane first, and a lane waiting out a backoff never holds
  back its channel's other lanes (no head-of-line blocking);
- leases (``lease_owner``/``lease_until``) make a row one worker's at a time, also
  across replicas; a row whose lease ran out is marked :data:`UNCERTAIN`.

No Slack client here: what is due is SQL over ``outbox_messages``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.core.clock import Clock
from bot.delivery.outbox import CARD, DM, HOME, NOTICE
from storage.models import OutboxMessage
from storage.queries import rowcount

#: ``last_error`` of a row waiting out a 429: its whole channel waits with it.
RATELIMITED = "ratelimited"
#: In a row's result: an earlier attempt may have reached Slack, so look before posting.
UNCERTAIN = "uncertain"
#: In a pending row's result: released the moment its ticket's card posts.
WAITS_FOR_CARD = "waits_for_card"


class Pacer:
    """Token bucket per channel: ``rate`` messages a second with a small burst, on the
    ``monotonic`` clock (wall time; the demo gives it a virtual one)."""

    def __init__(
        self,
        rate: float = 1.0,
        burst: int = 2,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst = rate, burst
        self._monotonic = monotonic
        self._tokens: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_time(self, channel: str) -> float:
        """Seconds until ``channel`` may take a message (0 → now; the token is taken)."""
        with self._lock:
            now = self._monotonic()
            tokens, last = self._tokens.get(channel, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._tokens[channel] = (tokens - 1, now)
                return 0.0
            self._tokens[channel] = (tokens, now)
            return (1 - tokens) / self.rate

    def penalise(self, channel: str, seconds: float) -> None:
        """After a 429, the channel gets no tokens for ``seconds``."""
        with self._lock:
            self._tokens[channel] = (-seconds * self.rate, self._monotonic())


@dataclass
class DueRows:
    """What is due, leased to ``owner``; one per worker."""

    sessions: sessionmaker[Session]
    clock: Clock
    pacer: Pacer
    lease: timedelta
    owner: str

    def __post_init__(self) -> None:
        self.paced: float | None = None  # seconds until the soonest paced channel may post

    def pending(self) -> int:
        with self.sessions() as s:
            return (
                s.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status == "pending")
                )
                or 0
            )

    def heads(self) -> list[int]:
        """The message each channel sends next: the first of each lane, the most urgent
        lane that is due, oldest first. A lane in backoff waits alone; a channel with
        a rate-limited message waits as a whole (Slack limits the channel, and the
        message keeps its place). A channel the pacer holds back is left out this round;
        :attr:`paced` says when the first of those may go.

        The choice is made in SQL, one row per channel: a burst leaves hundreds of lanes
        in one channel (a card each, paced at one post a second) and hundreds more
        waiting (for a card, a notice window, a backoff), which Python looked at every
        round: on PostgreSQL a tenth of escbot's CPU during intake."""
        now = self.clock.now()
        lane = (OutboxMessage.channel, OutboxMessage.lane)
        lanes = (
            select(
                OutboxMessage.id,
                OutboxMessage.channel,
                OutboxMessage.kind,
                OutboxMessage.next_attempt_at,
                OutboxMessage.lease_until,
                OutboxMessage.last_error,
                func.row_number().over(partition_by=lane, order_by=OutboxMessage.id).label("n"),
                # a lane is as urgent as its most urgent message (e.g. a ticket raised to sev0)
                func.max(OutboxMessage.priority).over(partition_by=lane).label("priority"),
            )
            .where(OutboxMessage.status == "pending")
            .subquery()
        )
        leased = and_(lanes.c.lease_until.is_not(None), lanes.c.lease_until >= now)
        waiting = and_(lanes.c.next_attempt_at.is_not(None), lanes.c.next_attempt_at > now)
        ready = case((or_(leased, waiting), 0), else_=1)
        limited = case((and_(waiting, lanes.c.last_error == RATELIMITED), 1), else_=0)
        channel = lanes.c.channel
        heads = (
            select(
                lanes.c.id,
                channel,
                lanes.c.kind,
                lanes.c.priority,
                ready.label("ready"),
                func.row_number()
                .over(
                    partition_by=channel,
                    order_by=(ready.desc(), lanes.c.priority.desc(), lanes.c.id),
                )
                .label("m"),
                func.max(limited).over(partition_by=channel).label("limited"),
            )
            .where(lanes.c.n == 1)
            .subquery()
        )
        with self.sessions() as s:
            best = s.execute(
                select(heads.c.id, heads.c.channel, heads.c.kind, heads.c.priority).where(
                    heads.c.m == 1, heads.c.ready == 1, heads.c.limited == 0
                )
            ).all()
        # cards first: DMs queued after_card in the same round can then go at once
        chosen = sorted((b.kind != CARD, -b.priority, b.id, b.channel, b.kind) for b in best)
        due, waits = [], []
        for _not_card, _urgency, row_id, channel, kind in chosen:
            # App Home publishes are not channel posts: Slack's per-channel limit is not theirs
            wait = 0.0 if kind == HOME else self.pacer.wait_time(channel)
            if wait:
                waits.append(wait)
            else:
                due.append(row_id)
        self.paced = min(waits, default=None)
        return due

    def claim(self, row_id: int) -> bool:
        """Lease the row; a row whose last lease ran out (its worker died mid-call)
        is marked ``uncertain``: Slack may already have it, so look before posting."""
        now = self.clock.now()
        with self.sessions() as s, s.begin():
            previous = s.scalar(select(OutboxMessage.lease_owner).where(OutboxMessage.id == row_id))
            values: dict[str, Any] = {"lease_owner": self.owner, "lease_until": now + self.lease}
            if previous is not None:
                values["result"] = {UNCERTAIN: True}
            claimed = rowcount(
                s,
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, OutboxMessage.status == "pending")
                .where(or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now))
                .values(**values),
            )
        return claimed == 1

    def holds(self, row: OutboxMessage) -> bool:
        """``row`` is still pending and leased to this worker."""
        return row.lease_owner == self.owner and row.status == "pending"

    def claim_all(self, s: Session, *where: ColumnElement[bool]) -> list[OutboxMessage]:
        """Lease every free row matching ``where`` in ``s``'s transaction; the matching rows
        this worker holds, the most urgent first."""
        now = self.clock.now()
        s.execute(
            update(OutboxMessage)
            .where(*where)
            .where(or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now))
            .values(lease_owner=self.owner, lease_until=now + self.lease)
        )
        return list(
            s.scalars(
                select(OutboxMessage)
                .where(*where, OutboxMessage.lease_owner == self.owner)
                .order_by(OutboxMessage.priority.desc(), OutboxMessage.id)
            )
        )

    def hold(self, row: OutboxMessage, wait: timedelta, *, for_card: bool = False) -> None:
        """``row`` is not ready (an earlier message first, or company for a notice): it goes
        back, due after ``wait`` or, ``for_card``, as soon as its ticket's card posts."""
        row.next_attempt_at = self.clock.now() + wait
        row.lease_owner = row.lease_until = None
        if for_card:
            row.result = {**row.result, WAITS_FOR_CARD: True}

    def card_posted(self, s: Session, ticket_id: int) -> None:
        """The DMs and notices waiting for this card are due now. Runs after the card's
        ``card_ts`` update, which waits for a DM that is being marked (its planner holds
        the ticket's row): its mark is seen here."""
        now = self.clock.now()
        for row in s.scalars(
            select(OutboxMessage).where(
                OutboxMessage.ticket_id == ticket_id,
                OutboxMessage.status == "pending",
                OutboxMessage.kind.in_((DM, NOTICE)),
            )
        ):
            if row.result.get(WAITS_FOR_CARD):
                row.result = {k: v for k, v in row.result.items() if k != WAITS_FOR_CARD}
                row.next_attempt_at = now

    @staticmethod
    def release(s: Session, row_ids: tuple[int, ...]) -> None:
        """Rows leased to ride along with one that failed (a person's other notices): free
        for the next attempt, with no attempt counted."""
        if row_ids:
            s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(row_ids))
                .values(lease_owner=None, lease_until=None)
            )
