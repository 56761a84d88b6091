"""Time to acknowledge and to resolve: nearest-rank percentiles per severity.

Nearest-rank, identically on SQLite and PostgreSQL: the p-th percentile of n
sorted values is the value at rank ``ceil(p·n/100)`` (computed with
``ROW_NUMBER()`` and ``COUNT()`` window functions; on PostgreSQL this equals
``percentile_disc``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.reporting.kpi.clocks import TTA, TTR
from bot.reporting.kpi.window import Window
from storage.models import Ticket

PERCENTILES = (50, 90)


@dataclass(frozen=True)
class Percentiles:
    n: int
    values: dict[int, int] = field(default_factory=dict)  # p → seconds

    def __getitem__(self, p: int) -> int | None:
        return self.values.get(p)


def nearest_rank(p: int, n: int) -> int:
    """1-based rank of the p-th percentile of n values: ``ceil(p·n/100)`` (at least 1)."""
    return max(1, (p * n + 99) // 100)


def percentiles(
    session: Session,
    value: InstrumentedAttribute[Any],
    at: InstrumentedAttribute[Any],
    window: Window,
    ps: Sequence[int] = PERCENTILES,
    severity: Any = Ticket.severity,
    row_id: InstrumentedAttribute[Any] = Ticket.id,
) -> dict[str, Percentiles]:
    """Nearest-rank percentiles of ``value`` per severity, over rows with ``at`` in ``window``.

    One query: the database numbers the period's rows per severity in value
    order and returns only the rows at the wanted ranks.
    """
    ranked = (
        select(
            severity.label("severity"),
            value.label("v"),
            func.row_number().over(partition_by=severity, order_by=(value, row_id)).label("rn"),
            func.count().over(partition_by=severity).label("n"),
        )
        .where(window.has(at), value.is_not(None))
        .subquery()
    )
    wanted = [ranked.c.rn == (ranked.c.n * p + 99) // 100 for p in ps]  # ceil(p·n/100)
    stmt = select(ranked.c.severity, ranked.c.n, ranked.c.rn, ranked.c.v).where(or_(*wanted))
    out: dict[str, Percentiles] = {}
    for sev, n, rn, v in session.execute(stmt):
        entry = out.setdefault(sev, Percentiles(int(n)))
        for p in ps:
            if rn == nearest_rank(p, int(n)):
                entry.values[p] = int(v)
    return out


def tta_percentiles(session: Session, window: Window) -> dict[str, Percentiles]:
    """Time to the *first* acknowledgement, of tickets first acknowledged in ``window``."""
    return percentiles(
        session, TTA.seconds, TTA.at, window, severity=TTA.severity, row_id=TTA.row_id
    )


def ttr_percentiles(session: Session, window: Window) -> dict[str, Percentiles]:
    """Time to resolve of each resolution in ``window``, as measured when it happened."""
    return percentiles(
        session, TTR.seconds, TTR.at, window, severity=TTR.severity, row_id=TTR.row_id
    )
