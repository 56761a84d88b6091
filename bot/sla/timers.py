"""A ticket's at-risk and breach timers, kept at the due times the card shows, and the
handler that fires them.

Notices are durable timers: an at-risk warning at ``cfg.sla.at_risk_fraction`` of a
target and a breach notice at 100 %, each at most once per ticket and clock. An at-risk
warning whose deadline has already passed (after downtime or a clock jump) is never
sent: the breach says it all.

:func:`sync` is the one entry point after any change to a ticket, its severity or its
pauses included: it settles the clocks' books (:func:`bot.sla.clocks.settle`) and
replaces the pending timers (cancel + schedule under a new generation) with ones at the
due times derived afresh (:func:`bot.sla.clocks.deadline`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.core.render import Renderer
from bot.delivery.timers import TimerHandler, cancel_pending, schedule_all
from bot.sla.calendar import AT_RISK, BREACH, CLOCKS
from bot.sla.clocks import breached, due, overdue, paused, record_breach, settle, stopped
from bot.sla.notices import notify
from storage.models import Ticket, TicketEvent, Timer
from storage.queries import ticket_by_id

TIMER_KIND = "sla"


def sync(
    session: Session, cfg: AppConfig, ticket: Ticket, now: datetime, *, new: bool = False
) -> None:
    """Bring pauses, measured times, breaches and timers in line with the ticket's status.

    Idempotent; call it in the transaction of every change (create, ack,
    assign, wait, resume, resolve, reopen). ``new``: the ticket is being created in
    this transaction, so it has no SLA timers or notices yet to look up.
    """
    settle(session, cfg, ticket, now)
    reschedule(session, cfg, ticket, now, new=new)


def reschedule(
    session: Session,
    cfg: AppConfig,
    ticket: Ticket,
    now: datetime | None = None,
    *,
    new: bool = False,
) -> None:
    """Cancel the ticket's pending SLA timers and schedule the ones still to come; with
    ``now``, no at-risk warning whose breach is already due.

    The new timers' dedup keys carry a generation (the number of SLA timers
    the ticket ever had), so they never collide with cancelled or fired ones.
    A ``new`` ticket has none, nor notices: three statements of intake's fewer.
    """
    session.flush()
    generation, notified = 0, set()
    if not new:
        _cancel_pending(session, ticket.id)
        generation = (
            session.scalar(
                select(func.count())
                .select_from(Timer)
                .where(Timer.ticket_id == ticket.id, Timer.kind == TIMER_KIND)
            )
            or 0
        )
        notified = _at_risk_notified(session, ticket)
    coming: list[tuple[str, datetime, dict[str, Any]]] = []
    for which in CLOCKS:
        for level in (AT_RISK, BREACH):
            if (level == AT_RISK and which in notified) or (
                level == BREACH and breached(ticket, which)
            ):
                continue
            when = due(cfg, ticket, which, level)
            if when is None or (level == AT_RISK and overdue(cfg, ticket, which, now)):
                continue
            key = f"sla:{ticket.id}:{which}:{level}:g{generation}"
            coming.append((key, when, {"clock": which, "level": level, "generation": generation}))
    schedule_all(session, TIMER_KIND, ticket, coming)


def make_timer_handler(cfg: AppConfig, renderer: Renderer) -> TimerHandler:
    """The ``sla`` timer: post the at-risk or breach notice, once per ticket and clock."""

    def fire(session: Session, timer: Timer, now: datetime) -> None:
        ticket = ticket_by_id(session, timer.ticket_id or 0, lock=True)
        if ticket is None:
            return
        which, level = timer.payload["clock"], timer.payload["level"]
        if stopped(ticket, which) or paused(ticket):
            sync(session, cfg, ticket, now)  # e.g. an ack recorded without sync: catch up
            return
        when = due(cfg, ticket, which, level)
        if when is None or when > now:  # superseded by a reschedule racing this firing
            return
        if level == AT_RISK:
            if which in _at_risk_notified(session, ticket) or overdue(cfg, ticket, which, now):
                return  # already warned, or too late to warn: the breach notice follows
        elif not record_breach(session, cfg, ticket, which, now):
            return
        notify(session, cfg, renderer, ticket, which, level, now)

    return fire


def _cancel_pending(session: Session, ticket_id: int) -> None:
    """Cancel the ticket's pending SLA timers (not one a replica is firing this very
    moment: that handler re-checks the due time under the ticket's lock)."""
    cancel_pending(session, Timer.ticket_id == ticket_id, Timer.kind == TIMER_KIND)


def _at_risk_notified(session: Session, ticket: Ticket) -> set[str]:
    payloads = session.scalars(
        select(TicketEvent.payload).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.action == "sla_at_risk"
        )
    )
    return {str(p.get("clock")) for p in payloads}
