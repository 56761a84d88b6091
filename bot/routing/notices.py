"""What people are told when a ticket changes hands: a thread line, the card, a DM to the
new owner, a word to the one it moved away from, and the lead's copy of a night call.

Everything goes through the outbox in the caller's transaction, keyed by the
audit event, so a change and its messages commit (and are sent) once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.core.render import Renderer
from bot.delivery import outbox
from bot.routing import wellness
from bot.tickets.lifecycle import Change
from storage.models import Ticket, TicketEvent


def who(cfg: AppConfig, ticket: Ticket, user: str) -> str:
    """A name for plain text (the card's routing line can't carry mentions)."""
    if (member := cfg.member(user)) is not None:
        return member.name
    pod = cfg.pod_for_area(ticket.policy_area)
    if user == pod.lead:
        return "the pod lead"
    if user == pod.deputy:
        return "the pod's deputy"
    return "an escbot admin" if cfg.is_admin(user) else user


def line_context(ticket: Ticket, kind: str, actor: str, **context: Any) -> dict[str, Any]:
    """Context of ``owner_line``: kind is acknowledged, taken, reassigned, rerouted,
    escalated, exhausted, found or declined; ``previous``, ``reason``, ``step``, ``waited``,
    ``override`` as the kind needs."""
    return {
        "t": ticket,
        "kind": kind,
        "actor": actor,
        "owner": ticket.assignee_id,
        "previous": None,
        "override": None,
        "reason": None,
        "step": None,
        "waited": None,
        **context,
    }


def dm_context(
    cfg: AppConfig,
    ticket: Ticket,
    kind: str,
    actor: str,
    reason: str | None = None,
    decline: str | None = None,
) -> dict[str, Any]:
    """Context of ``owner_dm``: kind is routed, lead, reassigned or escalated; ``decline``:
    the owner is at their sensitive cap ("sensitive today 6/6"), so the DM offers Decline."""
    return {
        "decline": decline,
        "t": ticket,
        "kind": kind,
        "actor": actor,
        "reason": reason,
        "why": ticket.routing_reason or "",
        "area_title": cfg.policy_areas[ticket.policy_area].title,
        "card_link": outbox.CARD_LINK,
    }


def line(
    session: Session,
    renderer: Renderer,
    event: TicketEvent,
    kind: str,
    now: datetime,
    actor: str | None = None,
    **context: Any,
) -> None:
    """The thread line for ``event`` and the card refresh; ``actor`` (default the event's)
    is who the line says did it, e.g. the member who declined before escbot routed again."""
    session.flush()
    ticket = event.ticket
    who_did = actor or event.actor_id
    payload = renderer.render("owner_line", **line_context(ticket, kind, who_did, **context))
    outbox.enqueue_thread(session, ticket, payload, f"thread:{ticket.id}:{event.id}", now)
    outbox.enqueue_card(session, ticket, now)


def dm_owner(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    change: Change,
    kind: str,
    now: datetime,
    *,
    reason: str | None = None,
) -> None:
    """Tell the new owner, with a link to the card; not when they gave it to themselves.

    A notice: the lead handed twenty tickets by one intake burst or one tick of the
    escalation chain gets one DM listing them.
    """
    session.flush()
    ticket, event = change.ticket, change.event
    owner = ticket.assignee_id
    if not owner or owner == event.actor_id:
        return
    decline = None
    if ticket.sensitive:
        seen = wellness.exposure(session, cfg, ticket, owner, now)
        decline = seen.counts if seen is not None and seen.at_cap else None
    context = dm_context(cfg, ticket, kind, event.actor_id, reason, decline)
    payload = renderer.render("owner_dm", **context)
    key = f"dm:{ticket.id}:{event.id}:{owner}"
    outbox.enqueue_notice(session, owner, payload, key, now, ticket=ticket, after_card=True)


def moved(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    change: Change,
    previous: str,
    kind: str,
    now: datetime,
    *,
    waited: str | None = None,
) -> None:
    """Tell ``previous`` that the ticket left them: ``moved`` (not acknowledged within
    ``waited``) or ``found`` (the lead's fallback ticket found somebody eligible)."""
    ticket, event = change.ticket, change.event
    if previous == ticket.assignee_id:
        return
    fyi(session, cfg, renderer, ticket, previous, kind, f"{event.id}", now, waited=waited)


def copy_lead(
    session: Session, cfg: AppConfig, renderer: Renderer, change: Change, now: datetime
) -> None:
    """The lead's copy of an on-call ticket routed to somebody off shift (a night call)."""
    ticket = change.ticket
    lead = cfg.pod_for_area(ticket.policy_area).lead
    if ticket.assignee_id == lead:
        return
    waited = cfg.severities[ticket.severity].spell("ack_within")
    fyi(session, cfg, renderer, ticket, lead, "copy", f"{change.event.id}", now, waited=waited)


def fyi(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    user: str,
    kind: str,
    key: str,
    now: datetime,
    **context: Any,
) -> None:
    """An ``owner_fyi`` DM to ``user`` about ``ticket`` (kinds: moved, found, copy)."""
    session.flush()
    payload = renderer.render(
        "owner_fyi",
        t=ticket,
        kind=kind,
        owner=ticket.assignee_id,
        owner_name=who(cfg, ticket, ticket.assignee_id or ""),
        why=ticket.routing_reason or "",
        card_link=outbox.CARD_LINK,
        **{"waited": None, **context},
    )
    dedup = f"fyi:{ticket.id}:{key}:{kind}:{user}"
    outbox.enqueue_notice(session, user, payload, dedup, now, ticket=ticket, after_card=True)
