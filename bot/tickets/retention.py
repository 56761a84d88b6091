"""Data retention: redact what partners wrote once it is no longer needed.

Details and content links of tickets resolved longer ago than
``retention.redact_after`` are replaced; content links keep a SHA-256 of their
normalised form so "escalated again and again" still matches. Keys, categories,
timestamps, decisions and the append-only audit trail stay.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.tickets.lifecycle import Status, record
from storage.db import transaction
from storage.models import ContentItem, Ticket

REDACTED = "[redacted under the retention policy]"
BATCH = 500


def redact_due(session: Session, cfg: AppConfig, now: datetime) -> int:
    """Redact up to ``BATCH`` due tickets in the caller's transaction; returns how many."""
    if cfg.retention.redact_after is None:
        return 0
    cutoff = now - cfg.retention.redact_after
    tickets = session.scalars(
        select(Ticket)
        .where(Ticket.status == Status.RESOLVED.value, Ticket.resolved_at < cutoff)
        .where(Ticket.redacted_at.is_(None))
        .order_by(Ticket.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    for ticket in tickets:
        ticket.details = REDACTED
        ticket.source_permalink = None
        for item in session.scalars(select(ContentItem).where(ContentItem.ticket_id == ticket.id)):
            item.raw = REDACTED
            item.normalized = "sha256:" + hashlib.sha256(item.normalized.encode()).hexdigest()
        ticket.redacted_at = now
        record(
            session,
            ticket,
            "redact",
            actor="escbot",
            now=now,
            payload={"policy": f"redact_after {cfg.retention.redact_after}"},
        )
    return len(tickets)


def redact_all_due(sessions: sessionmaker[Session], cfg: AppConfig, now: datetime) -> int:
    """Redact every due ticket, one short transaction per batch (the daily job)."""
    total = 0
    while True:
        with transaction(sessions) as session:
            done = redact_due(session, cfg, now)
        total += done
        if done < BATCH:
            return total
