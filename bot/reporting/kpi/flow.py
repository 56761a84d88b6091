"""Tickets in and out of a period: new, resolved and reopened, and the new ones split by
dimension, each against the previous period."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from bot.reporting.kpi.refs import Refs, ticket_refs
from bot.reporting.kpi.severity import OPENED
from bot.reporting.kpi.window import Window
from storage.models import Resolution, Ticket, TicketEvent

DIMENSIONS = ("policy_area", "severity", "source_team", "vendor", "language")


@dataclass(frozen=True)
class Split:
    """One value of a dimension: its count in the period and in the previous one."""

    value: str | None
    current: int
    previous: int


@dataclass(frozen=True)
class Volumes:
    new: Refs
    resolved: Refs
    reopened: Refs
    previous_new: int
    previous_resolved: int
    previous_reopened: int
    by: dict[str, tuple[Split, ...]]


def _column(dim: str) -> Any:
    """What a dimension reads; a ticket counts under the severity it was opened with."""
    return OPENED if dim == "severity" else getattr(Ticket, dim)


def split_by(
    session: Session, column: Any, at: Any, cur: Window, prev: Window
) -> tuple[Split, ...]:
    """Counts per value of ``column`` in ``cur`` and ``prev`` (contiguous), busiest first."""
    in_cur = func.coalesce(func.sum(case((at >= cur.start, 1), else_=0)), 0)
    stmt = (
        select(column, in_cur, func.count()).where(at >= prev.start, at < cur.end).group_by(column)
    )
    rows = [Split(v, int(c), int(n) - int(c)) for v, c, n in session.execute(stmt)]
    return tuple(sorted(rows, key=lambda s: (-s.current, -s.previous, str(s.value))))


def volumes(session: Session, cur: Window, prev: Window) -> Volumes:
    by = {dim: split_by(session, _column(dim), Ticket.created_at, cur, prev) for dim in DIMENSIONS}
    new = sum(s.current for s in by["severity"])
    previous_new = sum(s.previous for s in by["severity"])
    reopen_ids = select(TicketEvent.ticket_id).where(
        TicketEvent.action == "reopen", cur.has(TicketEvent.at)
    )
    return Volumes(
        new=ticket_refs(session, cur.has(Ticket.created_at), at=cur.end, total=new),
        resolved=ticket_refs(
            session, Ticket.id.in_(_resolved_ids(cur)), at=cur.end, total=resolved(session, cur)
        ),
        reopened=ticket_refs(
            session, Ticket.id.in_(reopen_ids), at=cur.end, total=reopens(session, cur)
        ),
        previous_new=previous_new,
        previous_resolved=resolved(session, prev),
        previous_reopened=reopens(session, prev),
        by=by,
    )


def _resolved_ids(window: Window) -> Select[Any]:
    return select(Resolution.ticket_id).where(window.has(Resolution.at))


def resolved(session: Session, window: Window) -> int:
    """Tickets resolved in ``window`` (once each, however often they were resolved)."""
    stmt = select(func.count(func.distinct(Resolution.ticket_id))).where(window.has(Resolution.at))
    return session.scalar(stmt) or 0


def reopens(session: Session, window: Window) -> int:
    stmt = select(func.count()).where(TicketEvent.action == "reopen", window.has(TicketEvent.at))
    return session.scalar(stmt) or 0
