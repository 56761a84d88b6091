"""Data retention: redact what partners wrote once it is no longer needed, and drop
bookkeeping rows that have done their job.

Details and content links of tickets resolved longer ago than
``retention.redact_after`` are replaced; content links keep a SHA-256 of their
normalised form so "escalated again and again" still matches. Keys, categories,
timestamps, decisions and the append-only audit trail stay.

The ids of handled Slack requests (``processed_requests``: retries, replays,
double submissions; useless once Slack's five minutes are long past) go after
``retention.requests_after``; delivered outbox messages (sent, or superseded
by a newer card) after ``retention.outbox_after``. Dead messages stay for
``escbot outbox --retry-dead``.

The QA programme's data has periods of its own (:func:`prune_qa`): a vendor's
decisions are deleted ``retention.qa_decisions_after`` their ``decided_at`` unless
drawn for grading, and the drawn ones lose their content reference and agent (the
grades and weights, hence past scores, stay); grade notes are redacted after
``qa_grades_after``; a clarification's text and examples ``qa_clarifications_after``
its acknowledgement (or its proposal, if it never went out).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, exists, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from bot.config import AppConfig
from bot.tickets.lifecycle import Status, record
from storage.db import transaction
from storage.models import (
    ContentItem,
    OutboxMessage,
    ProcessedRequest,
    QaClarification,
    QaDecision,
    QaGrade,
    QaItem,
    Ticket,
)
from storage.queries import MILESTONE

REDACTED = "[redacted under the retention policy]"
BATCH = 500
PRUNE_BATCH = 5000
DELIVERED = ("sent", "superseded")  # dead messages stay until retried or looked into


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


def prune_bookkeeping(sessions: sessionmaker[Session], cfg: AppConfig, now: datetime) -> int:
    """Delete request ids and delivered outbox rows older than configured; returns how many."""
    keep = cfg.retention
    requests = _delete_in_batches(
        sessions,
        ProcessedRequest.key,
        select(ProcessedRequest.key).where(
            ProcessedRequest.created_at < now - keep.requests_after,
            ProcessedRequest.key.not_like(MILESTONE + "%"),
        ),
    )
    delivered = _delete_in_batches(
        sessions,
        OutboxMessage.id,
        select(OutboxMessage.id).where(
            OutboxMessage.status.in_(DELIVERED),
            OutboxMessage.delivered_at < now - keep.outbox_after,
        ),
    )
    return requests + delivered


def _delete_in_batches(
    sessions: sessionmaker[Session], key: InstrumentedAttribute[Any], due: Select[Any]
) -> int:
    """A batch per short transaction: SQLite's writers wait on each."""
    total = 0
    while True:
        with transaction(sessions) as session:
            batch = session.scalars(due.limit(PRUNE_BATCH)).all()
            if batch:
                session.execute(delete(key.class_).where(key.in_(batch)))
        total += len(batch)
        if len(batch) < PRUNE_BATCH:
            return total


def prune_qa(sessions: sessionmaker[Session], cfg: AppConfig, now: datetime) -> int:
    """Delete or redact the QA programme's data past its periods; returns rows touched."""
    keep, total = cfg.retention, 0
    if keep.qa_decisions_after is not None:
        cutoff = now - keep.qa_decisions_after
        drawn = exists().where(QaItem.decision_id == QaDecision.id)
        total += _delete_in_batches(
            sessions,
            QaDecision.id,
            select(QaDecision.id).where(QaDecision.decided_at < cutoff, ~drawn),
        )
        with transaction(sessions) as session:
            total += _updated(
                session,
                update(QaDecision)
                .where(QaDecision.decided_at < cutoff, QaDecision.content_ref != REDACTED)
                .values(content_ref=REDACTED, agent_id=None),
            )
    if keep.qa_grades_after is not None:
        with transaction(sessions) as session:
            total += _updated(
                session,
                update(QaGrade)
                .where(QaGrade.at < now - keep.qa_grades_after)
                .where(QaGrade.note != "", QaGrade.note != REDACTED)
                .values(note=REDACTED),
            )
    if keep.qa_clarifications_after is not None:
        since = func.coalesce(QaClarification.acknowledged_at, QaClarification.proposed_at)
        with transaction(sessions) as session:
            total += _updated(
                session,
                update(QaClarification)
                .where(since < now - keep.qa_clarifications_after)
                .where(QaClarification.status != "open")  # still waiting for the vendor
                .where(QaClarification.instead.is_distinct_from(REDACTED))
                .values(policy_point=REDACTED, instead=REDACTED, examples=[]),
            )
    return total


def _updated(session: Session, stmt: Any) -> int:
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def run_daily(sessions: sessionmaker[Session], cfg: AppConfig, now: datetime) -> None:
    """The nightly job: redaction, then bookkeeping, then the QA programme's data."""
    redact_all_due(sessions, cfg, now)
    prune_bookkeeping(sessions, cfg, now)
    prune_qa(sessions, cfg, now)
