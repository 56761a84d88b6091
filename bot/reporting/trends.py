"""Trends worth a look: spikes against a trailing baseline, and content escalated again and again.

**Spike rule.** For each value of policy area, region, language and source
team, let ``c`` be the tickets opened in the period and ``b`` those opened in
the 28 days before it. The expected count is the baseline's daily mean
scaled to the period's length, ``μ = b · period / 28 days``. The value spikes
when ``c ≥ 5`` and the Poisson upper tail ``P(X ≥ c | μ) < 0.01``, once it
has a baseline: tickets in each of the 4 weeks before the period
(``MIN_HISTORY``). Until then (a new desk, a new value) its mean says nothing,
"11 tickets vs 0.0 expected" is no spike, and the digest says "no baseline yet".

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

from bot.reporting.kpi import Refs, Window, most_urgent, ref_columns, refs_of, ticket_refs
from storage.models import ContentItem, Ticket

SPIKE_DIMENSIONS = ("policy_area", "region", "language", "source_team")
BASELINE = timedelta(days=28)
SPIKE_P = 0.01
SPIKE_MIN = 5
#: A value is tested for spikes once it had tickets in each of this many weeks before the
#: period: the baseline's four, so its mean is not of days before it (or the desk) existed.
MIN_HISTORY = 4
HISTORY_PERIOD = timedelta(days=7)
REPEAT_WINDOW = timedelta(days=28)
REPEAT_MIN = 3
RULE = (
    "Spikes: ≥ 5 tickets and Poisson P(X ≥ count) < 0.01 against the daily mean of the "
    "previous 28 days scaled to the period, once a value had tickets in each of the 4 weeks "
    "before. Repeats: the same content in ≥ 3 tickets within 28 days."
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
class Unbaselined:
    """A value with enough tickets to test but too little history: not tested."""

    dimension: str
    value: str
    count: int


@dataclass(frozen=True)
class Spikes:
    """The values that spiked, and those that reached ``SPIKE_MIN`` with no baseline yet."""

    found: tuple[Spike, ...] = ()
    no_baseline: tuple[Unbaselined, ...] = ()


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


def _opened(window: Window) -> Any:
    """Of the grouped tickets, how many were opened in ``window`` (an SQL sum, 0 for none)."""
    return func.coalesce(func.sum(case((window.has(Ticket.created_at), 1), else_=0)), 0)


def spikes(session: Session, period: Window, baseline: Window) -> Spikes:
    """Values whose count in ``period`` is improbably high given ``baseline`` (just before it),
    among those with ``MIN_HISTORY`` weeks of history; and those without."""
    scale = period.seconds / baseline.seconds
    weeks = [
        Window(period.start - (k + 1) * HISTORY_PERIOD, period.start - k * HISTORY_PERIOD)
        for k in range(MIN_HISTORY)
    ]
    since = min(baseline.start, weeks[-1].start)
    found: list[Spike] = []
    unbaselined: list[Unbaselined] = []
    for dim in SPIKE_DIMENSIONS:
        col: Any = getattr(Ticket, dim)
        rows = session.execute(
            select(col, _opened(period), _opened(baseline), *(_opened(w) for w in weeks))
            .where(Ticket.created_at >= since, Ticket.created_at < period.end)
            .where(col.is_not(None))
            .group_by(col)
        ).all()
        for value, c, b, *history in rows:
            c, b = int(c), int(b)
            if c < SPIKE_MIN:
                continue
            if sum(1 for n in history if n) < MIN_HISTORY:
                unbaselined.append(Unbaselined(dim, value, c))
                continue
            mu = b * scale
            p = poisson_sf(c, mu)
            if p < SPIKE_P:
                refs = ticket_refs(
                    session, col == value, period.has(Ticket.created_at), at=period.end, total=c
                )
                found.append(Spike(dim, value, c, b, mu, p, refs))
    return Spikes(
        tuple(sorted(found, key=lambda s: (s.p_value, -s.count, s.dimension, s.value))),
        tuple(sorted(unbaselined, key=lambda u: (-u.count, u.dimension, u.value))),
    )


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
        at = period.end
        stmt = select(*ref_columns(at)).where(Ticket.id.in_(ids)).order_by(*most_urgent(at))
        out.append(Repeat(normalized, kind, refs_of(session, stmt, int(n))))
    return Repeats(len(rows), tuple(out))
