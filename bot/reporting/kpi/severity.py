"""A ticket's severity at an instant, read from its audit trail: what every figure that
splits by severity counts a ticket under.

A severity change (``bot.routing.severity``) writes a ``severity`` event with the
severity it changed ``from``; nothing else changes it. So the severity at ``at`` is the
``from`` of the first change after ``at``, or the ticket's severity if none came later.
A clock counts under the severity it had when it stopped (TTA at the first
acknowledgement; TTR is kept with each ``resolutions`` row, a breach with its
``sla_breaches`` row), a new ticket under the one it was opened with, a list under the
one each ticket had at the period's end: a later change never moves a past period.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select

from storage.models import Ticket, TicketEvent

#: The audit action of a severity change (``bot.routing.severity.ACTION``).
CHANGE = "severity"


def severity_at(at: Any) -> ColumnElement[str]:
    """The severity of the ``tickets`` row in scope at ``at`` (a column or an instant),
    as an SQL expression (a correlated subquery, answered by ``ix_ticket_events_ticket_at``)."""
    changed_from = (
        select(TicketEvent.payload["from"].as_string())
        .where(
            TicketEvent.ticket_id == Ticket.id,
            TicketEvent.action == CHANGE,
            TicketEvent.at > at,
        )
        .order_by(TicketEvent.at, TicketEvent.id)
        .limit(1)
        .correlate(Ticket)
        .scalar_subquery()
    )
    return func.coalesce(changed_from, Ticket.severity)


#: The severity a ticket was opened with.
OPENED = severity_at(Ticket.created_at)
