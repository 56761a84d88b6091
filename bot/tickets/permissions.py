"""Who may do what to a ticket or a QA item: every such rule of escbot, in one place.

Rules scope to the ticket's own pod (the pod owning its policy area): being in
*some* pod is not enough to work on another pod's tickets. Every refusal is a
:class:`Refused` with a message fit for the person who tried, and it is audited
the same way by :func:`audited`, at most once per person, ticket and verb in
:data:`AUDIT_WINDOW`, so a script clicking a refused button cannot flood the
trail and push the real history out of ``/escalate status``.

The QA programme follows the same rule with the item's policy area
(:func:`check_qa`): grading, correcting, clarifications and the scores belong to
the pod owning the area. A blind calibration grade is its grader's alone, leads
and admins included. A refused QA attempt on an item is audited in the item's
grade history (``qa_grades``, verdict ``refused``), as often as a ticket's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.core.desk import Desk
from bot.core.errors import NotAllowed
from bot.tickets.lifecycle import record
from storage.db import transaction
from storage.models import FollowUp, QaGrade, QaItem, Ticket, TicketEvent, Watcher
from storage.queries import ticket_by_id

#: A refused attempt is audited once per (ticket, actor, verb) in this window.
AUDIT_WINDOW = timedelta(minutes=1)
REFUSED = "refused"  # the audit action


class Verb(StrEnum):
    """What someone tries to do to a ticket; the value reads in "can … ESC-n"."""

    ACK = "acknowledge"
    TAKE = "take"
    REASSIGN = "reassign"
    RESOLVE = "resolve"
    ASK = "ask the reporter about"
    RESUME = "resume"
    REOPEN = "reopen"
    SEVERITY = "change the severity of"
    FOLLOW_UP = "add follow-ups to"
    CHANGE_FOLLOW_UP = "change follow-ups of"
    SEE = "see"
    ADMIT = "let people follow"


class Refused(NotAllowed):
    """``actor`` may not do ``verb`` to the ticket; ``str(err)`` tells them why."""

    def __init__(self, message: str, verb: Verb, ticket_id: int | None) -> None:
        super().__init__(message)
        self.verb, self.ticket_id = verb, ticket_id

    @property
    def doing(self) -> str:
        return self.verb.value


def on_desk(cfg: AppConfig, user: str) -> bool:
    """Works on some pod's tickets (or is an admin): sees team lists and digest previews."""
    return cfg.can_act(user)


def check(
    cfg: AppConfig,
    ticket: Ticket,
    user: str,
    verb: Verb,
    *,
    watchers: Collection[str] = (),
    followup: FollowUp | None = None,
) -> None:
    """Raise :class:`Refused` unless ``user`` may ``verb`` ``ticket``.

    ``watchers`` matter for :attr:`Verb.SEE` only; ``followup`` for
    :attr:`Verb.CHANGE_FOLLOW_UP` (its owner and creator may change it).
    """
    pod = cfg.pod_for_area(ticket.policy_area)
    admin = cfg.is_admin(user)
    if verb is Verb.ADMIT:  # a follow request: the ticket's owner decides (or lead, admins)
        if admin or user in (ticket.assignee_id, pod.lead):
            return
        raise Refused(
            f"Only the owner of {ticket.key} (or the {pod.title} lead) can let people follow "
            "it; nothing was changed.",
            verb,
            ticket.id,
        )
    if admin or user == pod.lead or pod.member(user) is not None:  # in the ticket's pod
        if verb is Verb.ACK and not (admin or user in (ticket.assignee_id, pod.lead)):
            raise Refused(_not_yours(ticket, hint=True), verb, ticket.id)
        return
    if verb is Verb.ACK:
        if user == ticket.assignee_id:
            return
        raise Refused(_not_yours(ticket, hint=False), verb, ticket.id)
    if verb is Verb.REOPEN and user == ticket.reporter_id:
        return
    if verb is Verb.SEE and (user in (ticket.reporter_id, ticket.assignee_id) or user in watchers):
        return
    if (
        verb is Verb.CHANGE_FOLLOW_UP
        and followup
        and user in (followup.owner_id, followup.created_by)
    ):
        return
    title = pod.title
    who = {
        Verb.REOPEN: f"the reporter or members of the {title} pod",
        Verb.SEE: f"the reporter, the people following it and the {title} pod",
        Verb.CHANGE_FOLLOW_UP: f"its owner or members of the {title} pod",
    }.get(verb, f"members of the {title} pod (and escbot admins)")
    tail = "." if verb is Verb.SEE else "; nothing was changed."
    raise Refused(f"Only {who} can {verb.value} {ticket.key}{tail}", verb, ticket.id)


