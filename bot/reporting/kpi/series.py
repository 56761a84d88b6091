"""The chart's daily series: per local day, tickets opened per policy area and SLA
attainment (clocks decided that day, as the SLA section counts them), in one GROUP BY per
figure over the chart's whole span."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bot.reporting.kpi.attainment import Attainment, on_time
from bot.reporting.kpi.clocks import CLOCKS
from bot.reporting.kpi.window import Window
from storage.models import SlaBreach, Ticket


@dataclass(frozen=True)
class Daily:
    """Per local day: tickets opened per policy area, and SLA attainment (clocks decided)."""

    days: tuple[date, ...]
    volume: dict[str, tuple[int, ...]]
    attainment: tuple[Attainment, ...]


def _bucket(column: Any, bounds: Sequence[datetime]) -> Any:
    """Index of the day ``column`` falls in, computed in SQL from the days' UTC bounds."""
    return case(*((column < b, i) for i, b in enumerate(bounds[1:])), else_=None)


def daily(session: Session, days: Sequence[date], bounds: Sequence[datetime]) -> Daily:
    """``bounds`` are the UTC instants of the local midnights around ``days`` (len + 1)."""
    span = Window(bounds[0], bounds[-1])
    bucket = _bucket(Ticket.created_at, bounds).label("b")
    volume: dict[str, list[int]] = {}
    for b, area, n in session.execute(
        select(bucket, Ticket.policy_area, func.count())
        .where(span.has(Ticket.created_at))
        .group_by(bucket, Ticket.policy_area)
    ):
        volume.setdefault(area, [0] * len(days))[b] = int(n)
    clocks = [Attainment()] * len(days)
    for stops in CLOCKS:
        day = _bucket(stops.at, bounds).label("b")
        for b, n in session.execute(
            select(day, func.count()).where(span.has(stops.at), on_time(stops)).group_by(day)
        ):
            clocks[b] = clocks[b] + Attainment(met=int(n))
    day = _bucket(SlaBreach.at, bounds).label("b")
    for b, n in session.execute(
        select(day, func.count()).where(span.has(SlaBreach.at)).group_by(day)
    ):
        clocks[b] = clocks[b] + Attainment(missed=int(n))
    return Daily(tuple(days), {a: tuple(v) for a, v in sorted(volume.items())}, tuple(clocks))
