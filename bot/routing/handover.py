"""People who leave the desk: their open work handed over, each move audited and told.

Someone leaves when app.yaml no longer names them (a restart with a new file: the
roll call on the next scheduler tick, before any timer fires, notices it against
``desk_people``) or when Slack deactivates them (a ``user_change`` event with
``deleted: true``, handled at once). Then, each ticket in a transaction of its own (a
leaver with hundreds of tickets must not hold the database for the whole pass):

- each open ticket they own is routed again by the usual rules (they are never chosen:
  routing reads them as gone), and so is a ticket owned by someone no longer allowed
  to hold it (moved to another pod);
- each open follow-up they own goes to the pod's lead (or the lead's stand-in);
- each QA item and calibration slot they had to grade goes back to the pool and is
  assigned again by the usual rules;
- the new owners are told as for any routing, and the lead gets one list of the moves;
- the person who left gets one note, ever, that their open work was handed over:
  the outbox drops every other DM to them (``bot.delivery.outbox``).

Idempotent: a second pass finds nothing to move, so every replica may run it (each
ticket is re-checked under its lock before it moves).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import sla
from bot.config import AppConfig
from bot.config.roster import Pod
from bot.core.desk import Desk
from bot.core.render import Renderer
from bot.delivery import outbox
from bot.qa import assign
from bot.routing import chain, workload
from bot.routing import notices as owner_notices
from bot.routing.assignment import assign_routed
from bot.routing.decide import ROUTER
from bot.routing.standin import lead_now
from bot.tickets.lifecycle import OPEN_STATUSES, is_open, record
from storage.db import transaction
from storage.models import DeskPerson, FollowUp, QaDecision, QaItem, Ticket
from storage.queries import ticket_by_id

log = logging.getLogger(__name__)

SLACK, CONFIG = "slack", "config"  # how someone left: deactivated, or out of app.yaml
ACTION = "handover"  # the audit action of a follow-up handed over


@dataclass
class Moves:
    """What one pass moved, per person who left and per pod, for the lead's list."""

    lines: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    count: int = 0

    def add(self, user: str, pod: str, line: str) -> None:
        self.lines[(user, pod)].append(line)
        self.count += 1


def tick(desk: Desk) -> int:
    """The scheduler's pass (before timers fire): roll call, then hand over; moves made."""
    with transaction(desk.sessions) as session:
        roll_call(session, desk.config, desk.clock.now())
    return hand_over(desk)


def user_changed(desk: Desk, user: dict[str, Any]) -> int:
    """A ``user_change`` event: deactivated (``deleted``) people leave the desk at once;
    reactivated ones who left that way come back. Moves made."""
    user_id = str(user.get("id") or "")
    if not user_id:
        return 0
    now = desk.clock.now()
    with transaction(desk.sessions) as session:
        if user.get("deleted"):
            person = _person(session, user_id, now)
            if person.left_at is None:
                person.left_at, person.left_via = now, SLACK
                log.info("%s was deactivated in Slack: handing over their open work", user_id)
        elif (found := session.get(DeskPerson, user_id)) and found.left_via == SLACK:
            found.left_at = found.left_via = found.noted_at = None  # reactivated
        # Slack sends user_change for every profile edit in the workspace: anyone else's
        # is none of the desk's business (and must not become a row the roll call reads).
    return hand_over(desk)


def on_desk(cfg: AppConfig) -> set[str]:
    """Everyone app.yaml puts on the desk: members, leads, deputies, admins."""
    people = set(cfg.workspace.admins)
    for pod in cfg.pods.values():
        people |= {pod.lead, *pod.member_ids, *((pod.deputy,) if pod.deputy else ())}
    return people


