"""Delivering the outbox in step with a test, instead of waiting on the worker's thread."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery.timers import PENDING
from bot.delivery.worker import OutboxWorker
from bot.intake import opening
from storage.models import Timer


def drain(worker: OutboxWorker, timeout: float = 10.0) -> bool:
    """Deliver until nothing is pending or ``timeout`` passes; True if the outbox emptied.

    A ticket acked over HTTP is routed right after its ack, on the listener's thread
    (``bot.intake.opening``): its route step still pending counts as pending too, since
    the messages it queues are not in the outbox yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker.run_once() and idle(worker):
            return True
        time.sleep(0.02)
    return idle(worker)


def idle(worker: OutboxWorker) -> bool:
    """No route step pending, then (in that order: a step's rows commit with it) no
    message pending."""
    return not routing(worker.sessions) and not worker.pending()


def routed(sessions: sessionmaker[Session], timeout: float = 10.0) -> bool:
    """Wait until every ticket acked over HTTP has been routed (nothing delivered)."""
    deadline = time.monotonic() + timeout
    while routing(sessions) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not routing(sessions)


def routing(sessions: sessionmaker[Session]) -> int:
    """Tickets whose route step has not run yet."""
    with sessions() as s:
        stmt = select(func.count()).where(Timer.kind == opening.KIND, Timer.status == PENDING)
        return s.scalar(stmt) or 0