def allowed(cfg: AppConfig, ticket: Ticket, user: str, verb: Verb) -> bool:
    """Whether to offer ``verb`` to ``user`` (a button, an App Home entry)."""
    try:
        check(cfg, ticket, user, verb)
    except Refused:
        return False
    return True


def may_see(session: Session, cfg: AppConfig, ticket: Ticket, user: str) -> bool:
    """Whether ``user`` may see ``ticket`` (:attr:`Verb.SEE`), following it included:
    what decides if the duplicate check shows them its details."""
    watching = session.scalar(
        select(Watcher.id).where(Watcher.ticket_id == ticket.id, Watcher.user_id == user)
    )
    try:
        check(cfg, ticket, user, Verb.SEE, watchers=[user] if watching else [])
    except Refused:
        return False
    return True


def check_desk(cfg: AppConfig, user: str, doing: str) -> None:
    """Raise :class:`~bot.core.errors.NotAllowed` unless ``user`` works on the desk."""
    if not on_desk(cfg, user):
        raise NotAllowed(f"Only pod members (and escbot admins) can {doing}.")


@contextmanager
def audited(sessions: sessionmaker[Session], actor: str, now: datetime) -> Iterator[None]:
    """Audit a :class:`Refused` escaping the block, then let it go on to the surface.

    The refused change's own transaction has rolled back by then, so the audit
    line is written in a transaction of its own.
    """
    try:
        yield
    except Refused as err:
        if err.ticket_id is not None:
            with transaction(sessions) as session:
                _audit(session, err, err.ticket_id, actor, now)
        raise


@contextmanager
def attempt(desk: Desk, actor: str) -> Iterator[tuple[Session, datetime]]:
    """One gesture's own transaction and its time; a :class:`Refused` rolls the
    transaction back and is then :func:`audited`."""
    now = desk.clock.now()
    with audited(desk.sessions, actor, now), transaction(desk.sessions) as session:
        yield session, now


def _audit(session: Session, err: Refused, ticket_id: int, actor: str, now: datetime) -> None:
    """Append the refusal to the ticket's trail unless one like it is recent."""
    ticket = ticket_by_id(session, ticket_id, lock=True)
    if ticket is None:
        return
    recent = session.scalars(
        select(TicketEvent.payload).where(
            TicketEvent.ticket_id == ticket.id,
            TicketEvent.action == REFUSED,
            TicketEvent.actor_id == actor,
            TicketEvent.at > now - AUDIT_WINDOW,
        )
    ).all()
    if any(payload.get("doing") == err.doing for payload in recent):
        return
    record(
        session,
        ticket,
        REFUSED,
        actor=actor,
        now=now,
        payload={"doing": err.doing, "why": str(err)},
    )


def _not_yours(ticket: Ticket, *, hint: bool) -> str:
    owner = f"<@{ticket.assignee_id}>'s" if ticket.assignee_id else "its owner's"
    tip = " To make it yours, use *Take*." if hint else ""
    return f"{ticket.key} is {owner} to acknowledge; nothing was changed.{tip}"


# -- the QA programme ------------------------------------------------------------------


class QaVerb(StrEnum):
    """What someone tries to do with a QA item; the value reads in "can … this item"."""

    GRADE = "grade"
    CORRECT = "correct the grade of"
    CLARIFY = "write a clarification from"


