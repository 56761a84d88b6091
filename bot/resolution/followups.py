"""Remediation follow-ups: add, remind, done, snooze.

A follow-up is due by the end of the team's business day on its due date
(``workspace.calendar.end`` in the team's time zone). Its owner is reminded
``followups.remind_before`` ahead, at the due time, and then every
``followups.overdue_every`` while it stays open; snoozing moves the next
reminder a day out and the cadence continues from there. Only the next
reminder is ever pending: a durable timer whose dedup key carries its snooze
generation and its time, so each reminder is sent exactly once, also with
several replicas, and a snoozed one never comes back.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from bot.config import AppConfig
from bot.core.errors import DomainError, NotFound
from bot.core.forms import FieldErrors
from bot.core.render import Renderer
from bot.core.text import clean
from bot.delivery import outbox, timers
from bot.resolution.updates import TEXT_MAX
from bot.tickets import permissions
from bot.tickets.lifecycle import record
from bot.tickets.permissions import Verb
from storage.models import DeskPerson, FollowUp, Ticket, Timer

OPEN, DONE = "open", "done"
TIMER_KIND = "followup"
SNOOZE = timedelta(days=1)


def due_at_for(
    cfg: AppConfig, day: date, owner: str | None = None, now: datetime | None = None
) -> datetime:
    """A due date means "by the end of that business day", team time. "Today" stays
    possible all the owner's day: added after that hour, it is due by the end of the
    owner's own day (their time zone), not refused as past."""
    due = datetime.combine(day, cfg.workspace.calendar.end, tzinfo=cfg.team_tz)
    if now is not None and due <= now:
        tz = _owner_tz(cfg, owner)
        if day == now.astimezone(tz).date():
            due = datetime.combine(day, time(23, 59), tzinfo=tz)
    return due.astimezone(UTC)


def _owner_tz(cfg: AppConfig, owner: str | None) -> tzinfo:
    member = cfg.member(owner) if owner else None
    return member.tz if member is not None else cfg.team_tz


def today(cfg: AppConfig, now: datetime) -> date:
    return now.astimezone(cfg.team_tz).date()


def form(
    renderer: Renderer, cfg: AppConfig, ticket: Ticket, user: str, now: datetime
) -> dict[str, Any]:
    """The "Add a follow-up" modal: owned by whoever adds it, due in a week, until changed."""
    return renderer.render(
        "followup_modal",
        t=ticket,
        kinds=cfg.followups.kinds,
        owner=user,
        initial_date=(today(cfg, now) + timedelta(days=7)).isoformat(),
        day_end=f"{cfg.workspace.calendar.end.strftime('%H:%M')} {cfg.team_tz.key}",
    )


def add(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    *,
    kind: str | None,
    description: str | None,
    owner: str | None,
    due: date | None,
    actor: str,
    now: datetime,
) -> FollowUp:
    """Add a follow-up to ``ticket``; its owner gets a DM and, later, the reminders."""
    permissions.check(cfg, ticket, actor, Verb.FOLLOW_UP)
    errors: dict[str, str] = {}
    if kind not in cfg.followups.kinds:
        errors["kind"] = "Pick the kind of gap."
    text = clean(description or "").strip()
    if not text:
        errors["description"] = "Describe what needs to be done."
    elif len(text) > TEXT_MAX:
        errors["description"] = f"Keep it under {TEXT_MAX} characters."
    if not owner:
        errors["owner"] = "Pick who owns it."
    elif (person := session.get(DeskPerson, owner)) is not None and person.left_at is not None:
        # their DMs are dropped: a follow-up given to them would never be heard of again
        errors["owner"] = f"<@{owner}> has left the desk: pick who owns it now."
    due_at = due_at_for(cfg, due, owner, now) if due else None
    if due_at is None:
        errors["due"] = "Pick a due date."
    elif due_at <= now:
        errors["due"] = "The due date can't be in the past."
    if errors:
        raise FieldErrors(errors)
    assert kind and owner and due_at
    fu = FollowUp(
        ticket_id=ticket.id,
        kind=kind,
        description=text,
        owner_id=owner,
        created_by=actor,
        due_at=due_at,
        status=OPEN,
        created_at=now,
    )
    session.add(fu)
    session.flush()
    event = record(
        session,
        ticket,
        "followup_added",
        actor=actor,
        now=now,
        payload={"followup": fu.id, "kind": kind, "owner": owner, "due_at": due_at.isoformat()},
    )
    _schedule_next(session, cfg, fu, now)
    context = message_context(cfg, fu, ticket, now) | {"actor": actor}
    session.flush()
    outbox.enqueue_thread(
        session,
        ticket,
        renderer.render("followup_message", **context, kind="added", audience="thread"),
        f"thread:{ticket.id}:{event.id}",
        now,
    )
    outbox.enqueue_dm(
        session,
        owner,
        renderer.render("followup_message", **context, kind="added", audience="dm"),
        f"followup-dm:{fu.id}:added",
        now,
        ticket=ticket,
    )
    _refresh(session, ticket, fu, now)
    return fu


