"""Drawing the daily sample: stratified, seeded, once per vendor and day across replicas.

A stratum is one policy area and one confidence band of one vendor's decisions
of one local day (team time zone). Its size ``k`` comes from the plan (a rate,
rounded up, or a daily count). Which ``k``: every decision is ranked by
``HMAC-SHA256(seed, decision_id)`` with ``seed = SHA-256(qa.seed, kind, vendor,
day)``, and the ``k`` lowest ranks are drawn. So the sample depends only on the
configured seed, the day and the decisions themselves — not on row order,
import order, which replica draws, or when — and an auditor re-derives it with
``escbot qa sample VENDOR DAY``. The ``qa_runs`` row (unique per kind, vendor
and day) is inserted in the transaction that stores the items: a second replica
hits the unique key and draws nothing.

**Downtime and late imports.** A draw marks the decisions it takes
(``QaDecision.sample_run_id``), and every tick looks for unmarked decisions of the
days already due, within ``qa.catch_up`` (7 days by default): a day with no run is
drawn as it would have been on time (same seed, same decisions, same sample); the
decisions imported after their day was drawn are drawn as a ``topup`` run of their
own, by the same rule, their strata weighing apart. Marking is an ``UPDATE … WHERE
sample_run_id IS NULL``, so two replicas never take the same decision. Undrawn days
older than the window get a ``gap`` run instead, which the digest reports ("not
sampled: 27–28 Nov (1,240 decisions)"): nothing is skipped silently.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.config.qa import QaPlan
from bot.core.desk import Desk
from bot.qa import assign
from storage.db import transaction
from storage.models import QaDecision, QaItem, QaRun

log = logging.getLogger(__name__)

SAMPLE, CALIBRATION = "sample", "calibration"
TOPUP, GAP = "topup", "gap"  # runs that may repeat for a day (uq_qa_runs_once leaves them out)
DEFAULT_RATE = 0.02


@dataclass(frozen=True)
class Rule:
    """How many of a stratum's ``n`` decisions are drawn."""

    rate: float | None = None
    count: int | None = None

    def size(self, n: int) -> int:
        if self.count is not None:
            return min(self.count, n)
        return min(n, math.ceil((self.rate or DEFAULT_RATE) * n - 1e-9))


@dataclass(frozen=True)
class Candidate:
    id: int
    decision_id: str
    policy_area: str
    confidence: float | None


@dataclass(frozen=True)
class Picked:
    id: int
    decision_id: str
    stratum: str
    size: int  # decisions in the stratum
    sampled: int  # of which drawn
    sensitive: bool


def stratum(plan: QaPlan, area: str, confidence: float | None) -> tuple[str, bool]:
    """(stratum key, low confidence?) of a decision."""
    low = confidence is not None and confidence < plan.low_confidence_below
    return f"{area}:{'low' if low else 'normal'}", low


def rule(cfg: AppConfig, plan: QaPlan, area: str, low: bool) -> Rule:
    """The area's own figure, else the sensitive rate, else the plan's; low confidence wins."""
    if low and plan.low_confidence_rate is not None:
        return Rule(rate=plan.low_confidence_rate)
    own = plan.areas.get(area)
    if own is not None and (own.rate is not None or own.daily_count is not None):
        return Rule(own.rate, own.daily_count)
    policy = cfg.policy_areas.get(area)
    if policy is not None and policy.sensitive and plan.sensitive_rate is not None:
        return Rule(rate=plan.sensitive_rate)
    return Rule(plan.rate, plan.daily_count)


def run_seed(cfg: AppConfig, kind: str, vendor: str, day: date) -> bytes:
    text = f"{cfg.qa.seed}\0{kind}\0{vendor}\0{day.isoformat()}"
    return hashlib.sha256(text.encode()).digest()


def rank(seed: bytes, decision_id: str) -> bytes:
    return hmac.new(seed, decision_id.encode(), hashlib.sha256).digest()


def draw(cfg: AppConfig, vendor: str, candidates: Iterable[Candidate], seed: bytes) -> list[Picked]:
    """The stratified sample of ``candidates`` (pure: the same input, the same sample)."""
    plan = cfg.qa.plans[vendor]
    strata: dict[str, list[Candidate]] = defaultdict(list)
    rules: dict[str, Rule] = {}
    for c in candidates:
        key, low = stratum(plan, c.policy_area, c.confidence)
        strata[key].append(c)
        rules.setdefault(key, rule(cfg, plan, c.policy_area, low))
    picked = []
    for key in sorted(strata):
        members = strata[key]
        k = rules[key].size(len(members))
        for c in sorted(members, key=lambda c: rank(seed, c.decision_id))[:k]:
            area = cfg.policy_areas.get(c.policy_area)
            sensitive = bool(area and area.sensitive)
            picked.append(Picked(c.id, c.decision_id, key, len(members), k, sensitive))
    return picked


