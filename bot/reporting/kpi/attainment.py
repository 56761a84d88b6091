"""SLA attainment: each clock counted once, in the period it was decided (stopped within
target, or breached), the breaches recorded in a period, and the clocks still running at
its end that had already breached.

**The definition** (docs/digests.md, "SLA attainment", says the same). A clock is
*on time* in the period it stopped within target: TTA at the ticket's first
acknowledgement, TTR at each resolution (as measured then). It is *missed* in the
period its breach was recorded (``sla_breaches.at``: when the breach notice fired, or
when the clock stopped past target before the notice did), whether it stopped late
in that period, is still running at its end, or stops later: a later late stop adds
nothing, and a breach row is at most one per ticket and clock. So a clock breached
and still open counts as missed at once, each clock counts in exactly one instant
(the figures of consecutive periods add up to those of the span), and both
instants are written once and never change (a past period's figures never move).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.reporting.kpi.clocks import CLOCKS, Stops
from bot.reporting.kpi.refs import TicketRef, ref_columns
from bot.reporting.kpi.severity import severity_at
from bot.reporting.kpi.window import Window, chunks
from storage.models import SlaBreach, Ticket


@dataclass(frozen=True)
class Attainment:
    """Clocks decided in a period: ``met`` stopped within target, ``missed`` breached."""

    met: int = 0
    missed: int = 0

    @property
    def total(self) -> int:
        return self.met + self.missed

    @property
    def rate(self) -> float | None:
        return self.met / self.total if self.total else None

    def __add__(self, other: Attainment) -> Attainment:
        return Attainment(self.met + other.met, self.missed + other.missed)


@dataclass(frozen=True)
class Breach:
    """A missed target; ``at`` is when it was due (the breach notice may fire later)."""

    ticket: TicketRef
    clock: str
    at: datetime


@dataclass(frozen=True)
class Sla:
    """Clocks decided in the period (met or missed), the breaches recorded in it, and the
    clocks still running at its end that had already breached (``still_open_total``;
    ``still_open_new`` of them breached in the period, so among its missed)."""

    tta: dict[str, Attainment]
    ttr: dict[str, Attainment]
    previous: Attainment
    breaches: tuple[Breach, ...]
    breach_total: int
    still_open: tuple[Breach, ...] = ()
    still_open_total: int = 0
    still_open_new: int = 0

    @property
    def overall(self) -> Attainment:
        return sum((*self.tta.values(), *self.ttr.values()), Attainment())

    @property
    def late(self) -> int:
        """Missed in the period and stopped (late) by its end."""
        return self.overall.missed - self.still_open_new


def on_time(stops: Stops) -> Any:
    """The stops within target (the condition of an SQL ``WHERE``)."""
    return stops.breached.is_(False)


def attainment(session: Session, stops: Stops, window: Window) -> dict[str, Attainment]:
    """Per severity: ``stops`` within target in ``window``, and the clock's breaches
    recorded in it (the severity the ticket had then)."""
    out: dict[str, Attainment] = {}
    for sev, n in session.execute(
        select(stops.severity, func.count())
        .where(window.has(stops.at), on_time(stops))
        .group_by(stops.severity)
    ):
        out[sev] = out.get(sev, Attainment()) + Attainment(met=int(n))
    for sev, n in session.execute(
        select(SlaBreach.severity, func.count())
        .where(window.has(SlaBreach.at), SlaBreach.clock == stops.clock)
        .group_by(SlaBreach.severity)
    ):
        out[sev] = out.get(sev, Attainment()) + Attainment(missed=int(n))
    return dict(sorted(out.items()))


def decided(session: Session, window: Window) -> tuple[dict[str, Attainment], ...]:
    """Per clock (TTA, then TTR): :func:`attainment` in ``window``."""
    return tuple(attainment(session, stops, window) for stops in CLOCKS)


def breaches(session: Session, window: Window, limit: int = 8) -> tuple[tuple[Breach, ...], int]:
    """Targets missed in ``window`` (when the breach happened), most urgent first, and how
    many in all."""
    total = session.scalar(select(func.count()).where(window.has(SlaBreach.at))) or 0
    rows = session.execute(
        select(*ref_columns(window.end), SlaBreach.clock, SlaBreach.due_at)
        .join(SlaBreach, SlaBreach.ticket_id == Ticket.id)
        .where(window.has(SlaBreach.at))
        .order_by(severity_at(window.end), SlaBreach.at, SlaBreach.id)
        .limit(limit)
    ).all()
    return tuple(Breach(TicketRef(*r[:7]), r[7], r[8]) for r in rows), total


def breached_running(
    session: Session, window: Window, open_ids: Iterable[int], limit: int = 8
) -> tuple[tuple[Breach, ...], int, int]:
    """Clocks still running at the end of ``window`` that had breached before it, most
    urgent first; how many in all, and how many of them breached in ``window``.

    TTA runs until the first acknowledgement; TTR while the ticket is open
    (``open_ids``: open at the end), so a reopened ticket's breached TTR counts again.
    Both are among the tickets open then: a small set, not history.
    """
    at = window.end
    found: list[tuple[Any, ...]] = []
    for chunk in chunks(list(open_ids)):  # an unacknowledged ticket is an open one
        found += session.execute(
            select(*ref_columns(at), SlaBreach.clock, SlaBreach.due_at, Ticket.id, SlaBreach.at)
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
    new = sum(1 for r in found if r[10] >= window.start)
    return tuple(Breach(TicketRef(*r[:7]), r[7], r[8]) for r in found[:limit]), len(found), new


def sla(
    session: Session, cur: Window, prev: Window, open_ids: Iterable[int], limit: int = 8
) -> Sla:
    """The SLA section: ``cur``'s clocks per severity against ``prev``'s overall, its
    breaches, and the breached clocks still running at its end (``open_ids``: open then)."""
    tta, ttr = decided(session, cur)
    previous = sum((v for d in decided(session, prev) for v in d.values()), Attainment())
    missed, total = breaches(session, cur, limit)
    still_open, still_open_total, still_open_new = breached_running(session, cur, open_ids, limit)
    return Sla(
        tta=tta,
        ttr=ttr,
        previous=previous,
        breaches=missed,
        breach_total=total,
        still_open=still_open,
        still_open_total=still_open_total,
        still_open_new=still_open_new,
    )
