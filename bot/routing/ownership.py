"""Who owns a ticket: routing at intake, and the Ack / Take / Reassign buttons.

The surfaces call one entry point each (:func:`acknowledge_ticket`,
:func:`take_ticket`, :func:`reassign_options`, :func:`reassign_ticket`,
:func:`decline_ticket`), which
runs the operation in a transaction of its own. Each operation locks the ticket
row (``FOR UPDATE``; SQLite serialises writers anyway), checks who is asking,
moves the ticket through ``bot.tickets.lifecycle`` (which refuses same-state
repeats, so a double click makes one transition), and queues the card update,
the thread line and the new owner's DM in the same transaction.

Who may do what is ``bot.tickets.permissions``' to say: Ack — the owner, the
pod lead, admins; Take and Reassign — members and the lead of the ticket's pod,
admins. Anyone else is told why and nothing changes except a ``refused`` audit
line (at most one per person, ticket and verb in a while).

Wellness holds on every path (``bot.routing.wellness``): Take refuses a member
without the skill or at their sensitive cap; Reassign to such a member needs the
modal's override box and a reason, both audited; the owner of a sensitive ticket
who is at their cap may Decline it, and it is routed again. Reassigning to
yourself is a Take: it acknowledges and calls the chain off.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot import sla
from bot.config import AppConfig
from bot.core.desk import Desk
from bot.core.errors import TransitionError
from bot.core.forms import FieldErrors
from bot.core.render import Renderer
from bot.core.text import clean, one_line
from bot.routing import chain, wellness, workload
from bot.routing import notices as owner_notices
from bot.routing.assignment import assign_routed
from bot.routing.decide import Decision
from bot.routing.reasons import card_line
from bot.routing.workload import DECLINE
from bot.tickets import lookup, permissions
from bot.tickets.lifecycle import Action, Change, is_open, record, transition
from bot.tickets.permissions import Verb
from storage.models import Ticket
from storage.queries import claim_request

ROUTE_AGAIN = "route_again"  # the reassign menu's "let routing choose" option
TO_BLOCK, REASON_BLOCK = "reassign_to", "reassign_reason"
OVERRIDE_BLOCK, OVERRIDE = "reassign_override", "override"  # the modal's override box
REASON_MAX = 500


# -- routing a new ticket ----------------------------------------------------------


def assign_new(
    session: Session,
    cfg: AppConfig,
    ticket: Ticket,
    now: datetime,
    renderer: Renderer,
) -> Decision:
    """Route a ticket just created (``bot.intake.opening.finish_opening``, before ``sla.sync``).

    new → assigned to the best placed specialist (or the pod lead), with the
    reason on the card, the candidate table in the audit event, a DM to the
    owner and the first escalation step armed.
    """
    session.flush()
    decision = workload.route(session, cfg, ticket, now)
    change = assign_routed(session, cfg, ticket, decision, now)
    _arm(session, cfg, ticket, decision, now)
    owner_notices.dm_owner(session, cfg, renderer, change, _dm_kind(decision), now)
    chosen = decision.chosen
    if ticket.severity in cfg.routing.oncall_severities and chosen and not chosen.on_shift:
        owner_notices.copy_lead(session, cfg, renderer, change, now)
    return decision


def _arm(
    session: Session, cfg: AppConfig, ticket: Ticket, decision: Decision, now: datetime
) -> None:
    """The chain's next step; for the lead's fallback, a retry when somebody may qualify."""
    if decision.to_lead:
        chain.arm_retry(session, cfg, ticket, now)
    else:
        chain.arm(session, cfg, ticket, now)


def _dm_kind(decision: Decision) -> str:
    return "lead" if decision.to_lead else "routed"


# -- entry points: one per surface action --------------------------------------------


def acknowledge_ticket(desk: Desk, key: str, actor: str) -> Change:
    """The Ack button: :func:`acknowledge` in a transaction of its own."""
    with permissions.attempt(desk, actor) as (session, now):
        return acknowledge(session, desk.config, desk.renderer, key, actor=actor, now=now)


def take_ticket(desk: Desk, key: str, actor: str) -> Change:
    """The Take button: :func:`take` in a transaction of its own."""
    with permissions.attempt(desk, actor) as (session, now):
        return take(session, desk.config, desk.renderer, key, actor=actor, now=now)


def reassign_options(desk: Desk, key: str, actor: str) -> dict[str, Any]:
    """The Reassign button: what the modal offers (:func:`reassign_choices`), if ``actor`` may."""
    with permissions.attempt(desk, actor) as (session, now):
        return reassign_choices(session, desk.config, key, actor=actor, now=now)


def reassign_modal(desk: Desk, key: str, actor: str) -> dict[str, Any]:
    """The Reassign button's modal, its ticket key signed (``bot.core.sealed``)."""
    view = desk.renderer.render("reassign_modal", **reassign_options(desk, key, actor))
    return desk.seal.seal_view(view)


