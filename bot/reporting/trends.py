"""Trends worth a look: spikes against a trailing baseline, and content escalated again and again.

**Spike rule.** For each value of policy area, region, language and source
team, let ``c`` be the tickets opened in the period and ``b`` those opened in
the 28 days before it. The expected count is the baseline's daily mean
scaled to the period's length, ``μ = b · period / 28 days``. The value spikes
when ``c ≥ 5`` and the Poisson upper tail ``P(X ≥ c | μ) < 0.01`` (a value
with no baseline at all spikes once it reaches 5).

**Repeat rule.** A normalized content item (``bot.intake.content.normalize``) is
flagged when it appears in at least 3 distinct tickets opened in the 28 days
up to the period's end, at least one of them in the period.

Both are computed from period-bounded GROUP BY queries; only the flagged
values reach Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bot.reporting.kpi import MOST_URGENT, REF_COLUMNS, Refs, Window, refs_of, ticket_refs
from storage.models import ContentItem, Ticket

SPIKE_DIMENSIONS = ("policy_area", "region", "language", "source_team")
BASELINE = timedelta(days=28)
SPIKE_P = 0.01
SPIKE_MIN = 5
REPEAT_WINDOW = timedelta(days=28)
REPEAT_MIN = 3
RULE = (
    "Spikes: ≥ 5 tickets and Poisson P(X ≥ count) < 0.01 against the daily mean of the "
    "previous 28 days scaled to the period. Repeats: the same content in ≥ 3 tickets "
    "within 28 days."
)


def poisson_sf(c: int, mu: float) -> float:
    """``P(X ≥ c)`` for ``X ~ Poisson(mu)``, summed in log space (no underflow for big ``mu``)."""
    if c <= 0:
        return 1.0
    if mu <= 0:
        return 0.0

    def pmf(k: int) -> float:
        return math.exp(k * math.log(mu) - mu - math.lgamma(k + 1))

    if c <= mu:  # the bulk: 1 − P(X < c) is accurate enough here, and never "significant"
        return max(0.0, 1.0 - math.fsum(pmf(k) for k in range(c)))
    total, k = 0.0, c
    while True:  # terms fall geometrically beyond the mode
        term = pmf(k)
        total += term
        if term <= total * 1e-17:
            return min(1.0, total)
        k += 1


@dataclass(frozen=True)
class Spike:
    dimension: str
    value: str
    count: int
    baseline: int
    expected: float
    p_value: float
    tickets: Refs


@dataclass(frozen=True)
class Repeat:
    normalized: str
    kind: str
    tickets: Refs


@dataclass(frozen=True)
class Repeats:
    """Content escalated again and again: how many items, and the most repeated few."""

    total: int
    top: tuple[Repeat, ...] = ()


def spikes(session: Session, period: Window, baseline: Window) -> tuple[Spike, ...]:
    """Values whose count in ``period`` is improbably high given ``baseline`` (just before it)."""
    scale = period.seconds / baseline.seconds
    found: list[Spike] = []
    for dim in SPIKE_DIMENSIONS:
        col: Any = getattr(Ticket, dim)
        in_period = func.coalesce(
            func.sum(case((Ticket.created_at >= period.start, 1), else_=0)), 0
        )
        rows = session.execute(
            select(col, in_period, func.count())
            .where(Ticket.created_at >= baseline.start, Ticket.created_at < period.end)
            .where(col.is_not(None))
            .group_by(col)
        ).all()
        for value, c, n in rows:
            c, b = int(c), int(n) - int(c)
            if c < SPIKE_MIN:
                continue
            mu = b * scale
            p = poisson_sf(c, mu)
            if p < SPIKE_P:
                refs = ticket_refs(session, col == value, period.has(Ticket.created_at), total=c)
                found.append(Spike(dim, value, c, b, mu, p, refs))
    return tuple(sorted(found, key=lambda s: (s.p_value, -s.count, s.dimension, s.value)))


def repeats(session: Session, period: Window, limit: int = 5) -> Repeats:
    """Content in ≥ 3 tickets within the 28 days to the period's end, once at least in it."""
    window = Window(period.end - REPEAT_WINDOW, period.end)
    tickets = func.count(func.distinct(ContentItem.ticket_id))
    rows = session.execute(
        select(ContentItem.normalized, func.min(ContentItem.kind), tickets)
        .where(window.has(ContentItem.created_at))
        .group_by(ContentItem.normalized)
        .having(tickets >= REPEAT_MIN, func.max(ContentItem.created_at) >= period.start)
        .order_by(tickets.desc(), ContentItem.normalized)
    ).all()  # bounded by the window; usually a handful
    out = []
    for normalized, kind, n in rows[:limit]:
        ids = select(ContentItem.ticket_id).where(
            ContentItem.normalized == normalized, window.has(ContentItem.created_at)
        )
        stmt = select(*REF_COLUMNS).where(Ticket.id.in_(ids)).order_by(*MOST_URGENT)
        out.append(Repeat(normalized, kind, refs_of(session, stmt, int(n))))
    return Repeats(len(rows), tuple(out))