def day_bounds(cfg: AppConfig, day: date) -> tuple[datetime, datetime]:
    """The local day ``day`` (team time zone) as UTC bounds."""
    tz = cfg.team_tz
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def candidates(session: Session, vendor: str, start: datetime, end: datetime) -> list[Candidate]:
    rows = session.execute(
        select(QaDecision.id, QaDecision.decision_id, QaDecision.policy_area, QaDecision.confidence)
        .where(QaDecision.vendor == vendor)
        .where(QaDecision.decided_at >= start, QaDecision.decided_at < end)
    )
    return [Candidate(*r) for r in rows]


def _take(
    session: Session, vendor: str, start: datetime, end: datetime, run: int
) -> list[Candidate]:
    """Mark ``vendor``'s decisions of ``[start, end)`` that no run took yet as ``run``'s;
    those decisions. Under the row locks of the UPDATE, so no other run gets them."""
    rows = session.execute(
        update(QaDecision)
        .where(
            QaDecision.sample_run_id.is_(None),
            QaDecision.vendor == vendor,
            QaDecision.decided_at >= start,
            QaDecision.decided_at < end,
        )
        .values(sample_run_id=run)
        .returning(
            QaDecision.id, QaDecision.decision_id, QaDecision.policy_area, QaDecision.confidence
        )
        .execution_options(synchronize_session=False)
    )
    return [Candidate(*r) for r in rows]


def _day_runs(session: Session, vendor: str, start: datetime) -> list[int]:
    """The runs that drew ``vendor``'s day starting at ``start``: its sample, then its
    top-ups, in the order they were drawn."""
    return list(
        session.scalars(
            select(QaRun.id)
            .where(QaRun.kind.in_((SAMPLE, TOPUP)), QaRun.vendor == vendor)
            .where(QaRun.period_start == start)
            .order_by(QaRun.id)
        )
    )


def rederive(desk: Desk, vendor: str, day: date) -> list[Picked]:
    """The sample of ``vendor``'s decisions of ``day`` as the plan draws it (nothing stored):
    the day's draw, then each top-up, each over the decisions it took."""
    cfg = desk.config
    start, end = day_bounds(cfg, day)
    seed = run_seed(cfg, SAMPLE, vendor, day)
    with desk.sessions() as session:
        runs = _day_runs(session, vendor, start)
        if not runs:  # not drawn yet: as it will be
            return draw(cfg, vendor, candidates(session, vendor, start, end), seed)
        taken: dict[int | None, list[Candidate]] = defaultdict(list)
        for pk, decision_id, area, confidence, run in session.execute(
            select(
                QaDecision.id,
                QaDecision.decision_id,
                QaDecision.policy_area,
                QaDecision.confidence,
                QaDecision.sample_run_id,
            )
            .where(QaDecision.vendor == vendor)
            .where(QaDecision.decided_at >= start, QaDecision.decided_at < end)
        ):
            taken[run].append(Candidate(pk, decision_id, area, confidence))
    return [p for run in runs for p in draw(cfg, vendor, taken[run], seed)]


def drawn(desk: Desk, vendor: str, day: date) -> list[str] | None:
    """The decision ids stored for that day's sample (top-ups included), or None if none
    was drawn."""
    start, _ = day_bounds(desk.config, day)
    with desk.sessions() as session:
        runs = _day_runs(session, vendor, start)
        if not runs:
            return None
        return sorted(
            session.scalars(
                select(QaDecision.decision_id)
                .join(QaItem, QaItem.decision_id == QaDecision.id)
                .where(QaItem.run_id.in_(runs))
            )
        )


class _NothingLeft(Exception):
    """Another replica took the decisions first: the run is rolled back."""


