"""Changing a ticket's severity: the card's "Change severity" modal and
``/escalate sev ESC-n sev0 <reason>``, for the ticket's pod and admins.

The reason is required and kept in the audit trail (a ``severity`` event: from, to,
reason); the KPIs read that trail to count each clock under the severity the ticket had
when it stopped (``bot.reporting.kpi.severity``). Due times are derived afresh from the
ticket's opening under the new severity's targets, with the pauses so far measured again
on its clock (``sla.remeasure_pauses``, then ``sla.sync``); the escalation chain's
pending step moves to the new acknowledgement window. Raising to one of
``routing.oncall_severities`` routes the ticket again, by the usual rules (the on-call
rotation first), unless its owner is eligible for it now; lowering never moves it.
The thread, the card and the owner (and the owner it left) are told the new due times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot import sla
from bot.config import AppConfig
from bot.core.desk import Desk
from bot.core.errors import NotFound, TransitionError
from bot.core.forms import FieldErrors
from bot.core.render import Renderer
from bot.core.text import clean
from bot.delivery import outbox
from bot.routing import chain, workload
from bot.routing import notices as owner_notices
from bot.routing.assignment import assign_routed
from bot.routing.candidates import Need, assess
from bot.routing.decide import Decision
from bot.tickets import lookup, permissions
from bot.tickets.lifecycle import is_open, record
from bot.tickets.permissions import Verb
from storage.models import Ticket, TicketEvent
from storage.queries import claim_request, ticket_by_id

ACTION = "severity"  # the audit action; the KPIs look it up by this name
MODAL = "severity_modal"  # the modal's callback_id
SEVERITY_BLOCK, REASON_BLOCK = "severity", "reason"
REASON_MAX = 2000
USAGE = "`/escalate sev ESC-12 sev0 Livestream of an attack in progress`"


@dataclass(frozen=True)
class Changed:
    """What a change did: the ticket, its old severity and who it moved to (if it did)."""

    ticket: Ticket
    old: str
    moved_to: str | None


def modal(desk: Desk, key: str, *, actor: str) -> dict[str, Any]:
    """The card's "Change severity": the modal, if ``actor`` may change it."""
    now = desk.clock.now()
    with permissions.audited(desk.sessions, actor, now), desk.sessions() as session:
        ticket = lookup.by_key(session, key)
        _check(desk.config, ticket, actor)
        choices = {k: s.title for k, s in desk.config.severities.items() if k != ticket.severity}
        view = desk.renderer.render(MODAL, t=ticket, choices=choices)
        return desk.seal.seal_view(view)


def submitted(desk: Desk, view: dict[str, Any], values: dict[str, Any], actor: str) -> None:
    """The modal submitted (taken once per view); FieldErrors go back to the modal."""
    ticket_id = int(desk.seal.open_view(view, user=actor))
    with permissions.attempt(desk, actor) as (session, now):
        ticket = ticket_by_id(session, ticket_id, lock=True)
        if ticket is None:
            raise NotFound("That ticket no longer exists.")
        if claim_request(session, f"view:{view.get('id')}", now, {}):
            change(
                session,
                desk.config,
                desk.renderer,
                ticket,
                values.get(SEVERITY_BLOCK),
                values.get(REASON_BLOCK),
                actor=actor,
                now=now,
            )


def command(desk: Desk, args: str, actor: str) -> dict[str, Any]:
    """``/escalate sev ESC-n <severity> <reason>``: the change, and its answer to the actor."""
    words = args.split(maxsplit=2)
    if len(words) < 3:
        raise FieldErrors({REASON_BLOCK: f"Give the ticket, the new severity and why: {USAGE}."})
    key, to, reason = words
    with permissions.attempt(desk, actor) as (session, now):
        ticket = lookup.by_key(session, key, lock=True)
        done = change(
            session, desk.config, desk.renderer, ticket, to.lower(), reason, actor=actor, now=now
        )
        return desk.renderer.render(
            "severity_changed", **_context(desk.config, desk.renderer, done, actor, reason),
            audience="ephemeral",
        )  # fmt: skip


