"""App Home: what a user sees on escbot's Home tab.

Pod members (and admins) get their queue (needs ack first, then at risk, then
the rest, soonest due first in each) with the action itself on each row (Ack
while unacknowledged, else Resolve), their follow-ups, the team's backlog by
severity, what is at risk now and their out-of-office; everyone else gets the
escalations they raised. Lists are capped so the view stays far inside Slack's 100 blocks, with an
"and N more" line. The view is built from the database at delivery time
(``outbox.enqueue_home``), so a refresh always shows the latest state.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import sla
from bot.config import AppConfig
from bot.core.desk import Desk
from bot.core.mrkdwn import SEVERITY_ICONS
from bot.core.render import Renderer
from bot.delivery import outbox
from bot.qa import home as qa_home
from bot.resolution import followups
from bot.resolution.service import outcome_context, reopen_allowed
from bot.slack.cards import BADGES
from bot.tickets import permissions
from bot.tickets.lifecycle import OPEN_STATUSES, TRANSITIONS, Action, Status, status_label
from storage.db import transaction
from storage.models import OutOfOffice, Ticket

QUEUE_MAX = 12  # two blocks each
FOLLOWUPS_MAX = 10
AT_RISK_MAX = 10
MINE_MAX = 25
HOME_BLOCKS = 100  # Slack's limit for a Home tab
_OPEN = [s.value for s in OPEN_STATUSES]


def opened(desk: Desk, user: str) -> None:
    """``user`` opened the Home tab: queue a fresh view (built at delivery, so it is current)."""
    with transaction(desk.sessions) as session:
        outbox.enqueue_home(session, user, desk.clock.now())


def view(
    session: Session, cfg: AppConfig, renderer: Renderer, user: str, now: datetime
) -> dict[str, Any]:
    """The Home tab of ``user`` at ``now``, rendered (``templates/home.json.j2``)."""
    if permissions.on_desk(cfg, user):
        home = renderer.render("home", **pod_context(session, cfg, renderer, user, now))
        qa = qa_home.home_context(session, cfg, user, now)
        if qa is not None:  # the QA queue goes above the footer, within Slack's 100 blocks
            blocks = renderer.render("qa_home", **qa)["blocks"]
            home["blocks"][-1:-1] = blocks[: max(0, HOME_BLOCKS - len(home["blocks"]))]
        return home
    return renderer.render("home", **reporter_context(session, cfg, user, now))


def pod_context(
    session: Session, cfg: AppConfig, renderer: Renderer, user: str, now: datetime
) -> dict[str, Any]:
    areas = team_areas(cfg, user)
    team = list(
        session.scalars(
            select(Ticket)
            .where(Ticket.status.in_(_OPEN), Ticket.policy_area.in_(areas))
            .order_by(Ticket.number)
        )
    )
    mine = sorted((t for t in team if t.assignee_id == user), key=lambda t: _order(cfg, t, now))
    risky = [(t, sla.at_risk_now(cfg, t, now)) for t in team]
    risky = sorted(((t, c) for t, c in risky if c), key=lambda tc: _urgency(cfg, tc[0]))
    my_followups = followups.open_followups(session, user)
    fu_tickets = {
        t.id: t
        for t in session.scalars(
            select(Ticket).where(Ticket.id.in_({f.ticket_id for f in my_followups[:FOLLOWUPS_MAX]}))
        )
    }
    return {
        "pod": True,
        "user": user,
        "ooo": _absence(session, user, now),
        "can_ooo": cfg.can_act(user),  # /escalate ooo: members, leads and admins
        "queue": [_row(cfg, t, now) for t in mine[:QUEUE_MAX]],
        "queue_more": max(0, len(mine) - QUEUE_MAX),
        "followups": [
            followups.message_context(cfg, f, fu_tickets[f.ticket_id], now)
            for f in my_followups[:FOLLOWUPS_MAX]
        ],
        "followups_more": max(0, len(my_followups) - FOLLOWUPS_MAX),
        "backlog": _backlog(cfg, team),
        "backlog_total": len(team),
        "at_risk": [
            _row(cfg, t, now) | {"clocks": [sla.CLOCK_NAMES[c] for c in clocks]}
            for t, clocks in risky[:AT_RISK_MAX]
        ],
        "at_risk_more": max(0, len(risky) - AT_RISK_MAX),
        "sev_icons": SEVERITY_ICONS,
    }


def reporter_context(session: Session, cfg: AppConfig, user: str, now: datetime) -> dict[str, Any]:
    """The escalations ``user`` raised: open ones first, then the latest resolved."""
    mine = select(Ticket).where(Ticket.reporter_id == user).order_by(Ticket.number.desc())
    raised = list(session.scalars(mine.where(Ticket.status.in_(_OPEN)).limit(MINE_MAX)))
    if len(raised) < MINE_MAX:
        closed = mine.where(Ticket.status.not_in(_OPEN)).limit(MINE_MAX - len(raised))
        raised += session.scalars(closed)
    total = session.scalar(select(func.count()).where(Ticket.reporter_id == user)) or 0
    return {
        "pod": False,
        "user": user,
        "mine": [
            {
                "t": t,
                "status": status_label(t.status),
                "decision": outcome_context(cfg, t)["decision"] if t.decision else None,
                "can_reopen": reopen_allowed(cfg, t, user, now),
            }
            for t in raised
        ],
        "mine_more": total - len(raised),
        "sev_icons": SEVERITY_ICONS,
    }


def team_areas(cfg: AppConfig, user: str) -> list[str]:
    """Policy areas of the pods ``user`` belongs to or leads; all of them for an admin."""
    pods = {k for k, p in cfg.pods.items() if p.lead == user or p.member(user)}
    return [a for a, area in cfg.policy_areas.items() if not pods or area.pod in pods]


def _urgency(cfg: AppConfig, ticket: Ticket) -> tuple[int, datetime]:
    """Soonest SLA due first; paused tickets after the running ones."""
    dues = [d for c in sla.CLOCKS if (d := sla.due(cfg, ticket, c)) is not None]
    return (0, min(dues)) if dues else (1, ticket.created_at)


def _order(cfg: AppConfig, ticket: Ticket, now: datetime) -> tuple[int, int, datetime]:
    """Needs ack first, then at risk (or breached), then the rest; soonest due first in each."""
    if Status(ticket.status) in TRANSITIONS[Action.ACKNOWLEDGE][0]:
        group = 0
    elif sla.at_risk_now(cfg, ticket, now) or ticket.tta_breached or ticket.ttr_breached:
        group = 1
    else:
        group = 2
    return (group, *_urgency(cfg, ticket))


def _row(cfg: AppConfig, ticket: Ticket, now: datetime) -> dict[str, Any]:
    status = Status(ticket.status)
    return {
        "t": ticket,
        "badge": BADGES.get(status, status.value),
        "standing": sla.standing(cfg, ticket, now),
        "can_ack": status in TRANSITIONS[Action.ACKNOWLEDGE][0],
        "can_ask": status in TRANSITIONS[Action.WAIT][0],
    }


def _backlog(cfg: AppConfig, team: list[Ticket]) -> list[dict[str, Any]]:
    counts = Counter(t.severity for t in team)
    unassigned = Counter(t.severity for t in team if not t.assignee_id)
    waiting = Counter(t.severity for t in team if t.status == Status.WAITING.value)
    return [
        {
            "severity": sev,
            "title": cfg.severities[sev].title,
            "open": counts[sev],
            "unassigned": unassigned[sev],
            "waiting": waiting[sev],
        }
        for sev in cfg.severities
    ]


def _absence(session: Session, user: str, now: datetime) -> OutOfOffice | None:
    """The current or next out-of-office period of ``user``."""
    return session.scalars(
        select(OutOfOffice)
        .where(OutOfOffice.user_id == user, OutOfOffice.ends_at > now)
        .order_by(OutOfOffice.starts_at)
        .limit(1)
    ).first()
