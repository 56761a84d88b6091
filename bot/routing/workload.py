"""The routing snapshot, read from the database: loads, sensitive counts, absences, turn.

Three small queries, each answered from an index: open tickets per assignee
and severity (``ix_tickets_assignee_load``, index only), today's assignments of sensitive
tickets (``ix_ticket_events_action_at``, since the earliest local midnight of
the pod) and current absences (``ix_out_of_office_ends_at``). The rotation
pointer is a row of ``counters``, taken ``FOR UPDATE``: it also makes routing
decisions of one pod queue behind each other, so two tickets routed at the same
moment never both see the same "least loaded" member.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime, time

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.config.roster import Pod
from bot.qa.exposure import sensitive_items_since
from bot.routing.candidates import FOREVER, LEFT, Absence, Need, Snapshot
from bot.routing.decide import Decision, decide, in_scope
from bot.routing.standin import people
from bot.tickets.lifecycle import OPEN_STATUSES, Action
from storage.models import Counter, DeskPerson, OutOfOffice, Ticket, TicketEvent

OWNING = (Action.ASSIGN.value, Action.TAKE.value)
#: The audit action of a member refusing a sensitive ticket at their cap.
DECLINE = "decline"
COUNTED = (*OWNING, DECLINE)
#: Who an owning event gave the ticket to: the taker, or the assignee in the payload
#: (for a decline: the one who declined).
_OWNER = case(
    (TicketEvent.action.in_((Action.TAKE.value, DECLINE)), TicketEvent.actor_id),
    else_=TicketEvent.payload["assignee"].as_string(),
)


def snapshot(
    session: Session,
    cfg: AppConfig,
    pod: Pod,
    now: datetime,
    need: Need | None = None,
    *,
    turn: bool = True,
) -> Snapshot:
    """What :func:`bot.routing.decide.decide` needs about ``pod`` at ``now``.

    With ``need``, only the members it could go to (:func:`bot.routing.decide.in_scope`)
    are looked up, and sensitive counts only for sensitive areas; without, the
    whole pod. Absences are read for the lead and those who may stand in too
    (:mod:`bot.routing.standin`). ``turn=False`` leaves the rotation pointer alone (and unlocked):
    for questions that choose nobody, like the reassign menu or an escalation step.
    """
    ids = sorted(in_scope(cfg, need, now)) if need else list(pod.member_ids)
    load, count = open_load(session, cfg, ids)
    counted = need is None or need.sensitive
    return Snapshot(
        now=now,
        load=load,
        open=count,
        sensitive_today=sensitive_today(session, pod, now, ids) if counted and ids else {},
        away=absences(session, [*ids, *people(cfg, pod)], now),
        pointer=take_pointer(session, pod.key) if turn else 0,
    )


def route(
    session: Session,
    cfg: AppConfig,
    ticket: Ticket,
    now: datetime,
    exclude: Collection[str] = (),
) -> Decision:
    """Decide on a fresh snapshot and move the pod's turn past whoever was chosen."""
    pod = cfg.pod_for_area(ticket.policy_area)
    need = Need.of(ticket)
    decision = decide(cfg, need, snapshot(session, cfg, pod, now, need), exclude)
    if decision.pointer is not None:
        move_pointer(session, pod.key, decision.pointer)
    return decision