def done(
    session: Session, cfg: AppConfig, renderer: Renderer, fu_id: int, *, actor: str, now: datetime
) -> FollowUp:
    """Close a follow-up (its owner, whoever added it, or the pod)."""
    fu, ticket = _load(session, cfg, fu_id, actor)
    if fu.status == DONE:
        raise DomainError(f"That follow-up on {ticket.key} is already done.")
    fu.status, fu.done_at = DONE, now
    _cancel_reminders(session, fu)
    event = record(
        session, ticket, "followup_done", actor=actor, now=now, payload={"followup": fu.id}
    )
    session.flush()
    context = message_context(cfg, fu, ticket, now) | {"actor": actor}
    outbox.enqueue_thread(
        session,
        ticket,
        renderer.render("followup_message", **context, kind="done", audience="thread"),
        f"thread:{ticket.id}:{event.id}",
        now,
    )
    _refresh(session, ticket, fu, now)
    return fu


def snooze(session: Session, cfg: AppConfig, fu_id: int, *, actor: str, now: datetime) -> FollowUp:
    """Remind again in a day; the due date itself stays."""
    fu, ticket = _load(session, cfg, fu_id, actor)
    if fu.status == DONE:
        raise DomainError(f"That follow-up on {ticket.key} is already done.")
    fu.snoozed_until = now + SNOOZE
    _cancel_reminders(session, fu)
    _schedule_next(session, cfg, fu, now)
    record(
        session,
        ticket,
        "followup_snoozed",
        actor=actor,
        now=now,
        payload={"followup": fu.id, "until": fu.snoozed_until.isoformat()},
    )
    _refresh(session, ticket, fu, now)
    return fu


def next_reminder(cfg: AppConfig, fu: FollowUp, after: datetime) -> datetime:
    """The first reminder strictly later than ``after``.

    Before the due date: ``remind_before`` ahead, then at the due time; once
    overdue, every ``overdue_every`` counted from the due time, or from the
    end of the latest snooze.
    """
    snoozed = fu.snoozed_until
    if snoozed is not None and snoozed > after:
        return snoozed
    before = fu.due_at - cfg.followups.remind_before
    if before > after:
        return before
    if fu.due_at > after:
        return fu.due_at
    anchor = max(fu.due_at, snoozed) if snoozed else fu.due_at
    every = cfg.followups.overdue_every
    steps = math.floor((after - anchor) / every) + 1
    return anchor + steps * every


def make_timer_handler(cfg: AppConfig, renderer: Renderer) -> timers.TimerHandler:
    """The ``followup`` timer: DM the owner (Done / Snooze), then schedule the next reminder."""

    def fire(session: Session, timer: Timer, now: datetime) -> None:
        fu = session.scalars(
            select(FollowUp).where(FollowUp.id == timer.payload["followup"]).with_for_update()
        ).one_or_none()
        if fu is None or fu.status != OPEN or timer.payload.get("generation") != _generation(fu):
            return  # done, or snoozed since this reminder was scheduled
        ticket = session.get_one(Ticket, fu.ticket_id, with_for_update=True)  # its card changes
        if timer.due_at == fu.due_at:  # the reminder at the due time itself
            kind = "due_now"
        else:
            kind = "overdue" if now >= fu.due_at else "due_soon"
        outbox.enqueue_dm(
            session,
            fu.owner_id,
            renderer.render(
                "followup_message",
                **message_context(cfg, fu, ticket, now),
                kind=kind,
                audience="dm",
                actor=None,
            ),
            f"followup-dm:{fu.id}:{timer.dedup_key}",
            now,
            ticket=ticket,
        )
        _schedule_next(session, cfg, fu, now)
        if kind == "overdue":  # the card and App Home show it overdue from now on
            _refresh(session, ticket, fu, now)

    return fire


# -- reading --------------------------------------------------------------------------


def state(fu: FollowUp, now: datetime) -> str:
    if fu.status == DONE:
        return "done"
    return "overdue" if fu.due_at < now else "open"


def message_context(cfg: AppConfig, fu: FollowUp, ticket: Ticket, now: datetime) -> dict[str, Any]:
    return {
        "fu": fu,
        "t": ticket,
        "kind_label": cfg.followups.kinds.get(fu.kind, fu.kind),
        "state": state(fu, now),
        "due_day": fu.due_at.astimezone(cfg.team_tz).strftime("%a %d %b"),
        "due_time": fu.due_at.astimezone(_owner_tz(cfg, fu.owner_id)).strftime("%H:%M"),
    }


