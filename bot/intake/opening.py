"""Opening a ticket, second step: routing, timers and announcements, after the ack.

The submission's transaction (``bot.intake.service.create_ticket``) writes only what
its answer needs — the idempotency claim, the ticket, its content and its "create"
audit event — and this step as a durable timer (kind ``route``, due at once). The step
does the rest in a transaction of its own that also marks that timer fired, so it
happens exactly once, whoever gets there first:

- the listener, right after ``ack()`` (:func:`finish`), for the ticket it just opened;
- a scheduler's timer tick (:func:`make_timer_handler`), for a step a crash left pending
  or whose first attempt failed;
- a second report joining the ticket meanwhile (:func:`settle`), so that its line
  follows the card instead of preceding it.

The card is queued here, after routing, so it is never posted without its owner (it is
rendered at delivery), and the reporter's DM, which names the owner, after the card.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot import sla
from bot.config import AppConfig
from bot.core.desk import Desk
from bot.core.render import Renderer
from bot.delivery import outbox, timers
from bot.delivery.timers import TimerHandler
from bot.intake import messages as intake_messages
from bot.routing import ownership
from bot.tickets import lookup
from bot.tickets.lifecycle import Status
from storage.db import transaction
from storage.models import Ticket, Timer

log = logging.getLogger(__name__)

KIND = "route"


def step_key(ticket_id: int) -> str:
    return f"route:{ticket_id}"


def schedule(session: Session, ticket: Ticket, now: datetime, before: Ticket | None) -> None:
    """The step, due at once, in the transaction that creates ``ticket``; ``before``: the
    resolved ticket it follows, named in its thread."""
    payload = {"before": before.id} if before is not None else None
    session.flush()  # the ticket's id names the step
    timers.schedule(session, KIND, step_key(ticket.id), now, ticket=ticket, payload=payload)


def finish_opening(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    now: datetime,
    before: Ticket | None = None,
) -> None:
    """Route ``ticket``, start its clocks and queue its messages; the caller holds the
    transaction (and the step's timer)."""
    # The card first, then its details as the first line of its thread; both render
    # the ticket as it is when delivered, so the owner chosen next is on the card.
    outbox.enqueue_card(session, ticket, now)
    details = intake_messages.details(renderer, cfg, ticket)
    outbox.enqueue_thread(session, ticket, details, f"thread:{ticket.id}:details", now)
    if before is not None:
        line = intake_messages.reported_before(renderer, cfg, ticket, before)
        outbox.enqueue_thread(session, ticket, line, f"thread:{ticket.id}:before", now)
    ownership.assign_new(session, cfg, ticket, now, renderer)
    sla.sync(session, cfg, ticket, now, new=True)
    outbox.enqueue_dm(  # after routing: it names the owner
        session,
        ticket.reporter_id,
        intake_messages.reporter_dm(renderer, cfg, ticket),
        f"dm:{ticket.reporter_id}:{ticket.id}:opened",
        now,
        ticket,
        after_card=True,
    )


def make_timer_handler(cfg: AppConfig, renderer: Renderer) -> TimerHandler:
    """The step as the timer runner fires it."""

    def handle(session: Session, timer: Timer, now: datetime) -> None:
        _open(session, cfg, renderer, timer, now)

    return handle


def _open(
    session: Session, cfg: AppConfig, renderer: Renderer, timer: Timer, now: datetime
) -> Ticket | None:
    """The step of ``timer``, held: the ticket it routed (None if it had nothing to do)."""
    ticket = session.get(Ticket, timer.ticket_id, with_for_update=True)
    if ticket is None or ticket.status != Status.NEW.value:  # nothing left to open
        log.warning("route step %s: ticket is %s", timer.dedup_key, ticket and ticket.status)
        return None
    before_id = (timer.payload or {}).get("before")
    before = session.get(Ticket, before_id) if before_id else None
    finish_opening(session, cfg, renderer, ticket, now, before)
    return ticket


def settle(
    session: Session, cfg: AppConfig, renderer: Renderer, ticket_id: int, now: datetime
) -> Ticket | None:
    """Run ``ticket_id``'s step now, in the caller's transaction, unless it ran already;
    the ticket if it was routed here. Takes the step's timer row before the ticket's, as
    the runner does, so the two never deadlock."""
    timer = timers.take(session, step_key(ticket_id))
    if timer is None:
        return None
    ticket = _open(session, cfg, renderer, timer, now)
    timers.fired(timer, now)
    return ticket


def routed(session: Session, cfg: AppConfig, renderer: Renderer, key: str, now: datetime) -> Ticket:
    """Ticket ``key`` for a gesture that needs it routed first (a second report joining it,
    a request to follow it, which its owner decides): its step run if still pending
    (:func:`settle`), then the ticket row-locked until the caller's transaction ends."""
    ticket = lookup.by_key(session, key)
    settle(session, cfg, renderer, ticket.id, now)
    session.refresh(ticket, with_for_update=True)
    return ticket


def finish(desk: Desk, ticket_id: int) -> Ticket:
    """The listener's step after ``ack()``: :func:`settle` in a transaction of its own.
    Returns the ticket as it stands after it (routed, whoever ran the step), detached
    with its content loaded, for the reporter's confirmation. A step that fails here is
    left pending for the scheduler's next tick, which retries it with backoff."""
    try:
        with transaction(desk.sessions) as session:
            now = desk.clock.now()
            if ticket := settle(session, desk.config, desk.renderer, ticket_id, now):
                return ticket  # current, its content loaded for the details
            return _loaded(session, ticket_id)  # routed by someone else: read it again
    except Exception:
        log.exception("route step of ticket %s failed; the timer tick retries it", ticket_id)
    with desk.sessions() as session:
        return _loaded(session, ticket_id)


def _loaded(session: Session, ticket_id: int) -> Ticket:
    return session.scalars(
        select(Ticket)
        .where(Ticket.id == ticket_id)
        .options(selectinload(Ticket.content_items))
        .execution_options(populate_existing=True)
    ).one()
