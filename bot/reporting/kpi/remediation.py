"""Remediation follow-ups: opened and done in a period per owner, and those overdue at
its end (past due then, and not done by then)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.reporting.kpi.refs import TicketRef, ref_columns
from bot.reporting.kpi.window import Window
from storage.models import FollowUp, Ticket


@dataclass(frozen=True)
class OverdueFollowup:
    kind: str
    description: str
    owner_id: str
    due_at: datetime
    ticket: TicketRef


@dataclass(frozen=True)
class Followups:
    opened: tuple[tuple[str, int], ...]  # (owner, count)
    done: tuple[tuple[str, int], ...]
    overdue: tuple[tuple[str, int], ...]
    overdue_items: tuple[OverdueFollowup, ...]

    @staticmethod
    def total(owners: Iterable[tuple[str, int]]) -> int:
        return sum(n for _, n in owners)


def _by_owner(session: Session, *where: Any) -> tuple[tuple[str, int], ...]:
    rows = session.execute(
        select(FollowUp.owner_id, func.count()).where(*where).group_by(FollowUp.owner_id)
    ).all()
    return tuple(sorted(((o, int(n)) for o, n in rows), key=lambda r: (-r[1], r[0])))


def _overdue_owners(session: Session, *overdue: Any) -> tuple[tuple[str, int], ...]:
    """Owners of the overdue set (open and past due: small, not history), counted here.

    Grouping in SQL tempts SQLite, once ANALYZE has run, into walking the whole
    owner index; the plain lookup always takes the (status, due_at) index.
    """
    owners = Counter(session.scalars(select(FollowUp.owner_id).where(*overdue)))
    return tuple(sorted(owners.items(), key=lambda r: (-r[1], r[0])))


def followups(session: Session, cur: Window, at: datetime, limit: int = 8) -> Followups:
    """Opened and done in ``cur``; overdue as of ``at``: past due then, and not done by then
    (still open, or done since: two small index ranges, not the history of done ones)."""
    late = (FollowUp.due_at < at, FollowUp.created_at < at)
    ids = [
        *session.scalars(select(FollowUp.id).where(FollowUp.status == "open", *late)),
        *session.scalars(select(FollowUp.id).where(FollowUp.done_at >= at, *late)),
    ]
    overdue = (FollowUp.id.in_(ids),)
    rows = session.execute(
        select(
            FollowUp.kind,
            FollowUp.description,
            FollowUp.owner_id,
            FollowUp.due_at,
            *ref_columns(at),
        )
        .join(Ticket, Ticket.id == FollowUp.ticket_id)
        .where(*overdue)
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(limit)
    ).all()
    return Followups(
        opened=_by_owner(session, cur.has(FollowUp.created_at)),
        done=_by_owner(session, cur.has(FollowUp.done_at)),  # set only when done
        overdue=_overdue_owners(session, *overdue),
        overdue_items=tuple(
            OverdueFollowup(kind, text, owner, due, TicketRef(*ref))
            for kind, text, owner, due, *ref in rows
        ),
    )
