"""Opening tickets: the domain side of ``/escalate``.

A ticket, its content items, its "created" audit event and the Slack
messages announcing it are written in one transaction: once the caller
commits, the ticket exists and its card will be posted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from bot import outbox
from bot.config import AppConfig
from bot.content import normalize
from bot.lifecycle import Status, record
from bot.text import clean, one_line
from storage.models import ContentItem, Ticket
from storage.queries import next_number, ticket_key


@dataclass(frozen=True)
class Draft:
    """What a reporter asked for, already validated by the surface that took it."""

    summary: str
    policy_area: str
    severity: str
    details: str = ""
    language: str | None = None
    region: str | None = None
    source_team: str | None = None
    vendor: str | None = None
    requested_action: str | None = None
    deadline: datetime | None = None
    content: tuple[str, ...] = field(default_factory=tuple)
    source_channel: str | None = None
    source_permalink: str | None = None


def draft_from_text(cfg: AppConfig, text: str, source_channel: str | None = None) -> Draft:
    """A one-line escalation (``/escalate <text>``) with the configured defaults."""
    defaults = cfg.intake.defaults
    return Draft(
        summary=one_line(text)[: cfg.intake.summary_max],
        details=text if len(one_line(text)) > cfg.intake.summary_max else "",
        policy_area=defaults.policy_area,
        severity=defaults.severity,
        language=defaults.language,
        region=defaults.region,
        source_channel=source_channel,
    )


def open_ticket(
    session: Session, cfg: AppConfig, draft: Draft, *, reporter: str, now: datetime
) -> Ticket:
    """Create the ticket and queue its card; the caller owns the transaction."""
    number = next_number(session)
    area = cfg.policy_areas[draft.policy_area]
    ticket = Ticket(
        number=number,
        key=ticket_key(number),
        summary=clean(draft.summary),
        details=clean(draft.details),
        policy_area=draft.policy_area,
        severity=draft.severity,
        sensitive=area.sensitive,
        status=Status.NEW.value,
        reporter_id=reporter,
        source_team=draft.source_team,
        source_channel=draft.source_channel,
        source_permalink=draft.source_permalink,
        vendor=draft.vendor,
        region=draft.region,
        language=draft.language,
        requested_action=draft.requested_action,
        deadline=draft.deadline,
        card_channel=cfg.workspace.intake_channel,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(ticket)
    for raw in draft.content:
        kind, norm = normalize(raw)
        ticket.content_items.append(
            ContentItem(raw=raw, normalized=norm, kind=kind, created_at=now)
        )
    record(
        session,
        ticket,
        "create",
        actor=reporter,
        now=now,
        to_status=Status.NEW.value,
        payload={"policy_area": draft.policy_area, "severity": draft.severity},
    )
    outbox.enqueue_card(session, ticket, now)
    return ticket