def for_card(cfg: AppConfig, ticket: Ticket, limit: int = 10) -> dict[str, Any]:
    """The ticket's follow-ups as the card lists them, open ones first.

    The card has no clock of its own: "overdue" is judged as of the ticket's last
    update, and the first overdue reminder updates the ticket (see the timer).
    """
    session = object_session(ticket)
    if session is None or ticket.id is None:
        return {"rows": [], "more": 0}
    items = list(
        session.scalars(
            select(FollowUp)
            .where(FollowUp.ticket_id == ticket.id)
            .order_by(FollowUp.status == DONE, FollowUp.due_at, FollowUp.id)
        )
    )
    rows = [message_context(cfg, f, ticket, ticket.updated_at) for f in items[:limit]]
    return {"rows": rows, "more": max(0, len(items) - limit)}


def open_followups(session: Session, owner: str | None = None) -> list[FollowUp]:
    """Open follow-ups (of ``owner``, or everyone's), soonest due first."""
    stmt = select(FollowUp).where(FollowUp.status == OPEN)
    if owner:
        stmt = stmt.where(FollowUp.owner_id == owner)
    return list(session.scalars(stmt.order_by(FollowUp.due_at, FollowUp.id)))


def listing(
    session: Session, cfg: AppConfig, user: str, now: datetime, limit: int = 15
) -> dict[str, Any]:
    """``/escalate followups``: mine and the team's open ones, each capped at ``limit``.

    The team's are those on tickets of the user's own pods: another pod's
    remediation work is theirs to see.
    """
    mine = open_followups(session, user)
    on_desk = permissions.on_desk(cfg, user)
    team = open_followups(session) if on_desk else []
    tickets = {t.id: t for t in _tickets(session, {f.ticket_id for f in mine + team})}
    team = [f for f in team if permissions.allowed(cfg, tickets[f.ticket_id], user, Verb.SEE)]

    def rows(items: list[FollowUp]) -> list[dict[str, Any]]:
        return [message_context(cfg, f, tickets[f.ticket_id], now) for f in items[:limit]]

    return {
        "mine": rows(mine),
        "mine_more": max(0, len(mine) - limit),
        "team": rows(team),
        "team_more": max(0, len(team) - limit),
        "is_pod": on_desk,
    }


# -- helpers --------------------------------------------------------------------------


def _tickets(session: Session, ids: set[int]) -> list[Ticket]:
    return list(session.scalars(select(Ticket).where(Ticket.id.in_(ids)))) if ids else []


def _load(session: Session, cfg: AppConfig, fu_id: int, actor: str) -> tuple[FollowUp, Ticket]:
    fu = session.scalars(
        select(FollowUp).where(FollowUp.id == fu_id).with_for_update()
    ).one_or_none()
    if fu is None:
        raise NotFound("That follow-up no longer exists.")
    ticket = session.get_one(Ticket, fu.ticket_id, with_for_update=True)  # its card changes
    permissions.check(cfg, ticket, actor, Verb.CHANGE_FOLLOW_UP, followup=fu)
    return fu, ticket


def _schedule_next(session: Session, cfg: AppConfig, fu: FollowUp, now: datetime) -> None:
    """Schedule the next reminder; the key's generation (the snooze) keeps it apart from
    reminders cancelled by an earlier snooze that fell at the same time."""
    when = next_reminder(cfg, fu, now)
    generation = _generation(fu)
    timers.schedule(
        session,
        TIMER_KIND,
        f"followup:{fu.id}:g{generation}:{int(when.timestamp())}",
        when,
        ticket=session.get_one(Ticket, fu.ticket_id),
        payload={"followup": fu.id, "generation": generation},
    )


def _generation(fu: FollowUp) -> int:
    """Each snooze starts a new generation of reminders."""
    return int(fu.snoozed_until.timestamp()) if fu.snoozed_until else 0


def _cancel_reminders(session: Session, fu: FollowUp) -> None:
    """Cancel the pending reminder, passing over one being fired this very moment (that
    handler waits for the follow-up's lock and then sees it done or snoozed)."""
    timers.cancel_pending(
        session, Timer.kind == TIMER_KIND, Timer.dedup_key.like(f"followup:{fu.id}:%")
    )


def _refresh(session: Session, ticket: Ticket, fu: FollowUp, now: datetime) -> None:
    """The card lists follow-ups; their owner's App Home too."""
    ticket.updated_at = now
    outbox.enqueue_card(session, ticket, now)
    outbox.enqueue_home(session, fu.owner_id, now)
