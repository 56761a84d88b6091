"""What every change to a ticket made by a person shares: its free text, and how it is told.

The text a gesture requires (a question, a reason) is cleaned and kept to
:data:`TEXT_MAX`; the change is told in the ticket's thread with the card refreshed
(:func:`announce`) and, unless they made it, to its owner by DM (:func:`dm_owner`),
all queued in the outbox inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.core.forms import FieldErrors
from bot.core.render import Renderer
from bot.core.text import clean
from bot.delivery import outbox
from storage.models import Ticket, TicketEvent

TEXT_MAX = 2000


def required(value: str | None, block_id: str, message: str) -> str:
    """The text cleaned; :class:`FieldErrors` under ``block_id`` if empty or too long."""
    text = clean(value or "").strip()
    if not text:
        raise FieldErrors({block_id: message})
    if len(text) > TEXT_MAX:
        raise FieldErrors({block_id: f"Keep it under {TEXT_MAX} characters."})
    return text


def announce(
    session: Session,
    renderer: Renderer,
    event: TicketEvent,
    template: str,
    context: dict[str, Any],
    now: datetime,
) -> None:
    """The thread line for ``event`` and the card refresh."""
    session.flush()
    ticket = event.ticket
    payload = renderer.render(template, **context, audience="thread")
    outbox.enqueue_thread(session, ticket, payload, f"thread:{ticket.id}:{event.id}", now)
    outbox.enqueue_card(session, ticket, now)


def dm_owner(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    event: TicketEvent,
    context: dict[str, Any],
    now: datetime,
) -> None:
    """The change in ``event`` told to the ticket's owner (the pod's lead while nobody
    owns it), unless they made it."""
    owner = ticket.assignee_id or cfg.pod_for_area(ticket.policy_area).lead
    if owner == context.get("actor"):
        return
    outbox.enqueue_dm(
        session,
        owner,
        renderer.render("ticket_update", **context, audience="dm"),
        f"dm:{ticket.id}:{event.id}:{owner}",
        now,
        ticket=ticket,
    )
