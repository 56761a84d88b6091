"""Retention: old resolved tickets lose details and links, keep their audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import ConfigError, load_config
from bot.core.render import Renderer
from bot.intake.content import CANON_VERSION
from bot.intake.draft import Draft
from bot.intake.service import open_ticket
from bot.tickets.retention import REDACTED, redact_all_due
from storage.db import transaction
from storage.models import ContentItem, OutboxMessage, ProcessedRequest, Ticket, TicketEvent
from storage.queries import MILESTONE
from tests.desk import EXAMPLE

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


# -- bookkeeping: request ids and delivered outbox messages ------------------------------


def outbox_row(status: str, at: datetime, n: int) -> OutboxMessage:
    delivered = at if status in ("sent", "superseded", "dead") else None
    return OutboxMessage(
        dedup_key=f"retention-test:{n}",
        kind="message",
        channel="C06H2KX8ESC",
        payload={"text": "x"},
        status=status,
        created_at=at,
        delivered_at=delivered,
        next_attempt_at=None,
    )


def test_the_nightly_job_prunes_request_ids_and_delivered_messages(
    escbot, user_factory, clock
) -> None:  # type: ignore[no-untyped-def]
    """The scheduler's own job, on the injected clock: ids after 7 days, delivered
    messages after 30; dead and pending messages stay."""
    services = escbot.services
    start = clock.now()
    event = {"type": "reaction_added", "user": "U07LEGAL01", "reaction": "eyes"}
    assert user_factory("U07LEGAL01").event(event, event_id="Ev0PRUNE1").ok
    with transaction(services.sessions) as s:
        s.add_all(
            outbox_row(status, start, n)
            for n, status in enumerate(["sent", "superseded", "dead", "pending"])
        )
    nightly = services.scheduler.aps.get_job("retention").func

    def left() -> tuple[list[str], list[str]]:
        with services.sessions() as s:
            keys = s.scalars(select(ProcessedRequest.key).order_by(ProcessedRequest.key)).all()
            statuses = s.scalars(
                select(OutboxMessage.status)
                .where(OutboxMessage.dedup_key.like("retention-test:%"))
                .order_by(OutboxMessage.id)
            ).all()
        return list(keys), list(statuses)

    clock.advance(timedelta(days=6, hours=23))
    nightly()
    kept = [MILESTONE + f"content-canon:{CANON_VERSION}"]  # a one-off rewrite: never again
    assert left() == (["event:Ev0PRUNE1", *kept], ["sent", "superseded", "dead", "pending"])
    clock.advance(timedelta(hours=2))
    nightly()
    assert left() == (kept, ["sent", "superseded", "dead", "pending"])
    clock.advance(timedelta(days=23))
    nightly()
    assert left() == (kept, ["dead", "pending"])


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("requests_after: 30m", "retention.requests_after: 30m is too short"),
        ("outbox_after: 12h", "retention.outbox_after: 12h is too short"),
        ("outbox_after: soon", "retention.outbox_after"),
    ],
)
def test_retention_of_bookkeeping_is_validated(tmp_path: Path, setting: str, message: str) -> None:
    key = setting.split(":")[0]
    text = EXAMPLE.read_text(encoding="utf-8")
    default = next(line for line in text.splitlines() if line.strip().startswith(key + ":"))
    text = text.replace(default, f"  {setting}")
    path = tmp_path / "app.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert any(e.startswith(message) for e in info.value.errors), info.value.errors