def roll_call(session: Session, cfg: AppConfig, now: datetime) -> None:
    """``desk_people`` brought in line with app.yaml: newcomers recorded, people it no
    longer names marked as left, people it names again (after leaving it) back."""
    people = on_desk(cfg)
    known = {p.user_id: p for p in session.scalars(select(DeskPerson))}
    for user in sorted(people - set(known)):
        _person(session, user, now)
    for user, person in known.items():
        if user not in people and person.left_at is None:
            person.left_at, person.left_via = now, CONFIG
            log.info("%s is no longer in app.yaml: handing over their open work", user)
        elif user in people and person.left_via == CONFIG:
            person.left_at = person.left_via = person.noted_at = None


def _person(session: Session, user: str, now: datetime) -> DeskPerson:
    person = session.get(DeskPerson, user)
    if person is not None:
        return person
    try:
        with session.begin_nested():
            session.add(DeskPerson(user_id=user, seen_at=now))
    except IntegrityError:  # another replica's roll call got there first
        pass
    return session.get_one(DeskPerson, user)


def hand_over(desk: Desk) -> int:
    """Move every piece of open work held by someone who may no longer hold it."""
    cfg, renderer, now = desk.config, desk.renderer, desk.clock.now()
    with desk.sessions() as session:
        left = workload.departed(session)
        stale = _stale_tickets(session, cfg, left)
    moves = Moves()
    for ticket_id, user in stale:
        with transaction(desk.sessions) as session:
            ticket = ticket_by_id(session, ticket_id, lock=True)
            if ticket is not None and ticket.assignee_id == user and is_open(ticket.status):
                _reroute(session, cfg, renderer, ticket, user, now, moves)
    if left:
        with transaction(desk.sessions) as session:
            _followups(session, cfg, renderer, now, left, moves)
            _qa_items(session, cfg, now, left, moves)
    if moves.count:
        with transaction(desk.sessions) as session:
            _tell(session, cfg, renderer, now, moves)
    return moves.count


def _may_hold(cfg: AppConfig, pod: Pod, user: str) -> bool:
    return bool(pod.member(user)) or user in (pod.lead, pod.deputy) or cfg.is_admin(user)


def _stale_tickets(session: Session, cfg: AppConfig, left: set[str]) -> list[tuple[int, str]]:
    """Open tickets of people who left, or who may no longer hold them (moved to another
    pod), with their owner: (ticket id, owner)."""
    held = session.execute(
        select(Ticket.assignee_id, Ticket.policy_area)
        .where(Ticket.status.in_(OPEN_STATUSES), Ticket.assignee_id.is_not(None))
        .group_by(Ticket.assignee_id, Ticket.policy_area)
    ).all()
    stale = [
        (user, area)
        for user, area in held
        if user
        and area in cfg.policy_areas
        and (user in left or not _may_hold(cfg, cfg.pod_for_area(area), user))
    ]
    found: list[tuple[int, str]] = []
    for user, area in stale:
        ids = session.scalars(
            select(Ticket.id)
            .where(Ticket.assignee_id == user, Ticket.policy_area == area)
            .where(Ticket.status.in_(OPEN_STATUSES))
            .order_by(Ticket.id)
        ).all()
        found += [(ticket_id, user) for ticket_id in ids]
    return sorted(found)


def _reroute(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    user: str,
    now: datetime,
    moves: Moves,
) -> None:
    pod = cfg.pod_for_area(ticket.policy_area)
    decision = workload.route(session, cfg, ticket, now, exclude={user})
    member = cfg.member(user)  # deactivated in Slack: still in app.yaml, with a name
    why = f"{member.name if member else 'its owner'} left the {pod.title} desk"
    reason = f"Handed over: {why}. {decision.reason}"
    change = assign_routed(
        session, cfg, ticket, decision, now, reason=reason, handover={"from": user}
    )
    sla.sync(session, cfg, ticket, now)
    chain.cancel(session, ticket)
    if decision.to_lead:
        chain.arm_retry(session, cfg, ticket, now)
    else:
        chain.arm(session, cfg, ticket, now, tag=f":h{int(now.timestamp())}")
    owner_notices.line(session, renderer, change.event, "rerouted", now, previous=user, reason=why)
    kind = "lead" if decision.to_lead else "routed"
    owner_notices.dm_owner(session, cfg, renderer, change, kind, now, reason=why)
    moves.add(user, pod.key, f"*{ticket.key}* → <@{decision.assignee}>")


