"""What people are told when a ticket changes hands: a thread line, the card, a DM.

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
from bot.tickets.lifecycle import Change
from storage.models import Ticket, TicketEvent


def who(cfg: AppConfig, ticket: Ticket, user: str) -> str:
    """A name for plain text (the card's routing line can't carry mentions)."""
    if (member := cfg.member(user)) is not None:
        return member.name
    if user == cfg.pod_for_area(ticket.policy_area).lead:
        return "the pod lead"
    return "an escbot admin" if cfg.is_admin(user) else user


def line_context(ticket: Ticket, kind: str, actor: str, **context: Any) -> dict[str, Any]:
    """Context of ``owner_line``: kind is acknowledged, taken, reassigned, rerouted,
    escalated or exhausted; ``previous``, ``reason``, ``step``, ``waited`` as the kind needs."""
    return {
        "t": ticket,
        "kind": kind,
        "actor": actor,
        "owner": ticket.assignee_id,
        "previous": None,
        "reason": None,
        "step": None,
        "waited": None,
        **context,
    }


def dm_context(
    cfg: AppConfig, ticket: Ticket, kind: str, actor: str, reason: str | None = None
) -> dict[str, Any]:
    """Context of ``owner_dm``: kind is routed, lead, reassigned or escalated."""
    return {
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
    **context: Any,
) -> None:
    """The thread line for ``event`` and the card refresh."""
    session.flush()
    ticket = event.ticket
    payload = renderer.render("owner_line", **line_context(ticket, kind, event.actor_id, **context))
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
    payload = renderer.render("owner_dm", **dm_context(cfg, ticket, kind, event.actor_id, reason))
    key = f"dm:{ticket.id}:{event.id}:{owner}"
    outbox.enqueue_notice(session, owner, payload, key, now, ticket=ticket, after_card=True)