def reassign_ticket(
    desk: Desk,
    key: str,
    actor: str,
    *,
    to: str | None,
    reason: str | None,
    submission: str,
    override: bool = False,
) -> Change | None:
    """The reassign modal submitted: :func:`reassign` once per ``submission`` (the
    modal's id), since a double submit of "route again" would otherwise move it twice.
    None when that submission was already taken."""
    with permissions.attempt(desk, actor) as (session, now):
        if not claim_request(session, f"reassign:{submission}", now, {}):
            return None
        return reassign(
            session,
            desk.config,
            desk.renderer,
            key,
            actor=actor,
            now=now,
            to=to,
            reason=reason,
            override=override,
        )


def decline_ticket(desk: Desk, key: str, actor: str) -> Change:
    """The owner DM's "Decline — at my exposure cap": :func:`decline` in its transaction."""
    with permissions.attempt(desk, actor) as (session, now):
        return decline(session, desk.config, desk.renderer, key, actor=actor, now=now)


# -- the buttons ---------------------------------------------------------------------


def acknowledge(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    key: str,
    *,
    actor: str,
    now: datetime,
) -> Change:
    """The owner has seen it: the TTA clock stops and the escalation chain is called off."""
    ticket = lookup.by_key(session, key, lock=True)
    permissions.check(cfg, ticket, actor, Verb.ACK)
    change = transition(session, ticket, Action.ACKNOWLEDGE, actor=actor, now=now)
    chain.cancel(session, ticket)
    sla.sync(session, cfg, ticket, now)
    owner_notices.line(session, renderer, change.event, "acknowledged", now)
    return change


def take(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    key: str,
    *,
    actor: str,
    now: datetime,
) -> Change:
    """``actor`` owns it from now on, acknowledged; not a member without the skill or at
    their sensitive cap (they may reassign it to themselves with an override)."""
    ticket = lookup.by_key(session, key, lock=True)
    permissions.check(cfg, ticket, actor, Verb.TAKE)
    return _take(session, cfg, renderer, ticket, actor, now)


def _take(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    actor: str,
    now: datetime,
    *,
    reason: str | None = None,
    override: bool | None = None,
) -> Change:
    """Take, from the button (``override`` None) or as a reassign to oneself."""
    overridden = _wellness(session, cfg, ticket, actor, now, override)
    previous = ticket.assignee_id
    payload: dict[str, Any] = {"from": previous}
    if reason:
        payload["reason"] = reason
    if overridden:
        payload["override"] = {"problems": overridden, "reason": reason}
    change = transition(session, ticket, Action.TAKE, actor=actor, now=now, payload=payload)
    name = owner_notices.who(cfg, ticket, actor)
    ticket.routing_reason = f"Taken by {name}" + _overridden(overridden)
    chain.cancel(session, ticket)
    sla.sync(session, cfg, ticket, now)
    owner_notices.line(
        session,
        renderer,
        change.event,
        "taken",
        now,
        previous=previous,
        reason=reason,
        override="; ".join(overridden) or None,
    )
    return change


