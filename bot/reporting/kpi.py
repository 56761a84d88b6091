"""KPI aggregation for digests, in SQL.

Every query is bounded by the period (an index range on ``created_at``,
``acked_at``, ``resolved_at``, ``at``…) or by the small set of open rows, so a
digest costs the same whatever the length of the history. Python only sees
aggregates and the few tickets a digest links to.

Figures of a past period never move: acknowledgements are counted by the
ticket's *first* acknowledgement (``first_acked_at``, never cleared),
resolutions by the append-only ``resolutions`` rows (each resolution in the
period it happened, measured then; a reopen doesn't remove it), and what was
open or overdue is read *as of* the period's end, rewinding today's state by
the audit events since. So a digest, or ``escbot digest --period`` for a past
day, says the same before and after any later reassign, reopen or resolve.

Percentiles are **nearest-rank**, identically on SQLite and PostgreSQL: the
p-th percentile of n sorted values is the value at rank ``ceil(p·n/100)``
(computed with ``ROW_NUMBER()`` and ``COUNT()`` window functions; on
PostgreSQL this equals ``percentile_disc``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.tickets.lifecycle import OPEN_STATUSES, Action
from storage.models import (
    OPEN_STATUSES_SQL,
    FollowUp,
    Resolution,
    SlaBreach,
    Ticket,
    TicketEvent,
)

PERCENTILES = (50, 90)
TOP = 3  # tickets linked in a list before "and N more"
OPEN = frozenset(s.value for s in OPEN_STATUSES)
STATUS_ACTIONS = tuple(a.value for a in Action)  # the audit actions that change a status
DIMENSIONS = ("policy_area", "severity", "source_team", "vendor", "language")
Z95 = 1.959963984540054  # two-sided 95 % normal quantile, for Wilson intervals


@dataclass(frozen=True)
class Window:
    """A half-open time range ``[start, end)`` of aware UTC datetimes."""

    start: datetime
    end: datetime

    def has(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.start, column < self.end)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


# -- tickets a number links to ---------------------------------------------------


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


# -- volumes -----------------------------------------------------------------------


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


def split_by(
    session: Session, column: InstrumentedAttribute[Any], at: Any, cur: Window, prev: Window
) -> tuple[Split, ...]:
    """Counts per value of ``column`` in ``cur`` and ``prev`` (contiguous), busiest first."""
    in_cur = func.coalesce(func.sum(case((at >= cur.start, 1), else_=0)), 0)
    stmt = (
        select(column, in_cur, func.count()).where(at >= prev.start, at < cur.end).group_by(column)
    )
    rows = [Split(v, int(c), int(n) - int(c)) for v, c, n in session.execute(stmt)]
    return tuple(sorted(rows, key=lambda s: (-s.current, -s.previous, str(s.value))))


def volumes(session: Session, cur: Window, prev: Window) -> Volumes:
    by = {
        dim: split_by(session, getattr(Ticket, dim), Ticket.created_at, cur, prev)
        for dim in DIMENSIONS
    }
    new = sum(s.current for s in by["severity"])
    previous_new = sum(s.previous for s in by["severity"])
    reopen_ids = select(TicketEvent.ticket_id).where(
        TicketEvent.action == "reopen", cur.has(TicketEvent.at)
    )
    return Volumes(
        new=ticket_refs(session, cur.has(Ticket.created_at), total=new),
        resolved=ticket_refs(
            session, Ticket.id.in_(_resolved_ids(cur)), total=_resolved(session, cur)
        ),
        reopened=ticket_refs(session, Ticket.id.in_(reopen_ids), total=_reopens(session, cur)),
        previous_new=previous_new,
        previous_resolved=_resolved(session, prev),
        previous_reopened=_reopens(session, prev),
        by=by,
    )


def _resolved_ids(window: Window) -> Select[Any]:
    return select(Resolution.ticket_id).where(window.has(Resolution.at))


def _resolved(session: Session, window: Window) -> int:
    """Tickets resolved in ``window`` (once each, however often they were resolved)."""
    stmt = select(func.count(func.distinct(Resolution.ticket_id))).where(window.has(Resolution.at))
    return session.scalar(stmt) or 0


def _reopens(session: Session, window: Window) -> int:
    stmt = select(func.count()).where(TicketEvent.action == "reopen", window.has(TicketEvent.at))
    return session.scalar(stmt) or 0


# -- backlog -----------------------------------------------------------------------


@dataclass(frozen=True)
class Backlog:
    total: int
    by_severity: dict[str, int]
    oldest: tuple[TicketRef, ...]


def _open_tickets(session: Session) -> str:
    """The FROM clause for open tickets.

    The partial index ``ix_tickets_open`` holds only them; a query uses it when it
    repeats the index's condition (``OPEN_STATUSES_SQL``, as literals). SQLite is
    also told to: after ANALYZE its averages (a few open among very many
    resolved) can make walking ``created_at`` from the oldest ticket look as cheap.
    """
    if session.get_bind().dialect.name == "sqlite":
        return "tickets INDEXED BY ix_tickets_open"
    return "tickets"


def open_at(session: Session, at: datetime) -> dict[int, str]:
    """Tickets open at the instant ``at`` (id → status then), also long after it.

    Today's open tickets (through the small partial index), rewound by the
    status changes since ``at``: a ticket that changed status later was, at
    ``at``, in the status its first later change started from. Only the
    events after ``at`` are read, so this costs little for a recent period.
    """
    src = _open_tickets(session)
    now_open = dict(
        session.execute(
            text(f"SELECT id, status FROM {src} WHERE {OPEN_STATUSES_SQL} AND created_at < :at")
            .bindparams(at=at)
            .columns(Ticket.id, Ticket.status)
        ).all()
    )
    later = session.execute(
        select(TicketEvent.ticket_id, TicketEvent.from_status)
        .where(
            TicketEvent.action.in_(STATUS_ACTIONS),
            TicketEvent.at >= at,
            TicketEvent.to_status.is_not(None),
        )
        .order_by(TicketEvent.at, TicketEvent.id)
    ).all()
    first: dict[int, str | None] = {}
    for ticket_id, status in later:
        first.setdefault(ticket_id, status)
    older = set()
    for chunk in _chunks(list(first)):
        older |= set(
            session.scalars(select(Ticket.id).where(Ticket.id.in_(chunk), Ticket.created_at < at))
        )
    for ticket_id in older:
        if first[ticket_id] in OPEN:
            now_open[ticket_id] = str(first[ticket_id])
        else:
            now_open.pop(ticket_id, None)
    return now_open


def backlog(session: Session, at: datetime, limit: int = 5) -> Backlog:
    """Tickets open at ``at`` (the period's end), by severity, and the oldest of them."""
    ids = list(open_at(session, at))
    by_severity: dict[str, int] = {}
    for chunk in _chunks(ids):
        for sev, n in session.execute(
            select(Ticket.severity, func.count())
            .where(Ticket.id.in_(chunk))
            .group_by(Ticket.severity)
        ):
            by_severity[sev] = by_severity.get(sev, 0) + int(n)
    oldest: list[tuple[Any, ...]] = []
    for chunk in _chunks(ids):
        oldest += session.execute(
            select(*REF_COLUMNS, Ticket.id)
            .where(Ticket.id.in_(chunk))
            .order_by(Ticket.created_at, Ticket.id)
            .limit(limit)
        ).all()
    oldest.sort(key=lambda r: (r[3], r[-1]))
    return Backlog(
        sum(by_severity.values()),
        dict(sorted(by_severity.items())),
        tuple(TicketRef(*r[:7]) for r in oldest[:limit]),
    )


def _chunks(ids: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    """``IN`` lists of bounded length (SQLite caps bound parameters)."""
    return (ids[i : i + size] for i in range(0, len(ids), size))


# -- turnaround (percentiles) -------------------------------------------------------


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
    severity: InstrumentedAttribute[Any] = Ticket.severity,
) -> dict[str, Percentiles]:
    """Nearest-rank percentiles of ``value`` per severity, over rows with ``at`` in ``window``.

    One query: the database numbers the period's rows per severity in value
    order and returns only the rows at the wanted ranks.
    """
    ranked = (
        select(
            severity.label("severity"),
            value.label("v"),
            func.row_number()
            .over(partition_by=severity, order_by=(value, severity.class_.id))
            .label("rn"),
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
    return percentiles(session, Ticket.tta_seconds, Ticket.first_acked_at, window)


def ttr_percentiles(session: Session, window: Window) -> dict[str, Percentiles]:
    """Time to resolve of each resolution in ``window``, as measured when it happened."""
    return percentiles(
        session,
        Resolution.ttr_seconds,
        Resolution.at,
        window,
        severity=Resolution.severity,
    )


# -- SLA attainment --------------------------------------------------------------


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


def attainment(
    session: Session,
    breached: InstrumentedAttribute[bool],
    at: InstrumentedAttribute[Any],
    window: Window,
) -> dict[str, Attainment]:
    """Per severity: clocks stopped in ``window`` and how many within target."""
    severity = Resolution.severity if at.class_ is Resolution else Ticket.severity
    met = func.coalesce(func.sum(case((breached.is_(False), 1), else_=0)), 0)
    stmt = select(severity, met, func.count()).where(window.has(at)).group_by(severity)
    return {sev: Attainment(int(m), int(n)) for sev, m, n in session.execute(stmt)}


def _clocks(session: Session, window: Window) -> tuple[dict[str, Attainment], ...]:
    return (
        attainment(session, Ticket.tta_breached, Ticket.first_acked_at, window),
        attainment(session, Resolution.ttr_breached, Resolution.at, window),
    )


def breached_running(
    session: Session, at: datetime, open_ids: Iterable[int], limit: int = 8
) -> tuple[tuple[Breach, ...], int]:
    """Clocks still running at ``at`` that had breached before it, most urgent first.

    TTA runs until the first acknowledgement; TTR while the ticket is open
    (``open_ids``: open at ``at``), so a reopened ticket's breached TTR counts again.
    Both are among the tickets open at ``at``: a small set, not history.
    """
    found: list[tuple[Any, ...]] = []
    for chunk in _chunks(list(open_ids)):  # an unacknowledged ticket is an open one
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
    tta, ttr = _clocks(session, cur)
    previous = sum((*(v for d in _clocks(session, prev) for v in d.values()),), Attainment())
    total = session.scalar(select(func.count()).where(cur.has(SlaBreach.at))) or 0
    rows = session.execute(
        select(*REF_COLUMNS, SlaBreach.clock, SlaBreach.due_at)
        .join(SlaBreach, SlaBreach.ticket_id == Ticket.id)
        .where(cur.has(SlaBreach.at))
        .order_by(Ticket.severity, SlaBreach.at, SlaBreach.id)
        .limit(limit)
    ).all()
    breaches = tuple(Breach(TicketRef(*r[:7]), r[7], r[8]) for r in rows)
    still_open, still_open_total = breached_running(session, cur.end, open_ids, limit)
    return Sla(
        tta=tta,
        ttr=ttr,
        previous=previous,
        breaches=breaches,
        breach_total=total,
        still_open=still_open,
        still_open_total=still_open_total,
    )


# -- vendor quality ----------------------------------------------------------------


def wilson(k: float, n: float, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for k successes in n trials (None when n = 0); n may be an
    effective sample size (weighted QA scores, bot/qa/scores.py), so k and n may be real."""
    if n <= 0:
        return None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class VendorQuality:
    vendor: str
    correct: int
    n: int
    previous_correct: int
    previous_n: int
    target: float | None
    wrong: Refs
    errors: tuple[tuple[str, int], ...]

    @property
    def score(self) -> float | None:
        return self.correct / self.n if self.n else None

    @property
    def previous_score(self) -> float | None:
        return self.previous_correct / self.previous_n if self.previous_n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.correct, self.n)

    @property
    def change(self) -> float | None:
        if self.score is None or self.previous_score is None:
            return None
        return self.score - self.previous_score

    @property
    def below_target(self) -> bool:
        return self.score is not None and self.target is not None and self.score < self.target

    @property
    def clearly_below(self) -> bool:
        """Even the interval's upper bound is under target: not just noise."""
        iv = self.interval
        return iv is not None and self.target is not None and iv[1] < self.target


def vendor_quality(
    session: Session, cur: Window, prev: Window, targets: dict[str, float]
) -> tuple[VendorQuality, ...]:
    """Per vendor: share of reviewed decisions judged right, per resolution in the period
    (the verdict recorded then; a later reopen and new verdict count in their own period)."""
    R = Resolution
    reviewed = and_(R.vendor.is_not(None), R.vendor_correct.is_not(None))
    in_cur = case((R.at >= cur.start, 1), else_=0)
    right = case((R.vendor_correct.is_(True), 1), else_=0)
    stmt = (
        select(
            R.vendor,
            func.coalesce(func.sum(in_cur * right), 0),
            func.coalesce(func.sum(in_cur), 0),
            func.coalesce(func.sum(right), 0),
            func.count(),
        )
        .where(reviewed, R.at >= prev.start, R.at < cur.end)
        .group_by(R.vendor)
    )
    counts = {v: tuple(int(x) for x in rest) for v, *rest in session.execute(stmt)}
    errors: dict[str | None, list[tuple[str, int]]] = {}
    for vendor, category, n in session.execute(
        select(R.vendor, R.vendor_error_category, func.count())
        .where(reviewed, R.vendor_correct.is_(False), cur.has(R.at))
        .group_by(R.vendor, R.vendor_error_category)
    ):
        errors.setdefault(vendor, []).append((category or "unspecified", int(n)))
    out = []
    for vendor in sorted(set(targets) | set(counts)):
        k, n, k_all, n_all = counts.get(vendor, (0, 0, 0, 0))
        wrong_ids = select(R.ticket_id).where(
            R.vendor == vendor, R.vendor_correct.is_(False), cur.has(R.at)
        )
        wrong = ticket_refs(session, Ticket.id.in_(wrong_ids), total=n - k)
        cats = tuple(sorted(errors.get(vendor, []), key=lambda e: (-e[1], e[0])))
        out.append(
            VendorQuality(vendor, k, n, k_all - k, n_all - n, targets.get(vendor), wrong, cats)
        )
    return tuple(out)


# -- follow-ups ----------------------------------------------------------------------


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
            FollowUp.kind, FollowUp.description, FollowUp.owner_id, FollowUp.due_at, *REF_COLUMNS
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


# -- daily series for the chart --------------------------------------------------------


@dataclass(frozen=True)
class Daily:
    """Per local day: tickets opened per policy area, and SLA attainment (clocks met)."""

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
    for breached, at in (
        (Ticket.tta_breached, Ticket.first_acked_at),
        (Resolution.ttr_breached, Resolution.at),
    ):
        day = _bucket(at, bounds).label("b")
        met = func.coalesce(func.sum(case((breached.is_(False), 1), else_=0)), 0)
        for b, m, n in session.execute(
            select(day, met, func.count()).where(span.has(at)).group_by(day)
        ):
            clocks[b] = clocks[b] + Attainment(int(m), int(n))
    return Daily(tuple(days), {a: tuple(v) for a, v in sorted(volume.items())}, tuple(clocks))