class QaRefused(NotAllowed):
    """``actor`` may not ``verb`` the QA item (or the clarification of ``area``)."""

    def __init__(self, message: str, verb: QaVerb, item_id: int | None) -> None:
        super().__init__(message)
        self.verb, self.item_id = verb, item_id


def qa_overseers(cfg: AppConfig, area: str) -> set[str]:
    """Who oversees QA of ``area``: its pod's lead and the admins."""
    lead = cfg.pod_for_area(area).lead if area in cfg.policy_areas else None
    return {*cfg.workspace.admins, *([lead] if lead else [])}


def check_qa(
    cfg: AppConfig,
    area: str,
    user: str,
    verb: QaVerb,
    *,
    item_id: int | None = None,
    grader: str | None = None,
    calibration: bool = False,
) -> None:
    """Raise :class:`QaRefused` unless ``user`` may ``verb`` a QA item of ``area``.

    A sampled item: its grader, the pod's lead and the admins grade and correct it. A
    calibration item: only its grader grades it (blind); the lead's or an admin's
    correction is a separate grade that never counts toward kappa. Clarifications:
    the pod (members, lead) and the admins.
    """
    pod = cfg.pod_for_area(area) if area in cfg.policy_areas else None
    title = pod.title if pod else "owning"
    overseer = user in qa_overseers(cfg, area)
    if verb is QaVerb.CLARIFY:
        if overseer or (pod is not None and pod.member(user) is not None):
            return
        raise QaRefused(
            f"Only members of the {title} pod (and escbot admins) can write clarifications "
            "about its QA items; nothing was sent.",
            verb,
            item_id,
        )
    if grader is not None and user == grader:
        return
    who = f"<@{grader}>" if grader else "the specialist it is assigned to"
    if calibration and verb is QaVerb.GRADE:
        raise QaRefused(
            f"Only {who} can grade this calibration item: it is graded blind, by its grader "
            "alone. Once it is graded, the pod lead can add a correction (which does not "
            "count toward the pod's agreement); nothing was changed.",
            verb,
            item_id,
        )
    if overseer:
        return
    raise QaRefused(
        f"Only {who} (or the {title} lead) can {verb.value} this QA item; nothing was changed.",
        verb,
        item_id,
    )


def qa_areas(cfg: AppConfig, user: str) -> frozenset[str] | None:
    """The policy areas whose QA scores and clarifications ``user`` sees in App Home:
    None for every area (admins), the areas of the pods they lead, or none."""
    if cfg.is_admin(user):
        return None
    return frozenset(k for k, a in cfg.policy_areas.items() if cfg.pods[a.pod].lead == user)


@contextmanager
def qa_audited(sessions: sessionmaker[Session], actor: str, now: datetime) -> Iterator[None]:
    """Audit a :class:`QaRefused` on an item escaping the block (after its own transaction
    rolled back), at most once per person, item and verb in :data:`AUDIT_WINDOW`."""
    try:
        yield
    except QaRefused as err:
        if err.item_id is not None:
            with transaction(sessions) as session:
                _audit_qa(session, err, err.item_id, actor, now)
        raise


def _audit_qa(session: Session, err: QaRefused, item_id: int, actor: str, now: datetime) -> None:
    note = f"{err.verb.value}: {err}"
    # three clicks arrive on three listener threads: the item's row lock makes the look
    # and the insert one step (PostgreSQL's read committed would let each insert)
    session.get(QaItem, item_id, with_for_update=True)
    recent = session.scalar(
        select(QaGrade.id).where(
            QaGrade.item_id == item_id,
            QaGrade.actor_id == actor,
            QaGrade.verdict == REFUSED,
            QaGrade.note == note,
            QaGrade.at > now - AUDIT_WINDOW,
        )
    )
    if recent is None:
        session.add(QaGrade(item_id=item_id, actor_id=actor, verdict=REFUSED, note=note, at=now))
