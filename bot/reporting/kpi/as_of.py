"""What was open at an instant, also long after it: today's state rewound by the audit
events since. The backlog, the headline's open count and the clocks still running at a
period's end are read this way, so they never move after the fact."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bot.reporting.kpi.refs import TicketRef, ref_columns
from bot.reporting.kpi.severity import severity_at
from bot.reporting.kpi.window import chunks
from bot.tickets.lifecycle import OPEN_STATUSES, Action
from storage.models import OPEN_STATUSES_SQL, Ticket, TicketEvent

OPEN = frozenset(s.value for s in OPEN_STATUSES)
STATUS_ACTIONS = tuple(a.value for a in Action)  # the audit actions that change a status


@dataclass(frozen=True)
class Backlog:
    total: int
    by_severity: dict[str, int]
    oldest: tuple[TicketRef, ...]


def _open_tickets(session: Session) -> str:
    """The FROM clause for open tickets.

    The partial index ``ix_tickets_open`` holds only them; a query uses it when it
    repeats the index's condition (``OPEN_STATUSES_SQL``, as literals). SQLite is
    also told to: after ANALYZE its averages (a few open among very many
    resolved) can make walking ``created_at`` from the oldest ticket look as cheap.
    """
    if session.get_bind().dialect.name == "sqlite":
        return "tickets INDEXED BY ix_tickets_open"
    return "tickets"


def open_at(session: Session, at: datetime) -> dict[int, str]:
    """Tickets open at the instant ``at`` (id → status then), also long after it.

    Today's open tickets (through the small partial index), rewound by the
    status changes since ``at``: a ticket that changed status later was, at
    ``at``, in the status its first later change started from. Only the
    events after ``at`` are read, so this costs little for a recent period.
    """
    src = _open_tickets(session)
    now_open = dict(
        session.execute(
            text(f"SELECT id, status FROM {src} WHERE {OPEN_STATUSES_SQL} AND created_at < :at")
            .bindparams(at=at)
            .columns(Ticket.id, Ticket.status)
        ).all()
    )
    later = session.execute(
        select(TicketEvent.ticket_id, TicketEvent.from_status)
        .where(
            TicketEvent.action.in_(STATUS_ACTIONS),
            TicketEvent.at >= at,
            TicketEvent.to_status.is_not(None),
        )
        .order_by(TicketEvent.at, TicketEvent.id)
    ).all()
    first: dict[int, str | None] = {}
    for ticket_id, status in later:
        first.setdefault(ticket_id, status)
    older = set()
    for chunk in chunks(list(first)):
        older |= set(
            session.scalars(select(Ticket.id).where(Ticket.id.in_(chunk), Ticket.created_at < at))
        )
    for ticket_id in older:
        if first[ticket_id] in OPEN:
            now_open[ticket_id] = str(first[ticket_id])
        else:
            now_open.pop(ticket_id, None)
    return now_open


def backlog(session: Session, at: datetime, limit: int = 5) -> Backlog:
    """Tickets open at ``at`` (the period's end), by severity, and the oldest of them."""
    ids = list(open_at(session, at))
    by_severity: dict[str, int] = {}
    severity = severity_at(at)
    for chunk in chunks(ids):
        for sev, n in session.execute(
            select(severity, func.count()).where(Ticket.id.in_(chunk)).group_by(severity)
        ):
            by_severity[sev] = by_severity.get(sev, 0) + int(n)
    oldest: list[tuple[Any, ...]] = []
    for chunk in chunks(ids):
        oldest += session.execute(
            select(*ref_columns(at), Ticket.id)
            .where(Ticket.id.in_(chunk))
            .order_by(Ticket.created_at, Ticket.id)
            .limit(limit)
        ).all()
    oldest.sort(key=lambda r: (r[3], r[-1]))
    return Backlog(
        sum(by_severity.values()),
        dict(sorted(by_severity.items())),
        tuple(TicketRef(*r[:7]) for r in oldest[:limit]),
    )
