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

from sqlalchemy import insert, select
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


def rederive(desk: Desk, vendor: str, day: date) -> list[Picked]:
    """The sample of ``vendor``'s decisions of ``day`` as the plan draws it (nothing stored)."""
    cfg = desk.config
    start, end = day_bounds(cfg, day)
    with desk.sessions() as session:
        found = candidates(session, vendor, start, end)
    return draw(cfg, vendor, found, run_seed(cfg, SAMPLE, vendor, day))


def drawn(desk: Desk, vendor: str, day: date) -> list[str] | None:
    """The decision ids stored for that day's sample, or None if none was drawn."""
    start, _ = day_bounds(desk.config, day)
    with desk.sessions() as session:
        run = session.scalar(
            select(QaRun.id).where(
                QaRun.kind == SAMPLE, QaRun.vendor == vendor, QaRun.period_start == start
            )
        )
        if run is None:
            return None
        return sorted(
            session.scalars(
                select(QaDecision.decision_id)
                .join(QaItem, QaItem.decision_id == QaDecision.id)
                .where(QaItem.run_id == run)
            )
        )


def draw_sample(desk: Desk, vendor: str, day: date) -> QaRun | None:
    """Draw, store and assign ``vendor``'s sample of ``day``, once; None if already drawn."""
    cfg = desk.config
    now = desk.clock.now()
    start, end = day_bounds(cfg, day)
    seed = run_seed(cfg, SAMPLE, vendor, day)
    run = QaRun(
        kind=SAMPLE,
        vendor=vendor,
        period_start=start,
        period_end=end,
        seed=seed.hex(),
        created_at=now,
    )
    try:
        with transaction(desk.sessions) as session:
            session.add(run)
            session.flush()  # the unique (kind, vendor, period_start) decides who draws
            picked = draw(cfg, vendor, candidates(session, vendor, start, end), seed)
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
    except IntegrityError:
        log.info("QA sample of %s for %s was already drawn", vendor, day)
        return None
    log.info("QA sample of %s for %s: %d decisions", vendor, day, len(picked))
    return run


def due_day(cfg: AppConfig, now: datetime) -> date | None:
    """The day whose sample is due at ``now`` (yesterday, once ``draw_at`` has passed)."""
    local = now.astimezone(cfg.team_tz)
    if local.time() < cfg.qa.draw_at:
        return None
    return local.date() - timedelta(days=1)


def already_drawn(session: Session, kind: str, vendor: str, start: datetime) -> bool:
    stmt = select(QaRun.id).where(
        QaRun.kind == kind, QaRun.vendor == vendor, QaRun.period_start == start
    )
    return session.scalar(stmt) is not None


def draw_due(desk: Desk) -> list[QaRun]:
    """Every plan's sample that is due and not drawn yet (cheap when there is none)."""
    cfg = desk.config
    day = due_day(cfg, desk.clock.now())
    if day is None or not cfg.qa.plans:
        return []
    start, _ = day_bounds(cfg, day)
    with desk.sessions() as session:
        todo = [v for v in cfg.qa.plans if not already_drawn(session, SAMPLE, v, start)]
    runs = []
    for vendor in todo:
        run = draw_sample(desk, vendor, day)
        if run is not None:
            runs.append(run)
    return runs