def _wellness(
    session: Session,
    cfg: AppConfig,
    ticket: Ticket,
    user: str,
    now: datetime,
    override: bool | None,
) -> list[str]:
    """What giving ``ticket`` to ``user`` would override (skill, cap); raises unless
    ``override`` (None: the Take button, which has no override box)."""
    seen = wellness.exposure(session, cfg, ticket, user, now)
    problems = seen.problems() if seen is not None else []
    if not problems or override:
        return problems
    what = "; ".join(problems)
    if override is None:
        raise TransitionError(
            f"You can't take {ticket.key}: {what}. Wellness rules keep it from you; "
            "if you really must, use Reassign, pick yourself, tick the override and say why."
        )
    name = seen.name if seen is not None else user
    raise FieldErrors(
        {TO_BLOCK: f"{name}: {what}. Tick the override below and say why, or pick someone else."}
    )


def _overridden(problems: list[str]) -> str:
    return f" (wellness override: {'; '.join(problems)})" if problems else ""


def reassign(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    key: str,
    *,
    actor: str,
    now: datetime,
    to: str | None,
    reason: str | None,
    override: bool = False,
) -> Change:
    """Give the ticket to ``to`` (a pod member or the lead), or let routing choose again
    (``to`` None or ``ROUTE_AGAIN``) among everyone but the current owner. To ``actor``
    themselves, it is a Take. To a member without the skill or at their sensitive cap,
    only with ``override`` (audited with the reason).

    Bad input raises :class:`FieldErrors` keyed by the modal's block ids.
    """
    ticket = lookup.by_key(session, key, lock=True)
    permissions.check(cfg, ticket, actor, Verb.REASSIGN)
    if not is_open(ticket.status):
        raise TransitionError(f"{ticket.key} is resolved; reopen it first.")
    why = clean(reason or "").strip()
    if not why:
        raise FieldErrors({REASON_BLOCK: "Say why, for the new owner and the audit trail."})
    if len(why) > REASON_MAX:
        raise FieldErrors({REASON_BLOCK: f"Keep it under {REASON_MAX} characters."})
    if to == actor:
        return _take(session, cfg, renderer, ticket, actor, now, reason=why, override=override)
    previous = ticket.assignee_id
    payload: dict[str, Any] = {"reason": why, "from": previous}
    overridden: list[str] = []
    decision: Decision | None = None
    if to in (None, "", ROUTE_AGAIN):
        decision = workload.route(session, cfg, ticket, now, exclude={previous} if previous else ())
        if decision.assignee == previous:
            why_not = card_line(decision.reason)
            raise FieldErrors({TO_BLOCK: f"Nobody else can take it right now. {why_not}"})
        target, kind, dm = decision.assignee, "rerouted", _dm_kind(decision)
        payload["routing"] = decision.audit(cfg.routing.strategy)
        routing_reason = decision.reason
    else:
        target, kind, dm = to, "reassigned", "reassigned"
        pod = cfg.pod_for_area(ticket.policy_area)
        if target != pod.lead and pod.member(target) is None:
            raise FieldErrors({TO_BLOCK: f"Pick a member of the {pod.title} pod."})
        name = owner_notices.who(cfg, ticket, target)
        if target == previous:
            raise FieldErrors({TO_BLOCK: f"{ticket.key} is already with {name}."})
        overridden = _wellness(session, cfg, ticket, target, now, override)
        if overridden:
            payload["override"] = {"problems": overridden, "reason": why}
        by = owner_notices.who(cfg, ticket, actor)
        routing_reason = (
            f"Reassigned to {name} by {by}{_overridden(overridden)}: {one_line(why)[:200]}"
        )
    change = transition(
        session, ticket, Action.ASSIGN, actor=actor, now=now, assignee=target, payload=payload
    )
    ticket.routing_reason = routing_reason
    sla.sync(session, cfg, ticket, now)
    if decision is not None:
        _arm(session, cfg, ticket, decision, now)
    else:
        chain.arm(session, cfg, ticket, now)
    owner_notices.line(
        session,
        renderer,
        change.event,
        kind,
        now,
        previous=previous,
        reason=why,
        override="; ".join(overridden) or None,
    )
    owner_notices.dm_owner(session, cfg, renderer, change, dm, now, reason=why)
    return change


