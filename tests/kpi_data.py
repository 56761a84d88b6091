"""Hand-made ticket histories for the KPI and digest tests.

Rows are written directly, with exactly the columns the SLA, resolution and
follow-up code fill in (first acknowledgement, tta/ttr seconds, breach flags,
vendor verdicts, resolution rows, reopen events, breach rows, follow-ups), so
every expected number in the tests can be worked out by hand from the calls
that built the data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from storage.models import (
    ContentItem,
    Counter,
    FollowUp,
    Resolution,
    SlaBreach,
    Ticket,
    TicketEvent,
)

#: Wed 25 Nov 2026, 00:00 in Dublin (UTC+0 in winter): the period of the daily digest tests.
D = datetime(2026, 11, 25, tzinfo=UTC)
DAY = timedelta(days=1)
H = timedelta(hours=1)
M = timedelta(minutes=1)
#: Thu 26 Nov 2026, 09:00: when the daily digest for Wednesday runs.
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
INTAKE = "C06H2KX8ESC"
KPI = "C06H2KX9KPI"


class History:
    """Adds tickets and what happened to them; ``ESC-n`` keys in insertion order."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.n = 0

    def ticket(self, created_at: datetime, **kw: Any) -> Ticket:
        self.n += 1
        fields: dict[str, Any] = {
            "number": self.n,
            "key": f"ESC-{self.n}",
            "summary": f"ticket {self.n}",
            "details": "",
            "policy_area": "hateful_activities",
            "severity": "sev2",
            "sensitive": False,
            "status": "new",
            "reporter_id": "U07LEGAL01",
            "created_at": created_at,
            "updated_at": created_at,
            "version": 1,
            "escalation_level": 0,
            "reopened_count": 0,
            "paused_seconds": 0,
            "tta_breached": False,
            "ttr_breached": False,
            "card_channel": INTAKE,
            "card_ts": f"{1764000000 + self.n}.000{self.n:03d}",
        }
        fields.update(kw)
        if fields.get("acked_at") is not None:
            fields.setdefault("first_acked_at", fields["acked_at"])
            fields.setdefault("first_acked_by", fields.get("assignee_id") or "U05MAD1LFZ3")
        ticket = Ticket(**fields)
        self.s.add(ticket)
        self.s.flush()
        self.s.execute(update(Counter).where(Counter.name == "ticket").values(value=self.n))
        if ticket.status == "resolved" and ticket.resolved_at is not None:
            self.resolution(ticket, ticket.resolved_at)
        return ticket

    def acked(self, created_at: datetime, tta: int, **kw: Any) -> Ticket:
        """Acknowledged ``tta`` SLA seconds after opening (wall clock the same here)."""
        kw.setdefault("status", "acknowledged")
        acked_at = kw.pop("acked_at", created_at + timedelta(seconds=tta))
        return self.ticket(created_at, acked_at=acked_at, tta_seconds=tta, **kw)

    def resolved(
        self, created_at: datetime, ttr: int | None, *, resolved_at: datetime | None = None, **kw
    ) -> Ticket:
        done = resolved_at or created_at + timedelta(seconds=ttr or 0)
        kw.setdefault("acked_at", created_at)
        kw.setdefault("tta_seconds", 0)
        return self.ticket(created_at, status="resolved", resolved_at=done, ttr_seconds=ttr, **kw)

    def resolution(self, t: Ticket, at: datetime) -> None:
        """The resolution row ``bot.sla.sync`` keeps when a ticket is resolved."""
        self.s.add(
            Resolution(
                ticket_id=t.id,
                at=at,
                severity=t.severity,
                ttr_seconds=t.ttr_seconds,
                ttr_breached=t.ttr_breached,
                decision=t.decision,
                vendor=t.vendor,
                vendor_correct=t.vendor_correct,
                vendor_error_category=t.vendor_error_category,
            )
        )
        self.s.flush()

    def content(self, ticket: Ticket, normalized: str, at: datetime | None = None) -> None:
        self.s.add(
            ContentItem(
                ticket_id=ticket.id,
                raw=f"https://{normalized}",
                normalized=normalized,
                kind="url",
                created_at=at or ticket.created_at,
            )
        )

    def event(self, ticket: Ticket, action: str, at: datetime) -> None:
        self.s.add(TicketEvent(ticket_id=ticket.id, at=at, actor_id="U05MAD1LFZ3", action=action))

    def breach(self, ticket: Ticket, clock: str, at: datetime) -> None:
        self.s.add(
            SlaBreach(ticket_id=ticket.id, clock=clock, severity=ticket.severity, due_at=at, at=at)
        )

    def followup(
        self,
        ticket: Ticket,
        owner: str,
        *,
        created_at: datetime,
        due_at: datetime,
        done_at: datetime | None = None,
        kind: str = "tooling",
    ) -> FollowUp:
        fu = FollowUp(
            ticket_id=ticket.id,
            kind=kind,
            description=f"fix for {ticket.key}",
            owner_id=owner,
            created_by="U04LQ2M8RTA",
            due_at=due_at,
            status="done" if done_at else "open",
            created_at=created_at,
            done_at=done_at,
        )
        self.s.add(fu)
        return fu
