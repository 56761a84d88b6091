"""A ticket's two clocks: where they stand, and the books kept on them.

Everything is measured in *SLA seconds* on the severity's clock
(:mod:`bot.sla.calendar`), since the ticket was created, minus ``paused_seconds``:
the clock stands still while the ticket waits on the reporter (``waiting_since``) and
while it was resolved before being reopened. TTA stops at the first acknowledgement,
TTR at resolution; each is measured once it stops, and a target missed is a breach,
stored once per ticket and clock (``sla_breaches``) whether or not its timer fired.

:func:`deadline` is the one place a due time is derived (the opening, the severity's
target, the pauses so far); nothing stores a due time but the timers, which
:func:`bot.sla.timers.sync` replaces after every change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.sla.calendar import AT_RISK, BREACH, CLOCKS, TTA, TTR, clock_for, target_seconds, threshold
from bot.tickets.lifecycle import Status
from storage.models import Resolution, SlaBreach, Ticket, TicketEvent

# -- where a ticket stands (pure) -------------------------------------------------------


def stopped(ticket: Ticket, which: str) -> bool:
    """TTA stops at the first acknowledgement, TTR at resolution."""
    if which == TTA:
        return (
            ticket.tta_seconds is not None
            or ticket.first_acked_at is not None
            or ticket.acked_at is not None
        )
    return ticket.status == Status.RESOLVED.value


def paused(ticket: Ticket) -> bool:
    return ticket.waiting_since is not None or ticket.status == Status.RESOLVED.value


def used(cfg: AppConfig, ticket: Ticket, at: datetime) -> int:
    """SLA seconds counted from creation to ``at``; a pause in progress freezes the count."""
    end = at
    if ticket.waiting_since is not None:
        end = min(end, ticket.waiting_since)
    if ticket.status == Status.RESOLVED.value and ticket.resolved_at is not None:
        end = min(end, ticket.resolved_at)
    counted = clock_for(cfg, ticket.severity).elapsed(ticket.created_at, end)
    return max(0, counted - (ticket.paused_seconds or 0))


def deadline(cfg: AppConfig, ticket: Ticket, which: str, level: str = BREACH) -> datetime:
    """When ``which`` reaches ``level``, from the ticket's opening under its severity's
    clock and target, shifted by the pauses so far, whether or not the clock runs."""
    clock = clock_for(cfg, ticket.severity)
    seconds = threshold(cfg, ticket.severity, which, level) + (ticket.paused_seconds or 0)
    return clock.add(ticket.created_at, seconds)


def due(cfg: AppConfig, ticket: Ticket, which: str, level: str = BREACH) -> datetime | None:
    """When ``which`` reaches ``level``; None while stopped or paused (no due time then)."""
    if stopped(ticket, which) or paused(ticket):
        return None
    return deadline(cfg, ticket, which, level)


def overdue(cfg: AppConfig, ticket: Ticket, which: str, now: datetime | None) -> bool:
    """Has ``which`` reached its breach at ``now``? (Then an at-risk warning is stale.)"""
    if now is None:
        return False
    breach = due(cfg, ticket, which, BREACH)
    return breach is not None and breach <= now


def breached(ticket: Ticket, which: str) -> bool:
    return bool(ticket.tta_breached if which == TTA else ticket.ttr_breached)


def at_risk_now(cfg: AppConfig, ticket: Ticket, now: datetime) -> list[str]:
    """The running clocks of ``ticket`` past their at-risk share at ``now`` (App Home)."""
    if ticket.status == Status.RESOLVED.value:
        return []
    spent = used(cfg, ticket, now)
    return [
        which
        for which in CLOCKS
        if not stopped(ticket, which) and spent >= threshold(cfg, ticket.severity, which, AT_RISK)
    ]


# -- keeping the books ----------------------------------------------------------------


def settle(session: Session, cfg: AppConfig, ticket: Ticket, now: datetime) -> None:
    """Pauses, measured times, breaches and the kept resolution brought in line with the
    ticket's status (idempotent). The timers are :func:`bot.sla.timers.sync`'s half."""
    clock = clock_for(cfg, ticket.severity)
    status = Status(ticket.status)
    if ticket.waiting_since is not None and status is not Status.WAITING:
        ticket.paused_seconds = (ticket.paused_seconds or 0) + clock.elapsed(
            ticket.waiting_since, now
        )
        ticket.waiting_since = None
    elif status is Status.WAITING and ticket.waiting_since is None:
        ticket.waiting_since = now
    first_ack = ticket.first_acked_at or ticket.acked_at
    if first_ack is not None and ticket.tta_seconds is None:
        ticket.tta_seconds = _measure(cfg, ticket, first_ack)
        _late_breach(session, cfg, ticket, TTA, first_ack)
    if status is Status.RESOLVED and ticket.resolved_at is not None:
        ticket.ttr_seconds = _measure(cfg, ticket, ticket.resolved_at)
        _late_breach(session, cfg, ticket, TTR, ticket.resolved_at)
        _keep_resolution(session, ticket)


def pause_while_resolved(cfg: AppConfig, ticket: Ticket, now: datetime) -> None:
    """On reopen: the time spent resolved does not count, and TTR is open again."""
    if ticket.resolved_at is not None:
        spent = clock_for(cfg, ticket.severity).elapsed(ticket.resolved_at, now)
        ticket.paused_seconds = (ticket.paused_seconds or 0) + spent
    ticket.ttr_seconds = None


def remeasure_pauses(session: Session, cfg: AppConfig, ticket: Ticket) -> None:
    """After a severity change: the pauses so far (waiting on the reporter, resolved
    before a reopen) measured again on the new severity's clock, from the audit trail.

    ``paused_seconds`` is in SLA seconds of the clock that measured it: a sev3's
    business-hours pause is not the same span on a sev0's 24x7 clock. A pause still
    running (``waiting_since``) is measured when it ends, as always.
    """
    session.flush()
    rows = session.execute(
        select(TicketEvent.at, TicketEvent.to_status)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.to_status.is_not(None))
        .order_by(TicketEvent.at, TicketEvent.id)
    ).all()
    clock = clock_for(cfg, ticket.severity)
    total, since = 0, None
    for at, status in rows:
        if status in _PAUSED and since is None:
            since = at
        elif status not in _PAUSED and since is not None:
            total += clock.elapsed(since, at)
            since = None
    ticket.paused_seconds = total


_PAUSED = frozenset({Status.WAITING.value, Status.RESOLVED.value})


def record_breach(
    session: Session, cfg: AppConfig, ticket: Ticket, which: str, at: datetime
) -> bool:
    """Store the breach once per ticket and clock; False if it was already stored."""
    if breached(ticket, which):
        return False
    session.flush()
    row = SlaBreach(
        ticket_id=ticket.id,
        clock=which,
        severity=ticket.severity,
        due_at=deadline(cfg, ticket, which),
        at=at,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    if which == TTA:
        ticket.tta_breached = True
    else:
        ticket.ttr_breached = True
    return True


def _keep_resolution(session: Session, ticket: Ticket) -> None:
    """The resolution as measured now, once: the KPIs of its day read it from here."""
    assert ticket.resolved_at is not None
    session.flush()
    kept = session.scalar(
        select(Resolution.id).where(
            Resolution.ticket_id == ticket.id, Resolution.at == ticket.resolved_at
        )
    )
    if kept is None:
        session.add(
            Resolution(
                ticket_id=ticket.id,
                at=ticket.resolved_at,
                severity=ticket.severity,
                ttr_seconds=ticket.ttr_seconds,
                ttr_breached=bool(ticket.ttr_breached),
                decision=ticket.decision,
                vendor=ticket.vendor,
                vendor_correct=ticket.vendor_correct,
                vendor_error_category=ticket.vendor_error_category,
            )
        )


def _measure(cfg: AppConfig, ticket: Ticket, at: datetime) -> int:
    counted = clock_for(cfg, ticket.severity).elapsed(ticket.created_at, at)
    return max(0, counted - (ticket.paused_seconds or 0))


def _late_breach(
    session: Session, cfg: AppConfig, ticket: Ticket, which: str, at: datetime
) -> None:
    """A target missed without its timer having fired yet is still a breach (KPIs)."""
    measured = ticket.tta_seconds if which == TTA else ticket.ttr_seconds
    if measured is not None and measured > target_seconds(cfg, ticket.severity, which):
        record_breach(session, cfg, ticket, which, at)