def decline(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    key: str,
    *,
    actor: str,
    now: datetime,
) -> Change:
    """The owner of a sensitive ticket, at their cap, refuses it: routed again among the
    others, and it no longer counts towards their day (no penalty)."""
    ticket = lookup.by_key(session, key, lock=True)
    if ticket.assignee_id != actor or not is_open(ticket.status):
        raise TransitionError(f"{ticket.key} isn't yours any more, so there is nothing to decline.")
    seen = wellness.exposure(session, cfg, ticket, actor, now)
    if not ticket.sensitive or seen is None or not seen.at_cap:
        counts = f" (you're at {seen.counts})" if seen is not None and ticket.sensitive else ""
        raise TransitionError(
            f"Decline is for sensitive tickets once you're at your daily cap{counts}. "
            f"Use Reassign to hand {ticket.key} on."
        )
    record(
        session,
        ticket,
        DECLINE,
        actor=actor,
        now=now,
        payload={"sensitive_today": seen.today, "cap": seen.cap},
    )
    decision = workload.route(session, cfg, ticket, now, exclude={actor})
    reason = f"{seen.name} declined it at their sensitive cap. {decision.reason}"
    change = assign_routed(session, cfg, ticket, decision, now, reason=reason, declined_by=actor)
    sla.sync(session, cfg, ticket, now)
    _arm(session, cfg, ticket, decision, now)
    owner_notices.line(
        session, renderer, change.event, "declined", now, actor=actor, previous=actor
    )
    owner_notices.dm_owner(session, cfg, renderer, change, _dm_kind(decision), now)
    return change


# -- the reassign modal ----------------------------------------------------------------


def reassign_choices(
    session: Session, cfg: AppConfig, key: str, *, actor: str, now: datetime
) -> dict[str, Any]:
    """Context for the ``reassign_modal`` template, after checking ``actor`` may reassign.

    The menu offers "route again", then the pod on shift, off shift and the lead, each
    with their open tickets and, under the name, their sensitive count against their
    cap and whether they have the skill ("needs override" where either bars them), so
    the person reassigning sees who can take it.
    """
    ticket = lookup.by_key(session, key)
    permissions.check(cfg, ticket, actor, Verb.REASSIGN)
    if not is_open(ticket.status):
        raise TransitionError(f"{ticket.key} is resolved; reopen it first.")
    pod = cfg.pod_for_area(ticket.policy_area)
    snap = workload.snapshot(session, cfg, pod, now, turn=False)
    others = [m.id for m in pod.members if m.id != ticket.assignee_id]
    seen = wellness.exposures(session, cfg, ticket, others, now)
    on: list[dict[str, str]] = []
    off: list[dict[str, str]] = []
    for m in pod.members:
        if m.id == ticket.assignee_id:
            continue
        state = "away" if m.id in snap.away else ("on shift" if m.on_shift(now) else "off shift")
        text = f"{m.name} · {state} · {snap.open.get(m.id, 0)} open"
        option = {"text": text[:75], "value": m.id, "description": _facts(seen.get(m.id))}
        (on if state == "on shift" else off).append(option)
    lead = [] if pod.lead == ticket.assignee_id else [{"text": "The pod lead", "value": pod.lead}]
    groups = [("Let escbot choose", [{"text": "Route again", "value": ROUTE_AGAIN}])]
    groups += _chunks("On shift", on) + _chunks("Off shift or away", off)
    groups += [("Lead", lead)] if lead else []
    return {
        "t": ticket,
        "owner": ticket.assignee_id,
        "groups": [{"label": label, "options": opts} for label, opts in groups],
    }


def _facts(seen: wellness.Exposure | None) -> str:
    """The wellness line under a name: "sensitive today 3/6 · has the skill"."""
    if seen is None:
        return ""
    parts = [seen.counts] if seen.sensitive else []
    parts.append("has the skill" if seen.skilled else f"doesn't handle {seen.area}")
    if seen.problems():
        parts.append("needs override")
    return " · ".join(parts)[:75]


def _chunks(label: str, options: list[dict[str, str]], size: int = 100) -> list[Any]:
    """Slack allows 100 options per group: big pods get "On shift (2)" and so on."""
    parts = [options[i : i + size] for i in range(0, len(options), size)]
    return [(label if i == 0 else f"{label} ({i + 1})", p) for i, p in enumerate(parts)]
