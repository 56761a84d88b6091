"""The QA part of App Home and the daily QA DM: a grader's queue, their latest grades, and
for a pod lead the scores and clarifications of their own pod's policy areas (admins: all;
:func:`bot.tickets.permissions.qa_areas`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.core.desk import Desk
from bot.core.text import mrkdwn
from bot.delivery import outbox
from bot.qa import clarify
from bot.qa.assign import GRADED, PENDING, assign_pending
from bot.qa.grading import context as item_context
from bot.qa.report import points, share_text
from bot.qa.sampling import already_drawn, day_bounds
from bot.qa.scores import vendor_scores
from bot.reporting.kpi import Window
from bot.tickets.permissions import qa_areas
from storage.db import transaction
from storage.models import QaDecision, QaItem, QaRun

QUEUE_MAX = 6
GRADED_MAX = 3
DM_MAX = 10
DM_RUN = "dm"  # the qa_runs row that makes the daily DMs go once


def queue(
    session: Session, cfg: AppConfig, user: str, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """``user``'s pending QA items (oldest first, up to ``limit``) and how many there are."""
    mine = (QaItem.grader_id == user, QaItem.status == PENDING)
    total = session.scalar(select(func.count()).select_from(QaItem).where(*mine)) or 0
    rows = session.execute(
        select(QaItem, QaDecision)
        .join(QaDecision, QaDecision.id == QaItem.decision_id)
        .where(*mine)
        .order_by(QaItem.id)
        .limit(limit)
    )
    return [item_context(cfg, i, d) for i, d in rows], int(total)


def recent_grades(session: Session, cfg: AppConfig, user: str) -> list[dict[str, Any]]:
    rows = session.execute(
        select(QaItem, QaDecision)
        .join(QaDecision, QaDecision.id == QaItem.decision_id)
        .where(QaItem.graded_by == user, QaItem.status == GRADED)
        .order_by(QaItem.graded_at.desc(), QaItem.id.desc())
        .limit(GRADED_MAX)
    )
    return [item_context(cfg, i, d) for i, d in rows]


def home_context(
    session: Session, cfg: AppConfig, user: str, now: datetime
) -> dict[str, Any] | None:
    """The QA blocks' context for ``user``'s App Home; None when QA is not configured."""
    if not cfg.qa.plans:
        return None
    items, total = queue(session, cfg, user, QUEUE_MAX)
    areas = qa_areas(cfg, user)
    lead = areas is None or bool(areas)
    return {
        "queue": items,
        "queue_more": max(0, total - len(items)),
        "graded": recent_grades(session, cfg, user),
        "lead": lead,
        "lead_lines": lead_lines(session, cfg, now, areas) if lead else [],
        "clarifications": clarify.for_home(session, cfg, now, areas) if lead else [],
    }


def lead_lines(
    session: Session, cfg: AppConfig, now: datetime, areas: frozenset[str] | None = None
) -> list[str]:
    """What the lead sees of the programme (mrkdwn lines): each vendor's QA score over the
    last seven days in ``areas`` (None: all), and what waits for a grader there."""
    week = Window(now - timedelta(days=7), now)
    before = Window(week.start - timedelta(days=7), week.start)
    lines = [
        f"{':red_circle: ' if v.overall.clearly_below else ''}*{mrkdwn(v.name)}* "
        f"{share_text(v.overall)}{points(v.change)} · target {v.target:.0%} · last 7 days"
        for v in vendor_scores(session, cfg, week, before, areas)
    ]
    unassigned = session.scalar(
        select(func.count())
        .select_from(QaItem)
        .join(QaDecision, QaDecision.id == QaItem.decision_id)
        .where(QaItem.grader_id.is_(None), QaItem.status == PENDING)
        .where(QaDecision.policy_area.in_(areas) if areas is not None else true())
    )
    if unassigned:
        lines.append(f":hourglass: {unassigned} QA item(s) wait for a grader under their cap")
    return lines


def send_daily_dms(desk: Desk) -> int:
    """At ``qa.dm_at`` (team time), once a day across replicas: unassigned items get another
    chance at a grader, then each grader with pending items gets the day's QA DM."""
    cfg = desk.config
    now = desk.clock.now()
    local = now.astimezone(cfg.team_tz)
    if not cfg.qa.plans or local.time() < cfg.qa.dm_at:
        return 0
    start, end = day_bounds(cfg, local.date())
    with desk.sessions() as session:
        if already_drawn(session, DM_RUN, "", start):
            return 0
    sent = 0
    try:
        with transaction(desk.sessions) as session:
            session.add(
                QaRun(
                    kind=DM_RUN,
                    vendor="",
                    period_start=start,
                    period_end=end,
                    seed="",
                    created_at=now,
                )
            )
            session.flush()  # once per day, whichever replica gets here first
            assign_pending(session, cfg, now)
            graders = session.scalars(
                select(QaItem.grader_id)
                .where(QaItem.status == PENDING, QaItem.grader_id.is_not(None))
                .distinct()
            ).all()
            for user in sorted(g for g in graders if g):
                items, total = queue(session, cfg, user, DM_MAX)
                payload = desk.renderer.render("qa_dm", queue=items, total=total)
                outbox.enqueue_dm(session, user, payload, f"qa-dm:{user}:{local.date()}", now)
                sent += 1
    except IntegrityError:
        return 0
    return sent
