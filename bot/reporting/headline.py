"""The digest's headline row: the five numbers a lead looks for first.

New, open, breached, and the median times to acknowledge and to resolve, each
with the previous period's value, so the row answers "better or worse?" before
anyone reads a section. Computed for every digest, whatever its sections.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from bot.reporting.kpi import TTA, TTR, Stops, Window, nearest_rank, open_at
from storage.models import SlaBreach, Ticket


@dataclass(frozen=True)
class Pair:
    """A number this period and the previous one (None: nothing to measure)."""

    now: int | None
    before: int | None


@dataclass(frozen=True)
class Headline:
    new: Pair
    open: Pair  # at the period's end, and at the previous period's end
    breached: Pair  # tickets that missed a target during the period
    tta_median: Pair  # seconds
    ttr_median: Pair

    @property
    def quiet(self) -> bool:
        """No ticket was opened, open or late in the period: nothing to chart."""
        return not (self.new.now or self.open.now or self.breached.now)


def headline(session: Session, cur: Window, prev: Window) -> Headline:
    def both(fn: Any) -> Pair:
        return Pair(fn(session, cur), fn(session, prev))

    return Headline(
        new=both(_new),
        open=both(_open_at_end),
        breached=both(_breached),
        # the first acknowledgement, and each resolution as measured then (as the sections)
        tta_median=both(lambda s, w: _median(s, TTA, w)),
        ttr_median=both(lambda s, w: _median(s, TTR, w)),
    )


def _new(session: Session, window: Window) -> int:
    return session.scalar(select(func.count()).where(window.has(Ticket.created_at))) or 0


def _open_at_end(session: Session, window: Window) -> int:
    """Open at the window's end (as the backlog counts it: never moves after the fact)."""
    return len(open_at(session, window.end))


def _breached(session: Session, window: Window) -> int:
    stmt = select(func.count(func.distinct(SlaBreach.ticket_id))).where(window.has(SlaBreach.at))
    return session.scalar(stmt) or 0


def _median(session: Session, stops: Stops, window: Window) -> int | None:
    """Nearest-rank median of the times ``stops`` measured in ``window``."""
    value = stops.seconds
    where = and_(window.has(stops.at), value.is_not(None))
    n = session.scalar(select(func.count()).where(where)) or 0
    if not n:
        return None
    rank = nearest_rank(50, n)
    return session.scalar(select(value).where(where).order_by(value).offset(rank - 1).limit(1))
