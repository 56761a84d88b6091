"""Who grades what: QA items go to the pod's specialists for their policy area.

The fewest pending QA items first; nobody out of office; a sensitive item only
to someone still under their ``max_sensitive_per_day`` today, counting the
sensitive tickets and QA items they were already given
(:func:`bot.routing.workload.sensitive_today`). The blind grades of one
calibration decision go to different people. An item nobody may take stays
unassigned and is tried again at the next draw or daily round.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import AppConfig, Member
from bot.delivery import outbox
from bot.routing import workload
from storage.models import QaDecision, QaItem

PENDING, GRADED = "pending", "graded"


def assign_pending(session: Session, cfg: AppConfig, now: datetime) -> int:
    """Give every unassigned pending item a grader where one may take it; how many were."""
    items = list(
        session.scalars(
            select(QaItem)
            .where(QaItem.grader_id.is_(None), QaItem.status == PENDING)
            .order_by(QaItem.id)
            .with_for_update()
        )
    )
    if not items:
        return 0
    areas: dict[int, str] = {
        d: area
        for d, area in session.execute(
            select(QaDecision.id, QaDecision.policy_area).where(
                QaDecision.id.in_({i.decision_id for i in items})
            )
        )
    }
    people = {m.id: m for pod in cfg.pods.values() for m in pod.members}
    load: Counter[str] = Counter(
        {
            grader: int(n)
            for grader, n in session.execute(
                select(QaItem.grader_id, func.count())
                .where(QaItem.status == PENDING, QaItem.grader_id.is_not(None))
                .group_by(QaItem.grader_id)
            )
            if grader
        }
    )
    exposure: Counter[str] = Counter()
    for pod in cfg.pods.values():
        exposure.update(workload.sensitive_today(session, pod, now, pod.member_ids))
    away = workload.absences(session, people, now)
    taken: dict[tuple[int, int], set[str]] = defaultdict(set)
    for run_id, decision_id, grader in session.execute(
        select(QaItem.run_id, QaItem.decision_id, QaItem.grader_id).where(
            QaItem.slot > 0,
            QaItem.grader_id.is_not(None),
            QaItem.decision_id.in_({i.decision_id for i in items}),
        )
    ):
        if grader:
            taken[(run_id, decision_id)].add(grader)

    def may(m: Member, item: QaItem) -> bool:
        if m.id in away or m.id in taken[(item.run_id, item.decision_id)]:
            return False
        cap = m.max_sensitive_per_day
        return not item.sensitive or cap is None or exposure[m.id] < cap

    assigned = 0
    for item in items:
        area = areas.get(item.decision_id)
        if area is None or area not in cfg.policy_areas:
            continue
        fits = [m for m in cfg.specialists_for(area) if may(m, item)]
        if not fits:
            continue
        pick = min(fits, key=lambda m: (load[m.id], exposure[m.id] if item.sensitive else 0, m.id))
        item.grader_id, item.assigned_at = pick.id, now
        load[pick.id] += 1
        exposure[pick.id] += item.sensitive
        if item.slot:
            taken[(item.run_id, item.decision_id)].add(pick.id)
        outbox.enqueue_home(session, pick.id, now)
        assigned += 1
    return assigned
