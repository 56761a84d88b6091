"""Helpers for routing and ownership tests: people of the example app.yaml, tickets, seeds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.config.loader import load_config_text
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
#: The second pod of :func:`two_pods`; none of its people is in Critical Harms.
FRAUD_LEAD, FRAUDSTER, FRAUD_ANALYST = "U06FRLEAD1", "U06FRAUD01", "U06FRAUD02"
EXAMPLE = Path(__file__).resolve().parent.parent / "app.yaml"


def two_pods() -> AppConfig:
    """The example app.yaml plus a Trust and Fraud pod owning a ``scams`` policy area."""
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["policy_areas"]["scams"] = {
        "title": "Scams and fraud",
        "pod": "trust_fraud",
        "policy_sections": ["SF-1 Financial scams"],
        "description": "Scams, fake giveaways and investment fraud.",
    }
    weekdays = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}
    data["pods"]["trust_fraud"] = {
        "title": "Trust and Fraud",
        "lead": FRAUD_LEAD,
        "members": [
            {
                "id": FRAUDSTER,
                "name": "Ola Nordmann",
                "skills": ["scams"],
                "languages": ["en", "no"],
                "timezone": "Europe/Oslo",
                "hours": weekdays,
            },
            {
                "id": FRAUD_ANALYST,
                "name": "Noor Quinn",
                "skills": ["scams"],
                "languages": ["en"],
                "timezone": "UTC",
            },
        ],
    }
    return load_config_text(yaml.safe_dump(data), "app.yaml (two pods)")


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
