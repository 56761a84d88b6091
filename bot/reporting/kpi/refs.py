"""The tickets a number links to: the most urgent few, and how many there are in all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from bot.reporting.kpi.severity import severity_at
from storage.models import Ticket

TOP = 3  # tickets linked in a list before "and N more"


@dataclass(frozen=True)
class TicketRef:
    key: str
    severity: str
    summary: str
    created_at: datetime
    card_channel: str | None = None
    card_ts: str | None = None
    sensitive: bool = False  # its lines in a digest carry the content warning

    @property
    def url(self) -> str | None:
        """The card's permalink (Slack redirects ``/archives/<channel>/p<ts>``), if posted."""
        if self.card_channel and self.card_ts:
            return (
                f"https://slack.com/archives/{self.card_channel}/p{self.card_ts.replace('.', '')}"
            )
        return None


@dataclass(frozen=True)
class Refs:
    """A list of tickets: the first few to link, and how many there are in all."""

    total: int
    top: tuple[TicketRef, ...] = ()

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.top))


def ref_columns(at: datetime) -> tuple[Any, ...]:
    """The columns of a :class:`TicketRef`, in its order, its severity the one the ticket
    had at ``at`` (the period's end: a later change doesn't move a past digest)."""
    return (
        Ticket.key,
        severity_at(at),
        Ticket.summary,
        Ticket.created_at,
        Ticket.card_channel,
        Ticket.card_ts,
        Ticket.sensitive,
    )


def most_urgent(at: datetime) -> tuple[Any, ...]:
    """Most urgent first, by the severity at ``at``: sev0 first, then oldest."""
    return (severity_at(at), Ticket.created_at, Ticket.id)


def refs_of(session: Session, stmt: Select[*tuple[Any, ...]], total: int, limit: int = TOP) -> Refs:
    if total == 0:
        return Refs(0)
    rows = session.execute(stmt.limit(limit)).all()
    return Refs(total, tuple(TicketRef(*row) for row in rows))


def ticket_refs(session: Session, *where: Any, at: datetime, total: int, limit: int = TOP) -> Refs:
    """The most urgent tickets matching ``where`` (sev0 first, then oldest), as at ``at``."""
    stmt = select(*ref_columns(at)).where(*where).order_by(*most_urgent(at))
    return refs_of(session, stmt, total, limit)
