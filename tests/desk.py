"""Helpers for routing and ownership tests: people of the example app.yaml, tickets, seeds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.core.clock import FakeClock
from bot.core.desk import Desk
from bot.core.render import Renderer
from bot.intake.draft import Draft
from bot.intake.service import open_ticket
from bot.tickets.lifecycle import record
from storage.db import transaction
from storage.models import Ticket
from storage.queries import next_number, ticket_key

LUCIA, JONAS, MARCUS, BEATRIZ = "U05MAD1LFZ3", "U05BER7JBK2", "U05NYC3MRD8", "U05SAO2BAL6"
ANDREA, PRIYA, WANJIRU = "U05MNL8ASN4", "U05CCU6PRM9", "U05NBO4WKM1"
LEAD = "U04LQ2M8RTA"
ADMIN = "U02A7KQ3ZPM"
PARTNER = "U07LEGAL01"  # a reporter from legal: not in any pod
INTAKE = "C06H2KX8ESC"
MORNING = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # Thu; Beatriz on call, off shift
AFTERNOON = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)  # Lucía and Beatriz both on shift


def desk_at(
    sessions: sessionmaker[Session], cfg: AppConfig, now: datetime, renderer: Renderer | None = None
) -> Desk:
    """A desk whose clock stands still at ``now``."""
    return Desk(sessions, cfg, renderer or Renderer(cfg.team_tz), FakeClock(now))


def new_ticket(
    sessions: sessionmaker[Session],
    cfg: AppConfig,
    renderer: Renderer,
    now: datetime,
    *,
    area: str = "graphic_violence",
    severity: str = "sev2",
    language: str | None = "es",
    summary: str = "Beheading video reposted with Spanish captions",
) -> Ticket:
    """A ticket opened the way /escalate opens it (routing included)."""
    draft = Draft(summary=summary, policy_area=area, severity=severity, language=language)
    with transaction(sessions) as s:
        return open_ticket(s, cfg, renderer, draft, reporter=PARTNER, now=now)


def seed(
    session: Session,
    assignee: str,
    *,
    now: datetime,
    severity: str = "sev2",
    area: str = "hateful_activities",
    status: str = "acknowledged",
    sensitive: bool = False,
    assigned_at: datetime | None = None,
) -> Ticket:
    """A ticket already with ``assignee`` (and its assign event), without routing it."""
    number = next_number(session)
    at = assigned_at or now
    ticket = Ticket(
        number=number,
        key=ticket_key(number),
        summary="seeded",
        details="",
        policy_area=area,
        severity=severity,
        sensitive=sensitive,
        status=status,
        reporter_id=PARTNER,
        assignee_id=assignee,
        card_channel=INTAKE,
        created_at=at,
        updated_at=at,
        assigned_at=at,
        version=1,
    )
    session.add(ticket)
    payload: dict[str, Any] = {"assignee": assignee}
    record(session, ticket, "assign", actor="escbot", now=at, to_status="assigned", payload=payload)
    session.flush()
    return ticket
