"""What ``escbot outbox`` shows and does: the pending and dead messages, and retrying."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from storage.db import transaction
from storage.models import OutboxMessage
from storage.queries import rowcount


@dataclass(frozen=True)
class Row:
    id: int
    status: str
    kind: str
    channel: str
    attempts: int
    created_at: datetime
    last_error: str | None


def listing(sessions: sessionmaker[Session], limit: int = 200) -> list[Row]:
    """Pending and dead messages, oldest first (sent ones are history)."""
    with sessions() as s:
        rows = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status.in_(("pending", "dead")))
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return [
            Row(r.id, r.status, r.kind, r.channel, r.attempts, r.created_at, r.last_error)
            for r in rows
        ]


def retry_dead(sessions: sessionmaker[Session]) -> int:
    """Queue dead messages again (after their cause was fixed); returns how many."""
    with transaction(sessions) as s:
        return rowcount(
            s,
            update(OutboxMessage)
            .where(OutboxMessage.status == "dead")
            .values(status="pending", next_attempt_at=None, lease_owner=None, lease_until=None),
        )