def _followups(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    now: datetime,
    left: set[str],
    moves: Moves,
) -> None:
    """Open follow-ups of people who left: to the pod's lead (or the lead's stand-in)."""
    rows = session.execute(
        select(FollowUp, Ticket)
        .join(Ticket, Ticket.id == FollowUp.ticket_id)
        .where(FollowUp.status == "open", FollowUp.owner_id.in_(left))
        .order_by(FollowUp.id)
        .with_for_update(of=FollowUp)
    ).all()
    for fu, ticket in rows:
        if ticket.policy_area not in cfg.policy_areas:
            continue
        pod = cfg.pod_for_area(ticket.policy_area)
        away = workload.absences(session, [pod.lead, *cfg.workspace.admins, pod.deputy or ""], now)
        to, previous = lead_now(cfg, pod, away).user, fu.owner_id
        fu.owner_id = to
        event = record(
            session, ticket, ACTION, actor=ROUTER, now=now,
            payload={"followup": fu.id, "from": previous, "to": to},
        )  # fmt: skip
        context = {"kind": "followup", "fu": fu, "t": ticket, "user": previous}
        payload = renderer.render("handover", **context)
        outbox.enqueue_notice(session, to, payload, f"handover:fu:{fu.id}:{event.id}", now)
        outbox.enqueue_home(session, to, now)
        outbox.enqueue_card(session, ticket, now)
        moves.add(previous, pod.key, f"follow-up on *{ticket.key}* → <@{to}>")


def _qa_items(
    session: Session, cfg: AppConfig, now: datetime, left: set[str], moves: Moves
) -> None:
    """QA items and calibration slots of people who left: back to the pool, assigned again."""
    rows = session.execute(
        select(QaItem, QaDecision.policy_area)
        .join(QaDecision, QaDecision.id == QaItem.decision_id)
        .where(QaItem.status == assign.PENDING, QaItem.grader_id.in_(left))
        .order_by(QaItem.id)
        .with_for_update(of=QaItem)
    ).all()
    if not rows:
        return
    for item, area in rows:
        pod = cfg.policy_areas[area].pod if area in cfg.policy_areas else next(iter(cfg.pods))
        what = "calibration slot" if item.slot else "QA item"
        moves.add(item.grader_id or "", pod, f"{what} #{item.id} → assigned again")
        item.grader_id, item.assigned_at = None, None
    session.flush()
    assign.assign_pending(session, cfg, now)


def _tell(
    session: Session, cfg: AppConfig, renderer: Renderer, now: datetime, moves: Moves
) -> None:
    """The lead's list per person and pod, and the one note to each person who left."""
    stamp = int(now.timestamp())
    for (user, pod_key), lines in sorted(moves.lines.items()):
        pod = cfg.pods[pod_key]
        away = workload.absences(session, [pod.lead, *cfg.workspace.admins, pod.deputy or ""], now)
        lead = lead_now(cfg, pod, away).user
        payload = renderer.render("handover", kind="lead", user=user, lines=lines, pod=pod.title)
        outbox.enqueue_notice(session, lead, payload, f"handover:{user}:{pod_key}:{stamp}", now)
    for user in sorted({user for user, _ in moves.lines}):
        person = session.get(DeskPerson, user)
        if person is None or person.left_at is None or person.noted_at is not None:
            continue
        person.noted_at = now
        n = sum(len(v) for (u, _), v in moves.lines.items() if u == user)
        payload = renderer.render("handover", kind="note", user=user, count=n)
        outbox.enqueue_handover_note(session, user, payload, f"handover:note:{user}", now)