def open_load(
    session: Session, cfg: AppConfig, user_ids: list[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """(severity-weighted load, open ticket count) per user, summed by the database."""
    weights = cfg.routing.severity_weights
    weight = case(*((Ticket.severity == sev, w) for sev, w in weights.items()), else_=1)
    rows = session.execute(
        select(Ticket.assignee_id, func.sum(weight), func.count())
        .where(Ticket.assignee_id.in_(user_ids), Ticket.status.in_(OPEN_STATUSES))
        .group_by(Ticket.assignee_id)
    ).all()
    return {u: int(load) for u, load, _ in rows}, {u: int(n) for u, _, n in rows}


def sensitive_today(
    session: Session, pod: Pod, now: datetime, user_ids: Iterable[str]
) -> dict[str, int]:
    """How many sensitive tickets each of ``user_ids`` was given today (see
    :func:`sensitive_tickets`), plus the sensitive QA items they were given to grade
    (``bot.qa.exposure``): both are what they had to look at."""
    ids = list(user_ids)
    counts = {user: len(t) for user, t in sensitive_tickets(session, pod, now, ids).items()}
    for user, n in sensitive_qa_today(session, pod, now, ids).items():
        counts[user] = counts.get(user, 0) + n
    return counts


def sensitive_qa_today(
    session: Session, pod: Pod, now: datetime, user_ids: Iterable[str]
) -> dict[str, int]:
    """Sensitive QA items each of ``user_ids`` was given to grade since their own midnight."""
    return sensitive_items_since(session, _midnights(pod, now, user_ids))


def _midnights(pod: Pod, now: datetime, user_ids: Iterable[str]) -> dict[str, datetime]:
    """Each member's own local midnight before ``now``."""
    zones = {m.id: m.tz for m in pod.members}
    return {
        u: datetime.combine(now.astimezone(zones[u]).date(), time(0), zones[u])
        for u in user_ids
        if u in zones
    }


def sensitive_tickets(
    session: Session, pod: Pod, now: datetime, user_ids: Iterable[str]
) -> dict[str, set[int]]:
    """The sensitive tickets each of ``user_ids`` was given (routed, reassigned, escalated
    to, taken) since their own midnight.

    A ticket counts once per person and day however often it comes back, and
    keeps counting after it moves on: the cap is about what they had to see. One
    they declined at their cap (``decline``) does not count: refusing costs nothing.
    The owner is read in SQL (JSON path), so no event payload is decoded.
    """
    midnights = _midnights(pod, now, user_ids)
    if not midnights:
        return {}
    # Looked up per event (primary key) rather than joined: the cost follows today's
    # events, not the size of the ticket history.
    sensitive = select(Ticket.sensitive).where(Ticket.id == TicketEvent.ticket_id)
    rows = session.execute(
        select(TicketEvent.ticket_id, _OWNER, TicketEvent.at, TicketEvent.action)
        .where(TicketEvent.action.in_(COUNTED), TicketEvent.at >= min(midnights.values()))
        .where(sensitive.scalar_subquery().is_(True))
    ).all()
    seen: dict[str, set[int]] = defaultdict(set)
    declined: dict[str, set[int]] = defaultdict(set)
    for ticket_id, user, at, action in rows:
        if user in midnights and at >= midnights[user]:
            (declined if action == DECLINE else seen)[user].add(ticket_id)
    return {user: tickets - declined[user] for user, tickets in seen.items()}


def absences(session: Session, user_ids: Iterable[str], now: datetime) -> dict[str, Absence]:
    """Who of ``user_ids`` is out of office at ``now``, and until when (the latest end if
    entries overlap); who has left the desk (``desk_people``) for good. Current absences
    and those who left are few: they are read whole and filtered here."""
    wanted = set(user_ids)
    rows = session.execute(
        select(OutOfOffice.user_id, OutOfOffice.ends_at, OutOfOffice.note)
        .where(OutOfOffice.starts_at <= now, OutOfOffice.ends_at > now)
        .order_by(OutOfOffice.ends_at)
    ).all()
    away = {user: Absence(until, note) for user, until, note in rows if user in wanted}
    for user in departed(session, wanted):
        away[user] = Absence(FOREVER, LEFT)
    return away


def departed(session: Session, user_ids: Iterable[str] | None = None) -> set[str]:
    """Who of ``user_ids`` (everyone: None) has left the desk."""
    left = select(DeskPerson.user_id).where(DeskPerson.left_at.is_not(None))
    found = set(session.scalars(left))
    return found if user_ids is None else found & set(user_ids)


def pointer_name(pod: str) -> str:
    """The ``counters`` row of a pod's rotation pointer (names are at most 32 characters)."""
    name = f"route:{pod}"
    return name if len(name) <= 32 else f"route:{hashlib.sha1(pod.encode()).hexdigest()[:26]}"


def take_pointer(session: Session, pod: str) -> int:
    """Read the pod's pointer, row-locked until commit; created at 0 on first use."""
    name = pointer_name(pod)
    stmt = select(Counter.value).where(Counter.name == name).with_for_update()
    value = session.scalar(stmt)
    if value is None:
        try:
            with session.begin_nested():
                session.add(Counter(name=name, value=0))
        except IntegrityError:  # another replica created it first
            pass
        value = session.scalar(stmt)
    return int(value or 0)


def move_pointer(session: Session, pod: str, value: int) -> None:
    session.execute(update(Counter).where(Counter.name == pointer_name(pod)).values(value=value))


def owners_of(session: Session, ticket_id: int) -> set[str]:
    """Everyone who has owned the ticket (routed, reassigned, escalated to, or taken)."""
    rows = session.scalars(
        select(_OWNER).where(TicketEvent.ticket_id == ticket_id, TicketEvent.action.in_(OWNING))
    )
    return {owner for owner in rows if owner}
