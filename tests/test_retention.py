"""Retention: old resolved tickets lose details and links, keep their audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.render import Renderer
from bot.intake.draft import Draft
from bot.intake.service import open_ticket
from bot.tickets.retention import REDACTED, redact_all_due
from storage.db import transaction
from storage.models import ContentItem, Ticket, TicketEvent

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def make(sessions: sessionmaker[Session], config, resolved_days_ago: int | None) -> int:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        draft = Draft(
            summary="s",
            policy_area="hateful_activities",
            severity="sev2",
            details="names and links",
            content=("https://example.com/p/1",),
        )
        ticket = open_ticket(
            s,
            config,
            Renderer(config.team_tz),
            draft,
            reporter="U07LEGAL01",
            now=NOW - timedelta(days=500),
        )
        if resolved_days_ago is not None:
            ticket.status = "resolved"
            ticket.resolved_at = NOW - timedelta(days=resolved_days_ago)
        s.flush()
        return ticket.id


def test_only_tickets_resolved_long_ago_are_redacted(sessions, config) -> None:  # type: ignore[no-untyped-def]
    old, recent, still_open = (make(sessions, config, d) for d in (400, 10, None))
    assert redact_all_due(sessions, config, NOW) == 1
    assert redact_all_due(sessions, config, NOW) == 0  # idempotent
    with sessions() as s:
        tickets = {t.id: t for t in s.scalars(select(Ticket))}
        assert tickets[old].details == REDACTED and tickets[old].redacted_at == NOW
        assert tickets[recent].details == tickets[still_open].details == "names and links"
        items = {i.ticket_id: i for i in s.scalars(select(ContentItem))}
        assert items[old].raw == REDACTED and items[old].normalized.startswith("sha256:")
        assert items[recent].raw == "https://example.com/p/1"
        actions = s.scalars(select(TicketEvent.action).where(TicketEvent.ticket_id == old)).all()
        assert actions[0] == "create" and actions[-1] == "redact"