def _run(desk: Desk, kind: str, vendor: str, day: date, *, draws: bool = True) -> QaRun | None:
    """Take ``vendor``'s undrawn decisions of ``day`` into a new run of ``kind`` and, if
    ``draws``, draw and store its sample; None if another replica was first (a sample's
    unique key) or left nothing to take."""
    cfg = desk.config
    now = desk.clock.now()
    start, end = day_bounds(cfg, day)
    seed = run_seed(cfg, SAMPLE, vendor, day)
    run = QaRun(
        kind=kind,
        vendor=vendor,
        period_start=start,
        period_end=end,
        seed=seed.hex() if draws else "",
        created_at=now,
    )
    try:
        with transaction(desk.sessions) as session:
            session.add(run)
            session.flush()  # a sample's unique (kind, vendor, period_start) decides who draws
            taken = _take(session, vendor, start, end, run.id)
            if kind != SAMPLE and not taken:
                raise _NothingLeft
            picked = draw(cfg, vendor, taken, seed) if draws else []
            if picked:
                session.execute(
                    insert(QaItem),
                    [
                        {
                            "run_id": run.id,
                            "decision_id": p.id,
                            "kind": SAMPLE,
                            "slot": 0,
                            "stratum": p.stratum,
                            "stratum_size": p.size,
                            "stratum_sampled": p.sampled,
                            "sensitive": p.sensitive,
                            "status": "pending",
                        }
                        for p in picked
                    ],
                )
                assign.assign_pending(session, cfg, now)
    except (IntegrityError, _NothingLeft):
        log.info("QA %s of %s for %s: already done by another replica", kind, vendor, day)
        return None
    if draws:
        log.info(
            "QA %s of %s for %s: %d of %d decisions", kind, vendor, day, len(picked), len(taken)
        )
    else:
        log.warning(
            "QA: %d decisions of %s on %s are older than qa.catch_up and were never sampled;"
            " the digest reports them",
            len(taken),
            vendor,
            day,
        )
    return run


def draw_sample(desk: Desk, vendor: str, day: date) -> QaRun | None:
    """Draw, store and assign ``vendor``'s sample of ``day``, once; None if already drawn."""
    return _run(desk, SAMPLE, vendor, day)


def top_up(desk: Desk, vendor: str, day: date) -> QaRun | None:
    """Draw the decisions of ``day`` imported after its sample was drawn; None if none."""
    return _run(desk, TOPUP, vendor, day)


def record_gap(desk: Desk, vendor: str, day: date) -> QaRun | None:
    """Record ``vendor``'s undrawn decisions of ``day`` as never sampled (too old to draw)."""
    return _run(desk, GAP, vendor, day, draws=False)


def last_due_day(cfg: AppConfig, now: datetime) -> date:
    """The latest day whose sample is due at ``now``: yesterday once ``draw_at`` has
    passed, else the day before."""
    local = now.astimezone(cfg.team_tz)
    return local.date() - timedelta(days=1 if local.time() >= cfg.qa.draw_at else 2)


def already_drawn(session: Session, kind: str, vendor: str, start: datetime) -> bool:
    stmt = select(QaRun.id).where(
        QaRun.kind == kind, QaRun.vendor == vendor, QaRun.period_start == start
    )
    return session.scalar(stmt) is not None


def draw_due(desk: Desk) -> list[QaRun]:
    """Every day due and not drawn yet, of every plan: a missed day's sample, a top-up of
    late decisions, or a gap for days older than ``qa.catch_up``. One indexed look per
    vendor when there is nothing to do."""
    cfg = desk.config
    if not cfg.qa.plans:
        return []
    last = last_due_day(cfg, desk.clock.now())
    first = last - timedelta(days=cfg.qa.catch_up_days - 1)
    window_start, window_end = day_bounds(cfg, first)[0], day_bounds(cfg, last)[1]
    runs = []
    for vendor in cfg.qa.plans:
        with desk.sessions() as session:
            undrawn = session.scalars(
                select(QaDecision.decided_at)
                .where(QaDecision.sample_run_id.is_(None), QaDecision.vendor == vendor)
                .where(QaDecision.decided_at < window_end)
            ).all()
            days = sorted({d.astimezone(cfg.team_tz).date() for d in undrawn})
            drawn_days = {
                start.astimezone(cfg.team_tz).date()
                for start in session.scalars(
                    select(QaRun.period_start).where(
                        QaRun.kind == SAMPLE,
                        QaRun.vendor == vendor,
                        QaRun.period_start >= window_start,
                        QaRun.period_start < window_end,
                    )
                )
            }
        for day in days:
            if day < first:
                run = record_gap(desk, vendor, day)
            elif day in drawn_days:
                run = top_up(desk, vendor, day)
            else:
                run = draw_sample(desk, vendor, day)
            if run is not None:
                runs.append(run)
    return runs
