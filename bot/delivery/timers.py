"""Durable timers: escalation steps, SLA notices, follow-up reminders.

A timer is a row (``storage.models.Timer``) written in the transaction that
makes it necessary, so a restart loses nothing. ``TimerRunner.run_due`` fires
each due timer in its own transaction together with its effects (audit lines,
outbox messages): the effects and the "fired" mark commit together, exactly
once. Replicas don't collide: on PostgreSQL a due row is taken with
``FOR UPDATE SKIP LOCKED``; SQLite serialises writers with ``BEGIN IMMEDIATE``,
and the runner re-checks the status under that lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.core.clock import Clock
from storage.models import Ticket, Timer
from storage.queries import insert_all_new, insert_new, rowcount

log = logging.getLogger(__name__)

PENDING, FIRED, CANCELLED, FAILED = "pending", "fired", "cancelled", "failed"
MAX_ATTEMPTS = 5

#: (session, timer, now) → None; runs inside the firing transaction
TimerHandler = Callable[[Session, Timer, datetime], None]


def schedule(
    session: Session,
    kind: str,
    dedup_key: str,
    due_at: datetime,
    *,
    ticket: Ticket | None = None,
    payload: dict[str, Any] | None = None,
) -> bool:
    """Schedule a timer once: a second call with the same ``dedup_key`` does nothing."""
    if ticket is not None:
        session.flush()
    return insert_new(
        session,
        Timer.__table__,
        dedup_key=dedup_key[:200],
        kind=kind,
        ticket_id=None if ticket is None else ticket.id,
        due_at=due_at,
        payload=payload or {},
        status=PENDING,
    )


def schedule_all(
    session: Session, kind: str, ticket: Ticket, due: Iterable[tuple[str, datetime, dict[str, Any]]]
) -> None:
    """:func:`schedule` for several of a ticket's timers, ``(dedup_key, due_at, payload)``
    each, in one statement (a new ticket's SLA clocks are four)."""
    session.flush()
    rows = [
        {"dedup_key": key[:200], "kind": kind, "ticket_id": ticket.id, "due_at": at,
         "payload": payload, "status": PENDING}
        for key, at, payload in due
    ]  # fmt: skip
    insert_all_new(session, Timer.__table__, rows)


def take(session: Session, dedup_key: str) -> Timer | None:
    """The pending timer ``dedup_key``, locked until the transaction ends, to fire ahead of
    its due time; None once it fired or was cancelled. A runner firing it this moment is
    waited for, then the row is read again (PostgreSQL re-checks the status of a row it
    waited on; SQLite's ``BEGIN IMMEDIATE`` already waited), so it never fires twice."""
    return session.scalars(
        select(Timer)
        .where(Timer.dedup_key == dedup_key[:200], Timer.status == PENDING)
        .with_for_update()
    ).first()


def fire(session: Session, timer: Timer, handler: TimerHandler, now: datetime) -> None:
    """Run ``timer``'s handler and mark it fired, in the caller's (locking) transaction."""
    handler(session, timer, now)
    fired(timer, now)


def fired(timer: Timer, now: datetime) -> None:
    """Mark ``timer`` fired: its effects commit with this mark, or neither does."""
    timer.status, timer.fired_at = FIRED, now


def cancel(session: Session, ticket_id: int, kinds: Iterable[str]) -> int:
    """Cancel a ticket's pending timers of ``kinds`` (e.g. on ack, resolve)."""
    return rowcount(
        session,
        update(Timer)
        .where(Timer.ticket_id == ticket_id, Timer.kind.in_(list(kinds)), Timer.status == PENDING)
        .values(status=CANCELLED),
    )


def cancel_pending(session: Session, *where: ColumnElement[bool]) -> None:
    """Cancel the pending timers matching ``where``, passing over one a runner is firing
    this very moment (its row is locked): neither waits on the other, and that timer's
    handler re-checks its subject under the subject's own lock before acting."""
    ids = session.scalars(
        select(Timer.id).where(Timer.status == PENDING, *where).with_for_update(skip_locked=True)
    ).all()
    if ids:
        session.execute(update(Timer).where(Timer.id.in_(ids)).values(status=CANCELLED))


@dataclass
class TimerRunner:
    sessions: sessionmaker[Session]
    clock: Clock
    handlers: dict[str, TimerHandler] = field(default_factory=dict)

    def register(self, kind: str, handler: TimerHandler) -> None:
        if kind in self.handlers:
            raise ValueError(f"timer kind {kind!r} registered twice")
        self.handlers[kind] = handler

    def run_due(self, limit: int = 500) -> int:
        """Fire up to ``limit`` due timers; returns how many fired."""
        fired = 0
        while fired < limit:
            outcome = self._fire_one()
            if outcome is None:
                break
            fired += outcome
        return fired

    def _fire_one(self) -> int | None:
        """Fire the earliest due timer: 1 fired, 0 failed (retried later), None: none due."""
        now = self.clock.now()
        timer_id: int | None = None
        kind = "?"
        with self.sessions() as s:
            try:
                with s.begin():
                    timer = s.scalars(
                        select(Timer)
                        .where(Timer.status == PENDING, Timer.due_at <= now)
                        .order_by(Timer.due_at, Timer.id)
                        .limit(1)
                        .with_for_update(skip_locked=True)
                    ).first()
                    if timer is None:
                        return None
                    timer_id, kind = timer.id, timer.kind
                    handler = self.handlers.get(kind)
                    if handler is None:
                        raise LookupError(f"no handler for timer kind {kind!r}")
                    fire(s, timer, handler, now)
                    return 1
            except Exception:
                log.exception("timer %s (%s) failed", timer_id, kind)
        if timer_id is None:  # the database itself failed: try again next round
            return None
        self._postpone(timer_id, now)
        return 0

    def _postpone(self, timer_id: int, now: datetime) -> None:
        """A failed timer is retried with backoff, then given up on (and logged)."""
        with self.sessions() as s, s.begin():
            timer = s.get_one(Timer, timer_id)
            attempts = int(timer.payload.get("_attempts", 0)) + 1
            timer.payload = {**timer.payload, "_attempts": attempts}
            if attempts >= MAX_ATTEMPTS:
                timer.status = FAILED
                log.error("timer %s (%s) gave up after %d attempts", timer_id, timer.kind, attempts)
            else:
                timer.due_at = now + timedelta(seconds=30 * 2**attempts)
