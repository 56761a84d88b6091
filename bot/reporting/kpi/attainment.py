"""SLA attainment: the clocks that stopped in a period and how many within target, the
targets missed in it, and the clocks still running at its end that had already breached."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from bot.reporting.kpi.clocks import CLOCKS, Stops
from bot.reporting.kpi.refs import REF_COLUMNS, TicketRef
from bot.reporting.kpi.window import Window, chunks
from storage.models import SlaBreach, Ticket


@dataclass(frozen=True)
class Attainment:
    """Clocks that stopped in a period (first acknowledged / resolved) and how many in target."""

    met: int = 0
    measured: int = 0

    @property
    def missed(self) -> int:
        return self.measured - self.met

    @property
    def rate(self) -> float | None:
        return self.met / self.measured if self.measured else None

    def __add__(self, other: Attainment) -> Attainment:
        return Attainment(self.met + other.met, self.measured + other.measured)


@dataclass(frozen=True)
class Breach:
    """A missed target; ``at`` is when it was due (the breach notice may fire later)."""

    ticket: TicketRef
    clock: str
    at: datetime


@dataclass(frozen=True)
class Sla:
    """Clocks stopped in the period (met or missed), clocks still running at its end that
    had already breached, and the breaches that happened in it."""

    tta: dict[str, Attainment]
    ttr: dict[str, Attainment]
    previous: Attainment
    breaches: tuple[Breach, ...]
    breach_total: int
    still_open: tuple[Breach, ...] = ()
    still_open_total: int = 0

    @property
    def overall(self) -> Attainment:
        return sum((*self.tta.values(), *self.ttr.values()), Attainment())


def met(stops: Stops) -> Any:
    """How many of the grouped stops were within target (an SQL sum, 0 for none)."""
    return func.coalesce(func.sum(case((stops.breached.is_(False), 1), else_=0)), 0)


def attainment(session: Session, stops: Stops, window: Window) -> dict[str, Attainment]:
    """Per severity: ``stops`` in ``window`` and how many within target."""
    stmt = (
        select(stops.severity, met(stops), func.count())
        .where(window.has(stops.at))
        .group_by(stops.severity)
    )
    return {sev: Attainment(int(m), int(n)) for sev, m, n in session.execute(stmt)}


def stopped(session: Session, window: Window) -> tuple[dict[str, Attainment], ...]:
    """Per clock (TTA, then TTR): :func:`attainment` in ``window``."""
    return tuple(attainment(session, stops, window) for stops in CLOCKS)


def breaches(session: Session, window: Window, limit: int = 8) -> tuple[tuple[Breach, ...], int]:
    """Targets missed in ``window`` (when the breach happened), most urgent first, and how
    many in all."""
    total = session.scalar(select(func.count()).where(window.has(SlaBreach.at))) or 0
    rows = session.execute(
        select(*REF_COLUMNS, SlaBreach.clock, SlaBreach.due_at)
        .join(SlaBreach, SlaBreach.ticket_id == Ticket.id)
        .where(window.has(SlaBreach.at))
        .order_by(Ticket.severity, SlaBreach.at, SlaBreach.id)
        .limit(limit)
    ).all()
    return tuple(Breach(TicketRef(*r[:7]), r[7], r[8]) for r in rows), total


def breached_running(
    session: Session, at: datetime, open_ids: Iterable[int], limit: int = 8
) -> tuple[tuple[Breach, ...], int]:
    """Clocks still running at ``at`` that had breached before it, most urgent first.

    TTA runs until the first acknowledgement; TTR while the ticket is open
    (``open_ids``: open at ``at``), so a reopened ticket's breached TTR counts again.
    Both are among the tickets open at ``at``: a small set, not history.
    """
    found: list[tuple[Any, ...]] = []
    for chunk in chunks(list(open_ids)):  # an unacknowledged ticket is an open one
        found += session.execute(
            select(*REF_COLUMNS, SlaBreach.clock, SlaBreach.due_at, Ticket.id)
            .join(SlaBreach, SlaBreach.ticket_id == Ticket.id)
            .where(
                Ticket.id.in_(chunk),
                SlaBreach.at < at,
                or_(
                    SlaBreach.clock == "ttr",
                    Ticket.first_acked_at.is_(None),
                    Ticket.first_acked_at >= at,
                ),
            )
        ).all()
    found.sort(key=lambda r: (r[1], r[3], r[9], r[7]))  # MOST_URGENT, then the clock
    return tuple(Breach(TicketRef(*r[:7]), r[7], r[8]) for r in found[:limit]), len(found)


def sla(
    session: Session, cur: Window, prev: Window, open_ids: Iterable[int], limit: int = 8
) -> Sla:
    """The SLA section: ``cur``'s clocks per severity against ``prev``'s overall, its
    breaches, and the breached clocks still running at its end (``open_ids``: open then)."""
    tta, ttr = stopped(session, cur)
    previous = sum((v for d in stopped(session, prev) for v in d.values()), Attainment())
    missed, total = breaches(session, cur, limit)
    still_open, still_open_total = breached_running(session, cur.end, open_ids, limit)
    return Sla(
        tta=tta,
        ttr=ttr,
        previous=previous,
        breaches=missed,
        breach_total=total,
        still_open=still_open,
        still_open_total=still_open_total,
    )
