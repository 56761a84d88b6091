"""The tickets a number links to: the most urgent few, and how many there are in all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

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


#: The columns of a :class:`TicketRef`, in its order: select them to build one from a row.
REF_COLUMNS = (
    Ticket.key,
    Ticket.severity,
    Ticket.summary,
    Ticket.created_at,
    Ticket.card_channel,
    Ticket.card_ts,
    Ticket.sensitive,
)
MOST_URGENT = (Ticket.severity, Ticket.created_at, Ticket.id)


def refs_of(session: Session, stmt: Select[*tuple[Any, ...]], total: int, limit: int = TOP) -> Refs:
    if total == 0:
        return Refs(0)
    rows = session.execute(stmt.limit(limit)).all()
    return Refs(total, tuple(TicketRef(*row) for row in rows))


def ticket_refs(session: Session, *where: Any, total: int, limit: int = TOP) -> Refs:
    """The most urgent tickets matching ``where`` (sev0 first, then oldest)."""
    stmt = select(*REF_COLUMNS).where(*where).order_by(*MOST_URGENT)
    return refs_of(session, stmt, total, limit)