def change(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    to: str | None,
    reason: str | None,
    *,
    actor: str,
    now: datetime,
) -> Changed:
    """Give ``ticket`` severity ``to`` with ``reason``, in the caller's transaction."""
    _check(cfg, ticket, actor)
    if not to or to not in cfg.severities:
        names = ", ".join(cfg.severities)
        raise FieldErrors({SEVERITY_BLOCK: f"Pick one of the severities ({names})."})
    if to == ticket.severity:
        raise FieldErrors({SEVERITY_BLOCK: f"{ticket.key} is {to} already."})
    text = clean(reason or "").strip()
    if not text:
        raise FieldErrors({REASON_BLOCK: "Say why: the reason is kept in the audit trail."})
    if len(text) > REASON_MAX:
        raise FieldErrors({REASON_BLOCK: f"Keep it under {REASON_MAX} characters."})
    old, previous = ticket.severity, ticket.assignee_id
    ticket.severity = to
    ticket.updated_at = now
    sla.remeasure_pauses(session, cfg, ticket)
    event = record(
        session, ticket, ACTION, actor=actor, now=now,
        payload={"from": old, "to": to, "reason": text},
    )  # fmt: skip
    sla.sync(session, cfg, ticket, now)
    moved = _route_up(session, cfg, renderer, ticket, old, now, text)
    if moved is None:
        chain.rearm(session, cfg, ticket, now)
    done = Changed(ticket, old, moved)
    _tell(session, cfg, renderer, event, done, actor, text, previous, now)
    return done


def _check(cfg: AppConfig, ticket: Ticket, actor: str) -> None:
    permissions.check(cfg, ticket, actor, Verb.SEVERITY)
    if not is_open(ticket.status):
        raise TransitionError(f"{ticket.key} is resolved; reopen it first.")


def raised(cfg: AppConfig, old: str, new: str) -> bool:
    """More urgent: severities are ordered by name, ``sev0`` the most urgent."""
    order = list(cfg.severities)
    return order.index(new) < order.index(old)


def _route_up(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    old: str,
    now: datetime,
    reason: str,
) -> str | None:
    """Raised to an on-call severity: routed again unless the owner is eligible for it
    now (on shift and passing every rule); the new owner, or None if it stayed."""
    new = ticket.severity
    if not raised(cfg, old, new) or new not in cfg.routing.oncall_severities:
        return None
    if ticket.assignee_id is None or _eligible(session, cfg, ticket, ticket.assignee_id, now):
        return None
    previous = ticket.assignee_id
    decision: Decision = workload.route(session, cfg, ticket, now)
    if decision.assignee == previous:
        return None
    chain.cancel(session, ticket)
    change = assign_routed(session, cfg, ticket, decision, now, severity=new)
    sla.sync(session, cfg, ticket, now)
    if decision.to_lead:
        chain.arm_retry(session, cfg, ticket, now)
    else:
        chain.arm(session, cfg, ticket, now, tag=f":s{int(now.timestamp())}")
    owner_notices.line(session, renderer, change.event, "rerouted", now, previous=previous)
    owner_notices.dm_owner(
        session, cfg, renderer, change, "lead" if decision.to_lead else "routed", now,
        reason=reason,
    )  # fmt: skip
    return decision.assignee


def _eligible(session: Session, cfg: AppConfig, ticket: Ticket, user: str, now: datetime) -> bool:
    pod = cfg.pod_for_area(ticket.policy_area)
    member = pod.member(user)
    if member is None:
        return False
    need = Need.of(ticket)
    snap = workload.snapshot(session, cfg, pod, now, turn=False)
    seen = assess(cfg, member, need, snap)
    return seen.barred is None and seen.on_shift


def _context(
    cfg: AppConfig, renderer: Renderer, done: Changed, actor: str, text: str
) -> dict[str, Any]:
    ticket = done.ticket
    return {
        "t": ticket,
        "actor": actor,
        "old": done.old,
        "raised": raised(cfg, done.old, ticket.severity),
        "text": text,
        "moved_to": done.moved_to,
        "ack": sla.describe(cfg, renderer, ticket, sla.TTA),
        "resolve": sla.describe(cfg, renderer, ticket, sla.TTR),
        "card_link": outbox.CARD_LINK,
    }


def _tell(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    event: TicketEvent,
    done: Changed,
    actor: str,
    text: str,
    previous: str | None,
    now: datetime,
) -> None:
    """The thread line and card refresh; a DM to the owner and the one it left, not the actor."""
    session.flush()
    ticket = done.ticket
    context = _context(cfg, renderer, done, actor, text)
    line = renderer.render("severity_changed", **context, audience="thread")
    outbox.enqueue_thread(session, ticket, line, f"thread:{ticket.id}:{event.id}", now)
    outbox.enqueue_card(session, ticket, now)
    for user in dict.fromkeys(u for u in (ticket.assignee_id, previous) if u and u != actor):
        payload = renderer.render("severity_changed", **context, audience="dm")
        key = f"dm:{ticket.id}:{event.id}:{user}"
        outbox.enqueue_dm(session, user, payload, key, now, ticket=ticket, after_card=True)
